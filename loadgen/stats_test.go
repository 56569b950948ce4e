package loadgen

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"syscall"
	"testing"
	"time"

	"github.com/coder/websocket"
)

func durations(ms ...int) []time.Duration {
	out := make([]time.Duration, len(ms))
	for i, m := range ms {
		out[i] = time.Duration(m) * time.Millisecond
	}
	return out
}

func TestPercentile(t *testing.T) {
	hundred := make([]int, 100)
	for i := range hundred {
		hundred[i] = i + 1
	}
	for _, c := range []struct {
		name   string
		sorted []time.Duration
		p      float64
		want   time.Duration
	}{
		{"none", nil, 50, 0},
		{"one, p50", durations(7), 50, 7 * time.Millisecond},
		{"one, p99", durations(7), 99, 7 * time.Millisecond},
		{"two, p50 is the lower", durations(1, 2), 50, time.Millisecond},
		{"two, p51 is the upper", durations(1, 2), 51, 2 * time.Millisecond},
		{"ten, p90", durations(1, 2, 3, 4, 5, 6, 7, 8, 9, 10), 90, 9 * time.Millisecond},
		{"ten, p99 is the max", durations(1, 2, 3, 4, 5, 6, 7, 8, 9, 10), 99, 10 * time.Millisecond},
		{"ten, p100", durations(1, 2, 3, 4, 5, 6, 7, 8, 9, 10), 100, 10 * time.Millisecond},
		{"hundred, p50", durations(hundred...), 50, 50 * time.Millisecond},
		{"hundred, p99", durations(hundred...), 99, 99 * time.Millisecond},
		{"hundred, p99.5", durations(hundred...), 99.5, 100 * time.Millisecond},
		{"tiny p is the min", durations(3, 4, 5), 0.001, 3 * time.Millisecond},
		{"ties", durations(5, 5, 5, 5, 9), 80, 5 * time.Millisecond},
	} {
		t.Run(c.name, func(t *testing.T) {
			if got := Percentile(c.sorted, c.p); got != c.want {
				t.Errorf("Percentile(%v, %v) = %v, want %v", c.sorted, c.p, got, c.want)
			}
		})
	}
}

func TestSummarise(t *testing.T) {
	for _, c := range []struct {
		name string
		lat  []time.Duration
		want Latency
	}{
		{"none", nil, Latency{}},
		{"one", durations(4), Latency{Min: 4, Mean: 4, P50: 4, P90: 4, P99: 4, Max: 4}},
		{"unsorted", durations(10, 1, 4, 3, 2, 9, 8, 5, 7, 6), Latency{Min: 1, Mean: 5.5, P50: 5, P90: 9, P99: 10, Max: 10}},
		{"sub-millisecond", []time.Duration{1500 * time.Microsecond, 500 * time.Microsecond}, Latency{Min: 0.5, Mean: 1, P50: 0.5, P90: 1.5, P99: 1.5, Max: 1.5}},
	} {
		t.Run(c.name, func(t *testing.T) {
			if got := Summarise(c.lat); got != c.want {
				t.Errorf("Summarise = %+v, want %+v", got, c.want)
			}
		})
	}
}

// timeoutErr is a net.Error that timed out.
type timeoutErr struct{}

func (timeoutErr) Error() string   { return "i/o timeout" }
func (timeoutErr) Timeout() bool   { return true }
func (timeoutErr) Temporary() bool { return true }

func TestKinds(t *testing.T) {
	opErr := func(err error) error {
		return &net.OpError{Op: "dial", Net: "tcp", Err: os.NewSyscallError("connect", err)}
	}
	for _, c := range []struct {
		name string
		err  error
		want string
	}{
		{"nil", nil, ""},
		{"deadline", context.DeadlineExceeded, KindTimeout},
		{"wrapped deadline", fmt.Errorf("Post \"http://x\": %w", context.DeadlineExceeded), KindTimeout},
		{"os deadline", os.ErrDeadlineExceeded, KindTimeout},
		{"net timeout", &net.OpError{Op: "read", Err: timeoutErr{}}, KindTimeout},
		{"refused", opErr(syscall.ECONNREFUSED), KindRefused},
		{"reset", opErr(syscall.ECONNRESET), KindReset},
		{"broken pipe", opErr(syscall.EPIPE), KindReset},
		{"eof", io.EOF, KindEOF},
		{"unexpected eof", fmt.Errorf("read: %w", io.ErrUnexpectedEOF), KindEOF},
		{"closed", net.ErrClosed, KindEOF},
		{"ws close", websocket.CloseError{Code: websocket.StatusGoingAway, Reason: "bye"}, "transport: ws closed 1001"},
		{"ws close wrapped", fmt.Errorf("failed to read: %w", websocket.CloseError{Code: websocket.StatusInternalError}), "transport: ws closed 1011"},
		{"other", errors.New("something else"), KindOther},
		{"bad answer", fmt.Errorf("%w: x", errBadAnswer), KindOther},
	} {
		t.Run(c.name, func(t *testing.T) {
			if got := TransportKind(c.err); got != c.want {
				t.Errorf("TransportKind(%v) = %q, want %q", c.err, got, c.want)
			}
		})
	}
	if got := errorKind(fmt.Errorf("%w: x", errBadAnswer)); got != KindBadAnswer {
		t.Errorf("errorKind(bad answer) = %q", got)
	}
	if got := errorKind(io.EOF); got != KindEOF {
		t.Errorf("errorKind(EOF) = %q", got)
	}
	for status, want := range map[int]string{429: "http 429", 504: "http 504", 422: "http 422"} {
		if got := HTTPKind(status); got != want {
			t.Errorf("HTTPKind(%d) = %q, want %q", status, got, want)
		}
	}
	if got := WSKind(504); got != "ws 504" {
		t.Errorf("WSKind(504) = %q", got)
	}
}

