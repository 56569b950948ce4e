package preprocess

import (
	"encoding/binary"
	"fmt"
	"image"
)

// inkBox is the bounding box [x0,x1)×[y0,y1) of the ink of a plane.
type inkBox struct{ x0, y0, x1, y1 int }

// extractInk returns the W×H raw ink plane of img (levels within the noise
// of the paper set to 0), the map from its levels to ink in 0..1 that
// normalises the ink's contrast, and the bounding box of the ink. It
// returns ErrEmpty when there is no ink.
//
// Each pixel's raw ink is s·(L − P)·alpha: L its luminance, P the paper
// level, s = ±1 the ink's polarity. The paper is the median of the
// picture's border; a border that is mostly transparent means transparent
// paper, and then P is the opposite of the ink's mean colour, so that ink
// is simply opacity. On opaque paper the ink is darker than light paper,
// lighter than dark paper, and for mid-gray paper on the side that holds
// more ink. The contrast c is the 99th percentile of the raw levels; levels
// up to max(noiseFloor, c/5) are paper, c and above full ink. Specks apart
// from the drawing (dust, scanner noise) are removed, see dropSpecks.
func extractInk(img image.Image) ([]uint8, *[256]float32, inkBox, error) {
	b := img.Bounds()
	W, H := b.Dx(), b.Dy()
	read := newRowReader(img)
	lp := make([]uint8, 2*W)
	lp, al := lp[:W], lp[W:]

	paper, sign, err := paperLevel(read, W, H, lp, al)
	if err != nil {
		return nil, nil, inkBox{}, err
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
		return nil, nil, inkBox{}, fmt.Errorf("%w: nothing in the picture stands out from the paper by more than %d levels", ErrEmpty, noiseFloor)
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

	bx = dropSpecks(ink, W, bx, t)

	// Shrink the box to the pixels above t.
	above := func(x0, x1, y0, y1 int) bool {
		for y := y0; y < y1; y++ {
			for _, v := range ink[y*W+x0 : y*W+x1] {
				if int(v) > t {
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
		return nil, nil, inkBox{}, fmt.Errorf("%w: nothing in the picture stands out from the paper", ErrEmpty)
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
	return ink, lut, bx, nil
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

// Speck removal.
const (
	// speckCells is the number of cells along the longer side of the ink's
	// box in the grid where ink is grouped into connected parts.
	speckCells = 96
	// speckShare is the share of the ink's mass below which a part of the
	// drawing that touches no other is a speck.
	speckShare = 0.01
)

// dropSpecks finds the connected parts of the ink above level t in box bx
// of the W-wide plane (connected on a grid of cells about 1/speckCells of
// the box's longer side, so that small gaps do not split a stroke), clears
// the parts that hold less than speckShare of the ink (keeping the largest
// always) and returns the box of what is left, at cell precision.
func dropSpecks(ink []uint8, W int, bx inkBox, t int) inkBox {
	bw, bh := bx.x1-bx.x0, bx.y1-bx.y0
	cs := max(1, (max(bw, bh)+speckCells-1)/speckCells) // cell side in pixels
	gw, gh := (bw+cs-1)/cs, (bh+cs-1)/cs
	if gw*gh == 1 {
		return bx
	}
	mass := make([]int64, gw*gh)
	colCell := make([]int32, bw)
	for x := range colCell {
		colCell[x] = int32(x / cs)
	}
	var total int64
	for y := bx.y0; y < bx.y1; y++ {
		row := ink[y*W+bx.x0 : y*W+bx.x1]
		cells := mass[((y-bx.y0)/cs)*gw : ((y-bx.y0)/cs+1)*gw]
		for x := 0; x < len(row); x++ {
			if x+8 <= len(row) && binary.LittleEndian.Uint64(row[x:]) == 0 {
				x += 7
				continue
			}
			if v := int(row[x]); v > t {
				cells[colCell[x]] += int64(v)
				total += int64(v)
			}
		}
	}
	// Label the parts (8-connected cells with ink) and weigh them.
	label := make([]int32, gw*gh)
	var partMass []int64
	var stack []int32
	for c0, m := range mass {
		if m == 0 || label[c0] != 0 {
			continue
		}
		id := int32(len(partMass) + 1)
		partMass = append(partMass, 0)
		label[c0] = id
		stack = append(stack[:0], int32(c0))
		for len(stack) > 0 {
			c := int(stack[len(stack)-1])
			stack = stack[:len(stack)-1]
			partMass[id-1] += mass[c]
			cx, cy := c%gw, c/gw
			for ny := max(0, cy-1); ny <= min(gh-1, cy+1); ny++ {
				for nx := max(0, cx-1); nx <= min(gw-1, cx+1); nx++ {
					if n := ny*gw + nx; mass[n] != 0 && label[n] == 0 {
						label[n] = id
						stack = append(stack, int32(n))
					}
				}
			}
		}
	}
	if len(partMass) <= 1 {
		return bx
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
		keep[i] = i == largest || float64(m) >= speckShare*float64(total)
		dropped = dropped || !keep[i]
	}
	if !dropped {
		return bx
	}
	// Clear the specks and bound the rest.
	nb := inkBox{bx.x1, bx.y1, bx.x0, bx.y0}
	for c, id := range label {
		if id == 0 {
			continue
		}
		x0, y0 := bx.x0+(c%gw)*cs, bx.y0+(c/gw)*cs
		x1, y1 := min(x0+cs, bx.x1), min(y0+cs, bx.y1)
		if keep[id-1] {
			nb.x0, nb.y0 = min(nb.x0, x0), min(nb.y0, y0)
			nb.x1, nb.y1 = max(nb.x1, x1), max(nb.y1, y1)
			continue
		}
		for y := y0; y < y1; y++ {
			clear(ink[y*W+x0 : y*W+x1])
		}
	}
	return nb
}
