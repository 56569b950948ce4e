package preprocess

import (
	"errors"
	"image"
	"image/color"
	"image/draw"
	"math"
	"reflect"
	"sort"
	"strings"
	"sync"
	"testing"

	"golang.org/x/image/font"
	"golang.org/x/image/font/gofont/gobold"
	"golang.org/x/image/font/gofont/goitalic"
	"golang.org/x/image/font/gofont/goregular"
	"golang.org/x/image/font/opentype"
	"golang.org/x/image/math/fixed"

	"github.com/stratusml/stratus/drawing"
	"github.com/stratusml/stratus/model"
)

// shifted returns im moved by (dx, dy) pixels, ink pushed out dropped.
func shifted(im *Image28, dx, dy int) Image28 {
	var out Image28
	for y := range model.Side {
		for x := range model.Side {
			sx, sy := x-dx, y-dy
			if sx >= 0 && sx < model.Side && sy >= 0 && sy < model.Side {
				out[y*model.Side+x] = im.At(sx, sy)
			}
		}
	}
	return out
}

// sameDigit is the correlation of a and b, at the best relative shift of at
// most one pixel: the whole-pixel centring of MNIST moves a digit whose
// centre of mass lies near a half pixel by one pixel either way.
func sameDigit(a, b *Image28) float64 {
	best := -1.0
	for dy := -1; dy <= 1; dy++ {
		for dx := -1; dx <= 1; dx++ {
			s := shifted(b, dx, dy)
			best = max(best, correlation(a, &s))
		}
	}
	return best
}

// canvas is where a test draws a digit.
type canvas struct {
	name string
	w, h int
	pl   placement
}

// canvases puts digits at various sizes and places.
var canvases = []canvas{
	{"280×280", 280, 280, placement{size: 200, x: 50, y: 40}},
	{"small in a corner of 1000×800", 1000, 800, placement{size: 60, x: 30, y: 710}},
	{"huge on 4096×4096", 4096, 4096, placement{size: 3900, x: 60, y: 90}},
	{"slanted", 280, 280, placement{size: 190, x: 30, y: 45, slant: 0.4}},
	{"28×28", 28, 28, placement{size: 19, x: 5, y: 4}},
}

// sampleStep is a pointer's sample spacing for a digit of that size.
func sampleStep(size float64) float64 { return max(0.5, size/70) }

func TestFromStrokesMNISTLike(t *testing.T) {
	for _, name := range digitNames {
		for _, cv := range canvases {
			t.Run(name+"/"+cv.name, func(t *testing.T) {
				t.Parallel()
				sk := skeleton(name, cv.pl, sampleStep(cv.pl.size))
				strokes := toStrokes(sk)
				ds, err := FromStrokes(strokes, cv.w, cv.h)
				if err != nil {
					t.Fatal(err)
				}
				if len(ds) != 1 {
					t.Fatalf("%d digits, want 1", len(ds))
				}
				checkMNISTLike(t, name, &ds[0].Input)
				// The box is the samples' bounding box.
				x0, y0, x1, y1 := math.Inf(1), math.Inf(1), math.Inf(-1), math.Inf(-1)
				for _, s := range strokes {
					for _, p := range s {
						x0, x1 = min(x0, p.X), max(x1, p.X)
						y0, y1 = min(y0, p.Y), max(y1, p.Y)
					}
				}
				if want := (drawing.Box{X: x0, Y: y0, W: x1 - x0, H: y1 - y0}); ds[0].Box != want {
					t.Errorf("box %+v, want %+v", ds[0].Box, want)
				}
			})
		}
	}
}

// TestFromStrokesInvariance: the same drawing at another size, place or
// sampling rate, or with its strokes reversed, gives the same input.
func TestFromStrokesInvariance(t *testing.T) {
	for _, name := range digitNames {
		ref, err := FromStrokes(toStrokes(skeleton(name, placement{size: 200, x: 40, y: 40}, 3)), 280, 280)
		if err != nil {
			t.Fatal(err)
		}
		for _, c := range []struct {
			what    string
			strokes []drawing.Stroke
			w, h    int
		}{
			{"4× larger, elsewhere", toStrokes(skeleton(name, placement{size: 800, x: 1000, y: 100}, 12)), 2000, 1000},
			{"sparse samples", toStrokes(skeleton(name, placement{size: 200, x: 40, y: 40}, 20)), 280, 280},
			{"dense samples", toStrokes(skeleton(name, placement{size: 200, x: 40, y: 40}, 0.5)), 280, 280},
			{"reversed", reversed(toStrokes(skeleton(name, placement{size: 200, x: 40, y: 40}, 3))), 280, 280},
		} {
			ds, err := FromStrokes(c.strokes, c.w, c.h)
			if err != nil {
				t.Fatalf("%s %s: %v", name, c.what, err)
			}
			if r := sameDigit(&ref[0].Input, &ds[0].Input); r < 0.97 {
				t.Errorf("%s %s: correlation %.3f with the reference, want ≥ 0.97\n%s\n%s", name, c.what, r, ascii(&ref[0].Input), ascii(&ds[0].Input))
			}
		}
	}
}

