package recognize

import (
	"image"
	"image/color"
	"image/draw"
	"math"
	"strconv"
	"testing"

	"golang.org/x/image/font"
	"golang.org/x/image/font/gofont/gobold"
	"golang.org/x/image/font/gofont/goitalic"
	"golang.org/x/image/font/gofont/gomedium"
	"golang.org/x/image/font/gofont/goregular"
	"golang.org/x/image/font/opentype"
	"golang.org/x/image/math/fixed"

	"github.com/stratusml/stratus/drawing"
	"github.com/stratusml/stratus/model"
	"github.com/stratusml/stratus/model/mnist"
	"github.com/stratusml/stratus/model/preprocess"
)

func shipped(t testing.TB) *Recognizer {
	t.Helper()
	m, err := model.Default()
	if err != nil {
		t.Fatal(err)
	}
	r, err := New(m)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// scene describes how an MNIST digit is drawn onto a canvas: its size and
// place, its pen (ink spread or thinned), its slant and its colours.
type scene struct {
	name        string
	w, h        int
	size        float64 // side of the 28×28 digit on the canvas, in pixels
	x, y        float64 // top-left corner of the digit
	shear       float64 // horizontal slant
	pen         float64 // >0 thickens the ink by that many canvas pixels, <0 thins it
	ink, paper  color.NRGBA
	digits, min int // digits tried, and how many must be recognised
}

// render draws MNIST digit img per sc, sampling the 28×28 digit bilinearly.
func render(img *[784]uint8, sc scene) image.Image {
	out := image.NewNRGBA(image.Rect(0, 0, sc.w, sc.h))
	k := 28 / sc.size
	at := func(u, v float64) float64 {
		if u < 0 || v < 0 || u > 27 || v > 27 {
			return 0
		}
		x0, y0 := math.Floor(u), math.Floor(v)
		fx, fy := u-x0, v-y0
		g := func(x, y int) float64 {
			if x > 27 || y > 27 {
				return 0
			}
			return float64(img[y*28+x]) / 255
		}
		ix, iy := int(x0), int(y0)
		return (g(ix, iy)*(1-fx)+g(ix+1, iy)*fx)*(1-fy) + (g(ix, iy+1)*(1-fx)+g(ix+1, iy+1)*fx)*fy
	}
	r := sc.pen * k // pen change in digit pixels
	for py := 0; py < sc.h; py++ {
		for px := 0; px < sc.w; px++ {
			v := (float64(py) - sc.y) * k
			u := (float64(px)-sc.x)*k + sc.shear*(v-14)
			a := at(u, v)
			if r != 0 {
				// grayscale dilation (r>0) or erosion (r<0) over a small disc
				best := a
				steps := 2
				for dy := -steps; dy <= steps; dy++ {
					for dx := -steps; dx <= steps; dx++ {
						ox, oy := float64(dx)*math.Abs(r)/float64(steps), float64(dy)*math.Abs(r)/float64(steps)
						if ox*ox+oy*oy > r*r {
							continue
						}
						b := at(u+ox, v+oy)
						if (r > 0 && b > best) || (r < 0 && b < best) {
							best = b
						}
					}
				}
				a = best
			}
			blend := func(i, p uint8) uint8 { return uint8(math.Round(float64(p) + (float64(i)-float64(p))*a)) }
			c := color.NRGBA{blend(sc.ink.R, sc.paper.R), blend(sc.ink.G, sc.paper.G), blend(sc.ink.B, sc.paper.B), blend(sc.ink.A, sc.paper.A)}
			out.SetNRGBA(px, py, c)
		}
	}
	return out
}

var (
	black       = color.NRGBA{0, 0, 0, 255}
	white       = color.NRGBA{255, 255, 255, 255}
	blueInk     = color.NRGBA{20, 30, 140, 255}
	clear       = color.NRGBA{0, 0, 0, 0}
	cream       = color.NRGBA{250, 245, 225, 255}
	chalkboard  = color.NRGBA{30, 60, 40, 255}
	chalk       = color.NRGBA{235, 235, 220, 255}
	transparent = color.NRGBA{255, 255, 255, 0}
)

// TestRecognizeDrawnMNIST draws MNIST test digits the way people hand
// pictures to Stratus — small in a corner of a big canvas, huge, with a thick
// or a thin pen, slanted, light on dark, on a transparent sheet — and checks
// that the preprocessing brings them back to what the model knows.
func TestRecognizeDrawnMNIST(t *testing.T) {
	test, err := mnist.Test("")
	if err != nil {
		t.Fatal(err)
	}
	r := shipped(t)
	scenes := []scene{
		{name: "plain", w: 280, h: 280, size: 200, x: 40, y: 40, ink: black, paper: white, digits: 200, min: 196},
		{name: "small in a corner of a big canvas", w: 1000, h: 800, size: 36, x: 955, y: 8, ink: black, paper: white, digits: 100, min: 96},
		{name: "huge", w: 1600, h: 1500, size: 1500, x: 50, y: 0, ink: blueInk, paper: cream, digits: 30, min: 29},
		{name: "thick pen", w: 280, h: 280, size: 220, x: 30, y: 30, pen: 12, ink: black, paper: white, digits: 100, min: 95},
		{name: "thin pen", w: 280, h: 280, size: 220, x: 30, y: 30, pen: -5, ink: black, paper: white, digits: 100, min: 95},
		{name: "slanted", w: 300, h: 280, size: 220, x: 40, y: 30, shear: 0.35, ink: black, paper: white, digits: 200, min: 190},
		{name: "chalk on a board", w: 280, h: 280, size: 200, x: 40, y: 40, ink: chalk, paper: chalkboard, digits: 200, min: 196},
		{name: "transparent sheet", w: 280, h: 280, size: 200, x: 40, y: 40, ink: blueInk, paper: transparent, digits: 200, min: 196},
		{name: "transparent sheet, white ink", w: 280, h: 280, size: 200, x: 40, y: 40, ink: white, paper: clear, digits: 100, min: 98},
	}
	for _, sc := range scenes {
		t.Run(sc.name, func(t *testing.T) {
			var batch [][]preprocess.Digit
			for i := 0; i < sc.digits; i++ {
				d, err := Digits(render(&test.Images[i], sc), drawing.ModeDigit)
				if err != nil {
					t.Fatalf("digit %d: %v", i, err)
				}
				batch = append(batch, d)
			}
			right := 0
			for i, res := range r.Recognize(batch) {
				if res.Digits == strconv.Itoa(int(test.Labels[i])) {
					right++
				}
			}
			t.Logf("%s: %d/%d recognised", sc.name, right, sc.digits)
			if right < sc.min {
				t.Errorf("%s: %d/%d recognised, want at least %d", sc.name, right, sc.digits, sc.min)
			}
		})
	}
}

// TestRecognizeFontDigits renders the digits 0–9 in several typefaces of the
// Go font family, upright and italic, black on white at 160 px.
func TestRecognizeFontDigits(t *testing.T) {
	r := shipped(t)
	fonts := []struct {
		name string
		ttf  []byte
	}{{"Go Regular", goregular.TTF}, {"Go Medium", gomedium.TTF}, {"Go Bold", gobold.TTF}, {"Go Italic", goitalic.TTF}}
	total, right := 0, 0
	for _, f := range fonts {
		otf, err := opentype.Parse(f.ttf)
		if err != nil {
			t.Fatal(err)
		}
		face, err := opentype.NewFace(otf, &opentype.FaceOptions{Size: 160, DPI: 72, Hinting: font.HintingNone})
		if err != nil {
			t.Fatal(err)
		}
		for d := 0; d <= 9; d++ {
			img := image.NewRGBA(image.Rect(0, 0, 240, 240))
			draw.Draw(img, img.Bounds(), image.White, image.Point{}, draw.Src)
			dr := font.Drawer{Dst: img, Src: image.Black, Face: face, Dot: fixed.P(70, 180)}
			dr.DrawString(strconv.Itoa(d))
			res, err := r.Image(img, drawing.ModeDigit)
			if err != nil {
				t.Fatalf("%s %d: %v", f.name, d, err)
			}
			total++
			if res.Digits == strconv.Itoa(d) {
				right++
			} else {
				t.Logf("%s: %d read as %s (confidence %.2f)", f.name, d, res.Digits, res.Confidence)
			}
		}
	}
	t.Logf("font digits: %d/%d recognised", right, total)
	if right < total*9/10 {
		t.Errorf("font digits: %d/%d recognised, want at least 90%%", right, total)
	}
}
