package beamprom

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/apache/beam/sdks/v2/go/pkg/beam/core/metrics"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

type fakeSource struct {
	res metrics.Results
	err error
}

func (f fakeSource) Metrics(context.Context) (metrics.Results, error) { return f.res, f.err }

func TestCollect(t *testing.T) {
	step := func(s, ns, n string) metrics.StepKey { return metrics.StepKey{Step: s, Namespace: ns, Name: n} }
	now := time.Now()
	res := metrics.NewResults(
		[]metrics.CounterResult{
			{Attempted: 5, Key: step("a", "stratus.stream", "events_in")},
			{Attempted: 7, Committed: 2, Key: step("b", "stratus.stream", "events_in")},
			{Attempted: 1, Key: step("a", "stratus.stream", "dead_letters")},
		},
		[]metrics.DistributionResult{
			{Attempted: metrics.DistributionValue{Count: 2, Sum: 10, Min: 3, Max: 7}, Key: step("a", "stratus.inference", "inference_batch_size")},
			{Attempted: metrics.DistributionValue{Count: 1, Sum: 1, Min: 1, Max: 1}, Key: step("b", "stratus.inference", "inference_batch_size")},
		},
		[]metrics.GaugeResult{
			{Attempted: metrics.GaugeValue{Value: 40, Timestamp: now}, Key: step("a", "stratus.inference", "load_model_latency_milli_secs")},
			{Attempted: metrics.GaugeValue{Value: 90, Timestamp: now.Add(time.Second)}, Key: step("b", "stratus.inference", "load_model_latency_milli_secs")},
		}, nil, nil)
	reg := prometheus.NewRegistry()
	reg.MustRegister(New(fakeSource{res: *res}, nil))
	want := `
# HELP stratus_pipeline_counter_total A Beam counter of the pipeline, summed over steps.
# TYPE stratus_pipeline_counter_total counter
stratus_pipeline_counter_total{name="dead_letters",namespace="stratus.stream"} 1
stratus_pipeline_counter_total{name="events_in",namespace="stratus.stream"} 12
# HELP stratus_pipeline_distribution_count Values recorded in a Beam distribution, summed over steps.
# TYPE stratus_pipeline_distribution_count counter
stratus_pipeline_distribution_count{name="inference_batch_size",namespace="stratus.inference"} 3
# HELP stratus_pipeline_distribution_max Largest value of a Beam distribution.
# TYPE stratus_pipeline_distribution_max gauge
stratus_pipeline_distribution_max{name="inference_batch_size",namespace="stratus.inference"} 7
# HELP stratus_pipeline_distribution_min Smallest value of a Beam distribution.
# TYPE stratus_pipeline_distribution_min gauge
stratus_pipeline_distribution_min{name="inference_batch_size",namespace="stratus.inference"} 1
# HELP stratus_pipeline_distribution_sum Sum of the values of a Beam distribution, summed over steps.
# TYPE stratus_pipeline_distribution_sum counter
stratus_pipeline_distribution_sum{name="inference_batch_size",namespace="stratus.inference"} 11
# HELP stratus_pipeline_gauge A Beam gauge of the pipeline (the latest value of any step).
# TYPE stratus_pipeline_gauge gauge
stratus_pipeline_gauge{name="load_model_latency_milli_secs",namespace="stratus.inference"} 90
# HELP stratus_pipeline_metrics_up 1 when the runner answered the last metrics query.
# TYPE stratus_pipeline_metrics_up gauge
stratus_pipeline_metrics_up 1
`
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want)); err != nil {
		t.Fatal(err)
	}

	down := prometheus.NewRegistry()
	down.MustRegister(New(fakeSource{err: errors.New("no job service")}, nil))
	if err := testutil.GatherAndCompare(down, strings.NewReader(`
# HELP stratus_pipeline_metrics_up 1 when the runner answered the last metrics query.
# TYPE stratus_pipeline_metrics_up gauge
stratus_pipeline_metrics_up 0
`)); err != nil {
		t.Fatal(err)
	}
}
