package loadgen

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"net"
	"os"
	"slices"
	"sync"
	"syscall"
	"time"

	"github.com/coder/websocket"
)

// Result is one request's outcome.
type Result struct {
	// At is when the request was sent, from the start of measurement.
	At time.Duration
	// Latency is from sending the drawing to its answer (or error).
	Latency time.Duration
	// Transport and Input say how it went.
	Transport Transport
	Input     Input
	// Err is the error kind ("" when answered; see the Kind functions).
	Err string
	// Correct says the answer's digits were the drawing's label.
	Correct bool
	// Stages splits an answer's latency by the pipeline's timestamps, when
	// they fall inside it (client and frontend on one clock).
	Stages *Stages
}

// Stages is where an answer's latency went, by the answer's received_at
// (when the pipeline read the event) and predicted_at (when the CNN had
// answered).
type Stages struct {
	// ToPipeline is from sending to the pipeline reading the event: the
	// request to the frontend, its checks, the Kafka produce, the pipeline's
	// Kafka read and the wait for a bundle.
	ToPipeline time.Duration
	// InPipeline is decoding, preprocessing, batching and the CNN.
	InPipeline time.Duration
	// Back is from the prediction to the answer: the reply's Kafka write
	// and read, the frontend and the response.
	Back time.Duration
}

// Error kinds: an HTTP status, a WebSocket error message's status, or a
// failure of the transport itself.
const (
	// KindTimeout is a request that got no answer within the client's
	// own timeout.
	KindTimeout = "transport: timeout"
	// KindRefused is a connection the frontend refused.
	KindRefused = "transport: connection refused"
	// KindReset is a connection reset by the frontend.
	KindReset = "transport: connection reset"
	// KindEOF is a connection closed in the middle of an answer.
	KindEOF = "transport: connection closed"
	// KindBadAnswer is an answer that was not the API's JSON.
	KindBadAnswer = "bad answer"
	// KindOther is any other transport failure.
	KindOther = "transport: other"
)

// HTTPKind is the error kind of an HTTP status other than 200.
func HTTPKind(status int) string { return fmt.Sprintf("http %d", status) }

// WSKind is the error kind of a WebSocket "error" message with status.
func WSKind(status int) string { return fmt.Sprintf("ws %d", status) }

// TransportKind classifies a transport failure: timeout, refused, reset,
// closed, a WebSocket close status, or other.
func TransportKind(err error) string {
	var ne net.Error
	switch {
	case err == nil:
		return ""
	case errors.Is(err, context.DeadlineExceeded), errors.Is(err, os.ErrDeadlineExceeded):
		return KindTimeout
	case errors.Is(err, syscall.ECONNREFUSED):
		return KindRefused
	case errors.Is(err, syscall.ECONNRESET), errors.Is(err, syscall.EPIPE):
		return KindReset
	case websocket.CloseStatus(err) != -1:
		return fmt.Sprintf("transport: ws closed %d", websocket.CloseStatus(err))
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, net.ErrClosed):
		return KindEOF
	case errors.As(err, &ne) && ne.Timeout():
		return KindTimeout
	}
	return KindOther
}

// Percentile is the p-th percentile (0 < p ≤ 100) of sorted by the
// nearest-rank method: the smallest value that at least p% of the values
// are at or below. It is 0 for no values.
func Percentile(sorted []time.Duration, p float64) time.Duration {
	n := len(sorted)
	if n == 0 {
		return 0
	}
	rank := int(math.Ceil(p / 100 * float64(n)))
	return sorted[min(max(rank, 1), n)-1]
}

// Latency summarises latencies, in milliseconds.
type Latency struct {
	Min  float64 `json:"min_ms"`
	Mean float64 `json:"mean_ms"`
	P50  float64 `json:"p50_ms"`
	P90  float64 `json:"p90_ms"`
	P99  float64 `json:"p99_ms"`
	Max  float64 `json:"max_ms"`
}

// Summarise computes Latency of the values (sorting them in place).
func Summarise(lat []time.Duration) Latency {
	if len(lat) == 0 {
		return Latency{}
	}
	slices.Sort(lat)
	var sum time.Duration
	for _, l := range lat {
		sum += l
	}
	return Latency{
		Min: ms(lat[0]), Mean: ms(sum / time.Duration(len(lat))),
		P50: ms(Percentile(lat, 50)), P90: ms(Percentile(lat, 90)), P99: ms(Percentile(lat, 99)), Max: ms(lat[len(lat)-1]),
	}
}

func ms(d time.Duration) float64 { return math.Round(float64(d)/1e3) / 1e3 }

// Recorder collects Results from many virtual users at once.
type Recorder struct {
	mu       sync.Mutex
	results  []Result
	messages map[string]string // first message seen of each error kind
	inFlight int
}

// NewRecorder returns an empty Recorder.
func NewRecorder() *Recorder { return &Recorder{messages: map[string]string{}} }

