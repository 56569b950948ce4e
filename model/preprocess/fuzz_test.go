package preprocess

import (
	"encoding/json"
	"errors"
	"image"
	"testing"
)

// checkDigits checks what every successful call must return: one digit
// whose ink fits the box and whose box lies in the input's bounds.
func checkDigits(t *testing.T, ds []Digit, bounds Box) {
	t.Helper()
	if len(ds) != 1 {
		t.Fatalf("%d digits, want 1", len(ds))
	}
	s := measureInput(&ds[0].Input)
	if s.nz == 0 || s.bw > BoxSide || s.bh > BoxSide {
		t.Fatalf("input %v does not fit the %d×%d box\n%s", s, BoxSide, BoxSide, ascii(&ds[0].Input))
	}
	b := ds[0].Box
	if b.W < 0 || b.H < 0 || b.X < bounds.X || b.Y < bounds.Y || b.X+b.W > bounds.X+bounds.W || b.Y+b.H > bounds.Y+bounds.H {
		t.Fatalf("box %+v outside the input %+v", b, bounds)
	}
}

// clientError reports whether err is one of the package's input errors.
func clientError(err error) bool {
	return errors.Is(err, ErrInvalid) || errors.Is(err, ErrTooLarge) || errors.Is(err, ErrEmpty)
}

func FuzzDecodePNG(f *testing.F) {
	f.Add(encodePNG(f, paint(skeleton("7", canvases[4].pl, 1), 28, 28, style{pen: 2.5, ink: white, paper: black})))
	f.Add(bombPNG(100_000, 100_000))
	f.Fuzz(func(t *testing.T, data []byte) {
		img, err := DecodePNG(data, DefaultLimits())
		if err != nil {
			if !errors.Is(err, ErrInvalid) && !errors.Is(err, ErrTooLarge) {
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
		checkDigits(t, ds, Box{float64(r.Min.X), float64(r.Min.Y), float64(r.Dx()), float64(r.Dy())})
	})
}

func FuzzDecodeStrokesJSON(f *testing.F) {
	f.Add([]byte(`[[{"x":10,"y":10,"t":0},{"x":200,"y":12,"t":40},{"x":90,"y":260,"t":120}]]`), uint16(280), uint16(280))
	f.Add([]byte(`[[{"x":140,"y":140}]]`), uint16(280), uint16(280))
	f.Fuzz(func(t *testing.T, data []byte, w, h uint16) {
		strokes, err := DecodeStrokesJSON(data, DefaultLimits())
		if err != nil {
			if !errors.Is(err, ErrInvalid) && !errors.Is(err, ErrTooLarge) {
				t.Fatalf("DecodeStrokesJSON: unexpected error %v", err)
			}
			return
		}
		// Whatever the reader accepts, encoding/json reads the same way.
		if !json.Valid(data) {
			t.Fatalf("accepted invalid JSON %q", data)
		}
		var ref [][]struct{ X, Y, T *float64 }
		if err := json.Unmarshal(data, &ref); err != nil {
			t.Fatalf("accepted %q, which encoding/json refuses: %v", data, err)
		}
		if len(ref) != len(strokes) {
			t.Fatalf("%q: %d strokes, encoding/json reads %d", data, len(strokes), len(ref))
		}
		for i, s := range ref {
			if len(s) != len(strokes[i]) {
				t.Fatalf("%q: stroke %d has %d points, encoding/json reads %d", data, i, len(strokes[i]), len(s))
			}
			for j, p := range s {
				want := Point{X: *p.X, Y: *p.Y}
				if p.T != nil {
					want.T = *p.T
				}
				if strokes[i][j] != want {
					t.Fatalf("%q: point %d,%d is %v, encoding/json reads %v", data, i, j, strokes[i][j], want)
				}
			}
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
		checkDigits(t, ds, Box{-W, -H, 3 * W, 3 * H})
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
		checkDigits(t, ds, Box{0, 0, float64(w), float64(h)})
	})
}
