package preprocess

import (
	"github.com/stratusml/stratus/drawing"
	"math"
	"reflect"
	"strings"
	"testing"
)

// glyphAt is one template digit of a test number: its name and placement.
type glyphAt struct {
	name string
	pl   placement
}

// number lays template digits out left to right: each size high at
// baseline y, starting at x, separated by gaps (one fewer than the digits;
// negative overlaps).
func number(names string, size, x, y float64, gaps ...float64) []glyphAt {
	var out []glyphAt
	for i, r := range names {
		out = append(out, glyphAt{string(r), placement{size: size, x: x, y: y}})
		if i < len(gaps) {
			x += templateWidth(string(r))*size + gaps[i]
		}
	}
	return out
}

// templateWidth is the width of a template in its unit box, from x = 0.
func templateWidth(name string) float64 {
	w := 0.0
	for _, s := range templates[name] {
		for _, p := range s {
			w = max(w, p[0])
		}
	}
	return w
}

// sketch returns the strokes of the glyphs in order (each glyph's strokes
// together), one skeleton per glyph, and the strokes of each glyph alone.
func sketch(gs []glyphAt) (all [][][2]float64, each [][][][2]float64) {
	for _, g := range gs {
		sk := skeleton(g.name, g.pl, sampleStep(g.pl.size))
		all = append(all, sk...)
		each = append(each, sk)
	}
	return all, each
}

// checkRuns fails t unless d's Runs and SplitOdds are consistent: runs of
// consecutive pieces, never the whole, odds between every two pieces.
func checkRuns(t *testing.T, d *Digit) {
	t.Helper()
	if len(d.Runs) == 0 {
		if d.SplitOdds != nil {
			t.Errorf("split odds %v without runs", d.SplitOdds)
		}
		return
	}
	n := d.Pieces()
	if len(d.SplitOdds) != n-1 {
		t.Errorf("%d pieces, %d split odds", n, len(d.SplitOdds))
	}
	for _, r := range d.Runs {
		if r.First < 0 || r.Last < r.First || r.Last >= n || r.First == 0 && r.Last == n-1 {
			t.Errorf("run %d–%d of %d pieces", r.First, r.Last, n)
		}
		if s := measureInput(&r.Input); s.nz == 0 {
			t.Errorf("run %d–%d has no ink", r.First, r.Last)
		}
	}
}

func TestFromStrokesNumber(t *testing.T) {
	for _, c := range []struct {
		name   string
		glyphs []glyphAt
		w, h   int
		tap    bool // a tap far from the digits
	}{
		{"147, wide gaps", number("147", 100, 20, 30, 40, 40), 500, 200, false},
		{"5 with its hat apart, then 2", number("52", 120, 30, 40, 30), 400, 220, false},
		{"4 in two strokes, then 0", number("40", 120, 30, 40, 25), 400, 220, false},
		{"7 then 1 close by", number("71", 100, 20, 30, 12), 300, 200, false},
		{"0 and 2, small on a large canvas", number("02", 30, 700, 500, 10), 1000, 800, false},
		{"2 and a tap far away", number("2", 100, 40, 40), 400, 300, true},
		{"six digits", number("012457", 60, 10, 20, 15, 15, 15, 15, 15), 600, 120, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			all, each := sketch(c.glyphs)
			strokes := toStrokes(all)
			if c.tap {
				strokes = append(strokes, drawing.Stroke{{X: float64(c.w) - 10, Y: 10}})
			}
			ds, err := FromStrokes(strokes, c.w, c.h)
			if err != nil {
				t.Fatal(err)
			}
			if len(ds) != len(c.glyphs) {
				t.Fatalf("%d digits, want %d", len(ds), len(c.glyphs))
			}
			for i := range ds {
				if len(ds[i].Runs) != 0 {
					t.Errorf("digit %d: %d other readings of digits well apart", i, len(ds[i].Runs))
				}
				want, err := StrokesDigit(toStrokes(each[i]), c.w, c.h)
				if err != nil {
					t.Fatal(err)
				}
				if !reflect.DeepEqual(ds[i], want) {
					t.Errorf("digit %d (%s) is not its strokes' StrokesDigit: box %+v, want %+v\n%s\n%s",
						i, c.glyphs[i].name, ds[i].Box, want.Box, ascii(&ds[i].Input), ascii(&want.Input))
				}
			}
			// Drawn in another order, the digits come out the same.
			rev, err := FromStrokes(reversed(strokes), c.w, c.h)
			if err != nil || len(rev) != len(ds) {
				t.Fatalf("reversed: %d digits, %v", len(rev), err)
			}
			for i := range rev {
				if rev[i].Box != ds[i].Box || sameDigit(&rev[i].Input, &ds[i].Input) < 0.97 {
					t.Errorf("reversed: digit %d differs", i)
				}
			}
		})
	}
}

