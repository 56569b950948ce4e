//go:build integration

package main

import (
	"context"
	"encoding/json"
	"image/png"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestLoadtestIntegration: `stratus loadtest` against `stratus up` (rate
// limit off): users over HTTP and WebSockets drawing PNGs and strokes get
// their answers, no errors, the MNIST labels recognised; the JSON and the
// plot are written.
func TestLoadtestIntegration(t *testing.T) {
	up := startUp(t, t.TempDir(), "--rate-limit", "0")
	dir := t.TempDir()
	jsonPath, plotPath := filepath.Join(dir, "results.json"), filepath.Join(dir, "latency.png")
	stdout, stderr := &syncBuffer{}, &syncBuffer{}
	env := &environment{stdout: stdout, stderr: stderr, getenv: func(string) string { return "" },
		log: slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))}
	code := run(context.Background(), env, []string{"loadtest", "--url", up.url, "--users", "8", "--duration", "5s",
		"--warmup", "1s", "--transport", "mixed", "--input", "mixed", "--digits", "400", "--max-errors", "0",
		"--out", jsonPath, "--plot", plotPath})
	t.Logf("stratus loadtest:\n%s", stdout.String())
	if code != 0 {
		t.Fatalf("stratus loadtest exited %d:\n%s", code, stderr.String())
	}
	if !strings.Contains(stdout.String(), "answers/s") {
		t.Errorf("no summary on stdout")
	}

	b, err := os.ReadFile(jsonPath)
	if err != nil {
		t.Fatal(err)
	}
	var rep struct {
		Requests     int                       `json:"requests"`
		Answers      int                       `json:"answers"`
		Errors       int                       `json:"errors"`
		ErrorsByKind map[string]int            `json:"errors_by_kind"`
		Accuracy     float64                   `json:"accuracy"`
		Throughput   float64                   `json:"throughput_per_s"`
		ByTransport  map[string]map[string]any `json:"by_transport"`
		ByInput      map[string]map[string]any `json:"by_input"`
		Latency      struct {
			P50 float64 `json:"p50_ms"`
			P99 float64 `json:"p99_ms"`
		} `json:"latency"`
		PerSecond []json.RawMessage `json:"per_second"`
	}
	if err := json.Unmarshal(b, &rep); err != nil {
		t.Fatalf("results.json: %v\n%s", err, b)
	}
	if rep.Answers < 40 || rep.Errors != 0 || rep.Requests != rep.Answers {
		t.Errorf("%d requests, %d answers, %d errors %v", rep.Requests, rep.Answers, rep.Errors, rep.ErrorsByKind)
	}
	if rep.Accuracy < 0.97 {
		t.Errorf("accuracy %.4f, want ≥ 0.97", rep.Accuracy)
	}
	if len(rep.ByTransport) != 2 || len(rep.ByInput) != 2 {
		t.Errorf("by transport %v, by input %v: want http and ws, png and strokes", rep.ByTransport, rep.ByInput)
	}
	if rep.Throughput <= 0 || rep.Latency.P50 <= 0 || rep.Latency.P99 < rep.Latency.P50 || len(rep.PerSecond) < 5 {
		t.Errorf("throughput %.1f/s, latency %+v, %d seconds", rep.Throughput, rep.Latency, len(rep.PerSecond))
	}

	f, err := os.Open(plotPath)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	img, err := png.Decode(f)
	if err != nil {
		t.Fatalf("latency.png: %v", err)
	}
	if b := img.Bounds(); b.Dx() < 800 || b.Dy() < 400 {
		t.Errorf("latency.png is %v", b.Size())
	}
}
