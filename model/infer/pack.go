package infer

import (
	"errors"
	"fmt"

	"github.com/stratusml/stratus/model"
)

// ErrModel is returned (wrapped) by New when a model cannot be run by this
// package: wrong architecture, missing tensors or tensors of the wrong size.
var ErrModel = errors.New("infer: unusable model")

// Grid geometry. Each convolution reads a zero-padded, channels-last grid
// whose row stride leaves room for the border; an output pixel (y, x) is grid
// position y*stride+x and tap (ky, kx) reads position +ky*stride+kx.
const (
	// conv1: 28×28×1 input in a 30-wide grid (border columns 0 and 29).
	grid1     = model.Side + 2
	grid1Len  = grid1*grid1 + 8 // slack for the discarded outputs x = 28, 29
	unit1Pix  = 2 * grid1       // conv1 outputs per pooled row: 60 = 10 tiles
	unit1Tile = unit1Pix / tileRows

	// conv2: 14×14×16 input in a 15-wide grid: column 0 is the left border of
	// its row and the right border of the row above.
	grid2     = model.Pool1Side + 1
	grid2Len  = (grid2*(model.Pool1Side+2) + 8) * model.Conv1Out
	unit2Pix  = 2 * grid2 // conv2 outputs per pooled row: 30 = 5 tiles
	unit2Tile = unit2Pix / tileRows

	conv2Panels = model.Conv2Out / tileCols // 2
	fc1Panels   = model.Hidden / tileCols   // 8
	fc2Cols     = tileCols                  // fc2's 10 columns padded to 16
	taps        = model.Kernel * model.Kernel
)

// weights holds the network's tensors packed for the kernels.
type weights struct {
	conv1 []float32 // [tap][16]
	conv2 []float32 // [panel][tap][in 16][out 16]
	fc1   []float32 // [panel][1568 HWC rows][16]
	fc1b  []float32 // [128]
	fc2   []float32 // [128][16], columns 10..15 zero
	fc2b  []float32 // [10]

	taps1 []int // conv1 tap offsets in floats
	taps2 []int // conv2 tap offsets in floats
	tap0  []int // the single tap of a dense layer
}

// packWeights checks m against model.Params and packs its tensors.
func packWeights(m *model.Model) (*weights, error) {
	if m == nil {
		return nil, fmt.Errorf("infer: nil model: %w", ErrModel)
	}
	if m.Arch != model.ArchCNN2 {
		return nil, fmt.Errorf("infer: architecture %q, want %q: %w", m.Arch, model.ArchCNN2, ErrModel)
	}
	for _, p := range model.Params() {
		w, ok := m.Weights[p.Name]
		if !ok {
			return nil, fmt.Errorf("infer: tensor %q missing: %w", p.Name, ErrModel)
		}
		if len(w) != model.Size(p.Shape) {
			return nil, fmt.Errorf("infer: tensor %q has %d values, want %d (shape %v): %w",
				p.Name, len(w), model.Size(p.Shape), p.Shape, ErrModel)
		}
	}
	if s := m.Input.Normalization.Std; s == 0 || s != s {
		return nil, fmt.Errorf("infer: normalisation std %v: %w", s, ErrModel)
	}

	const (
		k   = model.Kernel
		c1  = model.Conv1Out
		c2  = model.Conv2Out
		p2  = model.Pool2Side
		hid = model.Hidden
	)
	w := &weights{
		conv1: make([]float32, taps*c1),
		conv2: make([]float32, conv2Panels*taps*c1*tileCols),
		fc1:   make([]float32, fc1Panels*model.Flat*tileCols),
		fc1b:  append([]float32(nil), m.Weights[model.ParamFC1B]...),
		fc2:   make([]float32, hid*fc2Cols),
		fc2b:  append([]float32(nil), m.Weights[model.ParamFC2B]...),
		tap0:  []int{0},
	}
	for ky := range k {
		for kx := range k {
			w.taps1 = append(w.taps1, ky*grid1+kx)
			w.taps2 = append(w.taps2, (ky*grid2+kx)*c1)
		}
	}

	// conv1.w [16][1][3][3] → [tap][out].
	cw1 := m.Weights[model.ParamConv1W]
	for o := range c1 {
		for t := range taps {
			w.conv1[t*c1+o] = cw1[o*taps+t]
		}
	}
	// conv2.w [32][16][3][3] → [panel][tap][in][out%16].
	cw2 := m.Weights[model.ParamConv2W]
	for o := range c2 {
		panel, j := o/tileCols, o%tileCols
		for c := range c1 {
			for t := range taps {
				w.conv2[((panel*taps+t)*c1+c)*tileCols+j] = cw2[(o*c1+c)*taps+t]
			}
		}
	}
	// fc1.w [1568 CHW][128] → [panel][HWC row][16]: the activations are
	// flattened channels-last, so row (y*7+x)*32+c takes CHW row c*49+y*7+x.
	fw1 := m.Weights[model.ParamFC1W]
	for pix := range p2 * p2 {
		for c := range c2 {
			src := fw1[(c*p2*p2+pix)*hid : (c*p2*p2+pix+1)*hid]
			row := pix*c2 + c
			for panel := range fc1Panels {
				copy(w.fc1[(panel*model.Flat+row)*tileCols:][:tileCols], src[panel*tileCols:])
			}
		}
	}
	// fc2.w [128][10] → [128][16].
	fw2 := m.Weights[model.ParamFC2W]
	for i := range hid {
		copy(w.fc2[i*fc2Cols:], fw2[i*model.Classes:(i+1)*model.Classes])
	}
	return w, nil
}
