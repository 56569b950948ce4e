//go:build integration

package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/cdproto/input"
	"github.com/chromedp/chromedp"

	"github.com/stratusml/stratus/drawing"
	"github.com/stratusml/stratus/internal/testenv"
	"github.com/stratusml/stratus/model/mnist"
	"github.com/stratusml/stratus/model/recognize"
)

// artifactsDir is where the browser test keeps its screenshots:
// $STRATUS_ARTIFACTS, else artifacts/ at the repository root.
func artifactsDir(t *testing.T) string {
	dir := os.Getenv("STRATUS_ARTIFACTS")
	if dir == "" {
		dir = filepath.Join("..", "..", "artifacts")
	}
	dir = filepath.Join(dir, "e2e")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	return dir
}

// browser starts headless Debian Chromium, driven by chromedp.
func browser(t *testing.T) context.Context {
	bin := testenv.Chromium(t)
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(bin),
		chromedp.NoSandbox, // root in CI
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-quic", true),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1100, 1000),
	)
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	bctx, cancelBrowser := chromedp.NewContext(actx, chromedp.WithLogf(t.Logf))
	t.Cleanup(func() { cancelBrowser(); cancelAlloc() })
	if err := chromedp.Do(bctx); err != nil {
		t.Fatalf("start %s: %v", bin, err)
	}
	return bctx
}

// canvasBox is the canvas's place on the page, in CSS pixels.
type canvasBox struct{ X, Y, W, H float64 }

// onCanvas places strokes in MNIST coordinates (0..28) on the canvas:
// scaled by scale, shifted by (dx, dy) CSS pixels.
func onCanvas(strokes [][][2]float64, scale, dx, dy float64) [][][2]float64 {
	out := make([][][2]float64, len(strokes))
	for i, s := range strokes {
		for _, p := range s {
			out[i] = append(out[i], [2]float64{dx + p[0]*scale, dy + p[1]*scale})
		}
	}
	return out
}

