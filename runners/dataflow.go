//go:build dataflow

package runners

import (
	"context"
	"flag"
	"fmt"

	"github.com/apache/beam/sdks/v2/go/pkg/beam"
	jobpb "github.com/apache/beam/sdks/v2/go/pkg/beam/model/jobmanagement_v1"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/options/gcpopts"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/options/jobopts"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/runners/dataflow"
)

// This file is built only with -tags dataflow: the Dataflow runner imports
// the Google Cloud SDK (Dataflow, Storage, IAM clients), which the default
// binary leaves out. Its other settings are the Dataflow runner's own Go
// flags (--worker_machine_type, --num_workers, …), set with flag.Set before
// Start.
func init() {
	startDataflow = func(ctx context.Context, p *beam.Pipeline, opt Options, name string) (*Job, error) {
		d := opt.Dataflow
		if d.Project == "" || d.Region == "" || d.StagingLocation == "" {
			return nil, fmt.Errorf("runners: --runner dataflow needs a project, a region and a gs:// staging location")
		}
		submitMu.Lock()
		*gcpopts.Project, *gcpopts.Region = d.Project, d.Region
		*jobopts.JobName = name
		for k, v := range map[string]string{"staging_location": d.StagingLocation, "temp_location": d.TempLocation} {
			if v != "" {
				if err := flag.Set(k, v); err != nil {
					submitMu.Unlock()
					return nil, fmt.Errorf("runners: dataflow option %s: %w", k, err)
				}
			}
		}
		*jobopts.Async = true
		res, err := dataflow.Execute(ctx, p)
		submitMu.Unlock()
		if err != nil {
			return nil, fmt.Errorf("runners: submit to Dataflow: %w", err)
		}
		// Dataflow runs the job on Google's side: this Job only names it and
		// is done once submitted. Watch and cancel the job with
		// `gcloud dataflow jobs describe|cancel ID`.
		j := &Job{ID: res.JobID(), Runner: Dataflow, cancel: func() {}, done: make(chan struct{}), state: jobpb.JobState_RUNNING}
		close(j.done)
		return j, nil
	}
}
