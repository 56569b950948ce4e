package recognize

import (
	"math/rand/v2"
	"runtime"
	"sync"
	"testing"

	"github.com/stratusml/stratus/drawing"
	"github.com/stratusml/stratus/model/mnist"
	"github.com/stratusml/stratus/model/preprocess"
)

// levenshtein is the edit distance between a and b.
func levenshtein(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			c := prev[j-1]
			if a[i-1] != b[j-1] {
				c++
			}
			cur[j] = min(c, prev[j]+1, cur[j-1]+1)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}

func TestLevenshtein(t *testing.T) {
	for _, c := range []struct {
		a, b string
		want int
	}{{"", "", 0}, {"123", "123", 0}, {"123", "13", 1}, {"13", "123", 1}, {"123", "183", 1}, {"", "42", 2}, {"4711", "17", 3}} {
		if got := levenshtein(c.a, c.b); got != c.want {
			t.Errorf("levenshtein(%q, %q) = %d, want %d", c.a, c.b, got, c.want)
		}
	}
}

// score counts the answers that are exactly right and the digits read
// right: a number's length less the edit distance between the answer and
// the truth (at least 0), so that a digit missed or split in two costs one.
type score struct {
	numbers, exact, digits, right int
}

func (s *score) add(got, want string) {
	s.numbers++
	s.digits += len(want)
	s.right += max(0, len(want)-levenshtein(got, want))
	if got == want {
		s.exact++
	}
}

func (s score) exactRate() float64 { return float64(s.exact) / float64(s.numbers) }
func (s score) digitRate() float64 { return float64(s.right) / float64(s.digits) }

// The figures TestNumberAccuracy requires of whole numbers (docs/numbers.md, "Whole
// numbers"), each just under what was measured. The issue asks for 97% of
// numbers exactly right and 99% of digits; pictures meet both. The numbers'
// digits each drawn alone (read by the same reader: batched as one drawing,
// with number mode's test-time variants) bound what segmentation can reach,
// and the floors bound how much it may lose against them. Strokes traced
// along the skeletons of MNIST digits lose more on their own (the model
// reads 98.8% of them alone): their floors are lower.
var numberFloors = map[string]struct{ exact, digit, exactLoss, digitLoss float64 }{
	"pictures": {exact: 0.97, digit: 0.992, exactLoss: 0.012, digitLoss: 0.003},
	"strokes":  {exact: 0.948, digit: 0.987, exactLoss: 0.006, digitLoss: 0.002},
}

