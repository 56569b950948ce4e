package loadgen

import (
	"fmt"
	"io"
	"maps"
	"slices"
	"time"
)

// Report is what a run measured; it marshals to the --out JSON.
type Report struct {
	// The run's settings.
	URL       string    `json:"url"`
	Users     int       `json:"users"`
	Transport Transport `json:"transport"`
	Input     Input     `json:"input"`
	Mode      string    `json:"mode"`
	InFlight  int       `json:"in_flight_per_ws"`
	ThinkMS   float64   `json:"think_ms"`
	WarmupS   float64   `json:"warmup_s"`
	StartedAt time.Time `json:"started_at"`
	// DurationS is the measured time: from the end of the warm-up to the
	// last answer.
	DurationS float64 `json:"duration_s"`

	// Requests counts measured requests: Answers + Errors.
	Requests int `json:"requests"`
	Answers  int `json:"answers"`
	Errors   int `json:"errors"`
	// ErrorRate is Errors / Requests.
	ErrorRate float64 `json:"error_rate"`
	// Throughput is answers per second over DurationS.
	Throughput float64 `json:"throughput_per_s"`
	// Latency is over the answers (errors left out).
	Latency Latency `json:"latency"`
	// Stages splits the answers' latency at the pipeline's timestamps
	// (meaningful when the frontend runs on this host's clock).
	Stages StageLatency `json:"stages"`
	// Correct counts answers whose digits were the drawing's MNIST label;
	// Accuracy is Correct / Answers.
	Correct  int     `json:"correct"`
	Accuracy float64 `json:"accuracy"`
	// ErrorsByKind counts errors by kind: "http 504", "ws 429",
	// "transport: timeout", …; ErrorMessages has the first message of each.
	ErrorsByKind  map[string]int    `json:"errors_by_kind"`
	ErrorMessages map[string]string `json:"error_messages,omitempty"`
	// ByTransport and ByInput split the figures.
	ByTransport map[Transport]Group `json:"by_transport"`
	ByInput     map[Input]Group     `json:"by_input"`
	// PerSecond is the run second by second (by when requests were sent).
	PerSecond []Second `json:"per_second"`

	// Results are every measured request, for the plot.
	Results []Result `json:"-"`
}

// newReport computes the figures of results measured over elapsed.
func newReport(cfg *Config, started time.Time, elapsed time.Duration, results []Result, messages map[string]string) *Report {
	r := &Report{
		URL: cfg.URL, Users: cfg.Users, Transport: cfg.Transport, Input: cfg.input(), Mode: cfg.Workload.Mode,
		InFlight: cfg.InFlight, ThinkMS: ms(cfg.Think), WarmupS: cfg.Warmup.Seconds(), StartedAt: started,
		DurationS: elapsed.Seconds(), Results: results,
		ErrorsByKind: map[string]int{}, ErrorMessages: messages,
		ByTransport: map[Transport]Group{}, ByInput: map[Input]Group{},
	}
	g := summarise(results)
	r.Requests, r.Answers, r.Errors, r.Latency, r.Accuracy = g.Requests, g.Answers, g.Errors, g.Latency, g.Accuracy
	byT, byI := map[Transport][]Result{}, map[Input][]Result{}
	for _, res := range results {
		if res.Err != "" {
			r.ErrorsByKind[res.Err]++
		} else if res.Correct {
			r.Correct++
		}
		byT[res.Transport] = append(byT[res.Transport], res)
		byI[res.Input] = append(byI[res.Input], res)
	}
	for t, rs := range byT {
		r.ByTransport[t] = summarise(rs)
	}
	for i, rs := range byI {
		r.ByInput[i] = summarise(rs)
	}
	if r.Requests > 0 {
		r.ErrorRate = float64(r.Errors) / float64(r.Requests)
	}
	if elapsed > 0 {
		r.Throughput = float64(r.Answers) / elapsed.Seconds()
	}
	r.Stages = summariseStages(results)
	r.PerSecond = perSecond(results)
	return r
}

// WriteText writes the report for a person.
func (r *Report) WriteText(w io.Writer) error {
	pr := &printer{w: w}
	pr.f("stratus loadtest: %d users, %s over %s, %s input (%s mode), %.1f s measured after %.1f s warm-up\n",
		r.Users, r.URL, r.Transport, r.Input, r.Mode, r.DurationS, r.WarmupS)
	pr.f("  throughput  %.1f answers/s (%d answers, %d requests)\n", r.Throughput, r.Answers, r.Requests)
	pr.f("  latency     p50 %.1f ms  p90 %.1f ms  p99 %.1f ms  max %.1f ms  (mean %.1f ms)\n",
		r.Latency.P50, r.Latency.P90, r.Latency.P99, r.Latency.Max, r.Latency.Mean)
	if st := r.Stages; st.Answers > 0 {
		pr.f("  stages      to the pipeline p50 %.1f / p99 %.1f ms, in it p50 %.1f / p99 %.1f ms, back p50 %.1f / p99 %.1f ms\n",
			st.ToPipeline.P50, st.ToPipeline.P99, st.InPipeline.P50, st.InPipeline.P99, st.Back.P50, st.Back.P99)
	}
	pr.f("  accuracy    %.2f%% (%d of %d answers were the MNIST label)\n", 100*r.Accuracy, r.Correct, r.Answers)
	pr.f("  errors      %d (%.3f%%)\n", r.Errors, 100*r.ErrorRate)
	for _, k := range slices.Sorted(maps.Keys(r.ErrorsByKind)) {
		pr.f("    %-28s %d  e.g. %q\n", k, r.ErrorsByKind[k], r.ErrorMessages[k])
	}
	for _, t := range slices.Sorted(maps.Keys(r.ByTransport)) {
		g := r.ByTransport[t]
		pr.f("  via %-8s %d answers, p50 %.1f ms, p99 %.1f ms, %d errors\n", t, g.Answers, g.Latency.P50, g.Latency.P99, g.Errors)
	}
	for _, i := range slices.Sorted(maps.Keys(r.ByInput)) {
		g := r.ByInput[i]
		pr.f("  as %-9s %d answers, p50 %.1f ms, p99 %.1f ms, accuracy %.2f%%\n", i, g.Answers, g.Latency.P50, g.Latency.P99, 100*g.Accuracy)
	}
	return pr.err
}

// printer writes formatted lines, keeping the first error.
type printer struct {
	w   io.Writer
	err error
}

func (p *printer) f(format string, args ...any) {
	if p.err == nil {
		_, p.err = fmt.Fprintf(p.w, format, args...)
	}
}
