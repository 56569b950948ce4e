package loadgen

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"image/png"
	"log/slog"
	"net"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stratusml/stratus/drawing"
	"github.com/stratusml/stratus/frontend"
	"github.com/stratusml/stratus/frontend/reqreply"
	"github.com/stratusml/stratus/message"
	"github.com/stratusml/stratus/model"
	"github.com/stratusml/stratus/model/mnist"
	"github.com/stratusml/stratus/model/preprocess"
	"github.com/stratusml/stratus/model/recognize"
	"github.com/stratusml/stratus/store/localstore"
)

var testSet = sync.OnceValues(func() (*mnist.Set, error) { return mnist.Test("") })

func workload(t *testing.T, opt WorkloadOptions) *Workload {
	t.Helper()
	set, err := testSet()
	if err != nil {
		t.Fatal(err)
	}
	w, err := NewWorkload(set, opt)
	if err != nil {
		t.Fatal(err)
	}
	return w
}

// localPipeline answers the real frontend's events in process with the
// shipped model, as the streaming pipeline would; every failEvery-th
// event gets an error reply, every dropEvery-th none.
type localPipeline struct {
	rec                  *recognize.Recognizer
	delay                time.Duration
	failEvery, dropEvery int64

	n        atomic.Int64
	mu       sync.Mutex
	sessions map[string]int
}

