package preprocess

import (
	"errors"
	"github.com/stratusml/stratus/drawing"
	"image"
	"math"
	"reflect"
	"testing"
)

// checkDigits checks what every successful call must return: at least one
// digit, each with ink that fits the box and a box in the input's bounds,
// with consistent Runs.
func checkDigits(t *testing.T, ds []Digit, bounds drawing.Box) {
	t.Helper()
	if len(ds) == 0 {
		t.Fatal("no digit and no error")
	}
	inside := func(b drawing.Box) bool {
		return b.W >= 0 && b.H >= 0 && b.X >= bounds.X && b.Y >= bounds.Y && b.X+b.W <= bounds.X+bounds.W && b.Y+b.H <= bounds.Y+bounds.H
	}
	for i := range ds {
		s := measureInput(&ds[i].Input)
		if s.nz == 0 || s.bw > BoxSide || s.bh > BoxSide {
			t.Fatalf("digit %d: input %v does not fit the %d×%d box\n%s", i, s, BoxSide, BoxSide, ascii(&ds[i].Input))
		}
		if !inside(ds[i].Box) {
			t.Fatalf("digit %d: box %+v outside the input %+v", i, ds[i].Box, bounds)
		}
		checkRuns(t, &ds[i])
		for _, r := range ds[i].Runs {
			if !inside(r.Box) {
				t.Fatalf("digit %d: run %d–%d box %+v outside the input %+v", i, r.First, r.Last, r.Box, bounds)
			}
		}
	}
}

// clientError reports whether err is one of the package's input errors.
func clientError(err error) bool {
	return errors.Is(err, drawing.ErrInvalid) || errors.Is(err, drawing.ErrTooLarge) || errors.Is(err, ErrEmpty)
}

func FuzzDecodePNG(f *testing.F) {
	f.Add(encodePNG(f, paint(skeleton("7", canvases[4].pl, 1), 28, 28, style{pen: 2.5, ink: white, paper: black})))
	f.Add(bombPNG(100_000, 100_000))
	f.Add(pngHeaderFile(4096, 4096, pngRGBA, 16, []byte{0x78, 0x01})) // over the pixel budget
	f.Fuzz(func(t *testing.T, data []byte) {
		img, err := DecodePNG(data, drawing.DefaultLimits())
		if err != nil {
			if !errors.Is(err, drawing.ErrInvalid) && !errors.Is(err, drawing.ErrTooLarge) {
				t.Fatalf("DecodePNG: unexpected error %v", err)
			}
			return
		}
		ds, err := FromImage(img)
		if err != nil {
			if !clientError(err) {
				t.Fatalf("FromImage: unexpected error %v", err)
			}
			return
		}
		r := img.Bounds()
		checkDigits(t, ds, drawing.Box{X: float64(r.Min.X), Y: float64(r.Min.Y), W: float64(r.Dx()), H: float64(r.Dy())})
	})
}

// FuzzFromStrokesJSON preprocesses whatever drawing.DecodeStrokesJSON
// accepts (drawing's FuzzDecodeStrokesJSON checks the decoder itself): it
// must never fail but for the package's input errors, and every digit it
// returns is well formed.
func FuzzFromStrokesJSON(f *testing.F) {
	f.Add([]byte(`[[{"x":10,"y":10,"t":0},{"x":200,"y":12,"t":40},{"x":90,"y":260,"t":120}]]`), uint16(280), uint16(280))
	f.Add([]byte(`[[{"x":140,"y":140}]]`), uint16(280), uint16(280))
	f.Fuzz(func(t *testing.T, data []byte, w, h uint16) {
		strokes, err := drawing.DecodeStrokesJSON(data, drawing.DefaultLimits())
		if err != nil {
			if !errors.Is(err, drawing.ErrInvalid) && !errors.Is(err, drawing.ErrTooLarge) {
				t.Fatalf("DecodeStrokesJSON: unexpected error %v", err)
			}
			return
		}
		width, height := int(w), int(h)
		ds, err := FromStrokes(strokes, width, height)
		if err != nil {
			if !clientError(err) {
				t.Fatalf("FromStrokes: unexpected error %v", err)
			}
			return
		}
		W, H := float64(width), float64(height)
		checkDigits(t, ds, drawing.Box{X: -W, Y: -H, W: 3 * W, H: 3 * H})
	})
}

