package preprocess

import (
	"encoding/json"
	"github.com/stratusml/stratus/drawing"
	"image"
	"testing"
)

// benchDigit is a "4" as drawn on a 280×280 canvas: pointer samples every
// 3 pixels, 16-pixel pen in the picture.
func benchDigit() ([][][2]float64, int, int) {
	return skeleton("4", placement{size: 200, x: 50, y: 40, slant: 0.1}, 3), 280, 280
}

func BenchmarkFromStrokes(b *testing.B) {
	sk, w, h := benchDigit()
	strokes := toStrokes(sk)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := FromStrokes(strokes, w, h); err != nil {
			b.Fatal(err)
		}
	}
}

func benchImage(b *testing.B, img image.Image) {
	b.ReportAllocs()
	for b.Loop() {
		if _, err := FromImage(img); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkFromImage(b *testing.B) {
	sk, w, h := benchDigit()
	benchImage(b, paint(sk, w, h, style{pen: 16, ink: black, paper: white}))
}

func BenchmarkFromImageThinPen(b *testing.B) {
	sk, w, h := benchDigit()
	benchImage(b, paint(sk, w, h, style{pen: 3, ink: black, paper: white}))
}

func BenchmarkFromImageThickPen(b *testing.B) {
	sk, w, h := benchDigit()
	benchImage(b, paint(sk, w, h, style{pen: 40, ink: black, paper: white}))
}

func BenchmarkFromPNG(b *testing.B) {
	sk, w, h := benchDigit()
	data := encodePNG(b, paint(sk, w, h, style{pen: 16, ink: black, paper: white}))
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := FromPNG(data, drawing.DefaultLimits()); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkFromImageLarge is a small digit in a corner of a 1000×800
// picture: the cost of scanning a large picture for little ink.
func BenchmarkFromImageLarge(b *testing.B) {
	sk := skeleton("4", canvases[1].pl, 2)
	benchImage(b, paint(sk, 1000, 800, style{pen: 5, ink: black, paper: white}))
}

// BenchmarkDecodeStrokesJSON decodes a drawing of about 1,000 samples
// (55 KiB, near the 64 KiB limit).
func BenchmarkDecodeStrokesJSON(b *testing.B) {
	strokes := toStrokes(skeleton("0", placement{size: 200, x: 40, y: 40}, 0.5))
	data, err := json.Marshal(strokes)
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := drawing.DecodeStrokesJSON(data, drawing.DefaultLimits()); err != nil {
			b.Fatal(err)
		}
	}
}