func TestReportFigures(t *testing.T) {
	at := func(s float64) time.Duration { return time.Duration(s * float64(time.Second)) }
	results := []Result{
		{At: at(0.1), Latency: 10 * time.Millisecond, Transport: HTTP, Input: InputPNG, Correct: true,
			Stages: &Stages{ToPipeline: 4 * time.Millisecond, InPipeline: 2 * time.Millisecond, Back: 4 * time.Millisecond}},
		{At: at(0.2), Latency: 20 * time.Millisecond, Transport: WS, Input: InputStrokes, Correct: true},
		{At: at(0.3), Latency: 30 * time.Millisecond, Transport: WS, Input: InputPNG, Correct: false},
		{At: at(1.1), Latency: 40 * time.Millisecond, Transport: HTTP, Input: InputStrokes, Correct: true},
		{At: at(1.2), Latency: 5 * time.Second, Transport: HTTP, Input: InputPNG, Err: "http 504"},
		{At: at(2.5), Latency: time.Millisecond, Transport: WS, Input: InputStrokes, Err: KindTimeout},
		{At: at(2.6), Latency: time.Millisecond, Transport: WS, Input: InputStrokes, Err: KindTimeout},
	}
	cfg := &Config{URL: "http://x", Users: 2, Transport: Mixed, Workload: &Workload{Mode: "digit", Drawings: []Drawing{{Input: InputPNG}, {Input: InputStrokes}}}}
	r := newReport(cfg, time.Now(), 4*time.Second, results, map[string]string{"http 504": "slow"})
	check := func(name string, got, want any) {
		t.Helper()
		if fmt.Sprint(got) != fmt.Sprint(want) {
			t.Errorf("%s = %v, want %v", name, got, want)
		}
	}
	check("requests", r.Requests, 7)
	check("answers", r.Answers, 4)
	check("errors", r.Errors, 3)
	check("error rate", r.ErrorRate, 3.0/7)
	check("throughput", r.Throughput, 1.0)
	check("correct", r.Correct, 3)
	check("accuracy", r.Accuracy, 0.75)
	check("latency", r.Latency, Latency{Min: 10, Mean: 25, P50: 20, P90: 40, P99: 40, Max: 40})
	check("errors by kind", r.ErrorsByKind, map[string]int{"http 504": 1, KindTimeout: 2})
	check("input", r.Input, InputMixed)
	check("http", r.ByTransport[HTTP], Group{Requests: 3, Answers: 2, Errors: 1, Accuracy: 1, Latency: Latency{Min: 10, Mean: 25, P50: 10, P90: 40, P99: 40, Max: 40}})
	check("ws", r.ByTransport[WS].Answers, 2)
	check("png accuracy", r.ByInput[InputPNG].Accuracy, 0.5)
	check("stages", r.Stages, StageLatency{Answers: 1, ToPipeline: Latency{4, 4, 4, 4, 4, 4}, InPipeline: Latency{2, 2, 2, 2, 2, 2}, Back: Latency{4, 4, 4, 4, 4, 4}})
	check("seconds", len(r.PerSecond), 3)
	check("second 0", r.PerSecond[0], Second{T: 0, Requests: 3, Answers: 3, P50: 20, P99: 30})
	check("second 1", r.PerSecond[1], Second{T: 1, Requests: 2, Answers: 1, Errors: 1, P50: 40, P99: 40})
	check("second 2", r.PerSecond[2], Second{T: 2, Requests: 2, Errors: 2})
}

func TestProgress(t *testing.T) {
	rec := NewRecorder()
	for i := range 100 {
		rec.Add(Result{At: time.Duration(i) * 10 * time.Millisecond, Latency: time.Duration(i+1) * time.Millisecond}, "")
	}
	rec.Add(Result{At: 0, Latency: time.Millisecond, Err: "http 503"}, "down")
	rec.begin()
	p := rec.progress(time.Second)
	if p.Done != 101 || p.Answers != 100 || p.Errors != 1 || p.P99 != 99*time.Millisecond || p.InFlight != 1 {
		t.Errorf("progress = %+v", p)
	}
	// Finished within the last second: ends at 10i+i+1 ms ≤ 1000 ms.
	if p.Rate != 91 {
		t.Errorf("rate = %v, want 91", p.Rate)
	}
	if s := p.String(); s == "" {
		t.Error("empty progress line")
	}
	if s := (Progress{Elapsed: -time.Second}).String(); s != "warming up (1 s to go), 0 in flight" {
		t.Errorf("warm-up line %q", s)
	}
}
