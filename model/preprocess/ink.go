package preprocess

import (
	"encoding/binary"
	"fmt"
	"image"
)

// inkBox is the bounding box [x0,x1)×[y0,y1) of the ink of a plane.
type inkBox struct{ x0, y0, x1, y1 int }

// inkPlane is the raw ink of a picture.
type inkPlane struct {
	pix  []uint8 // W×H raw levels, 0 within the noise of the paper
	w, h int
	lut  *[256]float32 // raw level → ink in 0..1, normalised to the contrast
	t    int           // raw levels up to t are paper
	box  inkBox        // bounding box of the levels above t
}

// extractInk returns the raw ink plane of img, with the map from its levels
// to ink in 0..1 that normalises the ink's contrast, and the bounding box of
// the ink. It returns ErrEmpty when there is no ink.
//
// Each pixel's raw ink is s·(L − P)·alpha: L its luminance, P the paper
// level, s = ±1 the ink's polarity. The paper is the median of the
// picture's border; a border that is mostly transparent means transparent
// paper, and then P is the opposite of the ink's mean colour, so that ink
// is simply opacity. On opaque paper the ink is darker than light paper,
// lighter than dark paper, and for mid-gray paper on the side that holds
// more ink. The contrast c is the 99th percentile of the raw levels; levels
// up to max(noiseFloor, c/5) are paper, c and above full ink.
func extractInk(img image.Image) (*inkPlane, error) {
	b := img.Bounds()
	W, H := b.Dx(), b.Dy()
	read := newRowReader(img)
	lp := make([]uint8, 2*W)
	lp, al := lp[:W], lp[W:]

	paper, sign, err := paperLevel(read, W, H, lp, al)
	if err != nil {
		return nil, err
	}

	// Raw ink, the histogram of its levels, and the box of the pixels
	// above the noise floor.
	ink := make([]uint8, W*H)
	inkRow := newInkReader(img, read, paper, sign, lp, al)
	var hist [256]int
	bx := inkBox{W, H, -1, -1}
	for y := range H {
		row := ink[y*W : (y+1)*W]
		inkRow(y, row)
		first, last := -1, -1
		for x := 0; x < W; x++ {
			if x+8 <= W && binary.LittleEndian.Uint64(row[x:]) == 0 {
				x += 7
				continue
			}
			if v := row[x]; v != 0 {
				hist[v]++
				if first < 0 {
					first = x
				}
				last = x
			}
		}
		if first >= 0 {
			bx.x0, bx.x1 = min(bx.x0, first), max(bx.x1, last+1)
			bx.y0, bx.y1 = min(bx.y0, y), y+1
		}
	}
	if bx.x1 < 0 {
		return nil, fmt.Errorf("%w: nothing in the picture stands out from the paper by more than %d levels", ErrEmpty, noiseFloor)
	}

	n := 0
	for _, k := range hist {
		n += k
	}
	top := max(1, n/100)
	c := 255
	for acc := 0; c > noiseFloor; c-- {
		acc += hist[c]
		if acc >= top {
			break
		}
	}
	t := max(noiseFloor, c/5)
	lut := new([256]float32)
	for v := t + 1; v < 256; v++ {
		lut[v] = min(1, float32(v-t)/float32(c-t))
	}

	pl := &inkPlane{pix: ink, w: W, h: H, lut: lut, t: t}
	if pl.box = pl.shrink(bx); pl.box.x1 <= pl.box.x0 {
		return nil, fmt.Errorf("%w: nothing in the picture stands out from the paper", ErrEmpty)
	}
	return pl, nil
}

// shrink returns the bounding box of the levels above t inside bx, empty
// when there are none.
func (pl *inkPlane) shrink(bx inkBox) inkBox {
	above := func(x0, x1, y0, y1 int) bool {
		for y := y0; y < y1; y++ {
			for _, v := range pl.pix[y*pl.w+x0 : y*pl.w+x1] {
				if int(v) > pl.t {
					return true
				}
			}
		}
		return false
	}
	for bx.y0 < bx.y1 && !above(bx.x0, bx.x1, bx.y0, bx.y0+1) {
		bx.y0++
	}
	if bx.y0 == bx.y1 {
		return inkBox{}
	}
	for !above(bx.x0, bx.x1, bx.y1-1, bx.y1) {
		bx.y1--
	}
	for !above(bx.x0, bx.x0+1, bx.y0, bx.y1) {
		bx.x0++
	}
	for !above(bx.x1-1, bx.x1, bx.y0, bx.y1) {
		bx.x1--
	}
	return bx
}

