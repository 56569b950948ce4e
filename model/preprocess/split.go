package preprocess

import "math"

// cutRule bounds the cuts that split touching digits. Widths are measured
// across the digit's slant, as fractions of its height.
type cutRule struct {
	// ratio is the width from which the ink of one digit may be two
	// touching digits.
	ratio float64
	// cross is the most strokes a cut may cross to split ink up to wide
	// wide, and crossWide how many more it may cross for each unit of
	// width beyond: digits that touch meet in one place, while a cut
	// through one digit crosses strokes of it (a 0 is crossed twice, a 4
	// through its bar), unless the digit is very wide.
	cross, wide, crossWide float64
	// sideMass, sideWidth and sideHeight are the least share of the ink,
	// width, and rows with ink of each side of a cut: both sides must be
	// digit-sized (not a 7's bar or a 4's arm, nor the tips of a 3).
	sideMass, sideWidth, sideHeight float64
}

// maybeCut bounds the cuts proposed where ink may be digits that touch;
// whether it is, is left to the classifier (see Digit.Runs).
var maybeCut = cutRule{ratio: 0.8, cross: 2.2, wide: 1.4, crossWide: 2, sideMass: 0.1, sideWidth: 0.15, sideHeight: 0.7}

const (
	// cutCorridor is the share of the width on each side that a cut keeps
	// clear of.
	cutCorridor = 0.1
	// maxPieces bounds how many pieces an atom's cuts make.
	maxPieces = 4
)

// cut is a path from the top to the bottom of a digit's box: the first
// cell of the right side on each row.
type cut struct {
	box   inkBox
	path  []int   // box-relative columns, one per row of box
	cross float64 // the strokes it crosses
}

