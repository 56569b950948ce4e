package recognize

import (
	"image"
	"image/draw"
	"math"
	"reflect"
	"testing"

	"golang.org/x/image/font"
	"golang.org/x/image/font/gofont/gobold"
	"golang.org/x/image/font/gofont/goitalic"
	"golang.org/x/image/font/gofont/goregular"
	"golang.org/x/image/font/opentype"
	"golang.org/x/image/math/fixed"

	"github.com/stratusml/stratus/drawing"
	"github.com/stratusml/stratus/model"
	"github.com/stratusml/stratus/model/infer"
	"github.com/stratusml/stratus/model/mnist"
	"github.com/stratusml/stratus/model/preprocess"
)

// sure returns logits that read digit d with a largest logit of top.
func sure(d int, top float32) []float32 {
	l := make([]float32, model.Classes)
	l[d] = top
	return l
}

func TestBestReading(t *testing.T) {
	tall := drawing.Box{H: 100}
	run := func(a, b int, box drawing.Box) preprocess.Run { return preprocess.Run{First: a, Last: b, Box: box} }
	for _, c := range []struct {
		name   string
		runs   []preprocess.Run
		odds   []float64
		logits [][]float32 // the whole, then each run
		want   []int
	}{
		{"two clear digits apart", []preprocess.Run{run(0, 0, tall), run(1, 1, tall)}, []float64{0},
			[][]float32{sure(8, 5), sure(1, 12), sure(0, 12)}, []int{0, 1}},
		{"one clear digit, its pieces unsure", []preprocess.Run{run(0, 0, tall), run(1, 1, tall)}, []float64{0},
			[][]float32{sure(0, 14), {0, 3, 2, 0, 0, 0, 0, 2.5, 0, 0}, {0, 3, 0, 0, 0, 0, 0, 2.8, 0, 0}}, []int{-1}},
		{"a cut needs clearly better pieces", []preprocess.Run{run(0, 0, tall), run(1, 1, tall)}, []float64{-3},
			[][]float32{sure(0, 10), sure(1, 11), sure(1, 11)}, []int{-1}},
		{"a short piece is no digit", []preprocess.Run{run(0, 0, tall), run(1, 1, drawing.Box{H: 20})}, []float64{0},
			[][]float32{sure(5, 10), sure(5, 10), sure(7, 10)}, []int{-1}},
		{"three pieces, the first two one digit", []preprocess.Run{run(0, 0, tall), run(1, 1, tall), run(2, 2, tall), run(0, 1, tall), run(1, 2, tall)}, []float64{0, 0},
			[][]float32{sure(8, 4), sure(1, 4), sure(1, 4), sure(7, 12), sure(4, 12), sure(4, 4)}, []int{3, 2}},
	} {
		t.Run(c.name, func(t *testing.T) {
			d := preprocess.Digit{Box: tall, Runs: c.runs, SplitOdds: c.odds}
			got := bestReading(&d, 0, func(i int) []float32 { return c.logits[i] }, 100)
			if !reflect.DeepEqual(got, c.want) {
				t.Errorf("reading %v, want %v", got, c.want)
			}
		})
	}
}

// TestRecognizeDigitModeUnchanged: digits without Runs get exactly the
// probabilities of the forward pass, one candidate each.
func TestRecognizeDigitModeUnchanged(t *testing.T) {
	test, err := mnist.Test("")
	if err != nil {
		t.Fatal(err)
	}
	r := shipped(t)
	var batch [][]preprocess.Digit
	x := make([]float32, 0, 30*model.Pixels)
	for i := range 30 {
		d := preprocess.Digit{Input: preprocess.Image28(test.Images[i])}
		batch = append(batch, []preprocess.Digit{d})
		in := make([]float32, model.Pixels)
		r.net.Normalize(d.Input[:], in)
		x = append(x, in...)
	}
	want := make([]float32, 30*model.Classes)
	r.net.Probabilities(x, 30, want)
	for i, res := range r.Recognize(batch) {
		if len(res.Candidates) != 1 || len(res.Inputs) != 1 || res.Inputs[0] != batch[i][0].Input {
			t.Fatalf("drawing %d: %d candidates, %d inputs", i, len(res.Candidates), len(res.Inputs))
		}
		if !reflect.DeepEqual(res.Candidates[0].Probabilities, want[i*model.Classes:(i+1)*model.Classes]) {
			t.Errorf("drawing %d: probabilities differ from the forward pass's", i)
		}
	}
}

