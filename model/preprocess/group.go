package preprocess

import (
	"math"
	"sort"
)

// Tuning of the segmentation into digits, shared by strokes and pictures.
// Lengths are fractions of the line height: the height of the tallest part.
const (
	// minPartWidth is the least width a part counts for when overlaps are
	// compared: a straight vertical stroke has no width.
	minPartWidth = 0.2
	// sameDigitOverlap is the share of the narrower part's width that must
	// overlap the other part horizontally for both to be one digit.
	sameDigitOverlap = 0.5
	// tallPart is the height from which a part may be a digit by itself
	// (a "1", a whole digit); shorter parts (a bar, a hat, a loop of a
	// broken 8) belong to a digit next to them.
	tallPart = 0.6
	// innerMargin is the share of a tall part's width on each side inside
	// which another tall part must have its centre to belong to it: a "1"
	// leaning on the edge of the previous digit stays a digit.
	innerMargin = 0.2
	// nearPart is the distance within which a part shorter than tallPart
	// that overlaps no digit joins the nearest one (a hat drawn far to
	// the right, the end of a broken stroke).
	nearPart = 0.25
	// mayOverlap and mayTouch are the overlap and the gap from which
	// parts may be one digit (see groupParts).
	mayOverlap, mayTouch = 0.25, 0.04
	// speckPart is the size under which a part that is near no digit and
	// holds less than 5% of the ink is dropped as a speck; so is any such
	// part with less than speckShare of the ink.
	speckPart = 0.15
)

// lineHeight is the height of the digits of a drawing made of ps: the
// height of the tallest part, or its width if all are flat (dots,
// horizontal lines).
func lineHeight(ps []part) float64 {
	line := 0.0
	for _, p := range ps {
		line = max(line, p.h())
	}
	if line == 0 {
		for _, p := range ps {
			line = max(line, p.w())
		}
	}
	return line
}

// segment is one digit of a drawing, or several digits that may touch:
// its atoms left to right, each the indices of its parts. A reading of the
// segment is a partition of its atoms into runs of consecutive atoms, each
// run one digit.
type segment [][]int

// maxAtoms bounds the atoms of a segment; a liberal group with more is
// taken as its strict groups, each a segment of its own.
const maxAtoms = 8

// segmentParts groups ps into segments, left to right: the liberal groups
// of groupParts, each made of its strict groups as atoms.
func segmentParts(ps []part) []segment {
	line := lineHeight(ps)
	var out []segment
	var boxes []part
	add := func(seg segment) {
		b := ps[seg[0][0]]
		for _, atom := range seg {
			for _, i := range atom {
				b = b.union(ps[i])
			}
		}
		out = append(out, seg)
		boxes = append(boxes, b)
	}
	for _, lg := range groupParts(ps, true, line) {
		sub := make([]part, len(lg))
		for i, k := range lg {
			sub[i] = ps[k]
		}
		var seg segment
		for _, sg := range groupParts(sub, false, line) {
			atom := make([]int, len(sg))
			for i, k := range sg {
				atom[i] = lg[k]
			}
			seg = append(seg, atom)
		}
		if len(seg) > maxAtoms {
			for _, atom := range seg {
				add(segment{atom})
			}
		} else if len(seg) > 0 {
			add(seg)
		}
	}
	order := make([]int, len(out))
	for i := range order {
		order[i] = i
	}
	sort.SliceStable(order, func(i, j int) bool { return boxes[order[i]].cx() < boxes[order[j]].cx() })
	sorted := make([]segment, len(out))
	for i, k := range order {
		sorted[i] = out[k]
	}
	return sorted
}

// part is a piece of a drawing that segmentation groups into digits: a
// stroke, or a connected piece of a picture's ink. Boxes are [x0, x1] ×
// [y0, y1] in the drawing's coordinates.
type part struct {
	x0, y0, x1, y1 float64
	mass           float64
	// thin marks a part drawn much finer than the rest of the drawing (a
	// stray line at the edge of a scanned digit, a faint trace): liberal
	// grouping lets it join a digit near it, as a short part would. A
	// union of parts is thin when thin parts hold most of its mass
	// (thinMass).
	thin     bool
	thinMass float64
}

