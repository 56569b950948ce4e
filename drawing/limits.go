package drawing

import "errors"

// Errors that the readers of outside input wrap (here and in
// model/preprocess). Test for them with errors.Is; both mean that the
// input, not the server, is at fault.
var (
	// ErrTooLarge means that the input breaks one of the size limits
	// (bytes, strokes, points, canvas or picture dimensions).
	ErrTooLarge = errors.New("input too large")
	// ErrInvalid means that the input is malformed: not JSON of the
	// expected shape, not a PNG, a coordinate that is not finite, etc.
	ErrInvalid = errors.New("invalid input")
)

// Limits bounds what the decoders and validators accept. A zero field means
// the default of DefaultLimits.
type Limits struct {
	// MaxStrokesJSONBytes bounds the size of the strokes JSON.
	MaxStrokesJSONBytes int
	// MaxPNGBytes bounds the size of a PNG file.
	MaxPNGBytes int
	// MaxPointsPerStroke bounds the samples in one stroke.
	MaxPointsPerStroke int
	// MaxStrokes bounds the number of strokes.
	MaxStrokes int
	// MaxSide bounds the width and the height of a canvas or a picture.
	MaxSide int
	// MaxPixels bounds the width times the height of a picture from
	// outside input (a PNG), and its decompressed data to that of an 8-bit
	// RGBA picture of MaxPixels pixels (4 bytes a pixel): a picture with
	// 16-bit channels may have fewer pixels, since inflating and checking
	// its data is most of what it costs. Together they bound the time and
	// memory any picture costs, whatever its header says (see
	// DefaultLimits). Pictures handed over as an image.Image are the
	// caller's and bounded by MaxSide only.
	MaxPixels int
}

// DefaultLimits returns the limits of docs/contracts.md (Limits): 64 KiB of strokes JSON,
// 2 MiB of PNG, 2,000 points per stroke, 200 strokes, canvases and pictures
// of at most 4096×4096, and pictures of at most 2 MiP (2,097,152 pixels).
func DefaultLimits() Limits {
	return Limits{
		MaxStrokesJSONBytes: 64 << 10,
		MaxPNGBytes:         2 << 20,
		MaxPointsPerStroke:  2000,
		MaxStrokes:          200,
		MaxSide:             4096,
		// The pixel budget, measured (BenchmarkDecodePicture, CPU time of
		// decoding and preprocessing in number mode, the least of three
		// runs on the development machine's 2 cores): a digit, then the
		// costliest content known (400 pieces), by format:
		//
		//	          gray8          rgba8          rgba16
		//	 280²    1.0 /  3.8     1.1 /  4.5     1.5 /  4.7 ms
		//	 560²    2.0 /  5.6     2.9 /  7.0     4.0 /  8.3 ms
		//	1024²    5.2 / 14.7     7.9 / 19.6    11.4 / 24.2 ms
		//	1448²   10.0 / 22.4    15.4 / 29.4    21.3 / 35.9 ms
		//	2048²   18.4 / 40.1    30.0 / 51.6    39.6 / 68.5 ms
		//	4096²   67   / 132    114   / 184    156   / 242   ms
		//
		// (image/png, as before, kept 16-bit channels: 2048² rgba16 84 ms
		// and 39 MB, 4096² 264 ms and 153 MB). 2 MiP (1448², 1920×1080,
		// the page's 320-pixel canvas at any device-pixel ratio, a
		// 1170×1170 phone canvas) keeps the worst picture to about 30 ms
		// (8-bit RGBA, 400 pieces; 16-bit RGBA gets 1 MiP, 24 ms), well
		// below the 50 ms at which one picture delays everyone else's
		// answers, and to 12 MB allocated (1 or 2 bytes a pixel for the
		// picture, 1 for its ink).
		MaxPixels: 1 << 21,
	}
}

// LocalLimits are DefaultLimits for pictures that do not come from a
// stranger's request: files the user hands to `stratus classify`, and
// samples already stored (under older limits, up to MaxSide on a side).
// Only the pixel budget, which protects a shared server's other clients,
// is lifted, to the whole MaxSide².
func LocalLimits() Limits {
	lim := DefaultLimits()
	lim.MaxPixels = lim.MaxSide * lim.MaxSide
	return lim
}

// WithDefaults fills the zero fields of l from DefaultLimits.
func (l Limits) WithDefaults() Limits {
	d := DefaultLimits()
	if l.MaxStrokesJSONBytes <= 0 {
		l.MaxStrokesJSONBytes = d.MaxStrokesJSONBytes
	}
	if l.MaxPNGBytes <= 0 {
		l.MaxPNGBytes = d.MaxPNGBytes
	}
	if l.MaxPointsPerStroke <= 0 {
		l.MaxPointsPerStroke = d.MaxPointsPerStroke
	}
	if l.MaxStrokes <= 0 {
		l.MaxStrokes = d.MaxStrokes
	}
	if l.MaxSide <= 0 {
		l.MaxSide = d.MaxSide
	}
	if l.MaxPixels <= 0 {
		l.MaxPixels = d.MaxPixels
	}
	return l
}
