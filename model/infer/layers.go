package infer

import "github.com/stratusml/stratus/model"

// maxGroup is the most images one worker pushes through the dense layers at
// once; it bounds the scratch size. It is a multiple of tileRows, so the
// dense layers may always round a group up to whole tiles.
const maxGroup = 48

// scratch is the working memory of one worker. The border cells of grid1
// and grid2 are zero when allocated and never written, so buffers can be
// reused without clearing.
type scratch struct {
	grid1 []float32 // padded conv1 input, grid1Len
	out1  []float32 // conv1 output of one pooled row: unit1Pix×16
	grid2 []float32 // padded conv2 input (pool1 output), grid2Len
	out2  []float32 // conv2 output of one pooled row and panel: unit2Pix×16
	flat  []float32 // dense input rows, maxGroup×Flat (HWC order)
	hid   []float32 // hidden layer, maxGroup×Hidden
	lg    []float32 // fc2 output, maxGroup×16; for one image split by panels, a partial sum per panel
}

func newScratch() *scratch {
	return &scratch{
		grid1: make([]float32, grid1Len),
		out1:  make([]float32, unit1Pix*model.Conv1Out),
		grid2: make([]float32, grid2Len),
		out2:  make([]float32, unit2Pix*tileCols),
		flat:  make([]float32, maxGroup*model.Flat),
		hid:   make([]float32, maxGroup*model.Hidden),
		lg:    make([]float32, maxGroup*fc2Cols),
	}
}

// loadImage copies one 28×28 input into the inside of grid1.
func loadImage(grid, x []float32) {
	for y := range model.Side {
		copy(grid[(y+1)*grid1+1:][:model.Side], x[y*model.Side:(y+1)*model.Side])
	}
}

// block1Row computes pooled row py (0..13) of conv1 → ReLU → pool from in
// (a grid1) into the inside of next (a grid2), using out as scratch.
func (n *Net) block1Row(in, out, next []float32, py int) {
	n.k.tiles6x16(in[2*py*grid1:], 1, n.w.taps1, 1, n.w.conv1, out, tileCols, unit1Tile)
	dst := next[((py+1)*grid2+1)*model.Conv1Out:]
	n.k.poolRelu(dst, model.Conv1Out, out, grid1*tileCols, model.Pool1Side)
}

// block2Unit computes, for output channels 16·panel..16·panel+15, pooled
// row py (0..6) of conv2 → ReLU → pool from in (a grid2) into flat (one
// image's 1568 values, HWC), using out as scratch.
func (n *Net) block2Unit(in, out, flat []float32, panel, py int) {
	b := n.w.conv2[panel*taps*model.Conv1Out*tileCols:]
	n.k.tiles6x16(in[2*py*grid2*model.Conv1Out:], model.Conv1Out, n.w.taps2, model.Conv1Out, b, out, tileCols, unit2Tile)
	dst := flat[py*model.Pool2Side*model.Conv2Out+panel*tileCols:]
	n.k.poolRelu(dst, model.Conv2Out, out, grid2*tileCols, model.Pool2Side)
}

// features runs both convolution blocks of one image x into flat.
func (n *Net) features(s *scratch, x, flat []float32) {
	loadImage(s.grid1, x)
	for py := range model.Pool1Side {
		n.block1Row(s.grid1, s.out1, s.grid2, py)
	}
	for panel := range conv2Panels {
		for py := range model.Pool2Side {
			n.block2Unit(s.grid2, s.out2, flat, panel, py)
		}
	}
}

// group computes the logits of m ≤ maxGroup images.
func (n *Net) group(s *scratch, x []float32, m int, out []float32) {
	for i := range m {
		n.features(s, x[i*model.Pixels:(i+1)*model.Pixels], s.flat[i*model.Flat:(i+1)*model.Flat])
	}
	n.k.gemm(m, model.Flat, s.flat, model.Flat, n.w.fc1, fc1Panels, s.hid, model.Hidden, n.w.tap0)
	for r := range m {
		biasRelu(s.hid[r*model.Hidden:(r+1)*model.Hidden], n.w.fc1b)
	}
	n.k.gemm(m, model.Hidden, s.hid, model.Hidden, n.w.fc2, 1, s.lg, fc2Cols, n.w.tap0)
	for r := range m {
		o := out[r*model.Classes : (r+1)*model.Classes]
		for j, b := range n.w.fc2b {
			o[j] = s.lg[r*fc2Cols+j] + b
		}
	}
}

// biasRelu sets h[j] = max(0, h[j]+b[j]).
func biasRelu(h, b []float32) {
	b = b[:len(h)]
	for j := range h {
		h[j] = max(0, h[j]+b[j])
	}
}
