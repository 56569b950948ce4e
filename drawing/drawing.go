// Package drawing is the shared vocabulary of drawings: the shapes that the
// contracts of docs/contracts.md carry (Point, Stroke, Box, Mode,
// Candidate), the input limits every reader of outside input enforces
// (Limits, with the errors ErrTooLarge and ErrInvalid), the strict strokes
// decoder and validator (DecodeStrokesJSON, ValidateStrokes) and the cheap
// PNG header check (ReadPNGInfo).
//
// It is a leaf: it imports nothing of Stratus, so that the contracts
// (message, store) and the model (model/preprocess, model/recognize) can
// all use it without the contracts depending on the model. It never
// decodes pixels nor preprocesses: that is model/preprocess's job.
package drawing

import "fmt"

// Point is one pointer sample: canvas coordinates in CSS pixels (x to the
// right, y downwards) and a time in milliseconds.
type Point struct {
	X float64 `json:"x"`
	Y float64 `json:"y"`
	T float64 `json:"t"`
}

// Stroke is the samples of one pen-down … pen-up gesture, in order.
type Stroke []Point

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

// Mode says whether a drawing is one digit or a whole number.
type Mode string

// The two modes of docs/contracts.md (CanvasEvent).
const (
	ModeDigit  Mode = "digit"
	ModeNumber Mode = "number"
)

// ParseMode checks a mode string; "" means ModeDigit.
func ParseMode(s string) (Mode, error) {
	switch Mode(s) {
	case "", ModeDigit:
		return ModeDigit, nil
	case ModeNumber:
		return ModeNumber, nil
	}
	return "", fmt.Errorf("mode %q: want %q or %q: %w", s, ModeDigit, ModeNumber, ErrInvalid)
}

// Candidate is one recognised digit with its class probabilities and where
// it was drawn.
type Candidate struct {
	Digit         int       `json:"digit"`
	Probabilities []float32 `json:"probabilities"`
	Box           Box       `json:"box"`
}
