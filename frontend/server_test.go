package frontend

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/stratusml/stratus/drawing"
	"github.com/stratusml/stratus/frontend/reqreply"
	"github.com/stratusml/stratus/message"
	"github.com/stratusml/stratus/model/preprocess"
	"github.com/stratusml/stratus/model/recognize"
	"github.com/stratusml/stratus/store"
	"github.com/stratusml/stratus/store/localstore"
)

// localPipeline answers events in process with the shipped model, as the
// streaming pipeline would, and stores their samples: the HTTP layer's
// tests need answers, not Kafka (the integration tests run the real path).
type localPipeline struct {
	rec   *recognize.Recognizer
	st    store.Store
	delay time.Duration // before answering
	drop  bool          // never answer
	fail  string        // answer with an error reply
	down  bool          // Send fails

	mu   sync.Mutex
	sent []message.CanvasEvent
}

func (lp *localPipeline) Send(ctx context.Context, ev *message.CanvasEvent) (<-chan message.Prediction, error) {
	if lp.down {
		return nil, errors.New("no brokers")
	}
	ev.ReplyTo, ev.SentAt = "test-replica", time.Now()
	lp.mu.Lock()
	lp.sent = append(lp.sent, *ev)
	lp.mu.Unlock()
	ch := make(chan message.Prediction, 1)
	e := *ev
	go func() {
		time.Sleep(lp.delay)
		if lp.drop {
			return
		}
		now := time.Now()
		if lp.fail != "" {
			ch <- message.NewErrorReply(e.Envelope(), message.StagePreprocess, errors.New(lp.fail), now)
			return
		}
		d, err := recognize.EventDigits(&e, drawing.DefaultLimits())
		if err != nil {
			ch <- message.NewErrorReply(e.Envelope(), message.StagePreprocess, err, now)
			return
		}
		res := lp.rec.Recognize([][]preprocess.Digit{d})[0]
		p := recognize.NewPrediction(&e, res, now, time.Now())
		sample := store.NewSample(&e)
		sample.Input28 = preprocess.Inputs28(d)
		sample.Predictions = map[string]store.PredictionBody{p.Model: store.NewPredictionBody(p)}
		_ = lp.st.UpsertSamples(context.Background(), []store.Sample{sample})
		ch <- p
	}()
	return ch, nil
}

func (lp *localPipeline) Wait(ctx context.Context, id string, ch <-chan message.Prediction) (message.Prediction, error) {
	select {
	case p := <-ch:
		return p, nil
	case <-ctx.Done():
		return message.Prediction{}, fmt.Errorf("%w: %s", reqreply.ErrTimeout, id)
	}
}

func (lp *localPipeline) Check(context.Context) error {
	if lp.down {
		return errors.New("no brokers")
	}
	return nil
}

type testRig struct {
	srv *Server
	ts  *httptest.Server
	lp  *localPipeline
	st  store.Store
}

func newTestRig(t testing.TB, tweak func(*Config)) *testRig {
	t.Helper()
	rec, err := recognize.Default()
	if err != nil {
		t.Fatal(err)
	}
	name := strings.ReplaceAll(t.Name(), "/", "_")
	st := localstore.Open(name, "")
	t.Cleanup(func() { localstore.Drop(name, "") })
	if err := st.EnsureSchema(context.Background()); err != nil {
		t.Fatal(err)
	}
	lp := &localPipeline{rec: rec, st: st}
	cfg := Config{Requester: lp, Store: st, Timeout: 2 * time.Second, LabelWait: 300 * time.Millisecond}
	if tweak != nil {
		tweak(&cfg)
	}
	srv, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(srv)
	t.Cleanup(func() { ts.Close(); srv.Close() })
	return &testRig{srv: srv, ts: ts, lp: lp, st: st}
}