func reversed(strokes []drawing.Stroke) []drawing.Stroke {
	out := make([]drawing.Stroke, len(strokes))
	for i, s := range strokes {
		r := make(drawing.Stroke, len(s))
		for j, p := range s {
			r[len(s)-1-j] = p
		}
		out[len(strokes)-1-i] = r
	}
	return out
}

// TestDotAndLines: a dot stays a small dot; a straight line keeps its
// aspect ratio (a "1" is tall and thin).
func TestDotAndLines(t *testing.T) {
	for _, c := range []struct {
		name           string
		strokes        []drawing.Stroke
		minW, maxW     int
		minH, maxH     int
		minNz, maxNz   int
		centredWithin  float64
		wantBox        drawing.Box
		checkBoxExists bool
	}{
		{"single sample", []drawing.Stroke{{{X: 140, Y: 140}}}, 2, 4, 2, 4, 4, 16, 0.6, drawing.Box{X: 140, Y: 140, W: 0, H: 0}, true},
		{"tap with jitter", []drawing.Stroke{{{X: 140, Y: 140}, {X: 141, Y: 140.5}, {X: 140.5, Y: 141}}}, 2, 6, 2, 6, 4, 30, 0.6, drawing.Box{}, false},
		{"vertical line", []drawing.Stroke{{{X: 100, Y: 20}, {X: 100, Y: 260}}}, 2, 4, 20, 20, 40, 80, 0.6, drawing.Box{X: 100, Y: 20, W: 0, H: 240}, true},
		{"horizontal line", []drawing.Stroke{{{X: 20, Y: 100}, {X: 260, Y: 100}}}, 20, 20, 2, 4, 40, 80, 0.6, drawing.Box{X: 20, Y: 100, W: 240, H: 0}, true},
		{"diagonal line", []drawing.Stroke{{{X: 20, Y: 20}, {X: 260, Y: 260}}}, 20, 20, 20, 20, 40, 100, 0.6, drawing.Box{X: 20, Y: 20, W: 240, H: 240}, true},
	} {
		t.Run(c.name, func(t *testing.T) {
			ds, err := FromStrokes(c.strokes, 280, 280)
			if err != nil {
				t.Fatal(err)
			}
			im := &ds[0].Input
			s := measureInput(im)
			if s.bw < c.minW || s.bw > c.maxW || s.bh < c.minH || s.bh > c.maxH || s.nz < c.minNz || s.nz > c.maxNz {
				t.Errorf("box %d×%d with %d pixels, want %d–%d × %d–%d with %d–%d\n%s",
					s.bw, s.bh, s.nz, c.minW, c.maxW, c.minH, c.maxH, c.minNz, c.maxNz, ascii(im))
			}
			if math.Abs(s.cx-CenterX) > c.centredWithin || math.Abs(s.cy-CenterY) > c.centredWithin {
				t.Errorf("centre of mass (%.2f, %.2f)\n%s", s.cx, s.cy, ascii(im))
			}
			if s.maxV < 250 {
				t.Errorf("brightest pixel %d", s.maxV)
			}
			if c.checkBoxExists && ds[0].Box != c.wantBox {
				t.Errorf("box %+v, want %+v", ds[0].Box, c.wantBox)
			}
		})
	}
}

// picture is one way of painting a digit.
type picture struct {
	name string
	cv   canvas
	st   style
	// minCorr is the least correlation with the strokes path.
	minCorr float64
}

var (
	gray128  = color.NRGBA{128, 128, 128, 255}
	blueInk  = color.NRGBA{20, 40, 160, 255}
	yellowed = color.NRGBA{250, 240, 200, 255}
)