func (lp *localPipeline) Send(_ context.Context, ev *message.CanvasEvent) (<-chan message.Prediction, error) {
	ev.ReplyTo, ev.SentAt = "loadgen-test", time.Now()
	n := lp.n.Add(1)
	lp.mu.Lock()
	lp.sessions[ev.Session]++
	lp.mu.Unlock()
	ch := make(chan message.Prediction, 1)
	e := *ev
	go func() {
		time.Sleep(lp.delay)
		now := time.Now()
		switch {
		case lp.dropEvery > 0 && n%lp.dropEvery == 0:
			return
		case lp.failEvery > 0 && n%lp.failEvery == 0:
			ch <- message.NewErrorReply(e.Envelope(), message.StagePreprocess, errors.New("refused by the test"), now)
			return
		}
		d, err := recognize.EventDigits(&e, drawing.DefaultLimits())
		if err != nil {
			ch <- message.NewErrorReply(e.Envelope(), message.StagePreprocess, err, now)
			return
		}
		ch <- recognize.NewPrediction(&e, lp.rec.Recognize([][]preprocess.Digit{d})[0], now, time.Now())
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

func (lp *localPipeline) Check(context.Context) error { return nil }

// frontendRig is the real frontend on a local pipeline.
func frontendRig(t *testing.T, lp *localPipeline, tweak func(*frontend.Config)) string {
	t.Helper()
	m, err := model.Default()
	if err != nil {
		t.Fatal(err)
	}
	if lp.rec, err = recognize.New(m); err != nil {
		t.Fatal(err)
	}
	lp.sessions = map[string]int{}
	name := strings.ReplaceAll(t.Name(), "/", "_")
	st := localstore.Open(name, "")
	t.Cleanup(func() { localstore.Drop(name, "") })
	cfg := frontend.Config{Requester: lp, Store: st, Timeout: 2 * time.Second, Logger: slog.New(slog.DiscardHandler)}
	if tweak != nil {
		tweak(&cfg)
	}
	srv, err := frontend.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(srv)
	t.Cleanup(func() { ts.Close(); srv.Close() })
	return ts.URL
}

func quiet() *slog.Logger { return slog.New(slog.DiscardHandler) }

// TestRunAgainstFrontend: users over HTTP and WebSockets, drawing PNGs and
// strokes, get the real frontend's answers: every request measured, no
// errors, the MNIST labels recognised, a session per user.
func TestRunAgainstFrontend(t *testing.T) {
	lp := &localPipeline{}
	url := frontendRig(t, lp, nil)
	var progress atomic.Int64
	rep, err := Run(context.Background(), Config{
		URL: url + "/", Users: 6, Count: 240, Warmup: 200 * time.Millisecond, Transport: Mixed, InFlight: 2,
		Workload: workload(t, WorkloadOptions{Digits: 200}), Logger: quiet(),
		Progress: func(Progress) { progress.Add(1) },
	})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Requests != 240 || rep.Errors != 0 || rep.Answers != 240 {
		t.Fatalf("%d requests, %d answers, %d errors %v, want 240 answers", rep.Requests, rep.Answers, rep.Errors, rep.ErrorMessages)
	}
	if rep.Accuracy < 0.95 {
		t.Errorf("accuracy %.3f, want ≥ 0.95", rep.Accuracy)
	}
	for _, tr := range []Transport{HTTP, WS} {
		if rep.ByTransport[tr].Answers == 0 {
			t.Errorf("no answers via %s: %+v", tr, rep.ByTransport)
		}
	}
	for _, in := range []Input{InputPNG, InputStrokes} {
		if g := rep.ByInput[in]; g.Answers == 0 || g.Accuracy < 0.9 {
			t.Errorf("as %s: %+v", in, g)
		}
	}
	if st := rep.Stages; st.Answers != 240 || st.InPipeline.P50 <= 0 || st.ToPipeline.Max > rep.Latency.Max || st.Back.Max > rep.Latency.Max {
		t.Errorf("stages %+v", st)
	}
	if rep.Throughput <= 0 || rep.Latency.P50 <= 0 || rep.Latency.P99 < rep.Latency.P50 || rep.Latency.Max < rep.Latency.P99 {
		t.Errorf("figures %v/s %+v", rep.Throughput, rep.Latency)
	}
	lp.mu.Lock()
	sessions := len(lp.sessions)
	lp.mu.Unlock()
	if sessions != 6 {
		t.Errorf("%d sessions, want one per user (6)", sessions)
	}
	if got := lp.n.Load(); got < 240 {
		t.Errorf("the pipeline saw %d events", got)
	}
	var text bytes.Buffer
	if err := rep.WriteText(&text); err != nil || !strings.Contains(text.String(), "answers/s") {
		t.Errorf("text report %q %v", text.String(), err)
	}
	js, err := json.Marshal(rep)
	if err != nil {
		t.Fatal(err)
	}
	var back map[string]any
	if err := json.Unmarshal(js, &back); err != nil || back["answers"] != 240.0 || back["by_transport"] == nil {
		t.Errorf("JSON report %s: %v", js, err)
	}
	var pic bytes.Buffer
	if err := rep.WritePlot(&pic); err != nil {
		t.Fatal(err)
	}
	img, err := png.Decode(&pic)
	if err != nil {
		t.Fatal(err)
	}
	if b := img.Bounds(); b.Dx() < 800 || b.Dy() < 400 {
		t.Errorf("plot is %v", b)
	}
}

// TestRunErrors: refusals, time-outs and the rate limit are counted by
// kind, on both transports, in a run measured by duration.
func TestRunErrors(t *testing.T) {
	for _, c := range []struct {
		name      string
		lp        *localPipeline
		tweak     func(*frontend.Config)
		transport Transport
		kinds     []string
	}{
		{"refused over http", &localPipeline{failEvery: 3}, nil, HTTP, []string{"http 422"}},
		{"refused over ws", &localPipeline{failEvery: 3}, nil, WS, []string{"ws 422"}},
		{"timed out", &localPipeline{dropEvery: 4}, func(c *frontend.Config) { c.Timeout = 100 * time.Millisecond }, Mixed, []string{"http 504", "ws 504"}},
		{"rate limited", &localPipeline{}, func(c *frontend.Config) { c.RateLimit, c.RateBurst = 20, 1 }, Mixed, []string{"http 429", "ws 429"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			url := frontendRig(t, c.lp, c.tweak)
			rep, err := Run(context.Background(), Config{
				URL: url, Users: 4, Duration: time.Second, Warmup: 100 * time.Millisecond, Transport: c.transport,
				Workload: workload(t, WorkloadOptions{Digits: 50, Input: InputStrokes}), Logger: quiet(),
			})
			if err != nil {
				t.Fatal(err)
			}
			if rep.Answers == 0 || rep.Errors == 0 || rep.Requests != rep.Answers+rep.Errors {
				t.Fatalf("%d requests, %d answers, %d errors", rep.Requests, rep.Answers, rep.Errors)
			}
			for _, k := range c.kinds {
				if rep.ErrorsByKind[k] == 0 || rep.ErrorMessages[k] == "" {
					t.Errorf("no %q errors: %v %v", k, rep.ErrorsByKind, rep.ErrorMessages)
				}
			}
			if len(rep.ErrorsByKind) != len(c.kinds) {
				t.Errorf("errors by kind %v, want only %v", rep.ErrorsByKind, c.kinds)
			}
			if rep.DurationS < 1 || rep.DurationS > 5 {
				t.Errorf("measured %.2f s of a 1 s run", rep.DurationS)
			}
		})
	}
}

// TestRunTransportErrors: a frontend that is not there, or one slower than
// the client's own timeout, fails requests with transport kinds.
func TestRunTransportErrors(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	gone := "http://" + ln.Addr().String()
	ln.Close()
	slow := frontendRig(t, &localPipeline{delay: 3 * time.Second}, nil)
	for _, c := range []struct {
		name string
		url  string
		tr   Transport
		want string
	}{
		{"refused over http", gone, HTTP, KindRefused},
		{"refused over ws", gone, WS, KindRefused},
		{"client timeout over http", slow, HTTP, KindTimeout},
		{"client timeout over ws", slow, WS, KindTimeout},
	} {
		t.Run(c.name, func(t *testing.T) {
			rep, err := Run(context.Background(), Config{
				URL: c.url, Users: 2, Count: 4, Transport: c.tr, Timeout: 300 * time.Millisecond,
				Workload: workload(t, WorkloadOptions{Digits: 10}), Logger: quiet(),
			})
			if err != nil {
				t.Fatal(err)
			}
			if rep.Requests != 4 || rep.Errors != 4 || rep.ErrorsByKind[c.want] != 4 {
				t.Errorf("%d requests, errors %v, want 4 %q", rep.Requests, rep.ErrorsByKind, c.want)
			}
		})
	}
}

// TestRunStops: a cancelled context ends a run early with what was measured.
func TestRunStops(t *testing.T) {
	url := frontendRig(t, &localPipeline{delay: 20 * time.Millisecond}, nil)
	w := workload(t, WorkloadOptions{Digits: 10})
	ctx, cancel := context.WithTimeout(context.Background(), 1500*time.Millisecond)
	defer cancel()
	start := time.Now()
	rep, err := Run(ctx, Config{URL: url, Users: 4, Duration: time.Minute, Workload: w, Logger: quiet()})
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("err %v, want the context's", err)
	}
	if time.Since(start) > 10*time.Second || rep == nil || rep.Answers == 0 || rep.Errors != 0 {
		t.Fatalf("stopped after %v with %+v", time.Since(start), rep)
	}
}

func TestConfigRefused(t *testing.T) {
	w := workload(t, WorkloadOptions{Digits: 2, Input: InputPNG})
	for name, cfg := range map[string]Config{
		"no url":             {Count: 1, Workload: w},
		"ftp url":            {URL: "ftp://x", Count: 1, Workload: w},
		"duration and count": {URL: "http://x", Count: 1, Duration: time.Second, Workload: w},
		"neither":            {URL: "http://x", Workload: w},
		"in flight":          {URL: "http://x", Count: 1, InFlight: 9, Workload: w},
		"transport":          {URL: "http://x", Count: 1, Transport: "smtp", Workload: w},
		"no workload":        {URL: "http://x", Count: 1},
		"negative":           {URL: "http://x", Count: 1, Think: -1, Workload: w},
	} {
		if _, err := Run(context.Background(), cfg); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
}

// TestWorkload: every body is an event the API's decoder takes, of the
// digits its label says.
func TestWorkload(t *testing.T) {
	set, err := testSet()
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		opt   WorkloadOptions
		n     int
		width int
	}{
		{WorkloadOptions{Digits: 20, Input: InputPNG}, 20, Canvas},
		{WorkloadOptions{Digits: 20, Input: InputStrokes}, 20, Canvas},
		{WorkloadOptions{Digits: 20}, 40, Canvas},
		{WorkloadOptions{Digits: 5, Input: InputStrokes, Mode: "number"}, 5, NumberLen * Canvas},
		{WorkloadOptions{Digits: 5, Input: InputPNG, Mode: "number"}, 5, NumberLen * Canvas},
	} {
		w, err := NewWorkload(set, c.opt)
		if err != nil {
			t.Fatal(err)
		}
		if len(w.Drawings) != c.n {
			t.Fatalf("%+v: %d drawings, want %d", c.opt, len(w.Drawings), c.n)
		}
		for i, d := range w.Drawings {
			ev, err := message.DecodeCanvasEvent(d.Body(`user "7"`), message.DecodeOptions{})
			if err != nil {
				t.Fatalf("%+v: drawing %d: %v", c.opt, i, err)
			}
			if ev.Session != `user "7"` || ev.Width != c.width || ev.Height != Canvas || string(ev.Mode) != w.Mode {
				t.Errorf("%+v: drawing %d decodes to %+v", c.opt, i, ev)
			}
			want := ""
			for k := range len(d.Label) {
				want += string(rune('0' + set.Labels[d.Index+k]))
			}
			if d.Label != want || (len(ev.Strokes) > 0) != (d.Input == InputStrokes) {
				t.Errorf("%+v: drawing %d: label %q (want %q), input %s", c.opt, i, d.Label, want, d.Input)
			}
		}
	}
	for _, opt := range []WorkloadOptions{{Input: "jpeg"}, {Mode: "letters"}} {
		if _, err := NewWorkload(set, opt); err == nil {
			t.Errorf("%+v: no error", opt)
		}
	}
	for _, s := range []string{"http", "ws", "mixed"} {
		if _, err := ParseTransport(s); err != nil {
			t.Error(err)
		}
	}
	if _, err := ParseTransport("udp"); err == nil {
		t.Error("transport udp taken")
	}
	if _, err := ParseInput("gif"); err == nil {
		t.Error("input gif taken")
	}
}
