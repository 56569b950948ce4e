// Package recognize turns drawings into answers: it preprocesses strokes or
// pictures with model/preprocess, runs every digit of a batch of drawings
// through one batched forward pass of model/infer (and, in number mode, the
// digits it is unsure of through a second one, moved by a pixel each way),
// and shapes the result as the Prediction fields of docs/contracts.md (digits,
// candidates, confidence).
package recognize

import (
	"fmt"
	"image"
	"math"
	"slices"
	"strconv"
	"strings"

	"github.com/stratusml/stratus/drawing"
	"github.com/stratusml/stratus/model"
	"github.com/stratusml/stratus/model/infer"
	"github.com/stratusml/stratus/model/preprocess"
)

// Result is the answer for one drawing.
type Result struct {
	// Digits is the answer: one digit, or the digits of a number left to right.
	Digits string `json:"digits"`
	// Candidates holds one entry per digit, left to right.
	Candidates []drawing.Candidate `json:"candidates"`
	// Confidence is the probability of the whole answer: the product of the
	// chosen digits' probabilities.
	Confidence float64 `json:"confidence"`
	// Model is the id of the model that answered.
	Model string `json:"model"`
	// Inputs are the network inputs of the candidates, in their order. In
	// number mode a digit of the request may be read as several (see
	// preprocess.Digit.Runs): store these, not the request's inputs, with
	// the candidates.
	Inputs []preprocess.Image28 `json:"-"`
}

// Recognizer classifies drawings with one model. It is safe for concurrent
// use.
type Recognizer struct {
	m        *model.Model
	net      *infer.Net
	variants []variant // the test-time variants of number mode
	ttaBelow float32   // and the confidence under which they are used
}

// Default returns a Recognizer of the model shipped in the binary
// (model.Default).
func Default() (*Recognizer, error) {
	m, err := model.Default()
	if err != nil {
		return nil, err
	}
	return New(m)
}

// New prepares a Recognizer for m.
func New(m *model.Model) (*Recognizer, error) {
	net, err := infer.New(m)
	if err != nil {
		return nil, fmt.Errorf("recognize: %w", err)
	}
	return &Recognizer{m: m, net: net, variants: numberVariants(), ttaBelow: ttaBelow}, nil
}

// Model returns the model the Recognizer answers with.
func (r *Recognizer) Model() *model.Model { return r.m }

// Digits preprocesses a picture into the digits mode asks for: the whole ink
// as one digit in ModeDigit, the segmented digits in ModeNumber.
func Digits(img image.Image, mode drawing.Mode) ([]preprocess.Digit, error) {
	if mode == drawing.ModeNumber {
		return preprocess.FromImage(img)
	}
	d, err := preprocess.ImageDigit(img)
	if err != nil {
		return nil, err
	}
	return []preprocess.Digit{d}, nil
}

// StrokeDigits is Digits for a drawing given as strokes on a width×height canvas.
func StrokeDigits(strokes []drawing.Stroke, width, height int, mode drawing.Mode) ([]preprocess.Digit, error) {
	if mode == drawing.ModeNumber {
		return preprocess.FromStrokes(strokes, width, height)
	}
	d, err := preprocess.StrokesDigit(strokes, width, height)
	if err != nil {
		return nil, err
	}
	return []preprocess.Digit{d}, nil
}