var pictures = []picture{
	{"280×280, 16 px pen", canvases[0], style{pen: 16, ink: black, paper: white}, 0.95},
	{"280×280, 2 px pen", canvases[0], style{pen: 2, ink: black, paper: white}, 0.95},
	{"280×280, 48 px marker", canvases[0], style{pen: 48, ink: black, paper: white}, 0.85},
	{"small in a corner of 1000×800", canvases[1], style{pen: 5, ink: black, paper: white}, 0.9},
	{"huge 1600×1600, 110 px pen", canvas{"", 1600, 1600, placement{size: 1450, x: 60, y: 90}}, style{pen: 110, ink: black, paper: white}, 0.9},
	{"huge 1600×1600, 3 px pen", canvas{"", 1600, 1600, placement{size: 1450, x: 60, y: 90}}, style{pen: 3, ink: black, paper: white}, 0.9},
	{"slanted", canvases[3], style{pen: 14, ink: black, paper: white}, 0.95},
	{"light on dark", canvases[0], style{pen: 16, ink: white, paper: black}, 0.95},
	{"transparent, dark ink", canvases[0], style{pen: 16, ink: black, transparent: true}, 0.95},
	{"transparent, light ink", canvases[0], style{pen: 16, ink: white, transparent: true}, 0.95},
	{"blue ink on yellowed paper", canvases[0], style{pen: 12, ink: blueInk, paper: yellowed}, 0.95},
	{"mid-gray paper, black ink", canvases[0], style{pen: 16, ink: black, paper: gray128}, 0.95},
	{"mid-gray paper, white ink", canvases[0], style{pen: 16, ink: white, paper: gray128}, 0.95},
	{"28×28 like MNIST", canvases[4], style{pen: 2.5, ink: white, paper: black}, 0.85},
}

func TestFromImageMNISTLike(t *testing.T) {
	for _, name := range digitNames {
		for _, pc := range pictures {
			t.Run(name+"/"+pc.name, func(t *testing.T) {
				t.Parallel()
				sk := skeleton(name, pc.cv.pl, sampleStep(pc.cv.pl.size))
				img := paint(sk, pc.cv.w, pc.cv.h, pc.st)
				ds, err := FromImage(img)
				if err != nil {
					t.Fatal(err)
				}
				if len(ds) != 1 {
					t.Fatalf("%d digits, want 1", len(ds))
				}
				im := &ds[0].Input
				checkMNISTLike(t, name, im)
				ref, err := FromStrokes(toStrokes(sk), pc.cv.w, pc.cv.h)
				if err != nil {
					t.Fatal(err)
				}
				if r := sameDigit(&ref[0].Input, im); r < pc.minCorr {
					t.Errorf("correlation %.3f with the strokes path, want ≥ %.2f\nstrokes:\n%s\npicture:\n%s", r, pc.minCorr, ascii(&ref[0].Input), ascii(im))
				}
				// The box is the painted ink's: the samples' box grown by
				// the pen's radius.
				b, r := ref[0].Box, pc.st.pen/2
				want := drawing.Box{X: b.X - r, Y: b.Y - r, W: b.W + 2*r, H: b.H + 2*r}
				got := ds[0].Box
				if math.Abs(got.X-want.X) > 2 || math.Abs(got.Y-want.Y) > 2 ||
					math.Abs(got.X+got.W-want.X-want.W) > 2 || math.Abs(got.Y+got.H-want.Y-want.H) > 2 {
					t.Errorf("box %+v, want about %+v", got, want)
				}
			})
		}
	}
}

// TestPolarityAndTransparency: dark on light, light on dark and both inks
// over a transparent background give the same input.
func TestPolarityAndTransparency(t *testing.T) {
	for _, name := range digitNames {
		sk := skeleton(name, canvases[0].pl, 3)
		ref, err := FromImage(paint(sk, 280, 280, style{pen: 12, ink: black, paper: white}))
		if err != nil {
			t.Fatal(err)
		}
		for _, c := range []struct {
			st      style
			maxDiff int // the same ink levels give the same input
		}{
			{style{pen: 12, ink: white, paper: black}, 2},
			{style{pen: 12, ink: black, transparent: true}, 2},
			{style{pen: 12, ink: white, transparent: true}, 2},
			// Red has 30% less contrast: its levels quantise differently.
			{style{pen: 12, ink: color.NRGBA{255, 0, 0, 255}, transparent: true}, 32},
		} {
			ds, err := FromImage(paint(sk, 280, 280, c.st))
			if err != nil {
				t.Fatal(err)
			}
			d, r := maxDiff(&ref[0].Input, &ds[0].Input), correlation(&ref[0].Input, &ds[0].Input)
			if d > c.maxDiff || r < 0.995 {
				t.Errorf("%s ink %v paper %v transparent %v: differs by up to %d levels (correlation %.4f) from dark on light\n%s\n%s",
					name, c.st.ink, c.st.paper, c.st.transparent, d, r, ascii(&ref[0].Input), ascii(&ds[0].Input))
			}
		}
	}
}

