package preprocess

import (
	"errors"
	"fmt"
	"github.com/stratusml/stratus/drawing"
	"image"
	"math"
	"sort"
)

// strokeSegments splits strokes into segments (see segmentParts): each
// stroke is a part, its box that of its samples, its mass its length. It
// returns the parts (indices into strokes; empty strokes are in none) and
// the segments; one reports whether the drawing is one digit of all its
// strokes.
func strokeSegments(strokes []drawing.Stroke) (ps []part, idx []int, segs []segment, one bool) {
	for i, s := range strokes {
		if len(s) == 0 {
			continue
		}
		p := part{x0: math.Inf(1), y0: math.Inf(1), x1: math.Inf(-1), y1: math.Inf(-1)}
		for j, q := range s {
			p.x0, p.x1 = min(p.x0, q.X), max(p.x1, q.X)
			p.y0, p.y1 = min(p.y0, q.Y), max(p.y1, q.Y)
			if j > 0 {
				p.mass += math.Hypot(q.X-s[j-1].X, q.Y-s[j-1].Y)
			}
		}
		ps = append(ps, p)
		idx = append(idx, i)
	}
	segs = segmentParts(ps)
	one = len(segs) == 1 && len(segs[0]) == 1 && len(segs[0][0]) == len(ps)
	return ps, idx, segs, one
}

// strokeDigits renders the segments of strokes as digits, with the runs
// of each segment's atoms as other readings.
func strokeDigits(strokes []drawing.Stroke, width, height int) ([]Digit, error) {
	ps, idx, segs, one := strokeSegments(strokes)
	if one || len(segs) == 0 {
		d, err := StrokesDigit(strokes, width, height) // no points: StrokesDigit says so
		if err != nil {
			return nil, err
		}
		return []Digit{d}, nil
	}
	line := lineHeight(ps)
	box := func(atoms [][]int) part {
		b := ps[atoms[0][0]]
		for _, a := range atoms {
			for _, k := range a {
				b = b.union(ps[k])
			}
		}
		return b
	}
	render := func(atoms [][]int) (Digit, error) {
		var members []int
		for _, a := range atoms {
			members = append(members, a...)
		}
		sort.Ints(members) // the order of drawing
		ss := make([]drawing.Stroke, len(members))
		for i, k := range members {
			ss[i] = strokes[idx[k]]
		}
		return StrokesDigit(ss, width, height)
	}
	out := make([]Digit, 0, len(segs))
	for _, seg := range segs {
		d, err := render(seg)
		if err != nil {
			return nil, err
		}
		d.Runs, err = runs(len(seg), line,
			func(a, b int) part { return box(seg[a : b+1]) },
			func(a, b int) (Digit, error) { return render(seg[a : b+1]) })
		if err != nil {
			return nil, err
		}
		if len(d.Runs) > 0 {
			for range len(seg) - 1 {
				d.SplitOdds = append(d.SplitOdds, apartOdds)
			}
		}
		out = append(out, d)
	}
	return out, nil
}

// The SplitOdds of a boundary between pieces that are apart in the
// drawing (even: the classifier decides), and of one where a piece of ink
// was cut: against, the more so the more strokes the cut crosses (digits
// that touch meet in one place). Tuned with model/recognize on numbers
// made of MNIST test digits (not the accuracy test's).
const (
	apartOdds    = 0.0
	cutOdds      = -1.0
	cutCrossOdds = 2.0
)

// maxRunWidth is the widest run of atoms, as a fraction of the line
// height, that is offered as one digit.
const maxRunWidth = 1.8

// runs returns the Runs of a digit of n pieces: every run of consecutive
// pieces but the whole whose box (box(first, last)) is not wider than
// maxRunWidth·line, as read by read(first, last). Runs whose ink does not
// survive normalisation (ErrEmpty) are left out.
func runs(n int, line float64, box func(a, b int) part, read func(a, b int) (Digit, error)) ([]Run, error) {
	var out []Run
	for a := range n {
		for b := a; b < n; b++ {
			if a == 0 && b == n-1 || b > a && box(a, b).w() > maxRunWidth*line {
				continue
			}
			d, err := read(a, b)
			if errors.Is(err, ErrEmpty) {
				continue
			}
			if err != nil {
				return nil, err
			}
			out = append(out, Run{First: a, Last: b, Input: d.Input, Box: d.Box})
		}
	}
	return out, nil
}

