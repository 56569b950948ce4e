package runners

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/apache/beam/sdks/v2/go/pkg/beam"
	jobpb "github.com/apache/beam/sdks/v2/go/pkg/beam/model/jobmanagement_v1"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/register"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/transforms/periodic"
)

func double(x int) int { return 2 * x }

func ticks(_ []byte) int { return 1 }

func init() {
	register.Function1x1(double)
	register.Function1x1(ticks)
}

func TestBatchJobEnds(t *testing.T) {
	p, s := beam.NewPipelineWithRoot()
	beam.ParDo(s, double, beam.Create(s, 1, 2, 3))
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	j, err := Start(ctx, p, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer j.Close()
	if err := j.Wait(ctx); err != nil {
		t.Fatalf("batch job: %v", err)
	}
	if st, err := j.State(ctx); err != nil || st != jobpb.JobState_DONE {
		t.Fatalf("state %v (%v), want DONE", st, err)
	}
}

func TestStreamingJobStops(t *testing.T) {
	p, s := beam.NewPipelineWithRoot()
	imp := periodic.Impulse(s, time.Now(), time.Now().Add(time.Hour), 100*time.Millisecond, false)
	beam.ParDo(s, ticks, imp)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	j, err := Start(ctx, p, Options{JobName: "ticker"})
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(500 * time.Millisecond)
	select {
	case <-j.Done():
		t.Fatalf("unbounded job ended by itself: %v", j.Wait(ctx))
	default:
	}
	if err := j.Stop(ctx); err != nil {
		t.Fatal(err)
	}
	defer j.Close()
	if st, err := j.State(ctx); err != nil || st != jobpb.JobState_CANCELLED {
		t.Fatalf("state after Stop: %v (%v), want CANCELLED", st, err)
	}
}

func TestUnknownRunner(t *testing.T) {
	p, _ := beam.NewPipelineWithRoot()
	for _, opt := range []Options{{Runner: "mapreduce"}, {Runner: "flink"}, {Runner: "spark"}} {
		if _, err := Start(context.Background(), p, opt); err == nil {
			t.Errorf("%+v: want an error", opt)
		}
	}
}

func TestDirectBatchJob(t *testing.T) {
	p, s := beam.NewPipelineWithRoot()
	out := beam.ParDo(s, double, beam.Create(s, 1, 2, 3))
	beam.ParDo0(s, countDoubles, out)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	j, err := Start(ctx, p, Options{Runner: "direct"})
	if err != nil {
		t.Fatal(err)
	}
	defer j.Close()
	if err := j.Wait(ctx); err != nil {
		t.Fatal(err)
	}
	if st, _ := j.State(ctx); st != jobpb.JobState_DONE {
		t.Fatalf("state %v, want DONE", st)
	}
	if n, err := j.Counter(ctx, "runners_test", "doubles"); err != nil || n != 3 {
		t.Fatalf("counter = %d, %v; want 3", n, err)
	}
}

func TestPrismCounter(t *testing.T) {
	p, s := beam.NewPipelineWithRoot()
	beam.ParDo0(s, countDoubles, beam.ParDo(s, double, beam.Create(s, 1, 2, 3, 4)))
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	j, err := Start(ctx, p, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer j.Close()
	if j.ID == "" {
		t.Fatal("no job id")
	}
	if err := j.Wait(ctx); err != nil {
		t.Fatal(err)
	}
	if n, err := j.Counter(ctx, "runners_test", "doubles"); err != nil || n != 4 {
		t.Fatalf("counter = %d, %v; want 4", n, err)
	}
}

var doubles = beam.NewCounter("runners_test", "doubles")

func countDoubles(ctx context.Context, _ int) { doubles.Inc(ctx, 1) }

func init() { register.Function2x0(countDoubles) }

func TestDataflowNeedsItsBuildTag(t *testing.T) {
	p, _ := beam.NewPipelineWithRoot()
	_, err := Start(context.Background(), p, Options{Runner: "dataflow"})
	if err == nil || !strings.Contains(err.Error(), "-tags dataflow") {
		t.Fatalf("dataflow without its build tag: %v", err)
	}
}

func TestJobOptions(t *testing.T) {
	opt := Options{Runner: Flink, Parallelism: 2, Flink: FlinkOptions{
		Streaming: true, CheckpointingInterval: 5 * time.Second, MaxBundleSize: 100, MaxBundleTime: 20 * time.Millisecond,
	}, PipelineOptions: map[string]any{"shutdown_sources_after_idle_ms": 1000, "max_bundle_size": 50}}
	s, err := jobOptions(&opt, "job")
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]any{
		"beam:option:streaming:v1": true, "beam:option:checkpointing_interval:v1": 5000.0,
		"beam:option:max_bundle_size:v1": 50.0, "beam:option:max_bundle_time_mills:v1": 20.0,
		"beam:option:shutdown_sources_after_idle_ms:v1": 1000.0, "beam:option:parallelism:v1": 2.0,
		"beam:option:app_name:v1": "job",
	}
	got := s.AsMap()
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s = %v, want %v", k, got[k], v)
		}
	}
	opt = Options{Runner: Spark, Spark: SparkOptions{BundleSize: 1 << 20}}
	s, _ = jobOptions(&opt, "job")
	if got := s.AsMap(); got["beam:option:bundle_size:v1"] != float64(1<<20) || got["beam:option:parallelism:v1"] != -1.0 || got["beam:option:streaming:v1"] != nil {
		t.Errorf("spark options: %v", got)
	}
}