func (r *testRig) post(t testing.TB, path, contentType string, body []byte) (int, []byte, http.Header) {
	t.Helper()
	res, err := http.Post(r.ts.URL+path, contentType, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res.StatusCode, b, res.Header
}

// seven is a 7 drawn with two strokes on a 280×280 canvas.
const seven = `{"v":1,"mode":"digit","width":280,"height":280,"strokes":[[{"x":60,"y":50,"t":0},{"x":220,"y":50,"t":40}],[{"x":220,"y":50,"t":60},{"x":130,"y":240,"t":120}]]}`

func TestPredict(t *testing.T) {
	r := newTestRig(t, nil)
	code, body, h := r.post(t, "/api/v1/predict", "application/json", []byte(seven))
	if code != http.StatusOK {
		t.Fatalf("predict: %d %s", code, body)
	}
	var p message.Prediction
	if err := json.Unmarshal(body, &p); err != nil {
		t.Fatal(err)
	}
	if p.Digits != "7" || len(p.Candidates) != 1 || p.Model == "" || p.ID == "" {
		t.Fatalf("prediction: %s", body)
	}
	if !strings.Contains(h.Get("Content-Security-Policy"), "script-src 'self'") {
		t.Errorf("no CSP on the API: %q", h.Get("Content-Security-Policy"))
	}
	sent := r.lp.sent[0]
	if sent.ID != p.ID || sent.Session == "" || sent.ReplyTo == "" || sent.SentAt.IsZero() {
		t.Errorf("event sent without its envelope: %+v", sent)
	}
}

func TestPredictRefusals(t *testing.T) {
	r := newTestRig(t, nil)
	huge := bytes.Repeat([]byte("x"), maxPredictBody+1)
	for _, tc := range []struct {
		name, ct, body string
		want           int
	}{
		{"not JSON", "application/json", "hello", 400},
		{"wrong content type", "text/plain", seven, 415},
		{"form post", "application/x-www-form-urlencoded", "a=b", 415},
		{"id given", "application/json", strings.Replace(seven, `"v":1`, `"v":1,"id":"mine"`, 1), 400},
		{"reply_to given", "application/json", strings.Replace(seven, `"v":1`, `"v":1,"reply_to":"evil"`, 1), 400},
		{"unknown field", "application/json", strings.Replace(seven, `"v":1`, `"v":1,"x":1`, 1), 400},
		{"NaN coordinates", "application/json", strings.Replace(seven, `"x":60`, `"x":NaN`, 1), 400},
		{"huge canvas", "application/json", strings.Replace(seven, `"width":280`, `"width":100000`, 1), 400},
		{"no ink", "application/json", `{"v":1,"mode":"digit","width":280,"height":280,"strokes":[[]]}`, 400},
		{"not a PNG", "application/json", `{"v":1,"mode":"digit","image_png":"bm90IGEgcG5n"}`, 400},
		{"both drawings", "application/json", strings.Replace(seven, `"v":1`, `"v":1,"image_png":"AA=="`, 1), 400},
		{"bad mode", "application/json", strings.Replace(seven, `"digit"`, `"letters"`, 1), 400},
		{"too big", "application/json", string(huge), 413},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, body, _ := r.post(t, "/api/v1/predict", tc.ct, []byte(tc.body))
			if code != tc.want {
				t.Fatalf("got %d %s, want %d", code, body, tc.want)
			}
			var e apiError
			if err := json.Unmarshal(body, &e); err != nil || e.Error == "" {
				t.Fatalf("error answer without a reason: %s", body)
			}
		})
	}
	if len(r.lp.sent) != 0 {
		t.Errorf("%d refused events reached the pipeline", len(r.lp.sent))
	}
}

func TestPredictFailures(t *testing.T) {
	for _, tc := range []struct {
		name  string
		setup func(*localPipeline)
		want  int
	}{
		{"no answer", func(lp *localPipeline) { lp.drop = true }, http.StatusGatewayTimeout},
		{"error reply", func(lp *localPipeline) { lp.fail = "empty drawing" }, http.StatusUnprocessableEntity},
		{"Kafka down", func(lp *localPipeline) { lp.down = true }, http.StatusServiceUnavailable},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := newTestRig(t, func(c *Config) { c.Timeout = 200 * time.Millisecond })
			tc.setup(r.lp)
			start := time.Now()
			code, body, _ := r.post(t, "/api/v1/predict", "application/json", []byte(seven))
			if code != tc.want {
				t.Fatalf("got %d %s, want %d", code, body, tc.want)
			}
			if time.Since(start) > 5*time.Second {
				t.Fatalf("the failure took %v: it must not hang", time.Since(start))
			}
		})
	}
}