// TestRecognizeFontNumbers reads numbers set in the Go fonts in number mode.
func TestRecognizeFontNumbers(t *testing.T) {
	r := shipped(t)
	fonts := []struct {
		name string
		ttf  []byte
	}{{"Go Regular", goregular.TTF}, {"Go Bold", gobold.TTF}, {"Go Italic", goitalic.TTF}}
	for _, f := range fonts {
		otf, err := opentype.Parse(f.ttf)
		if err != nil {
			t.Fatal(err)
		}
		face, err := opentype.NewFace(otf, &opentype.FaceOptions{Size: 120, DPI: 72, Hinting: font.HintingNone})
		if err != nil {
			t.Fatal(err)
		}
		for _, number := range []string{"2026", "4711", "90", "358", "16"} {
			img := image.NewRGBA(image.Rect(0, 0, 60+75*len(number), 200))
			draw.Draw(img, img.Bounds(), image.White, image.Point{}, draw.Src)
			dr := font.Drawer{Dst: img, Src: image.Black, Face: face, Dot: fixed.P(30, 150)}
			dr.DrawString(number)
			res, err := r.Image(img, drawing.ModeNumber)
			if err != nil {
				t.Fatal(err)
			}
			if res.Digits != number || len(res.Candidates) != len(number) || len(res.Inputs) != len(number) {
				t.Errorf("%s %s: read %q (%d candidates)", f.name, number, res.Digits, len(res.Candidates))
				continue
			}
			for i := 1; i < len(res.Candidates); i++ {
				if a, b := res.Candidates[i-1].Box, res.Candidates[i].Box; a.X+a.W > b.X+1 {
					t.Errorf("%s %s: boxes %+v and %+v not left to right", f.name, number, a, b)
				}
			}
		}
	}
}

func TestShift(t *testing.T) {
	var src, dst preprocess.Image28
	src[5*model.Side+7] = 200
	src[27*model.Side+27] = 9 // moved out of the frame
	shift(1, -1)(&src, &dst)
	for p, v := range dst {
		want := uint8(0)
		if p == 4*model.Side+8 {
			want = 200
		}
		if v != want {
			t.Fatalf("pixel (%d, %d) = %d, want %d", p%model.Side, p/model.Side, v, want)
		}
	}
}

// TestRecognizeNumberVariants: the candidates of a drawing of several
// digits that the forward pass is unsure of get the softmax of the mean
// logits of their input and its variants; the others keep the forward
// pass's probabilities.
func TestRecognizeNumberVariants(t *testing.T) {
	test, err := mnist.Test("")
	if err != nil {
		t.Fatal(err)
	}
	r := shipped(t)
	vs := numberVariants()
	if len(vs) != 8 {
		t.Fatalf("%d variants, want 8", len(vs))
	}
	var number []preprocess.Digit
	for i := range 3 {
		number = append(number, preprocess.Digit{Input: preprocess.Image28(test.Images[i])})
	}
	// A faint copy of the first digit: a digit the network is unsure of.
	faint := number[0]
	for p := range faint.Input {
		faint.Input[p] /= 6
	}
	number = append(number, faint)
	for _, all := range []bool{false, true} {
		rr := *r
		if all {
			rr.ttaBelow = 2 // every candidate
		}
		res := rr.Recognize([][]preprocess.Digit{number})[0]
		if len(res.Candidates) != len(number) {
			t.Fatalf("%d candidates, want %d", len(res.Candidates), len(number))
		}
		reread := 0
		for k, d := range number {
			ins := []preprocess.Image28{d.Input}
			for _, v := range vs {
				var im preprocess.Image28
				v(&d.Input, &im)
				ins = append(ins, im)
			}
			x := make([]float32, len(ins)*model.Pixels)
			for i := range ins {
				r.net.Normalize(ins[i][:], x[i*model.Pixels:(i+1)*model.Pixels])
			}
			l := make([]float32, len(ins)*model.Classes)
			r.net.Logits(x, len(ins), l)
			own := append([]float32(nil), l[:model.Classes]...)
			infer.Softmax(own)
			want := own
			if all || own[model.Argmax(own)] < ttaBelow {
				reread++
				want = make([]float32, model.Classes)
				for i := range ins {
					for c := range want {
						want[c] += l[i*model.Classes+c] / float32(len(ins))
					}
				}
				infer.Softmax(want)
			}
			for c, p := range res.Candidates[k].Probabilities {
				if math.Abs(float64(p-want[c])) > 1e-4 {
					t.Fatalf("all %v, digit %d: probabilities %v, want %v", all, k, res.Candidates[k].Probabilities, want)
				}
			}
			if res.Inputs[k] != d.Input {
				t.Errorf("all %v, digit %d: the input kept is not the digit's", all, k)
			}
		}
		if !all && (reread == 0 || reread == len(number)) {
			t.Errorf("%d of %d digits read again, want some but not all", reread, len(number))
		}
	}
}