// bestCut finds the cheapest cut of digit id of owner (1-based digit labels
// of the grid's cells, the digit's cells lying in within) that rule
// allows: the path from the top of its ink to the bottom, found by dynamic
// programming over its cells, that pays for the ink it crosses and a
// little for each step sideways, so that it follows the gap between two
// digits and cuts where they touch, slanting with them. pen is the typical
// stroke width in cells, which counts the strokes a path crosses.
//
// It is long because its steps (the ink's box and moments, the slant, the
// cost table, the sides' prefix tables, the scan of the paths) all work in
// the same box-relative frame (bx0, by0, W, H, ds, ink); split, each helper
// would take most of that frame as arguments.
func (g *segGrid) bestCut(owner []int32, id int32, within inkBox, pen float64, rule cutRule) (cut, bool) {
	// Box and moments of the digit's ink.
	bx0, by0, bx1, by1 := g.w, g.h, -1, -1
	var m, sx, sy float64
	for y := within.y0; y < within.y1; y++ {
		for x := within.x0; x < within.x1; x++ {
			p := y*g.w + x
			if owner[p] != id {
				continue
			}
			bx0, bx1 = min(bx0, x), max(bx1, x+1)
			by0, by1 = min(by0, y), max(by1, y+1)
			v := float64(g.level[p])
			m += v
			sx += v * float64(x)
			sy += v * float64(y)
		}
	}
	if bx1 < 0 || m == 0 {
		return cut{}, false
	}
	H := by1 - by0
	if float64(bx1-bx0) < rule.ratio*float64(H) {
		return cut{}, false // too narrow even before deslanting
	}
	mx, my := sx/m, sy/m
	var sxy, syy float64
	for y := by0; y < by1; y++ {
		for x := bx0; x < bx1; x++ {
			if p := y*g.w + x; owner[p] == id {
				v := float64(g.level[p])
				sxy += v * (float64(x) - mx) * (float64(y) - my)
				syy += v * (float64(y) - my) * (float64(y) - my)
			}
		}
	}
	slant := 0.0
	if syy > 0 {
		slant = max(-0.6, min(0.6, sxy/syy)) // dx/dy
	}
	// ds is a cell's position across the slant.
	ds := func(x, y int) float64 { return float64(x) - slant*(float64(y)-my) }
	lo, hi := math.Inf(1), math.Inf(-1)
	for y := by0; y < by1; y++ {
		for x := bx0; x < bx1; x++ {
			if owner[y*g.w+x] == id {
				lo, hi = min(lo, ds(x, y)), max(hi, ds(x+1, y))
			}
		}
	}
	width := hi - lo
	ratio := width / float64(H)
	if ratio < rule.ratio {
		return cut{}, false
	}
	maxCross := rule.cross + rule.crossWide*max(0, ratio-rule.wide)

	// Dynamic programming, row by row, over the box.
	W := bx1 - bx0
	ink := make([]float64, W*H)
	for y := range H {
		for x := range W {
			if p := (by0+y)*g.w + bx0 + x; owner[p] == id {
				ink[y*W+x] = float64(g.level[p])
			}
		}
	}
	cLo, cHi := lo+cutCorridor*width, hi-cutCorridor*width
	const side = 0.05 // cost of a step sideways, in cells of full ink
	cost := make([]float64, W*H)
	from := make([]int8, W*H)
	for y := range H {
		for x := range W {
			i := y*W + x
			if d := ds(bx0+x, by0+y) + 0.5; d < cLo || d > cHi {
				cost[i] = math.Inf(1)
				continue
			}
			if y == 0 {
				cost[i] = ink[i]
				continue
			}
			best, bd := math.Inf(1), int8(0)
			for d := -1; d <= 1; d++ {
				if px := x + d; px >= 0 && px < W {
					v := cost[(y-1)*W+px] + side*math.Abs(float64(d))
					if v < best {
						best, bd = v, int8(d)
					}
				}
			}
			cost[i] = best + ink[i]
			from[i] = bd
		}
	}
	// For each row and column: the ink to its left (the sides' masses),
	// the last inked cell before it and the first from it.
	left := make([]float64, H*(W+1))
	before := make([]int32, H*(W+1))
	from0 := make([]int32, H*(W+1))
	for y := range H {
		row := left[y*(W+1) : (y+1)*(W+1)]
		bf := before[y*(W+1) : (y+1)*(W+1)]
		fr := from0[y*(W+1) : (y+1)*(W+1)]
		bf[0] = -1
		for x := range W {
			row[x+1] = row[x] + ink[y*W+x]
			bf[x+1] = bf[x]
			if ink[y*W+x] > 0 {
				bf[x+1] = int32(x)
			}
		}
		fr[W] = int32(W)
		for x := W - 1; x >= 0; x-- {
			fr[x] = fr[x+1]
			if ink[y*W+x] > 0 {
				fr[x] = int32(x)
			}
		}
	}
	path := make([]int, H)
	best := cut{box: inkBox{bx0, by0, bx1, by1}, path: make([]int, H)}
	bestScore := math.Inf(1)
	for end := range W {
		c := cost[(H-1)*W+end]
		cross := c / max(pen, 1)
		if cross > maxCross {
			continue
		}
		x := end
		for y := H - 1; y >= 0; y-- {
			path[y] = x
			x += int(from[y*W+x])
		}
		// The sides: mass, extent across the slant, rows with ink.
		var mL float64
		lHi, rLo := math.Inf(-1), math.Inf(1)
		lRows, rRows := 0, 0
		for y := range H {
			cut := path[y]
			mL += left[y*(W+1)+cut]
			if x := int(before[y*(W+1)+cut]); x >= 0 {
				lHi = max(lHi, ds(bx0+x+1, by0+y))
				lRows++
			}
			if x := int(from0[y*(W+1)+cut]); x < W {
				rLo = min(rLo, ds(bx0+x, by0+y))
				rRows++
			}
		}
		mR := m - mL
		h := float64(H)
		if mL < rule.sideMass*m || mR < rule.sideMass*m ||
			lHi-lo < rule.sideWidth*h || hi-rLo < rule.sideWidth*h ||
			float64(lRows) < rule.sideHeight*h || float64(rRows) < rule.sideHeight*h {
			continue
		}
		if score := cross + 0.3*math.Abs(mL-mR)/m; score < bestScore {
			bestScore, best.cross = score, cross
			copy(best.path, path)
		}
	}
	return best, !math.IsInf(bestScore, 1)
}

// apply moves the cells of digit id right of c to digit right.
func (g *segGrid) apply(owner []int32, id, right int32, c cut) {
	W := c.box.x1 - c.box.x0
	for y := range c.path {
		for x := c.path[y]; x < W; x++ {
			if p := (c.box.y0+y)*g.w + c.box.x0 + x; owner[p] == id {
				owner[p] = right
			}
		}
	}
}

// splitMaybe cuts digit id of owner, recursively, at the cuts maybeCut
// allows, into at most budget pieces, and returns their labels left to
// right (id first) and the SplitOdds of the cuts between them; new pieces
// get labels *n+1, ….
func (g *segGrid) splitMaybe(owner []int32, id int32, within inkBox, n *int32, pen float64, budget int) ([]int32, []float64) {
	if budget < 2 {
		return []int32{id}, nil
	}
	c, ok := g.bestCut(owner, id, within, pen, maybeCut)
	if !ok {
		return []int32{id}, nil
	}
	*n++
	right := *n
	g.apply(owner, id, right, c)
	l, lo := g.splitMaybe(owner, id, c.box, n, pen, budget-1)
	r, ro := g.splitMaybe(owner, right, c.box, n, pen, budget-len(l))
	odds := append(append(lo, cutOdds-cutCrossOdds*c.cross), ro...)
	return append(l, r...), odds
}
