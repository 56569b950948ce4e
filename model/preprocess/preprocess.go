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

	"github.com/stratusml/stratus/drawing"
	"github.com/stratusml/stratus/model"
)

// ErrEmpty means that the drawing holds no ink: no points, or a picture
// with nothing that stands out from the paper. Like drawing.ErrTooLarge and
// drawing.ErrInvalid, which the functions of this package also wrap, it
// means that the input, not the server, is at fault; test with errors.Is.
var ErrEmpty = errors.New("blank drawing")

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

// Digit is one digit found in a drawing: its network input and where it was
// drawn.
type Digit struct {
	Input Image28     `json:"input"`
	Box   drawing.Box `json:"box"`
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
	First int         `json:"first"`
	Last  int         `json:"last"`
	Input Image28     `json:"input"`
	Box   drawing.Box `json:"box"`
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
