// Package loadgen generates load against a running Stratus frontend and
// measures it. Virtual users, each with its own session, draw MNIST test
// digits (as pen strokes or PNG pictures, see Workload) over POST
// /api/v1/predict or the WebSocket /api/v1/ws, one after the other, for a
// duration or a count; every request's latency, error kind and answer are
// recorded, and a Report gives throughput, latency percentiles, errors by
// kind and accuracy, as text, JSON or a plot.
//
// A frontend limits each client address (stratus serve --rate-limit); every
// virtual user comes from the same address, so run the frontend under test
// with --rate-limit 0.
package loadgen

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Transport is how a virtual user talks to the frontend.
type Transport string

// The transports.
const (
	// HTTP posts each drawing to /api/v1/predict and waits for the answer.
	HTTP Transport = "http"
	// WS sends drawings over one WebSocket (/api/v1/ws) per user.
	WS Transport = "ws"
	// Mixed gives half the users HTTP and half a WebSocket.
	Mixed Transport = "mixed"
)

// ParseTransport checks a --transport value.
func ParseTransport(s string) (Transport, error) {
	switch t := Transport(s); t {
	case HTTP, WS, Mixed:
		return t, nil
	}
	return "", fmt.Errorf("transport %q: want http, ws or mixed", s)
}

// MaxInFlight is the most drawings a WebSocket user keeps waiting for at
// once: what the frontend lets one connection have in flight.
const MaxInFlight = 8

// Config sets up a run. URL and Workload are required, and one of Duration
// and Count.
type Config struct {
	// URL is the frontend's base URL (http://127.0.0.1:8080).
	URL string
	// Users is the number of virtual users (default 32).
	Users int
	// Duration is how long to measure after the warm-up; Count, if set
	// instead, is how many requests to measure.
	Duration time.Duration
	Count    int
	// Warmup is sent but not measured, before measurement starts.
	Warmup time.Duration
	// Transport is http, ws or mixed (default mixed).
	Transport Transport
	// Think is each user's pause between an answer and its next drawing.
	Think time.Duration
	// InFlight is how many drawings a WebSocket user has in flight at
	// once (default 1, at most MaxInFlight); HTTP users wait for each answer.
	InFlight int
	// Timeout bounds one request (default 30 s; the frontend answers 504
	// after its own --timeout first).
	Timeout time.Duration
	// Workload is what the users draw.
	Workload *Workload
	// Progress, when set, is called about once a second during the run.
	Progress func(Progress)
	// Logger (default slog.Default()).
	Logger *slog.Logger
}

func (c *Config) input() Input {
	seen := map[Input]bool{}
	for _, d := range c.Workload.Drawings {
		seen[d.Input] = true
	}
	if len(seen) == 1 {
		for in := range seen {
			return in
		}
	}
	return InputMixed
}

