// Package recognize turns drawings into answers: it preprocesses strokes or
// pictures with model/preprocess, runs every digit of a batch of drawings
// through one batched forward pass of model/infer, and shapes the result as
// the Prediction fields of DESIGN.md §2 (digits, candidates, confidence).
package recognize

import (
	"fmt"
	"image"
	"strconv"
	"strings"

	"github.com/stratusml/stratus/model"
	"github.com/stratusml/stratus/model/infer"
	"github.com/stratusml/stratus/model/preprocess"
)

// Mode says whether a drawing is one digit or a whole number.
type Mode string

// The two modes of DESIGN.md §2.
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
	return "", fmt.Errorf("mode %q: want %q or %q: %w", s, ModeDigit, ModeNumber, preprocess.ErrInvalid)
}

// Candidate is one recognised digit with its class probabilities and where
// it was drawn.
type Candidate struct {
	Digit         int            `json:"digit"`
	Probabilities []float32      `json:"probabilities"`
	Box           preprocess.Box `json:"box"`
}

// Result is the answer for one drawing.
type Result struct {
	// Digits is the answer: one digit, or the digits of a number left to right.
	Digits string `json:"digits"`
	// Candidates holds one entry per digit, left to right.
	Candidates []Candidate `json:"candidates"`
	// Confidence is the probability of the whole answer: the product of the
	// chosen digits' probabilities.
	Confidence float64 `json:"confidence"`
	// Model is the id of the model that answered.
	Model string `json:"model"`
}

// Recognizer classifies drawings with one model. It is safe for concurrent
// use.
type Recognizer struct {
	m   *model.Model
	net *infer.Net
}

// New prepares a Recognizer for m.
func New(m *model.Model) (*Recognizer, error) {
	net, err := infer.New(m)
	if err != nil {
		return nil, fmt.Errorf("recognize: %w", err)
	}
	return &Recognizer{m: m, net: net}, nil
}

// Model returns the model the Recognizer answers with.
func (r *Recognizer) Model() *model.Model { return r.m }

// Digits preprocesses a picture into the digits mode asks for: the whole ink
// as one digit in ModeDigit, the segmented digits in ModeNumber.
func Digits(img image.Image, mode Mode) ([]preprocess.Digit, error) {
	if mode == ModeNumber {
		return preprocess.FromImage(img)
	}
	d, err := preprocess.ImageDigit(img)
	if err != nil {
		return nil, err
	}
	return []preprocess.Digit{d}, nil
}

// StrokeDigits is Digits for a drawing given as strokes on a width×height canvas.
func StrokeDigits(strokes []preprocess.Stroke, width, height int, mode Mode) ([]preprocess.Digit, error) {
	if mode == ModeNumber {
		return preprocess.FromStrokes(strokes, width, height)
	}
	d, err := preprocess.StrokesDigit(strokes, width, height)
	if err != nil {
		return nil, err
	}
	return []preprocess.Digit{d}, nil
}

// Recognize answers a batch of preprocessed drawings (each a slice of digits
// left to right) with one forward pass over all their digits.
func (r *Recognizer) Recognize(drawings [][]preprocess.Digit) []Result {
	total := 0
	for _, d := range drawings {
		total += len(d)
	}
	x := make([]float32, total*model.Pixels)
	i := 0
	for _, d := range drawings {
		for k := range d {
			r.net.Normalize(d[k].Input[:], x[i*model.Pixels:(i+1)*model.Pixels])
			i++
		}
	}
	probs := make([]float32, total*model.Classes)
	if total > 0 {
		r.net.Probabilities(x, total, probs)
	}
	out := make([]Result, len(drawings))
	i = 0
	for j, d := range drawings {
		res := Result{Model: r.m.ID, Confidence: 1, Candidates: make([]Candidate, 0, len(d))}
		var sb strings.Builder
		for k := range d {
			p := probs[i*model.Classes : (i+1)*model.Classes : (i+1)*model.Classes]
			best := model.Argmax(p)
			res.Candidates = append(res.Candidates, Candidate{Digit: best, Probabilities: p, Box: d[k].Box})
			res.Confidence *= float64(p[best])
			sb.WriteString(strconv.Itoa(best))
			i++
		}
		if len(d) == 0 {
			res.Confidence = 0
		}
		res.Digits = sb.String()
		out[j] = res
	}
	return out
}

// Image recognises one picture.
func (r *Recognizer) Image(img image.Image, mode Mode) (Result, error) {
	d, err := Digits(img, mode)
	if err != nil {
		return Result{}, err
	}
	return r.Recognize([][]preprocess.Digit{d})[0], nil
}

// Strokes recognises one drawing given as strokes.
func (r *Recognizer) Strokes(strokes []preprocess.Stroke, width, height int, mode Mode) (Result, error) {
	d, err := StrokeDigits(strokes, width, height, mode)
	if err != nil {
		return Result{}, err
	}
	return r.Recognize([][]preprocess.Digit{d})[0], nil
}
