package runners

import (
	"context"
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
	for _, opt := range []Options{{Runner: "mapreduce"}, {Runner: "flink"}} {
		if _, err := Start(context.Background(), p, opt); err == nil {
			t.Errorf("%+v: want an error", opt)
		}
	}
}
