// Package runners is the one place that maps Stratus's --runner and
// --endpoint options onto Apache Beam. It starts a pipeline as a Job that
// can be watched (state, counters) and stopped cleanly, and imports only
// the runners it uses so that the binary stays lean:
//
//   - prism (the default): Beam's Go runner, in this process, or at
//     --endpoint;
//   - direct: Beam Go's old in-process runner (batch only, no job service);
//   - flink, spark, universal (also: portable): a Beam portable job server
//     at --endpoint (deploy/local/flink.sh and spark.sh start them);
//   - dataflow: Google Cloud Dataflow, only in a binary built with
//     `-tags dataflow` (the Dataflow runner pulls in the Google Cloud SDK,
//     so the default build leaves it out; see dataflow.go).
//
// Portable jobs are submitted here rather than by universal.Execute, so that
// a Job knows its id at once and runner-specific pipeline options (Flink's
// checkpointing interval and bundle bounds, Spark's bundle size, any other
// "beam:option:NAME:v1") reach the job server.
//
// Files: runners.go (names, Start), options.go (Options and each runner's
// options), portable.go (submitting to a job service, step by step),
// job.go (Job: state, wait, stop, metrics), direct.go, prism.go (the
// in-process prism and its token guard), dataflow.go (-tags dataflow).
package runners

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/apache/beam/sdks/v2/go/pkg/beam"

	// The worker side of every portable runner: a loopback or process
	// worker runs harness.Main through this hook.
	_ "github.com/apache/beam/sdks/v2/go/pkg/beam/core/runtime/harness/init"
)

// Runner names Start accepts.
const (
	Prism     = "prism"
	Direct    = "direct"
	Flink     = "flink"
	Spark     = "spark"
	Universal = "universal"
	Dataflow  = "dataflow"
)

// Names lists the runner names for help texts.
func Names() string { return "prism, direct, flink, spark, universal or dataflow" }

// submitMu serialises job submission: Beam keeps some submission state in
// process-wide flags and hooks.
var submitMu sync.Mutex

// Start submits p and returns once the runner has the job. The job runs
// until it finishes or Stop is called; with loopback workers (the default)
// the calling process must live as long as the job.
func Start(ctx context.Context, p *beam.Pipeline, opt Options) (*Job, error) {
	if !beam.Initialized() {
		beam.Init()
	}
	opt.Runner = strings.ToLower(opt.Runner)
	switch opt.Runner {
	case "":
		opt.Runner = Prism
	case "portable":
		opt.Runner = Universal
	}
	if opt.JobName == "" {
		opt.JobName = "stratus"
	}
	if opt.EnvironmentType == "" {
		opt.EnvironmentType = "loopback"
	}
	name := fmt.Sprintf("%s-%d", opt.JobName, time.Now().UnixNano())
	switch opt.Runner {
	case Prism:
		if opt.Endpoint == "" {
			srv, err := inProcessPrism(ctx)
			if err != nil {
				return nil, err
			}
			opt.Endpoint, opt.jobToken = srv.endpoint, srv.token
		}
		return startPortable(ctx, p, opt, name)
	case Flink, Spark, Universal:
		if opt.Endpoint == "" {
			return nil, fmt.Errorf("runners: --runner %s needs --endpoint host:port of its job server (deploy/local/%s.sh start prints one)", opt.Runner, opt.Runner)
		}
		return startPortable(ctx, p, opt, name)
	case Direct:
		return startDirect(ctx, p, name)
	case Dataflow:
		if startDataflow == nil {
			return nil, errors.New("runners: --runner dataflow: this binary was built without the Dataflow runner, which pulls in the Google Cloud SDK; build one with `go build -tags dataflow ./cmd/stratus`")
		}
		return startDataflow(ctx, p, opt, name)
	default:
		return nil, fmt.Errorf("runners: unknown runner %q (want %s)", opt.Runner, Names())
	}
}

// startDataflow is set by dataflow.go in binaries built with -tags dataflow.
var startDataflow func(ctx context.Context, p *beam.Pipeline, opt Options, name string) (*Job, error)