// TestSpecks: dust and scratches away from the digit do not change it.
func TestSpecks(t *testing.T) {
	for _, name := range []string{"7", "5"} {
		sk := skeleton(name, placement{size: 150, x: 600, y: 500}, 2)
		clean := paint(sk, 1000, 800, style{pen: 10, ink: black, paper: white})
		dirty := image.NewNRGBA(clean.Bounds())
		copy(dirty.Pix, clean.Pix)
		dot := func(x0, y0, w, h int, level uint8) {
			for y := y0; y < y0+h; y++ {
				for x := x0; x < x0+w; x++ {
					dirty.SetNRGBA(x, y, color.NRGBA{level, level, level, 255})
				}
			}
		}
		dot(20, 20, 3, 3, 0)
		dot(980, 30, 2, 2, 40)
		dot(100, 700, 5, 5, 0)
		dot(300, 100, 30, 1, 128) // a faint scratch
		dot(560, 480, 2, 2, 0)    // close to the digit, but apart
		want, err := FromImage(clean)
		if err != nil {
			t.Fatal(err)
		}
		got, err := FromImage(dirty)
		if err != nil {
			t.Fatal(err)
		}
		if d := maxDiff(&want[0].Input, &got[0].Input); d > 2 || got[0].Box != want[0].Box {
			t.Errorf("%s: with specks the input differs by up to %d levels, box %+v, want %+v\n%s\n%s",
				name, d, got[0].Box, want[0].Box, ascii(&want[0].Input), ascii(&got[0].Input))
		}
	}
}

func maxDiff(a, b *Image28) int {
	d := 0
	for i := range a {
		d = max(d, int(a[i])-int(b[i]), int(b[i])-int(a[i]))
	}
	return d
}

// TestImageTypes: every concrete image type (the ones image/png returns,
// YCbCr and a type the package does not know) gives the same input, also
// after a PNG round trip.
func TestImageTypes(t *testing.T) {
	src := paint(skeleton("4", canvases[0].pl, 3), 280, 280, style{pen: 12, ink: black, paper: white})
	b := src.Bounds()
	convert := func(dst draw.Image) image.Image {
		draw.Draw(dst, b, src, image.Point{}, draw.Src)
		return dst
	}
	ycc := image.NewYCbCr(b, image.YCbCrSubsampleRatio420)
	for y := range b.Dy() {
		for x := range b.Dx() {
			c := src.NRGBAAt(x, y)
			yy, cb, cr := color.RGBToYCbCr(c.R, c.G, c.B)
			ycc.Y[ycc.YOffset(x, y)] = yy
			ycc.Cb[ycc.COffset(x, y)] = cb
			ycc.Cr[ycc.COffset(x, y)] = cr
		}
	}
	pal := make(color.Palette, 256)
	for i := range pal {
		pal[i] = color.Gray{uint8(i)}
	}
	images := map[string]image.Image{
		"NRGBA":     src,
		"RGBA":      convert(image.NewRGBA(b)),
		"Gray":      convert(image.NewGray(b)),
		"Gray16":    convert(image.NewGray16(b)),
		"RGBA64":    convert(image.NewRGBA64(b)),
		"NRGBA64":   convert(image.NewNRGBA64(b)),
		"Paletted":  convert(image.NewPaletted(b, pal)),
		"YCbCr":     ycc,
		"unknown":   opaqueImage{src},
		"sub-image": shiftedImage(src, 37, -11),
	}
	ref, err := FromImage(src)
	if err != nil {
		t.Fatal(err)
	}
	for name, img := range images {
		ds, err := FromImage(img)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if d := maxDiff(&ref[0].Input, &ds[0].Input); d > 3 {
			t.Errorf("%s differs from NRGBA by up to %d levels\n%s\n%s", name, d, ascii(&ref[0].Input), ascii(&ds[0].Input))
		}
		off := img.Bounds().Min
		if want := (drawing.Box{X: ref[0].Box.X + float64(off.X), Y: ref[0].Box.Y + float64(off.Y), W: ref[0].Box.W, H: ref[0].Box.H}); ds[0].Box != want {
			t.Errorf("%s: box %+v, want %+v", name, ds[0].Box, want)
		}
		if name == "YCbCr" || name == "sub-image" {
			continue
		}
		// Through PNG.
		data := encodePNG(t, img)
		dp, err := FromPNG(data, drawing.DefaultLimits())
		if err != nil {
			t.Fatalf("%s as PNG: %v", name, err)
		}
		if d := maxDiff(&ref[0].Input, &dp[0].Input); d > 3 {
			t.Errorf("%s as PNG differs by up to %d levels", name, d)
		}
	}
}

