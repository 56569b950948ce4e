// Package preprocess turns a drawing into the input of the Stratus digit
// classifier: MNIST-style 28×28 gray images.
//
// It is the one preprocessing step that every entry point uses (the
// command line, the HTTP frontend and the Beam pipelines), so that a digit
// gives the same network input however it arrives. Two kinds of drawing are
// accepted:
//
//   - strokes: the pointer samples of a CanvasEvent (see docs/contracts.md),
//     rendered directly at the target scale by FromStrokes;
//   - pictures: any image.Image (or PNG bytes), normalised by FromImage.
//
// The output follows the MNIST convention (LeCun et al.): 0 is paper and 255
// is ink; the digit, redrawn or normalised to a stroke of MNIST's typical
// width (PenWidth), is fitted into a 20×20 box keeping its aspect ratio
// (its longer side spans the 20 pixels), anti-aliased, then placed in the
// 28×28 frame by the whole-pixel shift that brings its centre of mass
// nearest to pixel (14, 14), as in MNIST (within half a pixel).
//
// Everything that reads outside input (DecodeStrokesJSON, DecodePNG,
// ValidateStrokes) enforces the limits of docs/contracts.md (Limits) and fails with an
// error that wraps ErrTooLarge or ErrInvalid and names the broken limit; a
// drawing without ink fails with ErrEmpty. Callers map all three to a client
// error (HTTP 400, a dead letter).
//
// StrokesDigit and ImageDigit read a whole drawing as one digit (the digit
// mode); FromStrokes, FromImage and FromPNG split it into digits, left to
// right (the number mode), and give a drawing of one digit the same input
// as the single-digit functions. All functions are safe for concurrent
// use.
package preprocess

import (
	"errors"
	"image"

	"github.com/stratusml/stratus/model"
)

// Errors that the functions of this package wrap. Test for them with
// errors.Is; all three mean that the input, not the server, is at fault.
var (
	// ErrTooLarge means that the input breaks one of the size limits
	// (bytes, strokes, points, canvas or picture dimensions).
	ErrTooLarge = errors.New("input too large")
	// ErrInvalid means that the input is malformed: not JSON of the
	// expected shape, not a PNG, a coordinate that is not finite, etc.
	ErrInvalid = errors.New("invalid input")
	// ErrEmpty means that the drawing holds no ink: no points, or a
	// picture with nothing that stands out from the paper.
	ErrEmpty = errors.New("blank drawing")
)

// Geometry of the output, after MNIST.
const (
	// BoxSide is the side of the box the digit is fitted into.
	BoxSide = 20
	// CenterX and CenterY are the pixel (column, row) the centre of mass of
	// the ink is brought to, within half a pixel, as in MNIST.
	CenterX, CenterY = 14, 14
)

// Image28 is one network input: model.Side×model.Side gray pixels,
// row-major, 0 = paper and 255 = ink (the MNIST convention).
type Image28 [model.Pixels]uint8

// At returns the pixel in column x and row y (both 0..27).
func (im *Image28) At(x, y int) uint8 { return im[y*model.Side+x] }

// Gray returns a copy of the image as an *image.Gray, with the MNIST
// convention kept (ink is white on black); useful to look at inputs.
func (im *Image28) Gray() *image.Gray {
	g := image.NewGray(image.Rect(0, 0, model.Side, model.Side))
	copy(g.Pix, im[:])
	return g
}

// Box is an axis-aligned rectangle in the coordinates of the input: canvas
// (CSS) pixels for strokes, picture pixels for images. For strokes it is
// the bounding box of the pointer samples, so W or H may be 0 (a dot, a
// straight line); for pictures it is the bounding box of the ink pixels.
type Box struct {
	X float64 `json:"x"`
	Y float64 `json:"y"`
	W float64 `json:"w"`
	H float64 `json:"h"`
}

// Digit is one digit found in a drawing: its network input and where it was
// drawn.
type Digit struct {
	Input Image28 `json:"input"`
	Box   Box     `json:"box"`
	// Runs, when not empty, are other readings of the digit's ink, for
	// ink that segmentation could not tell to be one digit or several: it
	// is made of pieces, left to right (strokes or pieces of ink that may
	// be digits of their own, and parts of one piece of ink cut where
	// digits may touch). Each Run is consecutive pieces normalised as one
	// digit, for every run but the one of all the pieces (the digit
	// itself) and those too wide for a digit. The reader picks the
	// partition of the pieces into runs that reads best (see
	// model/recognize). Nil for most digits, and always in digit mode.
	Runs []Run `json:"runs,omitempty"`
	// SplitOdds are, for each boundary between consecutive pieces (one
	// fewer than the pieces; nil without Runs), the log-odds from the
	// drawing's geometry that one digit ends there: even between pieces
	// that are apart in the drawing, low where one piece of ink was cut,
	// the lower the more strokes the cut crosses.
	SplitOdds []float64 `json:"split_odds,omitempty"`
}

// Run is pieces First to Last (0-based, inclusive) of a Digit's ink read as
// one digit: its network input and its box.
type Run struct {
	First int     `json:"first"`
	Last  int     `json:"last"`
	Input Image28 `json:"input"`
	Box   Box     `json:"box"`
}

// Pieces returns how many pieces the digit's Runs cut it into (1 without
// Runs).
func (d *Digit) Pieces() int {
	n := 1
	for _, r := range d.Runs {
		n = max(n, r.Last+1)
	}
	return n
}

// Point is one pointer sample: canvas coordinates in CSS pixels (x to the
// right, y downwards) and a time in milliseconds.
type Point struct {
	X float64 `json:"x"`
	Y float64 `json:"y"`
	T float64 `json:"t"`
}

// Stroke is the samples of one pen-down … pen-up gesture, in order.
type Stroke []Point

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

// orDefault fills the zero fields of l from DefaultLimits.
func (l Limits) orDefault() Limits {
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