// FuzzFromImage feeds arbitrary pixels, as a small NRGBA picture whose
// width is the first byte, to FromImage.
func FuzzFromImage(f *testing.F) {
	f.Add([]byte{4, 255, 255, 255, 255, 0, 0, 0, 255, 255, 255, 255, 255, 0, 0, 0, 0})
	f.Add([]byte{2, 0, 0, 0, 0, 255, 255, 255, 200, 10, 10, 10, 0, 0, 0, 0, 0})
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) < 5 {
			return
		}
		w := max(1, int(data[0]))
		pix := data[1:]
		h := len(pix) / 4 / w
		if h < 1 {
			return
		}
		img := &image.NRGBA{Pix: pix[:4*w*h], Stride: 4 * w, Rect: image.Rect(0, 0, w, h)}
		ds, err := FromImage(img)
		if err != nil {
			if !clientError(err) {
				t.Fatalf("FromImage: unexpected error %v", err)
			}
			return
		}
		checkDigits(t, ds, drawing.Box{X: 0, Y: 0, W: float64(w), H: float64(h)})
	})
}

// fuzzStrokes turns bytes into strokes on a canvas: the first byte picks
// the canvas (28×28 to 2048×1024), then each pair of bytes is a point
// (scaled to the canvas, a little beyond it on every side), and the byte
// 0xff ends a stroke.
func fuzzStrokes(data []byte) ([]drawing.Stroke, int, int) {
	if len(data) == 0 {
		return nil, 280, 280
	}
	sizes := [][2]int{{280, 280}, {28, 28}, {1000, 300}, {2048, 1024}, {300, 1000}, {64, 900}, {900, 64}, {400, 400}}
	w, h := sizes[int(data[0])%len(sizes)][0], sizes[int(data[0])%len(sizes)][1]
	var strokes []drawing.Stroke
	var cur drawing.Stroke
	t := 0.0
	for i := 1; i < len(data); i++ {
		if data[i] == 0xff || i+1 >= len(data) {
			if len(cur) > 0 {
				strokes = append(strokes, cur)
				cur = nil
			}
			continue
		}
		x := (float64(data[i])/254*1.2 - 0.1) * float64(w)
		y := (float64(data[i+1])/254*1.2 - 0.1) * float64(h)
		i++
		cur = append(cur, drawing.Point{X: x, Y: y, T: t})
		t += 8
	}
	if len(cur) > 0 {
		strokes = append(strokes, cur)
	}
	return strokes, w, h
}

// encodeStrokes is the inverse of fuzzStrokes for seeds: strokes with
// coordinates in 0..254 of a canvas picked by the first byte.
func encodeStrokes(canvas byte, strokes [][][2]float64, w, h float64) []byte {
	out := []byte{canvas}
	q := func(v, side float64) byte { return byte(max(0, min(254, math.Round((v/side+0.1)/1.2*254)))) }
	for i, s := range strokes {
		if i > 0 {
			out = append(out, 0xff)
		}
		for _, p := range s {
			out = append(out, q(p[0], w), q(p[1], h))
		}
	}
	return out
}

// FuzzFromStrokes feeds arbitrary strokes to the stroke segmentation: it
// must never fail but for the package's input errors, and every digit it
// returns is well formed; a drawing that is one digit is the digit mode's.
func FuzzFromStrokes(f *testing.F) {
	// More seeds are in testdata/fuzz/FuzzFromStrokes.
	all, _ := sketch(number("147", 70, 10, 20, 25, 25))
	f.Add(encodeStrokes(0, all, 280, 280))
	f.Add([]byte{1, 127, 127})
	f.Fuzz(func(t *testing.T, data []byte) {
		strokes, w, h := fuzzStrokes(data)
		ds, err := FromStrokes(strokes, w, h)
		if err != nil {
			if !clientError(err) {
				t.Fatalf("FromStrokes: unexpected error %v", err)
			}
			return
		}
		W, H := float64(w), float64(h)
		checkDigits(t, ds, drawing.Box{X: -0.2 * W, Y: -0.2 * H, W: 1.4 * W, H: 1.4 * H})
		for i := 1; i < len(ds); i++ {
			a, b := ds[i-1].Box, ds[i].Box
			if a.X+a.W/2 > b.X+b.W/2+1e-9 {
				t.Fatalf("digits %d and %d out of order: %+v, %+v", i-1, i, a, b)
			}
		}
		if _, _, _, one := strokeSegments(strokes); one {
			want, err := StrokesDigit(strokes, w, h)
			if err != nil || len(ds) != 1 || !reflect.DeepEqual(ds[0], want) {
				t.Fatalf("one digit: %d digits, not StrokesDigit's (%v)", len(ds), err)
			}
		}
	})
}