// Tuning of the picture segmentation.
const (
	// segMaxSide bounds the longer side of the grid on which a picture's
	// ink is split into connected pieces, and segCellsHigh is about the
	// most cells the grid has across the ink's height: larger ink is
	// reduced, each cell the darkest of its source pixels.
	segMaxSide, segCellsHigh = 1024, 100
	// segStrong is the ink level (0..1) from which a pixel is a stroke's
	// core: pieces are cores connected through such pixels, and fainter
	// ink (anti-aliasing, a faint bridge between two digits) goes to the
	// nearest core.
	segStrong = 0.4
	// segDust is the share of the ink below which a piece is dust, left
	// out of the digits, and segMaxParts bounds how many pieces are
	// grouped (the heaviest).
	segDust     = 0.002
	segMaxParts = 400
)

// segGrid is a picture's ink box reduced to the segmentation grid, with a
// piece label for every cell (0: paper or dust).
type segGrid struct {
	k            int // source pixels per cell, along each axis
	x0, y0, w, h int // the grid's box in plane pixels, and its size in cells
	level        []float32
	label        []int32
}

// planeGrid reduces the ink box of pl to the segmentation grid.
func planeGrid(pl *inkPlane) *segGrid {
	bx := pl.box
	bw, bh := bx.x1-bx.x0, bx.y1-bx.y0
	k := max((max(bw, bh)+segMaxSide-1)/segMaxSide, bh/segCellsHigh)
	g := &segGrid{k: k, x0: bx.x0, y0: bx.y0, w: (bw + k - 1) / k, h: (bh + k - 1) / k}
	raw := make([]uint8, g.w*g.h)
	for y := bx.y0; y < bx.y1; y++ {
		row := pl.pix[y*pl.w+bx.x0 : y*pl.w+bx.x1]
		out := raw[(y-bx.y0)/k*g.w:]
		for x, v := range row {
			if c := x / k; v > out[c] {
				out[c] = v
			}
		}
	}
	g.level = make([]float32, len(raw))
	for i, v := range raw {
		g.level[i] = pl.lut[v]
	}
	return g
}

// pieces labels the connected pieces of the grid's ink and returns them as
// parts in grid cells, label i+1 for part i, with the stroke width of each
// (see strokeWidth). Cores (levels from segStrong) are 8-connected pieces;
// fainter ink joins the core it is connected to through the fewest cells,
// and faint ink connected to no core makes pieces of its own.
func (g *segGrid) pieces() ([]part, []float64) {
	g.label = make([]int32, len(g.level))
	var ps []part
	var queue []int32
	var stack []int32
	flood := func(seed int, strong bool) {
		id := int32(len(ps) + 1)
		ps = append(ps, part{x0: math.Inf(1), y0: math.Inf(1), x1: math.Inf(-1), y1: math.Inf(-1)})
		g.label[seed] = id
		stack = append(stack[:0], int32(seed))
		for len(stack) > 0 {
			p := int(stack[len(stack)-1])
			stack = stack[:len(stack)-1]
			if strong {
				queue = append(queue, int32(p))
			}
			x, y := p%g.w, p/g.w
			for ny := max(0, y-1); ny <= min(g.h-1, y+1); ny++ {
				for nx := max(0, x-1); nx <= min(g.w-1, x+1); nx++ {
					n := ny*g.w + nx
					if g.label[n] != 0 || g.level[n] == 0 || (strong && g.level[n] < segStrong) {
						continue
					}
					g.label[n] = id
					stack = append(stack, int32(n))
				}
			}
		}
	}
	for p, v := range g.level {
		if v >= segStrong && g.label[p] == 0 {
			flood(p, true)
		}
	}
	// Faint ink: breadth-first from the cores.
	for head := 0; head < len(queue); head++ {
		p := int(queue[head])
		x, y := p%g.w, p/g.w
		for ny := max(0, y-1); ny <= min(g.h-1, y+1); ny++ {
			for nx := max(0, x-1); nx <= min(g.w-1, x+1); nx++ {
				if n := ny*g.w + nx; g.label[n] == 0 && g.level[n] > 0 {
					g.label[n] = g.label[p]
					queue = append(queue, int32(n))
				}
			}
		}
	}
	for p, v := range g.level {
		if v > 0 && g.label[p] == 0 {
			flood(p, false)
		}
	}
	tv := make([]float64, len(ps))
	for p, id := range g.label {
		if id == 0 {
			continue
		}
		x, y := p%g.w, p/g.w
		q := &ps[id-1]
		q.x0, q.x1 = min(q.x0, float64(x)), max(q.x1, float64(x+1))
		q.y0, q.y1 = min(q.y0, float64(y)), max(q.y1, float64(y+1))
		v := g.level[p]
		q.mass += float64(v)
		tv[id-1] += g.variation(p, id)
	}
	widths := make([]float64, len(ps))
	for i := range ps {
		widths[i] = strokeWidth(ps[i].mass, tv[i])
	}
	return ps, widths
}

