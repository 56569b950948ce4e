package preprocess

import (
	"fmt"
	"math"
	"math/rand/v2"
	"reflect"
	"sort"
	"testing"
)

// TestGroupPartsMatchesCubic: groupParts, which keeps each row's best pair,
// groups random drawings of up to 400 parts exactly as the plain O(n³)
// search over all pairs (groupPartsCubic, the code it replaced) does.
func TestGroupPartsMatchesCubic(t *testing.T) {
	r := rand.New(rand.NewPCG(4, 2))
	for _, n := range []int{1, 2, 5, 20, 60, 150, 400} {
		for trial := range 6 {
			ps := randomParts(r, n, trial)
			line := lineHeight(ps)
			for _, liberal := range []bool{false, true} {
				got, want := groupParts(ps, liberal, line), groupPartsCubic(ps, liberal, line)
				if !reflect.DeepEqual(got, want) {
					t.Fatalf("%d parts (trial %d, liberal %v): groups %v, want %v", n, trial, liberal, got, want)
				}
			}
		}
	}
}

// randomParts are n parts of a drawing: digit-sized strokes and pieces, bars,
// dots and specks along a line, some snapped to a coarse grid so that
// scores tie.
func randomParts(r *rand.Rand, n, trial int) []part {
	ps := make([]part, n)
	for i := range ps {
		x, y := r.Float64()*float64(n)*30, r.Float64()*40
		w, h := r.Float64()*60, r.Float64()*100
		if trial%2 == 1 {
			x, y, w, h = math.Round(x/20)*20, math.Round(y/20)*20, math.Round(w/20)*20, math.Round(h/20)*20
		}
		ps[i] = part{x0: x, y0: y, x1: x + w, y1: y + h, mass: r.Float64() * 100, thin: r.IntN(5) == 0}
		if ps[i].thin {
			ps[i].thinMass = ps[i].mass
		}
	}
	return ps
}

// BenchmarkGroupParts groups drawings of many parts: 200 strokes is the
// strokes limit, 400 the pieces a picture keeps (segMaxParts).
func BenchmarkGroupParts(b *testing.B) {
	r := rand.New(rand.NewPCG(1, 1))
	for _, n := range []int{20, 200, 400} {
		ps := randomParts(r, n, 0)
		line := lineHeight(ps)
		for _, impl := range []struct {
			name string
			fn   func([]part, bool, float64) [][]int
		}{{"rows", groupParts}, {"cubic", groupPartsCubic}} {
			b.Run(fmt.Sprintf("%d/%s", n, impl.name), func(b *testing.B) {
				for b.Loop() {
					impl.fn(ps, true, line)
				}
			})
		}
	}
}

// groupPartsCubic is groupParts as it was before it kept the best pair of
// each row: the reference that TestGroupPartsMatchesCubic holds it to.
//
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
func groupPartsCubic(ps []part, liberal bool, line float64) [][]int {
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
	// merge: the pair that belongs together most merges next.
	n := len(cs)
	pair := make([]float64, n*n)
	rescore := func(i int) {
		for j := range n {
			if j == i || cs[j] == nil {
				continue
			}
			s, ok := score(cs[i].box, cs[j].box)
			if !ok {
				s = 0
			}
			pair[i*n+j], pair[j*n+i] = s, s
		}
	}
	for i := range n {
		rescore(i)
	}
	for {
		bi, bj, best := -1, -1, 0.0
		for i := range n {
			if cs[i] == nil {
				continue
			}
			for j, s := range pair[i*n+i+1 : (i+1)*n] {
				if s > best {
					bi, bj, best = i, i+1+j, s
				}
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
		rescore(bi)
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