// check fills in defaults and refuses what cannot run.
func (c *Config) check() error {
	if c.Users == 0 {
		c.Users = 32
	}
	if c.Transport == "" {
		c.Transport = Mixed
	}
	if c.InFlight == 0 {
		c.InFlight = 1
	}
	if c.Timeout == 0 {
		c.Timeout = 30 * time.Second
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	u, err := url.Parse(c.URL)
	switch {
	case err != nil:
		return fmt.Errorf("loadgen: url %q: %w", c.URL, err)
	case u.Scheme != "http" && u.Scheme != "https" || u.Host == "":
		return fmt.Errorf("loadgen: url %q: want http://HOST:PORT", c.URL)
	case c.Users < 1:
		return errors.New("loadgen: users must be at least 1")
	case (c.Duration > 0) == (c.Count > 0):
		return errors.New("loadgen: give one of a duration or a count")
	case c.Duration < 0 || c.Count < 0 || c.Warmup < 0 || c.Think < 0 || c.Timeout < 0:
		return errors.New("loadgen: durations and counts cannot be negative")
	case c.InFlight < 1 || c.InFlight > MaxInFlight:
		return fmt.Errorf("loadgen: in flight per WebSocket must be 1 to %d", MaxInFlight)
	case c.Workload == nil || len(c.Workload.Drawings) == 0:
		return errors.New("loadgen: no workload")
	}
	if _, err := ParseTransport(string(c.Transport)); err != nil {
		return fmt.Errorf("loadgen: %w", err)
	}
	c.URL = strings.TrimSuffix(c.URL, "/")
	return nil
}

// schedule hands out requests: unmeasured during the warm-up, then
// measured until the deadline or the count.
type schedule struct {
	measureFrom time.Time
	until       time.Time // duration mode
	count       int64     // count mode
	taken       atomic.Int64
}

// next says whether a user may send another request now and whether it is
// measured.
func (s *schedule) next() (measured, ok bool) {
	now := time.Now()
	switch {
	case now.Before(s.measureFrom):
		return false, true
	case s.count > 0:
		return true, s.taken.Add(1) <= s.count
	default:
		return true, now.Before(s.until)
	}
}

// run is one run's shared state.
type run struct {
	cfg   *Config
	sched *schedule
	rec   *Recorder
	http  *http.Client
	id    string // run id, in session names
}

// user is one virtual user: its session and its place in the workload.
type user struct {
	r         *run
	n         int
	session   string
	transport Transport
	next      int // index into the workload
}

// drawing returns the user's next drawing.
func (u *user) drawing() *Drawing {
	ds := u.r.cfg.Workload.Drawings
	d := &ds[u.next%len(ds)]
	u.next++
	return d
}

// stamps are when the pipeline read an event and when it predicted it
// (the answer's received_at and predicted_at).
type stamps struct{ received, predicted time.Time }

// record adds a measured result of a request sent at sent and answered
// (or failed) at done.
func (u *user) record(measured bool, sent, done time.Time, d *Drawing, kind, msg, digits string, st stamps) {
	if !measured {
		return
	}
	res := Result{
		At: sent.Sub(u.r.sched.measureFrom), Latency: done.Sub(sent), Transport: u.transport, Input: d.Input,
		Err: kind, Correct: kind == "" && digits == d.Label,
	}
	// The stages only make sense on one clock: the same host, or synced.
	if kind == "" && !st.received.IsZero() && !st.predicted.IsZero() && !st.received.Before(sent) && !done.Before(st.predicted) {
		res.Stages = &Stages{ToPipeline: st.received.Sub(sent), InPipeline: st.predicted.Sub(st.received), Back: done.Sub(st.predicted)}
	}
	u.r.rec.Add(res, msg)
}

// Run generates the load cfg describes and measures it. It returns when
// every user is done (or ctx ends: then with what was measured until then,
// and ctx's error).
func Run(ctx context.Context, cfg Config) (*Report, error) {
	if err := cfg.check(); err != nil {
		return nil, err
	}
	started := time.Now()
	s := &schedule{measureFrom: started.Add(cfg.Warmup), count: int64(cfg.Count)}
	if cfg.Duration > 0 {
		s.until = s.measureFrom.Add(cfg.Duration)
	}
	r := &run{
		cfg: &cfg, sched: s, rec: NewRecorder(),
		http: &http.Client{Transport: &http.Transport{
			MaxIdleConns: cfg.Users, MaxIdleConnsPerHost: cfg.Users, IdleConnTimeout: time.Minute,
			DisableCompression: true, ForceAttemptHTTP2: false,
		}},
		id: fmt.Sprintf("%x", started.UnixNano()&0xffffff),
	}
	defer r.http.CloseIdleConnections()
	cfg.Logger.Info("loadgen: start", "url", cfg.URL, "users", cfg.Users, "transport", cfg.Transport,
		"duration", cfg.Duration, "count", cfg.Count, "warmup", cfg.Warmup, "drawings", len(cfg.Workload.Drawings))

	stride := max(len(cfg.Workload.Drawings)/cfg.Users, 1)
	var wg sync.WaitGroup
	for n := range cfg.Users {
		u := &user{r: r, n: n, session: fmt.Sprintf("loadtest-%s-%03d", r.id, n), transport: cfg.Transport, next: n * stride}
		if u.transport == Mixed {
			u.transport = []Transport{HTTP, WS}[n%2]
		}
		wg.Go(func() {
			if u.transport == HTTP {
				u.runHTTP(ctx)
			} else {
				u.runWS(ctx)
			}
		})
	}
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	if cfg.Progress != nil {
		tick := time.NewTicker(time.Second)
	loop:
		for {
			select {
			case <-done:
				break loop
			case now := <-tick.C:
				cfg.Progress(r.rec.progress(now.Sub(s.measureFrom)))
			}
		}
		tick.Stop()
	}
	<-done

	results := r.rec.Results()
	var elapsed time.Duration
	for _, res := range results {
		elapsed = max(elapsed, res.At+res.Latency)
	}
	if cfg.Duration > 0 && ctx.Err() == nil {
		elapsed = max(elapsed, cfg.Duration)
	}
	r.rec.mu.Lock()
	messages := r.rec.messages
	r.rec.mu.Unlock()
	rep := newReport(&cfg, started, elapsed, results, messages)
	cfg.Logger.Info("loadgen: done", "answers", rep.Answers, "errors", rep.Errors, "throughput", rep.Throughput, "p99_ms", rep.Latency.P99)
	return rep, ctx.Err()
}

// think pauses between an answer and the next drawing; false when ctx ended.
func (u *user) think(ctx context.Context) bool {
	if u.r.cfg.Think <= 0 {
		return ctx.Err() == nil
	}
	t := time.NewTimer(u.r.cfg.Think)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}