// draw draws strokes (canvas CSS pixels) on the canvas with mouse or touch
// input, which the page receives as pointer events.
func draw(ctx context.Context, box canvasBox, strokes [][][2]float64, touch bool) error {
	at := func(p [2]float64) (float64, float64) {
		return box.X + p[0], box.Y + p[1]
	}
	mouse := func(typ input.DispatchMouseEventType, x, y float64, buttons int64) error {
		_, err := chromedp.Call(ctx, input.DispatchMouseEvent, input.DispatchMouseEventParams{
			Type: typ, X: x, Y: y, Button: input.MouseButtonLeft, Buttons: buttons, ClickCount: 1,
		})
		return err
	}
	finger := func(typ input.DispatchTouchEventType, points ...*input.TouchPoint) error {
		if points == nil {
			points = []*input.TouchPoint{}
		}
		_, err := chromedp.Call(ctx, input.DispatchTouchEvent, input.DispatchTouchEventParams{Type: typ, TouchPoints: points})
		return err
	}
	for _, s := range strokes {
		for i, p := range s {
			x, y := at(p)
			var err error
			switch {
			case touch && i == 0:
				err = finger(input.DispatchTouchEventTypeTouchStart, &input.TouchPoint{X: x, Y: y})
			case touch:
				err = finger(input.DispatchTouchEventTypeTouchMove, &input.TouchPoint{X: x, Y: y})
			case i == 0:
				err = mouse(input.DispatchMouseEventTypeMousePressed, x, y, 1)
			default:
				err = mouse(input.DispatchMouseEventTypeMouseMoved, x, y, 1)
			}
			if err != nil {
				return err
			}
		}
		x, y := at(s[len(s)-1])
		var err error
		if touch {
			err = finger(input.DispatchTouchEventTypeTouchEnd)
		} else {
			err = mouse(input.DispatchMouseEventTypeMouseReleased, x, y, 0)
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// waitText waits until the element's text satisfies ok.
func waitText(ctx context.Context, sel string, ok func(string) bool) (string, error) {
	deadline := time.Now().Add(30 * time.Second)
	for {
		text, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS(sel)))
		if err != nil {
			return "", err
		}
		if ok(text) {
			return text, nil
		}
		if time.Now().After(deadline) {
			return text, fmt.Errorf("%s is still %q after 30 s", sel, text)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func screenshot(t *testing.T, ctx context.Context, name string) {
	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		t.Fatalf("screenshot %s: %v", name, err)
	}
	path := filepath.Join(artifactsDir(t), name+".png")
	if err := os.WriteFile(path, png, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("screenshot %s", path)
}

// digitsThatDraw picks MNIST test digits whose traced strokes the model
// reads right offline, so that the browser test checks the page, not the
// model.
func digitsThatDraw(t *testing.T, set *mnist.Set, n int) []int {
	rec, err := recognize.Default()
	if err != nil {
		t.Fatal(err)
	}
	var out []int
	for i := 0; len(out) < n; i++ {
		var strokes []drawing.Stroke
		for _, line := range set.Strokes(i) {
			var s drawing.Stroke
			for _, p := range line {
				s = append(s, drawing.Point{X: p[0] * 10, Y: p[1] * 10})
			}
			strokes = append(strokes, s)
		}
		if res, err := rec.Strokes(strokes, 280, 280, drawing.ModeDigit); err == nil && res.Digits == strconv.Itoa(int(set.Labels[i])) {
			out = append(out, i)
		}
	}
	return out
}

// TestBrowserIntegration opens the page of `stratus up` in real Chromium,
// draws MNIST digits with the mouse and with touch, predicts with the
// button and with Enter, checks the answer and the chart, stores a
// correction and finds it in the store, and keeps screenshots.
func TestBrowserIntegration(t *testing.T) {
	set, err := mnist.Test("")
	if err != nil {
		t.Fatal(err)
	}
	digits := digitsThatDraw(t, set, 2)
	ctx := browser(t)
	up := startUp(t, t.TempDir())

	if err := chromedp.Do(ctx, chromedp.Navigate(up.url+"/"), chromedp.WaitVisible(chromedp.CSS("#conn.conn-ok"))); err != nil {
		t.Fatalf("open the page: %v", err)
	}
	box, err := chromedp.Run(ctx, chromedp.Evaluate[canvasBox](`(() => { const r = document.getElementById("canvas").getBoundingClientRect(); return {X: r.x, Y: r.y, W: r.width, H: r.height}; })()`))
	if err != nil {
		t.Fatalf("canvas: %v", err)
	}
	if box.W < 100 || box.H < 100 {
		t.Fatalf("canvas is %+v", box)
	}

	// 1. Mouse, Predict button.
	first := digits[0]
	want := strconv.Itoa(int(set.Labels[first]))
	if err := draw(ctx, box, onCanvas(set.Strokes(first), box.W/28, 0, 0), false); err != nil {
		t.Fatal(err)
	}
	screenshot(t, ctx, "1-drawn")
	if err := chromedp.Do(ctx, chromedp.Click(chromedp.CSS("#predict"))); err != nil {
		t.Fatal(err)
	}
	if _, err := waitText(ctx, "#status", func(s string) bool { return strings.HasPrefix(s, "Done") }); err != nil {
		screenshot(t, ctx, "1-failed")
		t.Fatal(err)
	}
	got, _ := waitText(ctx, "#answer", func(string) bool { return true })
	bars, err := chromedp.Run(ctx, chromedp.Evaluate[int](`document.querySelectorAll("#chart li").length`))
	if err != nil {
		t.Fatal(err)
	}
	conf, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS("#confidence")))
	if err != nil {
		t.Fatal(err)
	}
	screenshot(t, ctx, "2-answered")
	if got != want || bars != 10 || !strings.Contains(conf, "% sure") {
		t.Fatalf("drew a %s: the page says %q, %d bars, %q", want, got, bars, conf)
	}
	if best, err := chromedp.Run(ctx, chromedp.Evaluate[string](`document.querySelector("#chart li.best").dataset.digit`)); err != nil || best != want {
		t.Fatalf("the chart's highest bar is %q, want %s (%v)", best, want, err)
	}

	// 2. A correction, stored.
	type pageState struct {
		LastFinal struct{ ID, Said string } `json:"lastFinal"`
	}
	state, err := chromedp.Run(ctx, chromedp.Evaluate[pageState](`window.stratus.state()`))
	if err != nil || state.LastFinal.ID == "" {
		t.Fatalf("page state: %+v %v", state, err)
	}
	label := strconv.Itoa((int(set.Labels[first]) + 1) % 10)
	if err := chromedp.Do(ctx,
		chromedp.WaitVisible(chromedp.CSS("#correct")),
		chromedp.SendKeys(chromedp.CSS("#label-input"), label),
		chromedp.Click(chromedp.CSS("#label-save")),
	); err != nil {
		t.Fatal(err)
	}
	if _, err := waitText(ctx, "#status", func(s string) bool { return strings.HasPrefix(s, "Saved") }); err != nil {
		screenshot(t, ctx, "3-label-failed")
		t.Fatal(err)
	}
	screenshot(t, ctx, "3-corrected")
	res, err := http.Get(up.url + "/api/v1/samples?limit=10")
	if err != nil {
		t.Fatal(err)
	}
	var page struct {
		Samples []struct{ ID, Label string } `json:"samples"`
	}
	_ = json.NewDecoder(res.Body).Decode(&page)
	res.Body.Close()
	found := false
	for _, s := range page.Samples {
		if s.ID == state.LastFinal.ID {
			found = s.Label == label
		}
	}
	if !found {
		t.Fatalf("the correction %s of %s is not in the store: %+v", label, state.LastFinal.ID, page.Samples)
	}

	// 3. Escape clears; touch draws; Enter predicts.
	second := digits[1]
	want2 := strconv.Itoa(int(set.Labels[second]))
	if err := chromedp.Do(ctx, chromedp.KeyEvent("\x1b")); err != nil { // Escape
		t.Fatal(err)
	}
	if _, err := chromedp.Call(ctx, emulation.SetTouchEmulationEnabled, emulation.SetTouchEmulationEnabledParams{Enabled: true, MaxTouchPoints: 1}); err != nil {
		t.Fatal(err)
	}
	if a, _ := waitText(ctx, "#answer", func(s string) bool { return s == "?" }); a != "?" {
		t.Fatalf("Escape left the answer %q", a)
	}
	if err := draw(ctx, box, onCanvas(set.Strokes(second), box.W/28, 0, 0), true); err != nil {
		t.Fatal(err)
	}
	if err := chromedp.Do(ctx, chromedp.KeyEvent("\r")); err != nil {
		t.Fatal(err)
	}
	if _, err := waitText(ctx, "#status", func(s string) bool { return strings.HasPrefix(s, "Done") }); err != nil {
		screenshot(t, ctx, "4-failed")
		t.Fatal(err)
	}
	got2, _ := waitText(ctx, "#answer", func(string) bool { return true })
	screenshot(t, ctx, "4-touch-enter")
	if got2 != want2 {
		t.Fatalf("drew a %s by touch: the page says %q", want2, got2)
	}
	if history, err := chromedp.Run(ctx, chromedp.Evaluate[int](`document.querySelectorAll("#history li").length`)); err != nil || history != 2 {
		t.Fatalf("history shows %d drawings, want 2 (%v)", history, err)
	}

	// 4. A whole number: the toggle, three digits side by side, a box over
	// each, per-digit charts on hover; the document has one candidate per
	// digit with its box.
	digitsN, number := numberThatDraws(t, set, box.W)
	if err := chromedp.Do(ctx, chromedp.KeyEvent("\x1b"), chromedp.Click(chromedp.CSS("#mode-number"))); err != nil {
		t.Fatal(err)
	}
	for k, i := range digitsN {
		if err := draw(ctx, box, onCanvas(set.Strokes(i), numberScale(box.W), numberX(box.W, k), box.H/4), false); err != nil {
			t.Fatal(err)
		}
	}
	if err := chromedp.Do(ctx, chromedp.Click(chromedp.CSS("#predict"))); err != nil {
		t.Fatal(err)
	}
	if _, err := waitText(ctx, "#status", func(s string) bool { return strings.HasPrefix(s, "Done") }); err != nil {
		screenshot(t, ctx, "5-number-failed")
		t.Fatal(err)
	}
	gotN, _ := waitText(ctx, "#answer", func(string) bool { return true })
	boxes, err := chromedp.Run(ctx, chromedp.Evaluate[int](`document.querySelectorAll("#boxes .box").length`))
	if err != nil {
		t.Fatal(err)
	}
	if err := chromedp.Do(ctx, chromedp.Click(chromedp.CSS("#boxes .box:nth-child(2)"))); err != nil {
		t.Fatal(err)
	}
	note, _ := waitText(ctx, "#candidate-note", func(s string) bool { return strings.HasPrefix(s, "Digit 2") })
	screenshot(t, ctx, "5-number")
	if gotN != number || boxes != len(number) || !strings.HasPrefix(note, "Digit 2") {
		t.Fatalf("drew %s: the page says %q with %d boxes, note %q", number, gotN, boxes, note)
	}
	stateN, err := chromedp.Run(ctx, chromedp.Evaluate[pageState](`window.stratus.state()`))
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Samples []struct {
			ID          string   `json:"id"`
			Mode        string   `json:"mode"`
			Input28     []string `json:"input28"`
			Predictions map[string]struct {
				Digits     string `json:"digits"`
				Candidates []struct {
					Box *struct{ X, Y, W, H float64 } `json:"box"`
				} `json:"candidates"`
			} `json:"predictions"`
		} `json:"samples"`
	}
	if code, b := get(context.Background(), up.url+"/api/v1/samples?limit=5"); code != 200 || json.Unmarshal(b, &doc) != nil {
		t.Fatalf("history: %d", code)
	}
	found = false
	for _, smp := range doc.Samples {
		if smp.ID != stateN.LastFinal.ID {
			continue
		}
		found = true
		if smp.Mode != "number" || len(smp.Input28) != len(number) || len(smp.Predictions) != 1 {
			t.Fatalf("the number's document: mode %q, %d inputs, %d predictions", smp.Mode, len(smp.Input28), len(smp.Predictions))
		}
		for _, p := range smp.Predictions {
			if p.Digits != number || len(p.Candidates) != len(number) {
				t.Fatalf("the number's stored prediction: %+v", p)
			}
			for i, c := range p.Candidates {
				if c.Box == nil || c.Box.W <= 0 || (i > 0 && c.Box.X <= p.Candidates[i-1].Box.X) {
					t.Fatalf("candidate %d's box: %+v", i, c.Box)
				}
			}
		}
	}
	if !found {
		t.Fatalf("the number %s is not in the store", stateN.LastFinal.ID)
	}
	if err := chromedp.Do(ctx, chromedp.Click(chromedp.CSS("#mode-number"))); err != nil {
		t.Fatal(err)
	}

	// 5. A phone-sized screen: the canvas fits and the controls stay usable.
	if err := chromedp.Do(ctx, chromedp.EmulateViewport(390, 844, chromedp.EmulateScale(3), chromedp.EmulateMobile), chromedp.Sleep(300*time.Millisecond)); err != nil {
		t.Fatal(err)
	}
	fits, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`(() => { const c = document.getElementById("canvas").getBoundingClientRect(); const b = document.getElementById("predict").getBoundingClientRect(); return c.right <= 390 && c.width >= 250 && b.right <= 390 && b.height >= 40; })()`))
	if err != nil {
		t.Fatal(err)
	}
	screenshot(t, ctx, "5-phone")
	if !fits {
		t.Error("on a 390 px wide screen the canvas or the Predict button does not fit")
	}
}