// opaqueImage hides the concrete type of an image.
type opaqueImage struct{ image.Image }

// shiftedImage copies img into an image whose bounds start at (dx, dy).
func shiftedImage(img *image.NRGBA, dx, dy int) image.Image {
	b := img.Bounds().Add(image.Pt(dx, dy))
	out := image.NewNRGBA(b)
	draw.Draw(out, b, img, img.Bounds().Min, draw.Src)
	return out
}

// glyph draws text with a Go font, black on white, in a w×h picture, the
// baseline at (x, y).
func glyph(t *testing.T, ttf []byte, text string, size float64, w, h, x, y int) *image.RGBA {
	t.Helper()
	f, err := opentype.Parse(ttf)
	if err != nil {
		t.Fatal(err)
	}
	face, err := opentype.NewFace(f, &opentype.FaceOptions{Size: size, DPI: 72, Hinting: font.HintingNone})
	if err != nil {
		t.Fatal(err)
	}
	defer face.Close()
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	draw.Draw(img, img.Bounds(), image.White, image.Point{}, draw.Src)
	d := font.Drawer{Dst: img, Src: image.Black, Face: face, Dot: fixed.P(x, y)}
	d.DrawString(text)
	return img
}

// TestFontGlyphs: digits typeset in Go fonts (italic, bold, regular) come
// out MNIST-like, and the same at any size.
func TestFontGlyphs(t *testing.T) {
	fonts := []struct {
		name string
		ttf  []byte
	}{{"Go Italic", goitalic.TTF}, {"Go Bold", gobold.TTF}, {"Go Regular", goregular.TTF}}
	for _, fn := range fonts {
		for _, d := range []string{"0", "1", "2", "4", "7"} {
			t.Run(fn.name+"/"+d, func(t *testing.T) {
				t.Parallel()
				big, err := FromImage(glyph(t, fn.ttf, d, 300, 400, 400, 60, 320))
				if err != nil {
					t.Fatal(err)
				}
				checkMNISTLike(t, d, &big[0].Input)
				small, err := FromImage(glyph(t, fn.ttf, d, 40, 500, 300, 420, 60))
				if err != nil {
					t.Fatal(err)
				}
				if r := sameDigit(&big[0].Input, &small[0].Input); r < 0.9 {
					t.Errorf("40 px and 300 px glyphs correlate %.3f, want ≥ 0.9\n%s\n%s", r, ascii(&big[0].Input), ascii(&small[0].Input))
				}
			})
		}
	}
}

// TestMNISTRoundTrip: MNIST digits themselves, as pictures, come back
// nearly unchanged (the stroke width is normalised, the rest is MNIST's own
// procedure), also inverted and enlarged.
func TestMNISTRoundTrip(t *testing.T) {
	imgs, _ := mnistImages(t, 400)
	var direct, inverted, enlarged []float64
	for k, g := range imgs {
		var orig Image28
		copy(orig[:], g.Pix)
		inv := image.NewGray(image.Rect(0, 0, 28, 28))
		for i, v := range g.Pix {
			inv.Pix[i] = 255 - v
		}
		cases := []struct {
			img image.Image
			out *[]float64
		}{{g, &direct}, {inv, &inverted}}
		if k%4 == 0 { // a quarter only, to save time
			cases = append(cases, struct {
				img image.Image
				out *[]float64
			}{enlarge(g), &enlarged})
		}
		for _, c := range cases {
			ds, err := FromImage(c.img)
			if err != nil {
				t.Fatal(err)
			}
			*c.out = append(*c.out, sameDigit(&orig, &ds[0].Input))
		}
	}
	for _, c := range []struct {
		name string
		r    []float64
	}{{"28×28", direct}, {"inverted", inverted}, {"enlarged ×10", enlarged}} {
		sort.Float64s(c.r)
		p10, p50 := c.r[len(c.r)/10], c.r[len(c.r)/2]
		t.Logf("%s: correlation with the original: 10th percentile %.3f, median %.3f", c.name, p10, p50)
		if p50 < 0.93 || p10 < 0.85 {
			t.Errorf("%s: correlation with the original: 10th percentile %.3f (want ≥ 0.85), median %.3f (want ≥ 0.93)", c.name, p10, p50)
		}
	}
}