// Recognize answers a batch of preprocessed drawings (each a slice of digits
// left to right) with one forward pass over all their digits, and over the
// other readings (Runs) of the digits that have some.
//
// A digit with Runs (number mode, where segmentation was unsure whether ink
// is one digit or several) is read as the partition of its pieces into
// runs with the best score: for each run, the log-probability of its class
// plus a tenth of its largest logit (inputs that look like digits get
// larger logits than pieces of digits or digits squeezed together, however
// sure the softmax is), less a penalty for a run much shorter than the
// drawing's tallest digit; and for each boundary between runs, the digit's
// SplitOdds (the geometry's say). Each run read is one candidate,
// with its box.
//
// In a drawing of several digits, or of one digit with Runs (number mode),
// a candidate the forward pass is not sure of (its best class below
// ttaBelow) is read again, moved by one pixel in each of the eight
// directions, in a second forward pass over all such candidates of the
// batch: its probabilities are the softmax of the mean of the nine inputs'
// logits (test-time augmentation). A drawing of one digit without Runs
// (every drawing in digit mode, one digit drawn in number mode) is read as
// it is: its probabilities are exactly the forward pass's.
//
// It is long because its steps (the forward pass, each drawing's readings,
// the second pass over the unsure ones, the results) share the batch's flat
// index of inputs and its logits and probabilities, which the second pass
// rewrites in place; helpers would each be handed all of them.
func (r *Recognizer) Recognize(drawings [][]preprocess.Digit) []Result {
	// ins are the inputs of the batch: each digit's, then its Runs'.
	var ins []*preprocess.Image28
	for _, d := range drawings {
		for k := range d {
			ins = append(ins, &d[k].Input)
			for ri := range d[k].Runs {
				ins = append(ins, &d[k].Runs[ri].Input)
			}
		}
	}
	logits := r.logits(ins, nil)
	probs := append([]float32(nil), logits...)
	for i := range ins {
		infer.Softmax(probs[i*model.Classes : (i+1)*model.Classes])
	}
	prob := func(i int) []float32 {
		return probs[i*model.Classes : (i+1)*model.Classes : (i+1)*model.Classes]
	}
	logit := func(i int) []float32 {
		return logits[i*model.Classes : (i+1)*model.Classes : (i+1)*model.Classes]
	}
	// picks[j] are the inputs read as the candidates of drawing j, with
	// their boxes; again those to read again with the variants.
	type pick struct {
		in  int
		box drawing.Box
	}
	picks := make([][]pick, len(drawings))
	var again []int
	i := 0
	for j, d := range drawings {
		line := lineHeight(d)
		for k := range d {
			dk := &d[k]
			if len(dk.Runs) == 0 {
				picks[j] = append(picks[j], pick{i, dk.Box})
				i++
				continue
			}
			for _, ri := range bestReading(dk, i, logit, line) {
				if ri < 0 {
					picks[j] = append(picks[j], pick{i, dk.Box})
				} else {
					picks[j] = append(picks[j], pick{i + 1 + ri, dk.Runs[ri].Box})
				}
			}
			i += 1 + len(dk.Runs)
		}
		if len(d) > 1 || len(d) == 1 && len(d[0].Runs) > 0 {
			for _, p := range picks[j] {
				if pr := prob(p.in); pr[model.Argmax(pr)] < r.ttaBelow {
					again = append(again, p.in)
				}
			}
		}
	}
	if len(again) > 0 && len(r.variants) > 0 {
		sel := make([]*preprocess.Image28, len(again))
		for n, in := range again {
			sel[n] = ins[in]
		}
		vl := r.logits(sel, r.variants)
		per := len(r.variants)
		for n, in := range again {
			mean := probs[in*model.Classes : (in+1)*model.Classes]
			copy(mean, logit(in))
			for v := range per {
				for c, l := range vl[(n*per+v)*model.Classes : (n*per+v+1)*model.Classes] {
					mean[c] += l
				}
			}
			for c := range mean {
				mean[c] /= float32(per + 1)
			}
			infer.Softmax(mean)
		}
	}
	out := make([]Result, len(drawings))
	for j, d := range drawings {
		res := Result{Model: r.m.ID, Confidence: 1, Candidates: make([]drawing.Candidate, 0, len(picks[j]))}
		var sb strings.Builder
		for _, p := range picks[j] {
			pr := prob(p.in)
			best := model.Argmax(pr)
			res.Candidates = append(res.Candidates, drawing.Candidate{Digit: best, Probabilities: pr, Box: p.box})
			res.Inputs = append(res.Inputs, *ins[p.in])
			res.Confidence *= float64(pr[best])
			sb.WriteString(strconv.Itoa(best))
		}
		if len(d) == 0 {
			res.Confidence = 0
		}
		res.Digits = sb.String()
		out[j] = res
	}
	return out
}

// logits runs ins through one forward pass and returns their logits,
// model.Classes per input. With variants, it runs those of each input
// instead (len(variants) per input, in their order).
func (r *Recognizer) logits(ins []*preprocess.Image28, variants []variant) []float32 {
	per := 1
	if len(variants) > 0 {
		per = len(variants)
	}
	n := len(ins) * per
	x := make([]float32, n*model.Pixels)
	var tmp preprocess.Image28
	i := 0
	for _, im := range ins {
		if len(variants) == 0 {
			r.net.Normalize(im[:], x[i*model.Pixels:(i+1)*model.Pixels])
			i++
			continue
		}
		for _, v := range variants {
			v(im, &tmp)
			r.net.Normalize(tmp[:], x[i*model.Pixels:(i+1)*model.Pixels])
			i++
		}
	}
	out := make([]float32, n*model.Classes)
	r.net.Logits(x, n, out)
	return out
}

