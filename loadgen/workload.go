package loadgen

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"image"
	"image/draw"
	"image/png"
	"math"
	"runtime"
	"strings"
	"sync"

	"github.com/stratusml/stratus/model/mnist"
)

// Input is how a virtual user gives its drawing.
type Input string

// The inputs a drawing can be sent as.
const (
	// InputPNG sends a 280×280 PNG picture (image_png), as an upload would.
	InputPNG Input = "png"
	// InputStrokes sends pen strokes on a 280×280 canvas, as the page does.
	InputStrokes Input = "strokes"
	// InputMixed sends every digit both ways, alternately.
	InputMixed Input = "mixed"
)

// ParseInput checks an --input value.
func ParseInput(s string) (Input, error) {
	switch in := Input(s); in {
	case InputPNG, InputStrokes, InputMixed:
		return in, nil
	}
	return "", fmt.Errorf("input %q: want png, strokes or mixed", s)
}

// Canvas is the side of the square canvas (CSS pixels) a digit is drawn on,
// the page's own size: one MNIST pixel is Canvas/28 canvas pixels.
const Canvas = 280

// NumberLen is how many digits a drawing of mode "number" holds, side by
// side on a canvas NumberLen×Canvas wide.
const NumberLen = 3

// pointInterval is the time between two pen samples of a stroke, in ms
// (a pointer event every 8 ms, as a browser sends them).
const pointInterval = 8

// Drawing is one request, ready to send: a CanvasEvent body without its
// session, and the answer it should get.
type Drawing struct {
	// Index is the MNIST test index of its (first) digit.
	Index int
	// Input is how the drawing is given.
	Input Input
	// Label is the digits drawn: the right answer.
	Label string
	// rest is the body after `{"session":"…",`.
	rest []byte
}

// Body returns the CanvasEvent JSON body of the drawing for a session.
func (d *Drawing) Body(session string) []byte {
	q, _ := json.Marshal(session) // a string always marshals
	b := make([]byte, 0, len(`{"session":,`)+len(q)+len(d.rest))
	b = append(b, `{"session":`...)
	b = append(b, q...)
	b = append(b, ',')
	return append(b, d.rest...)
}

// Workload is the drawings virtual users take turns to send, prepared
// before the run so that the load generator spends its CPU on requests.
type Workload struct {
	// Mode is the CanvasEvent mode: "digit" or "number".
	Mode string
	// Drawings are sent in order, each user starting at its own offset.
	Drawings []Drawing
}

// WorkloadOptions choose what a Workload draws.
type WorkloadOptions struct {
	// Digits is how many MNIST test digits (or numbers, in mode "number")
	// are prepared, spread evenly over the test set (default 1,000; at most
	// the set's size).
	Digits int
	// Input is png, strokes or mixed (default mixed).
	Input Input
	// Mode is "digit" (default) or "number" (NumberLen digits a drawing).
	Mode string
}

// NewWorkload prepares drawings of MNIST test digits from set: each as a
// PNG of 280×280 (one MNIST pixel 10×10, dark ink on white), as pen strokes
// (mnist's traced skeleton scaled to a 280×280 canvas, a point every 8 ms),
// or both.
func NewWorkload(set *mnist.Set, opt WorkloadOptions) (*Workload, error) {
	if opt.Input == "" {
		opt.Input = InputMixed
	}
	if _, err := ParseInput(string(opt.Input)); err != nil {
		return nil, err
	}
	per := 1
	switch opt.Mode {
	case "":
		opt.Mode = "digit"
	case "digit":
	case "number":
		per = NumberLen
	default:
		return nil, fmt.Errorf("mode %q: want digit or number", opt.Mode)
	}
	if set == nil || set.Len() < per {
		return nil, fmt.Errorf("loadgen: no MNIST digits to draw")
	}
	n := opt.Digits
	if n <= 0 {
		n = 1000
	}
	n = min(n, set.Len()/per)
	inputs := []Input{opt.Input}
	if opt.Input == InputMixed {
		inputs = []Input{InputPNG, InputStrokes}
	}
	w := &Workload{Mode: opt.Mode, Drawings: make([]Drawing, n*len(inputs))}
	// Spread over the test set; a number is per consecutive digits.
	stride := set.Len() / per / n * per
	var (
		wg       sync.WaitGroup
		errOnce  sync.Once
		firstErr error
		next     = make(chan int)
	)
	for range runtime.GOMAXPROCS(0) {
		wg.Go(func() {
			for k := range next {
				first := k * stride
				idx := make([]int, per)
				for j := range idx {
					idx[j] = first + j
				}
				for j, in := range inputs {
					d, err := newDrawing(set, idx, in, opt.Mode)
					if err != nil {
						errOnce.Do(func() { firstErr = err })
						continue
					}
					w.Drawings[k*len(inputs)+j] = d
				}
			}
		})
	}
	for k := range n {
		next <- k
	}
	close(next)
	wg.Wait()
	if firstErr != nil {
		return nil, firstErr
	}
	return w, nil
}

// wirePoint is a pen sample of the API's strokes.
type wirePoint struct {
	X float64 `json:"x"`
	Y float64 `json:"y"`
	T float64 `json:"t"`
}

// newDrawing draws the digits idx side by side as input.
func newDrawing(set *mnist.Set, idx []int, in Input, mode string) (Drawing, error) {
	var label strings.Builder
	for _, i := range idx {
		label.WriteByte('0' + set.Labels[i])
	}
	const scale = Canvas / mnist.Side
	width := Canvas * len(idx)
	body := map[string]any{"v": 1, "mode": mode, "width": width, "height": Canvas}
	switch in {
	case InputPNG:
		pic := image.NewGray(image.Rect(0, 0, width, Canvas))
		for k, i := range idx {
			draw.Draw(pic, image.Rect(k*Canvas, 0, (k+1)*Canvas, Canvas), set.Picture(i, scale), image.Point{}, draw.Src)
		}
		var buf bytes.Buffer
		if err := png.Encode(&buf, pic); err != nil {
			return Drawing{}, fmt.Errorf("loadgen: encode MNIST test digit %d: %w", idx[0], err)
		}
		body["image_png"] = base64.StdEncoding.EncodeToString(buf.Bytes())
	case InputStrokes:
		var strokes [][]wirePoint
		t := 0.0
		for k, i := range idx {
			for _, line := range set.Strokes(i) {
				s := make([]wirePoint, 0, len(line))
				for _, p := range line {
					s = append(s, wirePoint{X: round1(p[0]*scale + float64(k*Canvas)), Y: round1(p[1] * scale), T: t})
					t += pointInterval
				}
				strokes = append(strokes, s)
				t += 20 * pointInterval // the pen lifts between strokes
			}
		}
		if len(strokes) == 0 {
			return Drawing{}, fmt.Errorf("loadgen: MNIST test digit %d traces to no strokes", idx[0])
		}
		body["strokes"] = strokes
	default:
		return Drawing{}, fmt.Errorf("loadgen: input %q", in)
	}
	b, err := json.Marshal(body)
	if err != nil {
		return Drawing{}, fmt.Errorf("loadgen: %w", err)
	}
	return Drawing{Index: idx[0], Input: in, Label: label.String(), rest: b[1:]}, nil
}

// round1 rounds to a tenth of a canvas pixel: what a browser's pointer gives,
// and a smaller body.
func round1(v float64) float64 { return math.Round(v*10) / 10 }