// enlarge scales a 28×28 MNIST image ×10 with bilinear interpolation and
// inverts it: black ink on white paper.
func enlarge(g *image.Gray) *image.Gray {
	big := image.NewGray(image.Rect(0, 0, 280, 280))
	at := func(x, y int) float64 {
		if x < 0 || y < 0 || x >= 28 || y >= 28 {
			return 0
		}
		return float64(g.Pix[y*28+x])
	}
	for y := range 280 {
		for x := range 280 {
			u, v := (float64(x)+0.5)/10-0.5, (float64(y)+0.5)/10-0.5
			i, j := int(math.Floor(u)), int(math.Floor(v))
			fu, fv := u-float64(i), v-float64(j)
			s := (1-fu)*(1-fv)*at(i, j) + fu*(1-fv)*at(i+1, j) + (1-fu)*fv*at(i, j+1) + fu*fv*at(i+1, j+1)
			big.Pix[y*280+x] = 255 - uint8(math.Round(s))
		}
	}
	return big
}

func TestErrors(t *testing.T) {
	ok := drawing.Stroke{{X: 10, Y: 10}, {X: 20, Y: 30}}
	many := func(n int, s drawing.Stroke) []drawing.Stroke {
		out := make([]drawing.Stroke, n)
		for i := range out {
			out[i] = s
		}
		return out
	}
	long := make(drawing.Stroke, 2001)
	for i := range long {
		long[i] = drawing.Point{X: float64(i % 200), Y: float64(i / 20)}
	}
	nan, inf := math.NaN(), math.Inf(1)
	strokeCases := []struct {
		name    string
		strokes []drawing.Stroke
		w, h    int
		want    error
		words   string // that the message must name
	}{
		{"no strokes", nil, 280, 280, ErrEmpty, "no points"},
		{"empty strokes", []drawing.Stroke{{}, {}}, 280, 280, ErrEmpty, "no points"},
		{"NaN x", []drawing.Stroke{ok, {{X: nan, Y: 1}}}, 280, 280, drawing.ErrInvalid, "finite"},
		{"Inf y", []drawing.Stroke{{{X: 1, Y: inf}}}, 280, 280, drawing.ErrInvalid, "finite"},
		{"-Inf t", []drawing.Stroke{{{X: 1, Y: 1, T: -inf}}}, 280, 280, drawing.ErrInvalid, "finite"},
		{"far outside the canvas", []drawing.Stroke{ok, {{X: 1e9, Y: 1}}}, 280, 280, drawing.ErrInvalid, "outside"},
		{"huge coordinates", []drawing.Stroke{{{X: -1.7e308, Y: 1}, {X: 1.7e308, Y: 1}}}, 280, 280, drawing.ErrInvalid, "outside"},
		{"201 strokes", many(201, ok), 280, 280, drawing.ErrTooLarge, "limit is 200"},
		{"2001 points", []drawing.Stroke{ok, long}, 280, 280, drawing.ErrTooLarge, "limit is 2000"},
		{"canvas too wide", []drawing.Stroke{ok}, 4097, 280, drawing.ErrTooLarge, "4096×4096"},
		{"canvas too tall", []drawing.Stroke{ok}, 280, 10000, drawing.ErrTooLarge, "4096×4096"},
		{"empty canvas", []drawing.Stroke{ok}, 0, 280, drawing.ErrInvalid, "at least 1×1"},
		{"negative canvas", []drawing.Stroke{ok}, 280, -5, drawing.ErrInvalid, "at least 1×1"},
	}
	for _, c := range strokeCases {
		_, err := FromStrokes(c.strokes, c.w, c.h)
		checkErr(t, "FromStrokes "+c.name, err, c.want, c.words)
	}
	// Accepted at the limits.
	if _, err := FromStrokes(append(many(199, ok), long[:2000]), 4096, 4096); err != nil {
		t.Errorf("200 strokes, 2000 points, 4096×4096: %v", err)
	}
	// StrokesDigit, which skips the limits, still refuses what it cannot draw.
	_, err := StrokesDigit([]drawing.Stroke{{{X: -1.7e308, Y: 0}, {X: 1.7e308, Y: 0}}}, 280, 280)
	checkErr(t, "StrokesDigit beyond float64", err, drawing.ErrInvalid, "float64")
	_, err = StrokesDigit([]drawing.Stroke{{{X: nan, Y: 0}}}, 280, 280)
	checkErr(t, "StrokesDigit NaN", err, drawing.ErrInvalid, "finite")

	blank := image.NewGray(image.Rect(0, 0, 280, 280))
	draw.Draw(blank, blank.Bounds(), image.White, image.Point{}, draw.Src)
	faint := image.NewGray(image.Rect(0, 0, 280, 280))
	for i := range faint.Pix {
		faint.Pix[i] = uint8(255 - (i*7)%(noiseFloor+1)) // paper texture within the noise floor
	}
	imageCases := []struct {
		name  string
		img   image.Image
		want  error
		words string
	}{
		{"blank white", blank, ErrEmpty, "stands out"},
		{"blank black", image.NewGray(image.Rect(0, 0, 100, 50)), ErrEmpty, "stands out"},
		{"paper texture only", faint, ErrEmpty, "stands out"},
		{"fully transparent", image.NewNRGBA(image.Rect(0, 0, 64, 64)), ErrEmpty, "transparent"},
		{"no pixels", image.NewGray(image.Rect(0, 0, 0, 10)), ErrEmpty, "0×10"},
		{"too wide", image.NewGray(image.Rect(0, 0, 4097, 1)), drawing.ErrTooLarge, "limit is 4096×4096"},
		{"nil", nil, drawing.ErrInvalid, "no picture"},
	}
	for _, c := range imageCases {
		_, err := FromImage(c.img)
		checkErr(t, "FromImage "+c.name, err, c.want, c.words)
	}
}

