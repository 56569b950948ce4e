package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/stratusml/stratus/internal/flagenv"
	"github.com/stratusml/stratus/loadgen"
	"github.com/stratusml/stratus/model/mnist"
)

// fraction is a flag value given as a fraction (0.001) or a percentage (0.1%).
type fraction float64

func (f *fraction) String() string { return strconv.FormatFloat(float64(*f)*100, 'g', -1, 64) + "%" }

func (f *fraction) Set(s string) error {
	s = strings.TrimSpace(s)
	scale := 1.0
	if t, ok := strings.CutSuffix(s, "%"); ok {
		s, scale = t, 0.01
	}
	v, err := strconv.ParseFloat(s, 64)
	if err != nil || v < 0 || v*scale > 1 {
		return fmt.Errorf("%q: want a fraction 0..1 or a percentage such as 0.1%%", s)
	}
	*f = fraction(v * scale)
	return nil
}

func runLoadtest(ctx context.Context, env *environment, args []string) error {
	o, err := parseLoadtestFlags(env, args)
	if err != nil {
		return err
	}
	if err := checkReady(ctx, o.cfg.URL); err != nil {
		return err
	}
	set, err := mnist.Test("")
	if err != nil {
		return err
	}
	prep := time.Now()
	w, err := loadgen.NewWorkload(set, loadgen.WorkloadOptions{Digits: o.digits, Input: o.input, Mode: o.mode})
	if err != nil {
		return err
	}
	env.log.Info("loadtest: drawings prepared", "drawings", len(w.Drawings), "took", time.Since(prep).Round(time.Millisecond))

	cfg := o.cfg
	cfg.Workload, cfg.Logger = w, env.log
	live := isTerminal(env.stderr)
	if live {
		cfg.Progress = func(p loadgen.Progress) { fmt.Fprintf(env.stderr, "\r\033[K%s", p) }
	}
	rep, err := loadgen.Run(ctx, cfg)
	if live {
		fmt.Fprint(env.stderr, "\r\033[K")
	}
	if rep == nil {
		return err
	}
	if errors.Is(err, context.Canceled) {
		fmt.Fprintln(env.stderr, "stratus loadtest: interrupted; the figures are of what was measured until then")
	}
	return reportLoadtest(env, o, rep)
}

// loadtestOptions are `loadtest`'s flags, checked: cfg lacks only the
// workload, the logger and the progress line.
type loadtestOptions struct {
	cfg           loadgen.Config
	digits        int
	input         loadgen.Input
	mode          string
	out, plotFile string
	maxErrors     fraction
}

// loadtestFlags are `loadtest`'s flags as given.
type loadtestFlags struct {
	fs                      *flag.FlagSet
	url, transport, input   string
	mode, out, plotFile     string
	users, count, inFlight  int
	digits                  int
	duration, warmup, think time.Duration
	timeout                 time.Duration
	maxErrors               fraction
}

// addLoadtestFlags defines `loadtest`'s flags on a new flag set.
func addLoadtestFlags(env *environment) *loadtestFlags {
	f := &loadtestFlags{fs: flag.NewFlagSet("loadtest", flag.ContinueOnError), maxErrors: fraction(0.001)}
	fs := f.fs
	fs.SetOutput(env.stderr)
	fs.StringVar(&f.url, "url", "http://127.0.0.1:8080", "base URL of the frontend under test (stratus serve or up)")
	fs.IntVar(&f.users, "users", 32, "virtual users, each with its own session (and, over ws, its own WebSocket)")
	fs.DurationVar(&f.duration, "duration", 30*time.Second, "how long to measure, after the warm-up")
	fs.IntVar(&f.count, "count", 0, "measure this many requests instead of a duration")
	fs.DurationVar(&f.warmup, "warmup", 2*time.Second, "load sent before measuring (connections opened, the pipeline warmed up)")
	fs.StringVar(&f.transport, "transport", "mixed", "http (POST /api/v1/predict), ws (/api/v1/ws) or mixed (half the users each)")
	fs.StringVar(&f.input, "input", "mixed", "png (280×280 pictures), strokes (pen strokes on a 280×280 canvas) or mixed (alternately)")
	fs.StringVar(&f.mode, "mode", "digit", `"digit", or "number" (three MNIST digits side by side)`)
	fs.DurationVar(&f.think, "think", 0, "each user's pause between an answer and its next drawing")
	fs.IntVar(&f.inFlight, "in-flight", 1, fmt.Sprintf("drawings each WebSocket user keeps in flight (1–%d)", loadgen.MaxInFlight))
	fs.DurationVar(&f.timeout, "timeout", 30*time.Second, "client-side limit on one request (the frontend answers 504 after its own --timeout)")
	fs.IntVar(&f.digits, "digits", 1000, "MNIST test digits to draw, spread over the 10,000 (each prepared before the run)")
	fs.StringVar(&f.out, "out", "", "write the results as JSON to this file (- for stdout)")
	fs.StringVar(&f.plotFile, "plot", "", "write a PNG plot of latency over time to this file")
	fs.Var(&f.maxErrors, "max-errors", "exit non-zero when more than this share of requests fail (a fraction or a percentage)")
	fs.Usage = flagenv.Usage(fs, "stratus loadtest --url URL [--users 32] [--duration 30s | --count N] [flags]",
		"Virtual users draw MNIST test digits against a running frontend, over HTTP\n"+
			"and/or WebSockets, as strokes and/or PNGs, each waiting for its answer before\n"+
			"drawing the next; then prints throughput (answers/s), p50/p90/p99/max latency,\n"+
			"errors by kind and the answers' accuracy against the MNIST labels. A live\n"+
			"progress line goes to stderr when it is a terminal.\n\n"+
			"Every virtual user comes from this one address, and the frontend limits each\n"+
			"client address (--rate-limit, 100 drawings/s, and --max-ws-per-client, 8\n"+
			"WebSockets, by default): start the frontend under test with both off, e.g.\n"+
			"`stratus up --rate-limit 0 --max-ws-per-client 0`.\n\n"+
			"Exits 1 when the error rate is over --max-errors.")
	return f
}