// TestFromStrokesUnsure: strokes that may be one digit or two (a 1 pressed
// against a 4) are one Digit whose Runs hold both readings.
func TestFromStrokesUnsure(t *testing.T) {
	gs := number("41", 100, 20, 30, -22)
	all, each := sketch(gs)
	ds, err := FromStrokes(toStrokes(all), 300, 200)
	if err != nil {
		t.Fatal(err)
	}
	if len(ds) != 1 || ds[0].Pieces() != 2 {
		t.Fatalf("%d digits (%d pieces), want one of 2 pieces", len(ds), ds[0].Pieces())
	}
	checkRuns(t, &ds[0])
	for i, r := range ds[0].Runs {
		want, err := StrokesDigit(toStrokes(each[r.First]), 300, 200)
		if err != nil {
			t.Fatal(err)
		}
		if r.First != r.Last || r.First != i || r.Input != want.Input || r.Box != want.Box {
			t.Errorf("run %d: pieces %d–%d, box %+v, want piece %d, box %+v", i, r.First, r.Last, r.Box, i, want.Box)
		}
	}
}

// paintNumber returns the skeletons of glyphs (all, and each alone) and
// the style they are painted in: black on white, a pen of 8 pixels.
func paintNumber(gs []glyphAt) ([][][2]float64, [][][][2]float64, style) {
	all, each := sketch(gs)
	return all, each, style{pen: 8, ink: black, paper: white}
}

func TestFromImageNumber(t *testing.T) {
	for _, c := range []struct {
		name   string
		glyphs []glyphAt
		w, h   int
	}{
		{"147, wide gaps", number("147", 100, 20, 30, 40, 40), 500, 200},
		{"5 with its hat apart, then 2", number("52", 120, 30, 40, 30), 400, 220},
		{"4, then 0", number("40", 120, 30, 40, 25), 400, 220},
		{"0 and 2, small on a large canvas", number("02", 30, 700, 500, 10), 1000, 800},
		{"six digits", number("012457", 60, 10, 20, 15, 15, 15, 15, 15), 600, 120},
	} {
		t.Run(c.name, func(t *testing.T) {
			all, each, st := paintNumber(c.glyphs)
			ds, err := FromImage(paint(all, c.w, c.h, st))
			if err != nil {
				t.Fatal(err)
			}
			if len(ds) != len(c.glyphs) {
				t.Fatalf("%d digits, want %d", len(ds), len(c.glyphs))
			}
			for i := range ds {
				checkRuns(t, &ds[i])
				want, err := ImageDigit(paint(each[i], c.w, c.h, st))
				if err != nil {
					t.Fatal(err)
				}
				if ds[i].Box != want.Box || maxDiff(&ds[i].Input, &want.Input) > 2 {
					t.Errorf("digit %d (%s): box %+v, want %+v, input differs by up to %d levels from the digit alone\n%s\n%s",
						i, c.glyphs[i].name, ds[i].Box, want.Box, maxDiff(&ds[i].Input, &want.Input), ascii(&ds[i].Input), ascii(&want.Input))
				}
			}
		})
	}
}

// TestFromImageTouching: digits whose inks run into each other (the pen is
// 8 pixels wide: strokes less than 8 pixels apart touch) are one Digit, cut
// where they meet; the two digits are one of its readings, each close to
// the digit drawn alone.
func TestFromImageTouching(t *testing.T) {
	for _, c := range []struct {
		name   string
		glyphs []glyphAt
	}{
		{"0 touching 0", number("00", 100, 20, 30, 6)},
		{"1 touching 0", number("10", 100, 20, 30, 7)},
		{"4's bar touching 0", number("40", 100, 20, 30, 5)},
	} {
		t.Run(c.name, func(t *testing.T) {
			const w, h = 320, 200
			all, each, st := paintNumber(c.glyphs)
			ds, err := FromImage(paint(all, w, h, st))
			if err != nil {
				t.Fatal(err)
			}
			if len(ds) != 1 {
				t.Fatalf("%d digits, want the two touching digits as one", len(ds))
			}
			d := &ds[0]
			checkRuns(t, d)
			var alone [2]Digit
			for k := range alone {
				if alone[k], err = ImageDigit(paint(each[k], w, h, st)); err != nil {
					t.Fatal(err)
				}
			}
			// Some reading in two runs is the two digits.
			n := d.Pieces()
			run := func(a, b int) *Run {
				for i := range d.Runs {
					if d.Runs[i].First == a && d.Runs[i].Last == b {
						return &d.Runs[i]
					}
				}
				return nil
			}
			best, at := 0.0, -1
			for k := 0; k+1 < n; k++ {
				l, r := run(0, k), run(k+1, n-1)
				if l == nil || r == nil {
					continue
				}
				if c := min(sameDigit(&l.Input, &alone[0].Input), sameDigit(&r.Input, &alone[1].Input)); c > best {
					best, at = c, k
				}
			}
			if best < 0.85 {
				t.Fatalf("%d pieces: no reading in two runs is the two digits (best correlation %.3f)\n%s\n%s", n, best, ascii(&alone[0].Input), ascii(&alone[1].Input))
			}
			if d.SplitOdds[at] > 0 {
				t.Errorf("split odds %v: the geometry alone favours splitting", d.SplitOdds)
			}
			l, r := run(0, at), run(at+1, n-1)
			for k, ru := range []*Run{l, r} {
				if b := alone[k].Box; math.Abs(ru.Box.X-b.X) > 15 || math.Abs(ru.Box.X+ru.Box.W-b.X-b.W) > 15 {
					t.Errorf("digit %d: box %+v, want about %+v", k, ru.Box, b)
				}
			}
		})
	}
}

