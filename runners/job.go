package runners

import (
	"context"
	"fmt"
	"sync"

	"github.com/apache/beam/sdks/v2/go/pkg/beam"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/core/metrics"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/core/runtime/metricsx"
	jobpb "github.com/apache/beam/sdks/v2/go/pkg/beam/model/jobmanagement_v1"
	pipepb "github.com/apache/beam/sdks/v2/go/pkg/beam/model/pipeline_v1"
	"google.golang.org/grpc"
)

// Job is a pipeline started by Start.
type Job struct {
	// ID is the job's id at its job service ("direct-…" for direct).
	ID     string
	Runner string

	client   jobpb.JobServiceClient
	conn     *grpc.ClientConn
	pipeline *pipepb.Pipeline // for reading metrics
	cancel   context.CancelFunc
	done     chan struct{}
	err      error
	// result is the direct runner's result (it has no job service).
	result beam.PipelineResult
	state  jobpb.JobState_Enum
	mu     sync.Mutex
}

// State returns the job's state as its runner reports it.
func (j *Job) State(ctx context.Context) (jobpb.JobState_Enum, error) {
	if j.client == nil {
		j.mu.Lock()
		defer j.mu.Unlock()
		return j.state, nil
	}
	resp, err := j.client.GetState(ctx, &jobpb.GetJobStateRequest{JobId: j.ID})
	if err != nil {
		return jobpb.JobState_UNSPECIFIED, err
	}
	return resp.GetState(), nil
}

// Done is closed when the job has ended.
func (j *Job) Done() <-chan struct{} { return j.done }

// Wait blocks until the job ends and returns its error (nil when it is
// DONE or was cancelled by Stop).
func (j *Job) Wait(ctx context.Context) error {
	select {
	case <-j.done:
		j.mu.Lock()
		defer j.mu.Unlock()
		return j.err
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Close releases the connection to the job service (not the job).
func (j *Job) Close() error {
	if j.conn == nil {
		return nil
	}
	return j.conn.Close()
}

// Stop cancels the job and waits for it to end: through the job service
// for portable runners, by cancelling its context for direct.
func (j *Job) Stop(ctx context.Context) error {
	select {
	case <-j.done:
		return nil
	default:
	}
	if j.client == nil {
		j.cancel()
	} else if _, err := j.client.Cancel(ctx, &jobpb.CancelJobRequest{JobId: j.ID}); err != nil {
		return fmt.Errorf("runners: cancel job %s: %w", j.ID, err)
	}
	select {
	case <-j.done:
		j.cancel()
		return nil
	case <-ctx.Done():
		return fmt.Errorf("runners: job %s did not stop: %w", j.ID, ctx.Err())
	}
}

// Counter returns the sum over all steps of the user counter
// namespace/name as the runner reports it now (attempted values: a running
// job's progress; a finished job's totals). Runners that report no metrics
// for a running job answer 0.
func (j *Job) Counter(ctx context.Context, namespace, name string) (int64, error) {
	res, err := j.Metrics(ctx)
	if err != nil {
		return 0, err
	}
	var n int64
	for _, c := range res.AllMetrics().Counters() {
		if c.Key.Namespace == namespace && c.Key.Name == name {
			n += max(c.Attempted, c.Committed)
		}
	}
	return n, nil
}

// Metrics returns the job's user metrics (counters, distributions, gauges)
// as the runner reports them now; empty before the runner has any.
func (j *Job) Metrics(ctx context.Context) (metrics.Results, error) {
	if j.client == nil {
		j.mu.Lock()
		r := j.result
		j.mu.Unlock()
		if r == nil {
			return metrics.Results{}, nil
		}
		return r.Metrics(), nil
	}
	resp, err := j.client.GetJobMetrics(ctx, &jobpb.GetJobMetricsRequest{JobId: j.ID})
	if err != nil {
		return metrics.Results{}, fmt.Errorf("runners: metrics of job %s: %w", j.ID, err)
	}
	m := resp.GetMetrics()
	if m == nil {
		return metrics.Results{}, nil
	}
	r := metricsx.FromMonitoringInfos(j.pipeline, m.GetAttempted(), m.GetCommitted())
	if r == nil {
		return metrics.Results{}, nil
	}
	return *r, nil
}