// parseLoadtestFlags parses and checks `loadtest`'s flags.
func parseLoadtestFlags(env *environment, args []string) (loadtestOptions, error) {
	f := addLoadtestFlags(env)
	fs := f.fs
	if err := flagenv.Parse(fs, args, env.getenv); err != nil {
		return loadtestOptions{}, usageErr(err)
	}
	if fs.NArg() > 0 {
		return loadtestOptions{}, fmt.Errorf("%w: unexpected arguments %q", errUsage, fs.Args())
	}
	onCommandLine := map[string]bool{}
	fs.Visit(func(fl *flag.Flag) { onCommandLine[fl.Name] = true })
	if f.count > 0 {
		if onCommandLine["duration"] && onCommandLine["count"] {
			return loadtestOptions{}, fmt.Errorf("%w: give --duration or --count, not both", errUsage)
		}
		f.duration = 0
	}
	tr, err := loadgen.ParseTransport(f.transport)
	if err != nil {
		return loadtestOptions{}, fmt.Errorf("%w: --transport: %v", errUsage, err)
	}
	in, err := loadgen.ParseInput(f.input)
	if err != nil {
		return loadtestOptions{}, fmt.Errorf("%w: --input: %v", errUsage, err)
	}
	if f.mode != "digit" && f.mode != "number" {
		return loadtestOptions{}, fmt.Errorf("%w: --mode %q: want digit or number", errUsage, f.mode)
	}
	if f.users < 1 || f.count < 0 || f.duration < 0 || f.inFlight < 1 || f.inFlight > loadgen.MaxInFlight {
		return loadtestOptions{}, fmt.Errorf("%w: --users ≥ 1, --count ≥ 0, --duration ≥ 0, --in-flight 1–%d", errUsage, loadgen.MaxInFlight)
	}
	return loadtestOptions{
		cfg: loadgen.Config{
			URL: f.url, Users: f.users, Duration: f.duration, Count: f.count, Warmup: f.warmup, Transport: tr,
			Think: f.think, InFlight: f.inFlight, Timeout: f.timeout,
		},
		digits: f.digits, input: in, mode: f.mode, out: f.out, plotFile: f.plotFile, maxErrors: f.maxErrors,
	}, nil
}

// reportLoadtest writes the report (as text, and as JSON and a plot where
// asked) and fails when nothing was measured or too many requests failed.
func reportLoadtest(env *environment, o loadtestOptions, rep *loadgen.Report) error {
	text := env.stdout
	if o.out == "-" {
		text = env.stderr
	}
	if err := rep.WriteText(text); err != nil {
		return fmt.Errorf("write the report: %w", err)
	}
	if o.out != "" {
		if err := writeJSONReport(o.out, env.stdout, rep); err != nil {
			return err
		}
	}
	if o.plotFile != "" {
		if err := writeFile(o.plotFile, rep.WritePlot); err != nil {
			return err
		}
	}
	if rep.ErrorsByKind["http 429"]+rep.ErrorsByKind["ws 429"] > 0 {
		fmt.Fprintln(env.stderr, "stratus loadtest: the frontend rate-limited this client (429): every virtual user comes from one address; start the frontend with --rate-limit 0 --max-ws-per-client 0")
	}
	switch {
	case rep.Requests == 0:
		fmt.Fprintln(env.stderr, "stratus loadtest: no request was measured")
		return errFailed
	case rep.ErrorRate > float64(o.maxErrors):
		fmt.Fprintf(env.stderr, "stratus loadtest: %.3f%% of requests failed, over --max-errors %s\n", 100*rep.ErrorRate, o.maxErrors.String())
		return errFailed
	}
	return nil
}

// checkReady fails unless the frontend's /readyz answers 200.
func checkReady(ctx context.Context, base string) error {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	u := strings.TrimSuffix(base, "/") + "/readyz"
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return fmt.Errorf("%w: --url %q: %v", errUsage, base, err)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("the frontend at %s does not answer: %w", base, err)
	}
	defer res.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(res.Body, 4<<10))
	if res.StatusCode != http.StatusOK {
		return fmt.Errorf("the frontend at %s is not ready (%s): %s", base, res.Status, strings.TrimSpace(string(body)))
	}
	return nil
}

// writeJSONReport writes rep as indented JSON to path, or to stdout for "-".
func writeJSONReport(path string, stdout io.Writer, rep *loadgen.Report) error {
	write := func(w io.Writer) error {
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		if err := enc.Encode(rep); err != nil {
			return fmt.Errorf("write the JSON report: %w", err)
		}
		return nil
	}
	if path == "-" {
		return write(stdout)
	}
	return writeFile(path, write)
}

// writeFile writes a file through write, reporting the first error.
func writeFile(path string, write func(io.Writer) error) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if err := write(f); err != nil {
		f.Close()
		return fmt.Errorf("%s: %w", path, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	return nil
}