// TestNumberModeOneDigit: a drawing of one digit gives in number mode
// exactly the input of the digit mode.
func TestNumberModeOneDigit(t *testing.T) {
	for _, name := range digitNames {
		for _, cv := range canvases {
			sk := skeleton(name, cv.pl, sampleStep(cv.pl.size))
			strokes := toStrokes(sk)
			ds, err := FromStrokes(strokes, cv.w, cv.h)
			if err != nil {
				t.Fatal(err)
			}
			want, err := StrokesDigit(strokes, cv.w, cv.h)
			if err != nil {
				t.Fatal(err)
			}
			if len(ds) != 1 || !reflect.DeepEqual(ds[0], want) {
				t.Errorf("%s on %s: strokes in number mode differ from the digit mode", name, cv.name)
			}
		}
		for _, pc := range pictures {
			img := paint(skeleton(name, pc.cv.pl, sampleStep(pc.cv.pl.size)), pc.cv.w, pc.cv.h, pc.st)
			ds, err := FromImage(img)
			if err != nil {
				t.Fatal(err)
			}
			want, err := ImageDigit(img)
			if err != nil {
				t.Fatal(err)
			}
			if len(ds) != 1 || ds[0].Input != want.Input || ds[0].Box != want.Box {
				t.Errorf("%s, %s: picture in number mode differs from the digit mode", name, pc.name)
			}
		}
	}
}

// TestSegmentLimits: whatever the number of strokes or pieces, the
// segmentation stays within bounds (200 strokes, a picture of dust).
func TestSegmentLimits(t *testing.T) {
	var strokes []drawing.Stroke
	for i := range 200 {
		x, y := float64(i%20)*20, float64(i/20)*20
		strokes = append(strokes, drawing.Stroke{{X: x, Y: y}, {X: x + 5, Y: y + 5}})
	}
	ds, err := FromStrokes(strokes, 400, 200)
	if err != nil {
		t.Fatal(err)
	}
	for i := range ds {
		checkRuns(t, &ds[i])
	}
	// Dust: every fourth pixel of a 600×600 picture.
	img := paint(nil, 600, 600, style{ink: black, paper: white})
	for y := 10; y < 590; y += 4 {
		for x := 10; x < 590; x += 4 {
			img.Pix[img.PixOffset(x, y)] = 0
			img.Pix[img.PixOffset(x, y)+1] = 0
			img.Pix[img.PixOffset(x, y)+2] = 0
		}
	}
	ds, err = FromImage(img)
	if err != nil && !strings.Contains(err.Error(), "stands out") {
		t.Fatal(err)
	}
	for i := range ds {
		checkRuns(t, &ds[i])
	}
}

// TestPartUnionThin: a union of parts is thin when thin parts hold most of
// its mass (a stray line broken into a thin trace and a small blob), not
// only when all of them are thin.
func TestPartUnionThin(t *testing.T) {
	thinPart := func(mass float64) part { return part{x1: 1, y1: 10, mass: mass, thin: true, thinMass: mass} }
	thick := func(mass float64) part { return part{x1: 3, y1: 3, mass: mass} }
	for _, c := range []struct {
		name string
		a, b part
		want bool
	}{
		{"both thin", thinPart(5), thinPart(5), true},
		{"mostly thin", thinPart(50), thick(26), true},
		{"mostly thick", thinPart(20), thick(26), false},
		{"both thick", thick(5), thick(5), false},
	} {
		if got := c.a.union(c.b).thin; got != c.want {
			t.Errorf("%s: thin %v, want %v", c.name, got, c.want)
		}
		if got := c.b.union(c.a).thin; got != c.want {
			t.Errorf("%s, the other way: thin %v, want %v", c.name, got, c.want)
		}
	}
}