// variation is the part of the total variation of piece id at cell p: the
// length of the gradient of its ink towards the next cells right and down,
// and from the cells left and above that hold none of it (where its
// outline starts).
func (g *segGrid) variation(p int, id int32) float64 {
	x, y := p%g.w, p/g.w
	at := func(x, y int) float32 {
		if x < 0 || y < 0 || x >= g.w || y >= g.h {
			return 0
		}
		if q := y*g.w + x; g.label[q] == id {
			return g.level[q]
		}
		return 0
	}
	v := at(x, y)
	dx, dy := float64(at(x+1, y)-v), float64(at(x, y+1)-v)
	t := math.Sqrt(dx*dx + dy*dy)
	if at(x-1, y) == 0 {
		t += float64(v)
	}
	if at(x, y-1) == 0 {
		t += float64(v)
	}
	return t
}

// thinPiece is the share of the drawing's typical stroke width under which
// a piece is thin (see part).
const thinPiece = 0.45

// segmentPlane splits the ink of pl into digits, left to right (origin is
// the picture coordinate of the plane's pixel (0, 0)): pieces grouped into
// segments (segmentParts), whose atoms are cut where they may be digits
// that touch (maybeCut). Each segment is one Digit, with the runs of its
// atoms as Runs; each is normalised from a plane of its own, the other
// ink cleared. It returns nil when the ink is one digit and one atom.
//
// It is long because its later steps (grouping, atoms, cuts, digits) hand
// each other the same grid, kept pieces, owner labels and label count,
// several of them updated in place; it reads better whole than as helpers
// threading that state.
func segmentPlane(pl *inkPlane, origin image.Point) ([]Digit, error) {
	g := planeGrid(pl)
	ps, widths := g.pieces()
	if g.k > 1 {
		g.pictureMasses(pl, ps)
	}
	keep, sub, pen := keptParts(ps, widths)
	line := lineHeight(sub)
	segs := segmentParts(sub)

	// owner maps each cell to its atom, then to its piece of the atom,
	// 1-based (0: none).
	owner := make([]int32, len(g.label))
	atomOf := make([]int32, len(ps)+1)
	n := int32(0)
	for _, seg := range segs {
		for _, atom := range seg {
			n++
			for _, i := range atom {
				atomOf[keep[i]+1] = n
			}
		}
	}
	for p, id := range g.label {
		owner[p] = atomOf[id]
	}
	// Each atom's uncertain cuts make its pieces; a segment's pieces are
	// its atoms' pieces in order.
	atomBoxes := g.boxes(owner, n)
	pieces := make([][]int32, len(segs))
	odds := make([][]float64, len(segs))
	id := int32(0)
	for si, seg := range segs {
		for ai := range seg {
			id++
			budget := maxPieces
			if len(seg) > 1 {
				budget = 2
			}
			if ai > 0 {
				odds[si] = append(odds[si], apartOdds)
			}
			cut, co := g.splitMaybe(owner, id, atomBoxes[id-1], &n, pen, budget)
			odds[si] = append(odds[si], co...)
			pieces[si] = append(pieces[si], cut...)
		}
	}
	if len(segs) == 1 && len(pieces[0]) == 1 {
		return nil, nil
	}
	boxes := g.boxes(owner, n)
	span := func(labels []int32) inkBox {
		b := inkBox{g.w, g.h, 0, 0}
		for _, l := range labels {
			if c := boxes[l-1]; c.x1 > c.x0 {
				b = inkBox{min(b.x0, c.x0), min(b.y0, c.y0), max(b.x1, c.x1), max(b.y1, c.y1)}
			}
		}
		return b
	}
	var out []Digit
	for si, labels := range pieces {
		var d Digit
		var err error
		if len(segs) == 1 {
			d, err = planeDigit(pl, origin) // the whole ink, as ImageDigit
		} else {
			d, err = g.digit(pl, origin, owner, labels, span(labels))
		}
		if errors.Is(err, ErrEmpty) {
			continue // ink too faint to survive normalisation alone
		}
		if err != nil {
			return nil, err
		}
		d.Runs, err = runs(len(labels), line,
			func(a, b int) part {
				bx := span(labels[a : b+1])
				return part{x0: float64(bx.x0), x1: float64(bx.x1), y0: float64(bx.y0), y1: float64(bx.y1)}
			},
			func(a, b int) (Digit, error) {
				return g.digit(pl, origin, owner, labels[a:b+1], span(labels[a:b+1]))
			})
		if err != nil {
			return nil, err
		}
		if len(d.Runs) > 0 {
			d.SplitOdds = odds[si]
		}
		out = append(out, d)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("%w: nothing in the picture stands out from the paper", ErrEmpty)
	}
	return out, nil
}