// Add records a result; msg is what the error said (kept for the first of
// each kind).
func (r *Recorder) Add(res Result, msg string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.results = append(r.results, res)
	if res.Err != "" && msg != "" {
		if _, ok := r.messages[res.Err]; !ok {
			r.messages[res.Err] = msg
		}
	}
}

// begin and end count requests in flight (measured or not).
func (r *Recorder) begin() { r.mu.Lock(); r.inFlight++; r.mu.Unlock() }
func (r *Recorder) end()   { r.mu.Lock(); r.inFlight--; r.mu.Unlock() }

// Progress is a view of a run so far.
type Progress struct {
	// Elapsed is the time since measurement started (negative while
	// warming up).
	Elapsed time.Duration
	// Done, Answers and Errors count measured requests so far.
	Done, Answers, Errors int
	// Rate is the requests finished per second over the last second.
	Rate float64
	// P99 is over every answer so far.
	P99 time.Duration
	// InFlight counts requests waiting for an answer now.
	InFlight int
}

// String is the live progress line.
func (p Progress) String() string {
	if p.Elapsed < 0 {
		return fmt.Sprintf("warming up (%.0f s to go), %d in flight", -p.Elapsed.Seconds(), p.InFlight)
	}
	return fmt.Sprintf("%5.0f s  %6.0f req/s  p99 %6.1f ms  answers %d  errors %d  in flight %d",
		p.Elapsed.Seconds(), p.Rate, ms(p.P99), p.Answers, p.Errors, p.InFlight)
}

// progress summarises what was recorded, elapsed after measurement began.
func (r *Recorder) progress(elapsed time.Duration) Progress {
	r.mu.Lock()
	p := Progress{Elapsed: elapsed, Done: len(r.results), InFlight: r.inFlight}
	lat := make([]time.Duration, 0, len(r.results))
	for _, res := range r.results {
		if res.Err != "" {
			p.Errors++
			continue
		}
		lat = append(lat, res.Latency)
		if end := res.At + res.Latency; end > elapsed-time.Second && end <= elapsed {
			p.Rate++
		}
	}
	r.mu.Unlock()
	p.Answers = len(lat)
	slices.Sort(lat)
	p.P99 = Percentile(lat, 99)
	return p
}

// Results returns a copy of what was recorded.
func (r *Recorder) Results() []Result {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.results)
}

// Second is one second of a run: the requests sent in it.
type Second struct {
	// T is the second's start, from the start of measurement.
	T        int     `json:"t_s"`
	Requests int     `json:"requests"`
	Answers  int     `json:"answers"`
	Errors   int     `json:"errors"`
	P50      float64 `json:"p50_ms"`
	P99      float64 `json:"p99_ms"`
}

// StageLatency summarises Stages over the answers that had them.
type StageLatency struct {
	Answers    int     `json:"answers"`
	ToPipeline Latency `json:"to_pipeline"`
	InPipeline Latency `json:"in_pipeline"`
	Back       Latency `json:"back"`
}

// summariseStages computes StageLatency of rs.
func summariseStages(rs []Result) StageLatency {
	var to, in, back []time.Duration
	for _, r := range rs {
		if r.Stages != nil {
			to = append(to, r.Stages.ToPipeline)
			in = append(in, r.Stages.InPipeline)
			back = append(back, r.Stages.Back)
		}
	}
	return StageLatency{Answers: len(to), ToPipeline: Summarise(to), InPipeline: Summarise(in), Back: Summarise(back)}
}

// Group is the figures of part of a run (one transport, one input).
type Group struct {
	Requests int     `json:"requests"`
	Answers  int     `json:"answers"`
	Errors   int     `json:"errors"`
	Accuracy float64 `json:"accuracy"`
	Latency  Latency `json:"latency"`
}

// summarise computes a Group's figures.
func summarise(rs []Result) Group {
	g := Group{Requests: len(rs)}
	var lat []time.Duration
	correct := 0
	for _, r := range rs {
		if r.Err != "" {
			g.Errors++
			continue
		}
		lat = append(lat, r.Latency)
		if r.Correct {
			correct++
		}
	}
	g.Answers = len(lat)
	if g.Answers > 0 {
		g.Accuracy = float64(correct) / float64(g.Answers)
	}
	g.Latency = Summarise(lat)
	return g
}

// perSecond buckets results by the second they were sent in.
func perSecond(rs []Result) []Second {
	var buckets [][]Result
	for _, r := range rs {
		s := max(int(r.At/time.Second), 0)
		for len(buckets) <= s {
			buckets = append(buckets, nil)
		}
		buckets[s] = append(buckets[s], r)
	}
	out := make([]Second, len(buckets))
	for s, b := range buckets {
		g := summarise(b)
		out[s] = Second{T: s, Requests: g.Requests, Answers: g.Answers, Errors: g.Errors, P50: g.Latency.P50, P99: g.Latency.P99}
	}
	return out
}