func checkErr(t *testing.T, what string, err, want error, words string) {
	t.Helper()
	if !errors.Is(err, want) {
		t.Errorf("%s: error %v, want %v", what, err, want)
		return
	}
	if !strings.Contains(err.Error(), words) {
		t.Errorf("%s: error %q does not say %q", what, err, words)
	}
}

func TestDecodePNG(t *testing.T) {
	good := encodePNG(t, paint(skeleton("7", canvases[0].pl, 3), 280, 280, style{pen: 10, ink: black, paper: white}))
	img, err := DecodePNG(good, drawing.DefaultLimits())
	if err != nil || img.Bounds() != image.Rect(0, 0, 280, 280) {
		t.Fatalf("DecodePNG: %v, %v", img, err)
	}
	edge := encodePNG(t, image.NewGray(image.Rect(0, 0, 4096, 1)))
	if _, err := DecodePNG(edge, drawing.DefaultLimits()); err != nil {
		t.Errorf("4096×1 PNG: %v", err)
	}
	_, err = FromPNG(edge, drawing.DefaultLimits())
	checkErr(t, "FromPNG of a blank 4096×1 PNG", err, ErrEmpty, "stands out")

	cases := []struct {
		name  string
		data  []byte
		lim   drawing.Limits
		want  error
		words string
	}{
		{"over 2 MiB", append(append([]byte(nil), good...), make([]byte, 2<<20)...), drawing.DefaultLimits(), drawing.ErrTooLarge, "limit is 2097152"},
		{"over a lower limit", good, drawing.Limits{MaxPNGBytes: 100}, drawing.ErrTooLarge, "limit is 100"},
		{"empty", nil, drawing.DefaultLimits(), drawing.ErrInvalid, "not a PNG"},
		{"GIF", []byte("GIF89a\x01\x00\x01\x00\x00\x00\x00;"), drawing.DefaultLimits(), drawing.ErrInvalid, "not a PNG"},
		{"JPEG", []byte("\xff\xd8\xff\xe0\x00\x10JFIF\x00"), drawing.DefaultLimits(), drawing.ErrInvalid, "not a PNG"},
		{"text", []byte("hello, world"), drawing.DefaultLimits(), drawing.ErrInvalid, "not a PNG"},
		{"signature only", []byte(drawing.PNGSignature), drawing.DefaultLimits(), drawing.ErrInvalid, "PNG header"},
		{"truncated", good[:len(good)/2], drawing.DefaultLimits(), drawing.ErrInvalid, "PNG"},
		{"bad checksum", corrupt(good), drawing.DefaultLimits(), drawing.ErrInvalid, "PNG"},
		{"decompression bomb", bombPNG(1_000_000, 1_000_000), drawing.DefaultLimits(), drawing.ErrTooLarge, "limit is 4096×4096"},
		{"4097 wide", bombPNG(4097, 1), drawing.DefaultLimits(), drawing.ErrTooLarge, "4097×1"},
		{"over a lower side limit", good, drawing.Limits{MaxSide: 100}, drawing.ErrTooLarge, "limit is 100×100"},
	}
	for _, c := range cases {
		_, err := DecodePNG(c.data, c.lim)
		checkErr(t, "DecodePNG "+c.name, err, c.want, c.words)
		_, err = FromPNG(c.data, c.lim)
		checkErr(t, "FromPNG "+c.name, err, c.want, c.words)
	}
	// The bomb is refused without allocating its pixels.
	bomb := bombPNG(100_000, 100_000)
	allocs := testing.AllocsPerRun(10, func() { _, _ = DecodePNG(bomb, drawing.DefaultLimits()) })
	if allocs > 50 {
		t.Errorf("refusing a bomb took %.0f allocations", allocs)
	}
}