func TestLabelAndHistory(t *testing.T) {
	r := newTestRig(t, nil)
	var ids []string
	for i := 0; i < 3; i++ {
		code, body, _ := r.post(t, "/api/v1/predict", "application/json", []byte(seven))
		if code != 200 {
			t.Fatalf("predict: %d %s", code, body)
		}
		var p message.Prediction
		_ = json.Unmarshal(body, &p)
		ids = append(ids, p.ID)
	}
	code, body, _ := r.post(t, "/api/v1/samples/"+ids[1]+"/label", "application/json", []byte(`{"label":"1"}`))
	if code != 200 {
		t.Fatalf("label: %d %s", code, body)
	}
	s, err := r.st.GetSample(context.Background(), ids[1])
	if err != nil || s.Label != "1" || s.LabelledAt.IsZero() {
		t.Fatalf("label not stored: %+v %v", s, err)
	}
	for _, tc := range []struct {
		name, id, body string
		want           int
	}{
		{"not digits", ids[0], `{"label":"seven"}`, 400},
		{"empty", ids[0], `{"label":""}`, 400},
		{"extra field", ids[0], `{"label":"7","by":"x"}`, 400},
		{"no such sample", "01HZZZZZZZZZZZZZZZZZZZZZZZ", `{"label":"7"}`, 404},
		{"reserved id", "_design", `{"label":"7"}`, 400},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if code, body, _ := r.post(t, "/api/v1/samples/"+tc.id+"/label", "application/json", []byte(tc.body)); code != tc.want {
				t.Errorf("got %d %s, want %d", code, body, tc.want)
			}
		})
	}

	res, err := http.Get(r.ts.URL + "/api/v1/samples?limit=2")
	if err != nil {
		t.Fatal(err)
	}
	var page samplesResponse
	_ = json.NewDecoder(res.Body).Decode(&page)
	res.Body.Close()
	if len(page.Samples) != 2 || page.Samples[0].ID != ids[2] || page.Samples[1].ID != ids[1] || page.Samples[1].Label != "1" || page.Next != ids[1] {
		t.Fatalf("history page 1: %+v", page)
	}
	if len(page.Samples[0].Predictions) != 1 || len(page.Samples[0].Input28) != 1 {
		t.Errorf("history without predictions or thumbnails: %+v", page.Samples[0])
	}
	res, err = http.Get(r.ts.URL + "/api/v1/samples?limit=2&before=" + page.Next)
	if err != nil {
		t.Fatal(err)
	}
	page = samplesResponse{}
	_ = json.NewDecoder(res.Body).Decode(&page)
	res.Body.Close()
	if len(page.Samples) != 1 || page.Samples[0].ID != ids[0] {
		t.Fatalf("history page 2: %+v", page)
	}
	for _, q := range []string{"limit=0", "limit=1000", "limit=x"} {
		res, _ := http.Get(r.ts.URL + "/api/v1/samples?" + q)
		res.Body.Close()
		if res.StatusCode != 400 {
			t.Errorf("?%s: %d, want 400", q, res.StatusCode)
		}
	}
}

// TestLabelWaitsForTheSample: the reply can overtake the store write.
func TestLabelWaitsForTheSample(t *testing.T) {
	r := newTestRig(t, func(c *Config) { c.LabelWait = 2 * time.Second })
	id := "01JLATE0000000000000000000"
	go func() {
		time.Sleep(300 * time.Millisecond)
		_ = r.st.UpsertSamples(context.Background(), []store.Sample{{ID: id, Mode: drawing.ModeDigit}})
	}()
	if code, body, _ := r.post(t, "/api/v1/samples/"+id+"/label", "application/json", []byte(`{"label":"4"}`)); code != 200 {
		t.Fatalf("label of a sample stored late: %d %s", code, body)
	}
}

func TestPageAndHealth(t *testing.T) {
	r := newTestRig(t, nil)
	for _, tc := range []struct {
		path, want string
		code       int
	}{
		{"/", `<canvas id="canvas"`, 200},
		{"/static/app.js", "getCoalescedEvents", 200},
		{"/static/style.css", "touch-action: none", 200},
		{"/healthz", "ok", 200},
		{"/readyz", `"ready":true`, 200},
		{"/metrics", "stratus_frontend_http_requests_total", 200},
		{"/api/v1/stats", `"requests_per_second"`, 200},
		{"/nope", "no such page", 404},
	} {
		t.Run(tc.path, func(t *testing.T) {
			res, err := http.Get(r.ts.URL + tc.path)
			if err != nil {
				t.Fatal(err)
			}
			b, _ := io.ReadAll(res.Body)
			res.Body.Close()
			if res.StatusCode != tc.code || !strings.Contains(string(b), tc.want) {
				t.Fatalf("%s: %d, want %d with %q", tc.path, res.StatusCode, tc.code, tc.want)
			}
			if csp := res.Header.Get("Content-Security-Policy"); strings.Contains(csp, "unsafe-inline") || !strings.Contains(csp, "default-src 'self'") {
				t.Errorf("CSP %q", csp)
			}
		})
	}
	// The page has no inline script or style.
	res, _ := http.Get(r.ts.URL + "/")
	b, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if inline := regexp.MustCompile(`<script>|<style|\sstyle=|\son[a-z]+=`); inline.Match(b) {
		t.Error("the page has inline script or style")
	}
	r.lp.down = true
	res, _ = http.Get(r.ts.URL + "/readyz")
	b, _ = io.ReadAll(res.Body)
	res.Body.Close()
	if res.StatusCode != 503 || !strings.Contains(string(b), "no brokers") {
		t.Errorf("readyz with Kafka down: %d %s", res.StatusCode, b)
	}
}