// TestNumberAccuracy writes 500 numbers of 2–6 MNIST test digits (see
// makeNumber: random sizes, slants, baselines and gaps, a fifth of the gaps
// zero or negative) as pictures and as strokes, and reads them in number
// mode. It reports how many numbers are read exactly, how many digits are
// read right (per digit: a number's length less the edit distance to the
// truth), the same for the numbers' digits each drawn alone (what the
// model reads when segmentation is perfect) and for the numbers whose inks
// touch.
func TestNumberAccuracy(t *testing.T) {
	test, err := mnist.Test("")
	if err != nil {
		t.Fatal(err)
	}
	r := shipped(t)
	rng := rand.New(rand.NewPCG(9, 2026))
	n := 500
	if raceEnabled {
		n = 40 // the race detector is ten times slower; the figures need no race
	}
	scenes := make([]numberScene, n)
	for i := range scenes {
		scenes[i] = makeNumber(rng, test, defaultNumberStyle)
	}
	touching := make([]bool, n)
	touches := 0
	parallel(n, func(i int) { touching[i] = scenes[i].touching() })
	for _, tc := range touching {
		if tc {
			touches++
		}
	}
	var skel skeletonCache
	for _, kind := range []string{"pictures", "strokes"} {
		t.Run(kind, func(t *testing.T) {
			batch := make([][]preprocess.Digit, n)
			alone := make([][]preprocess.Digit, n)
			errs := make([]error, n)
			parallel(n, func(i int) {
				sc := &scenes[i]
				draw := func(sc *numberScene, mode drawing.Mode) ([]preprocess.Digit, error) {
					if kind == "pictures" {
						return Digits(sc.picture(), mode)
					}
					return StrokeDigits(sc.strokes(skel.get), sc.w, sc.h, mode)
				}
				batch[i], errs[i] = draw(sc, drawing.ModeNumber)
				// The same digits, each drawn alone: what the model reads
				// when segmentation is perfect (one drawing of several
				// digits, so read with number mode's variants).
				for gi := range sc.glyphs {
					one := sc.alone(gi)
					d, err := draw(&one, drawing.ModeDigit)
					if err != nil {
						errs[i] = err
					}
					alone[i] = append(alone[i], d...)
				}
			})
			for i, err := range errs {
				if err != nil {
					t.Fatalf("number %d (%s): %v", i, scenes[i].want, err)
				}
			}
			var got, base, touched score
			ra := r.Recognize(alone)
			for i, res := range r.Recognize(batch) {
				want := scenes[i].want
				got.add(res.Digits, want)
				base.add(ra[i].Digits, want)
				if touching[i] {
					touched.add(res.Digits, want)
				}
				if res.Digits != want && ra[i].Digits == want {
					t.Logf("number %d: %s read %s (its digits alone: %s)", i, want, res.Digits, ra[i].Digits)
				}
			}
			t.Logf("%s: %d numbers, %d digits: exact %.2f%%, per digit %.2f%%; digits drawn alone: exact %.2f%%, per digit %.2f%%; "+
				"the %d numbers whose inks touch: exact %.2f%%, per digit %.2f%%",
				kind, got.numbers, got.digits, 100*got.exactRate(), 100*got.digitRate(), 100*base.exactRate(), 100*base.digitRate(),
				touches, 100*touched.exactRate(), 100*touched.digitRate())
			if raceEnabled {
				return
			}
			f := numberFloors[kind]
			if got.exactRate() < f.exact || got.exactRate() < base.exactRate()-f.exactLoss {
				t.Errorf("%s: %.2f%% of the numbers read exactly, want at least %.1f%% and at most %.1f points below the digits read alone (%.2f%%)",
					kind, 100*got.exactRate(), 100*f.exact, 100*f.exactLoss, 100*base.exactRate())
			}
			if got.digitRate() < f.digit || got.digitRate() < base.digitRate()-f.digitLoss {
				t.Errorf("%s: %.2f%% of the digits read right, want at least %.1f%% and at most %.1f points below the digits read alone (%.2f%%)",
					kind, 100*got.digitRate(), 100*f.digit, 100*f.digitLoss, 100*base.digitRate())
			}
		})
	}
}

// parallel runs f(0..n-1) on GOMAXPROCS goroutines.
func parallel(n int, f func(i int)) {
	var wg sync.WaitGroup
	next := make(chan int)
	for range min(runtime.GOMAXPROCS(0), n) {
		wg.Go(func() {
			for i := range next {
				f(i)
			}
		})
	}
	for i := range n {
		next <- i
	}
	close(next)
	wg.Wait()
}

// BenchmarkNumber reads a number of six MNIST digits, two of them
// touching, drawn as a picture (decoded) and as strokes: segmentation,
// normalisation and the one forward pass.
func BenchmarkNumber(b *testing.B) {
	test, err := mnist.Test("")
	if err != nil {
		b.Fatal(err)
	}
	r := shipped(b)
	st := defaultNumberStyle
	st.minDigits, st.maxDigits, st.minSize, st.maxSize = 6, 6, 80, 80
	sc := makeNumber(rand.New(rand.NewPCG(1, 6)), test, st)
	pic := sc.picture()
	strokes := sc.strokes(mnist.Skeleton)
	b.Logf("%s on a %d×%d canvas, %d strokes", sc.want, sc.w, sc.h, len(strokes))
	b.Run("picture", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := r.Image(pic, drawing.ModeNumber); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("strokes", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := r.Strokes(strokes, sc.w, sc.h, drawing.ModeNumber); err != nil {
				b.Fatal(err)
			}
		}
	})
}