// bestReading returns the runs of d, left to right, that read its pieces
// best (dynamic programming over the pieces): indices into d.Runs, -1 for
// the whole digit. logit(first+i) are the logits of the digit's inputs
// (the whole, then its Runs); line is the drawing's line height.
func bestReading(d *preprocess.Digit, first int, logit func(int) []float32, line float64) []int {
	n := d.Pieces()
	// runAt[a][b] is the input of pieces a..b: -1 the whole, -2 none.
	runAt := make([][]int, n)
	for a := range runAt {
		runAt[a] = make([]int, n)
		for b := range runAt[a] {
			runAt[a][b] = -2
		}
	}
	runAt[0][n-1] = -1
	for ri, run := range d.Runs {
		if run.First >= 0 && run.First <= run.Last && run.Last < n {
			runAt[run.First][run.Last] = ri
		}
	}
	score := func(ri int) float64 {
		box := d.Box
		if ri >= 0 {
			box = d.Runs[ri].Box
		}
		return runScore(logit(first+1+ri), box, line)
	}
	// best[b] is the best reading of pieces 0..b-1; from[b] its last run.
	best := make([]float64, n+1)
	from := make([]int, n+1)
	for b := 1; b <= n; b++ {
		best[b] = math.Inf(-1)
		for a := 0; a < b; a++ {
			ri := runAt[a][b-1]
			if ri == -2 || math.IsInf(best[a], -1) {
				continue
			}
			v := best[a] + score(ri)
			if a > 0 && a-1 < len(d.SplitOdds) {
				v += d.SplitOdds[a-1]
			}
			if v > best[b] {
				best[b], from[b] = v, a
			}
		}
	}
	if math.IsInf(best[n], -1) {
		return []int{-1}
	}
	var out []int
	for b := n; b > 0; b = from[b] {
		out = append(out, runAt[from[b]][b-1])
	}
	slices.Reverse(out)
	return out
}

// Weights of the score of a reading (see Recognize), tuned on numbers made
// of MNIST digits other than the accuracy test's: energyWeight on MNIST
// test digits; shortFree (once 0.6) on numbers of MNIST test digits under
// another seed and of MNIST training digits, and checked under a third
// seed.
const (
	// energyWeight weighs the largest logit of a run's input.
	energyWeight = 0.1
	// shortPenalty is the penalty per line height that a run is shorter
	// than shortFree line heights.
	shortPenalty, shortFree = 4.0, 0.8
)

// runScore is how well a run with logits l and box reads as one digit, on a
// line of digits line high.
func runScore(l []float32, box drawing.Box, line float64) float64 {
	best := model.Argmax(l)
	var rest float64
	for j, v := range l {
		if j != best {
			rest += math.Exp(float64(v - l[best]))
		}
	}
	// The log of the best class's probability, exact near 1.
	s := -math.Log1p(rest) + energyWeight*float64(l[best])
	if line > 0 {
		s -= shortPenalty * max(0, shortFree-box.H/line)
	}
	return s
}

// lineHeight is the height of the digits of a drawing: its tallest box.
func lineHeight(d []preprocess.Digit) float64 {
	h := 0.0
	for k := range d {
		h = max(h, d[k].Box.H)
	}
	return h
}

// Image recognises one picture.
func (r *Recognizer) Image(img image.Image, mode drawing.Mode) (Result, error) {
	d, err := Digits(img, mode)
	if err != nil {
		return Result{}, err
	}
	return r.Recognize([][]preprocess.Digit{d})[0], nil
}

// Strokes recognises one drawing given as strokes.
func (r *Recognizer) Strokes(strokes []drawing.Stroke, width, height int, mode drawing.Mode) (Result, error) {
	d, err := StrokeDigits(strokes, width, height, mode)
	if err != nil {
		return Result{}, err
	}
	return r.Recognize([][]preprocess.Digit{d})[0], nil
}