func TestRateLimit(t *testing.T) {
	r := newTestRig(t, func(c *Config) { c.RateLimit, c.RateBurst = 1, 3 })
	codes := map[int]int{}
	for i := 0; i < 6; i++ {
		code, _, _ := r.post(t, "/api/v1/predict", "application/json", []byte(seven))
		codes[code]++
	}
	if codes[200] < 3 || codes[429] < 2 {
		t.Errorf("6 quick predictions with burst 3: %v", codes)
	}
}

// wsClient is a test WebSocket client.
type wsClient struct {
	t *testing.T
	c *websocket.Conn
}

func dialWS(t *testing.T, r *testRig, origin string) (*wsClient, *http.Response, error) {
	h := http.Header{}
	if origin != "" {
		h.Set("Origin", origin)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	c, res, err := websocket.Dial(ctx, "ws"+strings.TrimPrefix(r.ts.URL, "http")+"/api/v1/ws", &websocket.DialOptions{HTTPHeader: h})
	if err != nil {
		return nil, res, err
	}
	t.Cleanup(func() { c.CloseNow() })
	return &wsClient{t: t, c: c}, res, nil
}

func (w *wsClient) send(body string) {
	w.t.Helper()
	if err := w.c.Write(context.Background(), websocket.MessageText, []byte(body)); err != nil {
		w.t.Fatal(err)
	}
}

func (w *wsClient) next() map[string]any {
	w.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_, b, err := w.c.Read(ctx)
	if err != nil {
		w.t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		w.t.Fatal(err)
	}
	return m
}

func TestWebSocket(t *testing.T) {
	r := newTestRig(t, nil)
	w, _, err := dialWS(t, r, r.ts.URL)
	if err != nil {
		t.Fatal(err)
	}
	w.send(seven)
	acc := w.next()
	if acc["type"] != "accepted" || acc["seq"] != 1.0 || acc["id"] == "" {
		t.Fatalf("first answer: %v", acc)
	}
	id := acc["id"].(string)
	p := w.next()
	if p["type"] != "prediction" || p["seq"] != 1.0 || p["id"] != id || p["digits"] != "7" {
		t.Fatalf("prediction: %v", p)
	}
	// A revision of the same drawing keeps its id: one sample.
	w.send(strings.Replace(seven, `"v":1`, `"v":1,"id":"`+id+`"`, 1))
	if m := w.next(); m["type"] != "accepted" || m["id"] != id || m["seq"] != 2.0 {
		t.Fatalf("revision accepted as %v", m)
	}
	if m := w.next(); m["type"] != "prediction" || m["id"] != id {
		t.Fatalf("revision answered %v", m)
	}
	if n, _ := r.st.Count(context.Background()); n != 1 {
		t.Errorf("%d samples for one drawing revised once", n)
	}
	// Another connection's id, or a made-up one, is refused.
	w.send(strings.Replace(seven, `"v":1`, `"v":1,"id":"01JSOMEONEELSE000000000000"`, 1))
	if m := w.next(); m["type"] != "error" || m["status"] != 400.0 || m["seq"] != 3.0 {
		t.Fatalf("foreign id answered %v", m)
	}
	w.send(`{"v":1,`)
	if m := w.next(); m["type"] != "error" || m["status"] != 400.0 || m["error"] == "" {
		t.Fatalf("bad JSON answered %v", m)
	}
	// The connection still works after errors.
	w.send(seven)
	if m := w.next(); m["type"] != "accepted" {
		t.Fatalf("after errors: %v", m)
	}
	if m := w.next(); m["type"] != "prediction" {
		t.Fatalf("after errors: %v", m)
	}
}

func TestWebSocketOrigin(t *testing.T) {
	r := newTestRig(t, nil)
	_, res, err := dialWS(t, r, "https://evil.example")
	if err == nil {
		t.Fatal("a foreign origin opened the WebSocket")
	}
	if res == nil || res.StatusCode != http.StatusForbidden {
		t.Fatalf("foreign origin: %v %v", res, err)
	}
	r2 := newTestRig(t, func(c *Config) { c.AllowedOrigins = []string{"app.example"} })
	if _, _, err := dialWS(t, r2, "https://app.example"); err != nil {
		t.Fatalf("an allowed origin was refused: %v", err)
	}
}

func TestWebSocketTimeout(t *testing.T) {
	r := newTestRig(t, func(c *Config) { c.Timeout = 200 * time.Millisecond })
	r.lp.drop = true
	w, _, err := dialWS(t, r, "")
	if err != nil {
		t.Fatal(err)
	}
	w.send(seven)
	_ = w.next() // accepted
	if m := w.next(); m["type"] != "error" || m["status"] != 504.0 {
		t.Fatalf("no answer became %v, want a 504 error", m)
	}
}