// pictureMasses sets the masses of the pieces ps of a reduced grid (k > 1)
// from the picture's own pixels: a reduced grid makes fine lines look
// heavier than they are (each cell the darkest).
func (g *segGrid) pictureMasses(pl *inkPlane, ps []part) {
	for i := range ps {
		ps[i].mass = 0
	}
	for y := g.y0; y < g.y0+g.h*g.k && y < pl.h; y++ {
		lrow := g.label[(y-g.y0)/g.k*g.w:]
		for x := g.x0; x < g.x0+g.w*g.k && x < pl.w; x++ {
			if id := lrow[(x-g.x0)/g.k]; id != 0 {
				ps[id-1].mass += float64(pl.lut[pl.pix[y*pl.w+x]])
			}
		}
	}
}

// keptParts picks the pieces that are grouped: dust stays out, and so do
// the lightest pieces when there are very many. It returns their indices
// in ps, in order, the parts themselves, those under thinPiece of pen
// marked thin, and pen, the typical stroke width: the mass-weighted median
// of widths over the kept pieces.
func keptParts(ps []part, widths []float64) (keep []int, sub []part, pen float64) {
	var total float64
	for _, p := range ps {
		total += p.mass
	}
	for i, p := range ps {
		if p.mass >= segDust*total {
			keep = append(keep, i)
		}
	}
	if len(keep) > segMaxParts {
		sortByMass(keep, ps)
		keep = keep[:segMaxParts]
		sort.Ints(keep)
	}
	byWidth := append([]int(nil), keep...)
	sort.Slice(byWidth, func(i, j int) bool { return widths[byWidth[i]] < widths[byWidth[j]] })
	var kept, acc float64
	for _, i := range keep {
		kept += ps[i].mass
	}
	for _, i := range byWidth {
		if acc += ps[i].mass; acc >= kept/2 {
			pen = widths[i]
			break
		}
	}
	sub = make([]part, len(keep))
	for i, k := range keep {
		sub[i] = ps[k]
		if sub[i].thin = widths[k] < thinPiece*pen; sub[i].thin {
			sub[i].thinMass = sub[i].mass
		}
	}
	return keep, sub, pen
}

// boxes returns the boxes of the cells of labels 1..n (empty for a label
// with none).
func (g *segGrid) boxes(owner []int32, n int32) []inkBox {
	bs := make([]inkBox, n)
	for i := range bs {
		bs[i] = inkBox{g.w, g.h, 0, 0}
	}
	for p, o := range owner {
		if o == 0 {
			continue
		}
		x, y := p%g.w, p/g.w
		b := &bs[o-1]
		*b = inkBox{min(b.x0, x), min(b.y0, y), max(b.x1, x+1), max(b.y1, y+1)}
	}
	return bs
}

// digit normalises the ink of the cells labelled labels (in owner), which
// lie in the box of cells bx, as one digit: from a plane of its own, the
// other ink cleared.
func (g *segGrid) digit(pl *inkPlane, origin image.Point, owner []int32, labels []int32, bx inkBox) (Digit, error) {
	x0, y0 := g.x0+bx.x0*g.k, g.y0+bx.y0*g.k
	x1, y1 := min(pl.w, g.x0+bx.x1*g.k), min(pl.h, g.y0+bx.y1*g.k)
	if x1 <= x0 || y1 <= y0 {
		return Digit{}, fmt.Errorf("%w: nothing in the picture stands out from the paper", ErrEmpty)
	}
	sp := &inkPlane{pix: make([]uint8, (x1-x0)*(y1-y0)), w: x1 - x0, h: y1 - y0, lut: pl.lut, t: pl.t}
	for y := y0; y < y1; y++ {
		orow := owner[(y-g.y0)/g.k*g.w:]
		src := pl.pix[y*pl.w : (y+1)*pl.w]
		dst := sp.pix[(y-y0)*sp.w : (y-y0+1)*sp.w]
		for x := x0; x < x1; x++ {
			o := orow[(x-g.x0)/g.k]
			for _, l := range labels {
				if o == l {
					dst[x-x0] = src[x]
					break
				}
			}
		}
	}
	sp.box = sp.shrink(inkBox{0, 0, sp.w, sp.h})
	if sp.box.x1 <= sp.box.x0 {
		return Digit{}, fmt.Errorf("%w: nothing in the picture stands out from the paper", ErrEmpty)
	}
	return planeDigit(sp, origin.Add(image.Pt(x0, y0)))
}

// sortByMass orders the part indices idx by descending mass.
func sortByMass(idx []int, ps []part) {
	sort.SliceStable(idx, func(i, j int) bool { return ps[idx[i]].mass > ps[idx[j]].mass })
}