// corrupt flips a byte inside the first IDAT chunk's data.
func corrupt(data []byte) []byte {
	out := append([]byte(nil), data...)
	i := strings.Index(string(out), "IDAT")
	out[i+10] ^= 0xff
	return out
}

// bombPNG is a small valid PNG file that declares a w×h gray picture (its
// pixel data, all zero, would be w·h bytes; only a prefix is written).
func bombPNG(w, h int) []byte {
	var b strings.Builder
	b.WriteString(drawing.PNGSignature)
	chunk := func(typ string, data []byte) {
		var n [4]byte
		putU32(n[:], uint32(len(data)))
		b.Write(n[:])
		b.WriteString(typ)
		b.Write(data)
		putU32(n[:], crc32PNG(append([]byte(typ), data...)))
		b.Write(n[:])
	}
	ihdr := make([]byte, 13)
	putU32(ihdr[0:], uint32(w))
	putU32(ihdr[4:], uint32(h))
	ihdr[8], ihdr[9] = 8, 0 // 8-bit gray
	chunk("IHDR", ihdr)
	// zlib stream of a few zero rows, stored uncompressed.
	z := []byte{0x78, 0x01, 0x01, 0x10, 0x00, 0xef, 0xff}
	z = append(z, make([]byte, 16)...)
	chunk("IDAT", z)
	chunk("IEND", nil)
	return []byte(b.String())
}

func putU32(b []byte, v uint32) {
	b[0], b[1], b[2], b[3] = byte(v>>24), byte(v>>16), byte(v>>8), byte(v)
}

// crc32PNG is the CRC-32 (IEEE) that PNG chunks carry.
func crc32PNG(b []byte) uint32 {
	c := ^uint32(0)
	for _, x := range b {
		c ^= uint32(x)
		for range 8 {
			if c&1 != 0 {
				c = c>>1 ^ 0xedb88320
			} else {
				c >>= 1
			}
		}
	}
	return ^c
}

// TestConcurrent: calls share nothing; run with -race.
func TestConcurrent(t *testing.T) {
	sk := skeleton("2", canvases[0].pl, 3)
	strokes := toStrokes(sk)
	img := paint(sk, 280, 280, style{pen: 12, ink: black, paper: white})
	data := encodePNG(t, img)
	wantS, _ := FromStrokes(strokes, 280, 280)
	wantI, _ := FromImage(img)
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			for range 5 {
				s, err := FromStrokes(strokes, 280, 280)
				if err != nil || !reflect.DeepEqual(s, wantS) {
					t.Error("FromStrokes differs when run concurrently")
				}
				i, err := FromPNG(data, drawing.DefaultLimits())
				if err != nil || !reflect.DeepEqual(i, wantI) {
					t.Error("FromPNG differs when run concurrently")
				}
			}
		})
	}
	wg.Wait()
}

// TestImage28 covers the small helpers of Image28.
func TestImage28(t *testing.T) {
	var im Image28
	im[3*model.Side+5] = 200
	if im.At(5, 3) != 200 {
		t.Error("At")
	}
	g := im.Gray()
	if g.GrayAt(5, 3).Y != 200 || g.Bounds() != image.Rect(0, 0, 28, 28) {
		t.Error("Gray")
	}
}