// paperLevel finds the paper level P (0..255) and the ink's polarity
// (+1: ink lighter than paper, −1: darker), see extractInk. lp and al are
// row buffers of width W.
func paperLevel(read rowReader, W, H int, lp, al []uint8) (paper, sign int, err error) {
	var lumHist [256]int
	transparent, opaque := 0, 0
	border := func(x0, x1, y int) {
		read(x0, x1, y, lp[:x1-x0], al[:x1-x0])
		for i := range x1 - x0 {
			a := int(al[i])
			if a < 128 {
				transparent++
				continue
			}
			opaque++
			lumHist[min(255, (int(lp[i])*255+a/2)/a)]++
		}
	}
	border(0, W, 0)
	if H > 1 {
		border(0, W, H-1)
	}
	for y := 1; y < H-1; y++ {
		border(0, 1, y)
		if W > 1 {
			border(W-1, W, y)
		}
	}
	if transparent > opaque {
		var sumL, sumA int64
		for y := range H {
			read(0, W, y, lp, al)
			for x := range W {
				sumL += int64(lp[x])
				sumA += int64(al[x])
			}
		}
		if sumA == 0 {
			return 0, 0, fmt.Errorf("%w: the picture is fully transparent", ErrEmpty)
		}
		// The mean luminance of the ink, Σ lp·255/Σ a, below half: dark.
		if sumL*2 < sumA {
			return 255, -1, nil // dark ink
		}
		return 0, 1, nil // light ink
	}
	half, acc := (opaque+1)/2, 0
	for v, k := range lumHist {
		acc += k
		if acc >= half {
			paper = v
			break
		}
	}
	switch {
	case paper >= 192:
		return paper, -1, nil
	case paper <= 64:
		return paper, 1, nil
	}
	// Mid-gray paper: the ink is on the side with more mass.
	var pos, neg int64
	for y := range H {
		read(0, W, y, lp, al)
		for x := range W {
			d := (int(lp[x])*255 - int(al[x])*paper) / 255
			if d > noiseFloor {
				pos += int64(d)
			} else if d < -noiseFloor {
				neg -= int64(d)
			}
		}
	}
	if pos > neg {
		return paper, 1, nil
	}
	return paper, -1, nil
}

// speckShare is the share of the ink's mass below which a part of the
// drawing that touches no other is a speck.
const speckShare = 0.01

// dropSpecks finds the 8-connected parts of the ink in the iw×ih plane mid,
// clears the parts that hold less than speckShare of the ink (keeping the
// largest always) and returns the box of the rest, and whether it cleared
// any. A gap of one pixel of mid separates parts, so a stroke broken by
// less than that stays whole. cleared, when not nil, is called for each
// cleared pixel.
func dropSpecks(mid []float32, iw, ih int, cleared func(x, y int)) (inkBox, bool) {
	label := make([]int32, len(mid))
	var partMass []float64
	var total float64
	var stack []int32
	for p0, v := range mid {
		if v == 0 || label[p0] != 0 {
			continue
		}
		id := int32(len(partMass) + 1)
		partMass = append(partMass, 0)
		label[p0] = id
		stack = append(stack[:0], int32(p0))
		for len(stack) > 0 {
			p := int(stack[len(stack)-1])
			stack = stack[:len(stack)-1]
			partMass[id-1] += float64(mid[p])
			x, y := p%iw, p/iw
			for ny := max(0, y-1); ny <= min(ih-1, y+1); ny++ {
				for nx := max(0, x-1); nx <= min(iw-1, x+1); nx++ {
					if n := ny*iw + nx; mid[n] != 0 && label[n] == 0 {
						label[n] = id
						stack = append(stack, int32(n))
					}
				}
			}
		}
		total += partMass[id-1]
	}
	largest := 0
	for i, m := range partMass {
		if m > partMass[largest] {
			largest = i
		}
	}
	keep := make([]bool, len(partMass))
	dropped := false
	for i, m := range partMass {
		keep[i] = i == largest || m >= speckShare*total
		dropped = dropped || !keep[i]
	}
	bx := inkBox{iw, ih, -1, -1}
	for p, id := range label {
		if id == 0 {
			continue
		}
		x, y := p%iw, p/iw
		if keep[id-1] {
			bx.x0, bx.x1 = min(bx.x0, x), max(bx.x1, x+1)
			bx.y0, bx.y1 = min(bx.y0, y), max(bx.y1, y+1)
			continue
		}
		mid[p] = 0
		if cleared != nil {
			cleared(x, y)
		}
	}
	return bx, dropped
}