// The layout of the number in the browser test: three digits side by side.
func numberScale(w float64) float64    { return w / 3.4 / 28 * 1.1 }
func numberX(w float64, k int) float64 { return w*0.03 + float64(k)*w/3.2 }

// numberThatDraws picks three MNIST test digits whose strokes, laid out as
// in the browser test on a w×w canvas, the model reads right as a number
// offline, so that the test checks the page and the pipeline, not the
// model.
func numberThatDraws(t *testing.T, set *mnist.Set, w float64) ([]int, string) {
	rec, err := recognize.Default()
	if err != nil {
		t.Fatal(err)
	}
	for start := 100; start < 400; start += 3 {
		ids := []int{start, start + 1, start + 2}
		var strokes []drawing.Stroke
		want := ""
		for k, i := range ids {
			want += strconv.Itoa(int(set.Labels[i]))
			for _, line := range onCanvas(set.Strokes(i), numberScale(w), numberX(w, k), w/4) {
				var s drawing.Stroke
				for _, p := range line {
					s = append(s, drawing.Point{X: p[0], Y: p[1]})
				}
				strokes = append(strokes, s)
			}
		}
		if res, err := rec.Strokes(strokes, int(w), int(w), drawing.ModeNumber); err == nil && res.Digits == want {
			return ids, want
		}
	}
	t.Fatal("no three MNIST digits read right as a number")
	return nil, ""
}