func (p part) w() float64  { return p.x1 - p.x0 }
func (p part) h() float64  { return p.y1 - p.y0 }
func (p part) cx() float64 { return (p.x0 + p.x1) / 2 }

// union is the box of both parts, their masses added; it is thin when
// thin parts hold most of its mass.
func (p part) union(q part) part {
	u := part{x0: min(p.x0, q.x0), y0: min(p.y0, q.y0), x1: max(p.x1, q.x1), y1: max(p.y1, q.y1),
		mass: p.mass + q.mass, thinMass: p.thinMass + q.thinMass}
	u.thin = p.thin && q.thin || u.mass > 0 && 2*u.thinMass > u.mass
	return u
}

// gap is the distance between the boxes of p and q, 0 when they overlap.
func (p part) gap(q part) float64 {
	dx := max(0, max(p.x0, q.x0)-min(p.x1, q.x1))
	dy := max(0, max(p.y0, q.y0)-min(p.y1, q.y1))
	return math.Hypot(dx, dy)
}

// groupParts groups parts into digits and returns the groups (indices into
// ps, ascending) left to right; parts dropped as specks are in no group.
//
// Parts that overlap horizontally by at least half the narrower one's
// width are one digit (a 4 drawn in two strokes, a 5's hat, the loops of a
// broken 8), unless both are tall enough to be digits and the narrower one
// leans on the edge of the other (touching or overlapping digits). A part
// shorter than a digit that overlaps nothing joins the nearest digit if it
// is near one. The closest candidates merge first, so that a part touching
// two digits goes to the one it overlaps most. Specks far from every digit
// are dropped.
//
// liberal groups what may be one digit: parts that overlap by a quarter of
// the narrower one, or nearly touch, whatever their height. The digits of
// a liberal group are decided by the classifier (see Digit.Runs), among
// readings made of its strict groups.
//
// line is the height of a digit (lineHeight(ps) for the whole drawing).
//
// It is long because it is one greedy merge: span, score, rowBest and
// rescore share the clusters, the pair scores, each row's best and the x
// ranges, which every merge must keep consistent; helpers would each be
// handed all of that state.
func groupParts(ps []part, liberal bool, line float64) [][]int {
	if len(ps) == 0 {
		return nil
	}
	minW := minPartWidth * line
	// span is a part's x range, widened to minW about its centre.
	span := func(p part) (float64, float64) {
		if p.w() >= minW {
			return p.x0, p.x1
		}
		return p.cx() - minW/2, p.cx() + minW/2
	}
	type cluster struct {
		box     part
		members []int
	}
	cs := make([]*cluster, len(ps))
	for i, p := range ps {
		cs[i] = &cluster{box: p, members: []int{i}}
	}
	// score returns how strongly a and b belong together (higher merges
	// first), or false when they are two digits.
	score := func(a, b part) (float64, bool) {
		n, o := a, b
		if max(n.w(), minW) > max(o.w(), minW) {
			n, o = o, n
		}
		n0, n1 := span(n)
		o0, o1 := span(o)
		r := (min(n1, o1) - max(n0, o0)) / (n1 - n0)
		tall := func(p part) bool { return p.h() >= tallPart*line && !(liberal && p.thin) }
		if liberal {
			if r >= mayOverlap {
				return 1 + r, true
			}
			if g := a.gap(b); g <= mayTouch*line || (!tall(n) || !tall(o)) && g <= nearPart*line {
				return 1 - g/(nearPart*line), true
			}
			return 0, false
		}
		if r >= sameDigitOverlap {
			if tall(n) && tall(o) {
				m := innerMargin * (o1 - o0)
				if c := n.cx(); c < o0+m || c > o1-m {
					return 0, false
				}
			}
			return 1 + r, true
		}
		if g := a.gap(b); (!tall(n) || !tall(o)) && g <= nearPart*line {
			return 1 - g/(nearPart*line), true
		}
		return 0, false
	}
	// The scores of all pairs (0: apart), kept up to date as clusters
	// merge: the pair that belongs together most merges next, the first
	// in row-major order among equals. Each row keeps its best pair to
	// its right, so that finding the next merge costs O(n), not O(n²): a
	// drawing of a few hundred parts (200 strokes, 400 pieces of a
	// picture) is grouped in a millisecond or two, not a hundred.
	n := len(cs)
	pair := make([]float64, n*n)
	best := make([]int, n) // row i's best column j > i, -1 when none scores above 0
	rowBest := func(i int) {
		b, bs := -1, 0.0
		for j, s := range pair[i*n+i+1 : (i+1)*n] {
			if s > bs {
				b, bs = i+1+j, s
			}
		}
		best[i] = b
	}
	// xs are the clusters' spans and box edges along x: two clusters
	// whose spans do not overlap and whose boxes are more than nearPart
	// apart along x score 0 (no overlap, a gap beyond every threshold),
	// which these tell without scoring them.
	type xRange struct{ s0, s1, x0, x1 float64 }
	xs := make([]xRange, n)
	setX := func(i int) {
		b := cs[i].box
		s0, s1 := span(b)
		xs[i] = xRange{s0, s1, b.x0, b.x1}
	}
	near := nearPart * line
	// rescore scores the pairs of i with the clusters from j0 on.
	rescore := func(i, j0 int) {
		a := xs[i]
		for j := j0; j < n; j++ {
			if j == i || cs[j] == nil {
				continue
			}
			s, ok := 0.0, false
			if b := xs[j]; max(a.s0, b.s0) <= min(a.s1, b.s1) || max(a.x0, b.x0)-min(a.x1, b.x1) <= near {
				s, ok = score(cs[i].box, cs[j].box)
			}
			if !ok {
				s = 0
			}
			pair[i*n+j], pair[j*n+i] = s, s
		}
	}
	for i := range n {
		setX(i)
	}
	for i := range n {
		rescore(i, i+1)
	}
	for i := range n {
		rowBest(i)
	}
	for {
		bi, bj, top := -1, -1, 0.0
		for i, j := range best {
			if j >= 0 && cs[i] != nil && pair[i*n+j] > top {
				bi, bj, top = i, j, pair[i*n+j]
			}
		}
		if bi < 0 {
			break
		}
		cs[bi].box = cs[bi].box.union(cs[bj].box)
		cs[bi].members = append(cs[bi].members, cs[bj].members...)
		cs[bj] = nil
		for k := range n {
			pair[bj*n+k], pair[k*n+bj] = 0, 0
		}
		setX(bi)
		rescore(bi, 0)
		// Rows whose best pair changed: bi's own, those whose best was
		// with bi or bj, and those before bi that its new scores beat.
		for k := range n {
			switch {
			case cs[k] == nil:
			case k == bi || best[k] == bi || best[k] == bj:
				rowBest(k)
			case k < bi:
				s := pair[k*n+bi]
				if s > 0 && (best[k] < 0 || s > pair[k*n+best[k]] || s == pair[k*n+best[k]] && bi < best[k]) {
					best[k] = bi
				}
			}
		}
	}
	live := cs[:0]
	for _, c := range cs {
		if c != nil {
			live = append(live, c)
		}
	}
	cs = live
	// Specks: small clusters of little mass, apart from everything.
	var total float64
	for _, p := range ps {
		total += p.mass
	}
	kept := cs[:0]
	for _, c := range cs {
		if len(cs) > 1 && (c.box.mass < speckShare*total || max(c.box.w(), c.box.h()) < speckPart*line && c.box.mass < 0.05*total) {
			continue
		}
		kept = append(kept, c)
	}
	sort.SliceStable(kept, func(i, j int) bool { return kept[i].box.cx() < kept[j].box.cx() })
	out := make([][]int, len(kept))
	for i, c := range kept {
		sort.Ints(c.members)
		out[i] = c.members
	}
	return out
}
