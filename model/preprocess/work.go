package preprocess

import (
	"github.com/stratusml/stratus/drawing"
	"math"
)

// Work units price a drawing by the work it asks of Stratus, so that a
// rate limit can charge each client for its work rather than for its
// requests (the frontend's limiter does). One unit is a millisecond of one
// core of the development machine (2 cores of an AMD EPYC); an ordinary
// drawing, strokes of a digit or two, costs less and is charged one unit.
//
// The figures below are CPU times from BenchmarkDecodePicture and
// BenchmarkStrokesWork (cpu-ms/op, the least of three runs), and from
// decoding CanvasEvents with message.DecodeCanvasEvent. A picture is
// priced at the worst content its header allows: the 400-piece picture
// of the benchmark ("dots", as many pieces as number mode groups) costs
// about 6 ms, and each of its pixels 7.2 + 1.05·(bytes per pixel) ns,
// within a tenth of these and mostly above them:
//
//	side   gray8 digit/dots  rgba8 digit/dots  rgba16 digit/dots  (ms)
//	 560²      2.0 /  5.6        2.9 /  7.0        4.0 /  8.3
//	1024²      5.2 / 14.7        7.9 / 19.6       11.4 / 24.2
//	1448²     10.0 / 22.4       15.4 / 29.4       21.3 / 35.9
//	2048²     18.4 / 40.1       30.0 / 51.6       39.6 / 68.5
//
// Reading the event that carries a picture (JSON, base64) costs about
// 11 ns a byte of PNG, once in the frontend and once in the pipeline: a
// 2 MiB file costs some 45 ms before its first pixel. Strokes cost about
// 0.5 µs a point to read and render, and in number mode about 45 ns times
// the square of the number of strokes to group, in the frontend and again
// in the pipeline: 150 points in 2 strokes, 0.07 ms; 3,500 points in 2
// strokes, 1.7 ms; 3,500 points in 175 strokes, 3 ms.
const (
	workUnitNs = 1e6
	// pictureFixedNs, pixelNs and pixelByteNs are the worst-case work of
	// a picture beyond its bytes: fixed, per pixel, and per pixel and
	// byte of the decompressed pixel.
	pictureFixedNs = 6e6
	pixelNs        = 7.2
	pixelByteNs    = 1.05
	// pngByteNs is the work of one byte of PNG on its way to the decoder.
	pngByteNs = 22
	// pointNs is the work of one point and strokeSquareNs that of the
	// square of the number of strokes, frontend and pipeline together.
	pointNs        = 1000
	strokeSquareNs = 100
)

// PictureWork is what the picture of header p costs to read, decode and
// preprocess, in work units, at the worst its header allows: its pixels, weighted by the
// bytes each takes in the decompressed data, the segmentation of as many
// pieces as number mode groups, and its size in bytes. At least 1.
func PictureWork(p drawing.PNGInfo) int {
	bytesPerPixel := float64(p.BitsPerPixel) / 8
	ns := pictureFixedNs + float64(p.Pixels())*(pixelNs+pixelByteNs*bytesPerPixel) + pngByteNs*float64(p.Bytes)
	return units(ns)
}

// StrokesWork is what strokes cost to read and preprocess, in work units:
// their points, and the grouping of their strokes into digits, which
// compares every pair. At least 1; an ordinary drawing costs 1.
func StrokesWork(strokes []drawing.Stroke) int {
	points := 0
	for _, s := range strokes {
		points += len(s)
	}
	return PointsWork(points, len(strokes))
}

// PointsWork is StrokesWork for strokes of points points in all.
func PointsWork(points, strokes int) int {
	n := float64(strokes)
	return units(pointNs*float64(points) + strokeSquareNs*n*n)
}

// units rounds work in nanoseconds up to whole units, at least one.
func units(ns float64) int {
	return max(1, int(math.Ceil(ns/workUnitNs)))
}
