package runners

import (
	"context"
	"fmt"

	"github.com/apache/beam/sdks/v2/go/pkg/beam"
	jobpb "github.com/apache/beam/sdks/v2/go/pkg/beam/model/jobmanagement_v1"
	//lint:ignore SA1019 --runner direct is offered on purpose (batch pipelines, in process), prism being the default
	"github.com/apache/beam/sdks/v2/go/pkg/beam/runners/direct"
)

// startDirect runs p on the direct runner in this process.
func startDirect(ctx context.Context, p *beam.Pipeline, name string) (*Job, error) {
	jctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	j := &Job{ID: "direct-" + name, Runner: Direct, cancel: cancel, done: make(chan struct{}), state: jobpb.JobState_RUNNING}
	go func() {
		defer close(j.done)
		res, err := direct.Execute(jctx, p)
		j.mu.Lock()
		defer j.mu.Unlock()
		j.result = res
		switch {
		case err != nil && jctx.Err() != nil:
			j.state = jobpb.JobState_CANCELLED
		case err != nil:
			j.state = jobpb.JobState_FAILED
			j.err = fmt.Errorf("runners: direct job: %w", err)
		default:
			j.state = jobpb.JobState_DONE
		}
	}()
	return j, nil
}
