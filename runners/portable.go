package runners

import (
	"context"
	"fmt"
	"os"
	"runtime"
	"sort"
	"strings"
	"time"

	"github.com/apache/beam/sdks/v2/go/container/tools"
	"github.com/apache/beam/sdks/v2/go/pkg/beam"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/core/graph"
	beamruntime "github.com/apache/beam/sdks/v2/go/pkg/beam/core/runtime"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/core/runtime/graphx"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/core/runtime/xlangx"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/core/util/hooks"
	jobpb "github.com/apache/beam/sdks/v2/go/pkg/beam/model/jobmanagement_v1"
	pipepb "github.com/apache/beam/sdks/v2/go/pkg/beam/model/pipeline_v1"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/runners/universal/extworker"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/runners/universal/runnerlib"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/protobuf/types/known/structpb"
)

// environmentURN maps Options.EnvironmentType to Beam's environment URN.
func environmentURN(envType string) (string, error) {
	switch strings.ToLower(envType) {
	case "loopback", "external":
		return graphx.URNEnvExternal, nil
	case "process":
		return graphx.URNEnvProcess, nil
	case "docker":
		return graphx.URNEnvDocker, nil
	}
	return "", fmt.Errorf("runners: environment type %q (want loopback, external, process or docker)", envType)
}

// startPortable submits p to the job service at opt.Endpoint: translate,
// prepare (with the runner's options), stage the worker binary, run. Each
// step is a function below; startPortable owns what must be undone when
// one fails (the job's context, the worker, the connection).
func startPortable(ctx context.Context, p *beam.Pipeline, opt Options, name string) (*Job, error) {
	urn, err := environmentURN(opt.EnvironmentType)
	if err != nil {
		return nil, err
	}
	edges, _, err := p.Build()
	if err != nil {
		return nil, fmt.Errorf("runners: build pipeline: %w", err)
	}
	// The job's own context: Stop cancels the job through the job service;
	// this ends what is left (the loopback worker server) afterwards.
	jctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	j := &Job{Runner: opt.Runner, cancel: cancel, done: make(chan struct{})}
	w, err := startWorker(jctx, opt, urn)
	if err != nil {
		cancel()
		return nil, err
	}
	if err := j.submit(ctx, jctx, opt, name, edges, w); err != nil {
		w.cleanup()
		cancel()
		if j.conn != nil {
			j.conn.Close()
		}
		return nil, err
	}
	go j.watch(jctx, w)
	return j, nil
}

// portableWorker is the SDK worker side of a portable job: the
// environment the job server starts workers in, and the binary staged as
// the job's worker artifact.
type portableWorker struct {
	urn       string
	envConfig func(context.Context) string
	loopback  *extworker.Loopback // loopback workers: their server in this process
	binary    string              // the staged worker artifact
	temporary bool                // binary is a placeholder file of ours, removed by cleanup
}

// startWorker sets up the workers of environment urn: for loopback (an
// external environment without a worker pool) a worker server in this
// process; for the others the binary they run.
func startWorker(jctx context.Context, opt Options, urn string) (*portableWorker, error) {
	w := &portableWorker{urn: urn, envConfig: func(context.Context) string { return opt.EnvironmentConfig }}
	pool := urn == graphx.URNEnvExternal && strings.EqualFold(opt.EnvironmentType, "external") && opt.EnvironmentConfig != ""
	if urn == graphx.URNEnvExternal && !pool {
		loopback, err := extworker.StartLoopback(jctx, 0)
		if err != nil {
			return nil, fmt.Errorf("runners: start the loopback worker server: %w", err)
		}
		w.loopback, w.envConfig = loopback, loopback.EnvironmentConfig
		// The job server wants an artifact; loopback workers never read it.
		f, err := os.CreateTemp("", "stratus-loopback-worker-*")
		if err != nil {
			loopback.Stop(jctx)
			return nil, fmt.Errorf("runners: %w", err)
		}
		f.Close()
		w.binary, w.temporary = f.Name(), true
		return w, nil
	}
	if w.binary = opt.WorkerBinary; w.binary != "" {
		return w, nil
	}
	// process, docker, or an external worker pool (EnvironmentConfig =
	// its host:port, e.g. apache/beam_go_sdk --worker_pool beside each
	// Flink task manager): they run this binary, staged as the job's
	// worker artifact.
	if runtime.GOOS != "linux" || runtime.GOARCH != "amd64" {
		return nil, fmt.Errorf("runners: environment %s needs a linux/amd64 worker binary: set the worker binary option", opt.EnvironmentType)
	}
	var err error
	if w.binary, err = os.Executable(); err != nil {
		return nil, fmt.Errorf("runners: find this executable for the workers: %w", err)
	}
	return w, nil
}

// cleanup stops the loopback worker server and removes the placeholder
// artifact.
func (w *portableWorker) cleanup() {
	if w.loopback != nil {
		w.loopback.Stop(context.Background())
	}
	if w.temporary {
		os.Remove(w.binary)
	}
}

// translate turns the pipeline's edges into the portable pipeline proto
// whose environment runs w.
func translate(jctx context.Context, edges []*graph.MultiEdge, w *portableWorker) (*pipepb.Pipeline, error) {
	xlangx.ResolveArtifacts(jctx, edges, nil)
	env, err := graphx.CreateEnvironment(jctx, w.urn, w.envConfig)
	if err != nil {
		return nil, fmt.Errorf("runners: worker environment: %w", err)
	}
	pipe, err := graphx.Marshal(edges, &graphx.Options{Environment: env})
	if err != nil {
		return nil, fmt.Errorf("runners: translate pipeline: %w", err)
	}
	if err := runnerlib.UpdateGoEnvironmentWorker(w.binary, pipe); err != nil {
		return nil, fmt.Errorf("runners: worker binary: %w", err)
	}
	return pipe, nil
}

// submit translates the pipeline, connects j to the job service at
// opt.Endpoint, and prepares, stages and runs the job there; j then has
// its id. On an error the caller undoes what was done.
func (j *Job) submit(ctx, jctx context.Context, opt Options, name string, edges []*graph.MultiEdge, w *portableWorker) error {
	pipe, err := translate(jctx, edges, w)
	if err != nil {
		return err
	}
	j.pipeline = pipe

	dialOpts := []grpc.DialOption{grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithDefaultCallOptions(grpc.MaxCallRecvMsgSize(64<<20), grpc.MaxCallSendMsgSize(64<<20))}
	if opt.jobToken != "" {
		dialOpts = append(dialOpts, withJobToken(opt.jobToken)...)
	}
	conn, err := grpc.NewClient(opt.Endpoint, dialOpts...)
	if err != nil {
		return fmt.Errorf("runners: job server %s: %w", opt.Endpoint, err)
	}
	j.conn, j.client = conn, jobpb.NewJobServiceClient(conn)

	submitMu.Lock()
	options, err := jobOptions(&opt, name)
	submitMu.Unlock()
	if err != nil {
		return err
	}
	pctx, pcancel := context.WithTimeout(ctx, 2*time.Minute)
	defer pcancel()
	prep, err := j.client.Prepare(pctx, &jobpb.PrepareJobRequest{Pipeline: pipe, PipelineOptions: options, JobName: name})
	if err != nil {
		return fmt.Errorf("runners: job server %s (%s): prepare job: %w", opt.Endpoint, opt.Runner, err)
	}
	token, err := runnerlib.Stage(pctx, prep.GetPreparationId(), prep.GetArtifactStagingEndpoint().GetUrl(), w.binary, prep.GetStagingSessionToken())
	if err != nil {
		return fmt.Errorf("runners: stage the worker: %w", err)
	}
	run, err := j.client.Run(pctx, &jobpb.RunJobRequest{PreparationId: prep.GetPreparationId(), RetrievalToken: token})
	if err != nil {
		return fmt.Errorf("runners: run job: %w", err)
	}
	j.ID = run.GetJobId()
	return nil
}

// watch waits for the submitted job to end, records its final state and
// error, stops w and closes Done.
func (j *Job) watch(jctx context.Context, w *portableWorker) {
	defer close(j.done)
	defer w.cleanup()
	err := runnerlib.WaitForCompletion(jctx, j.client, j.ID)
	st, serr := j.State(context.Background())
	j.mu.Lock()
	defer j.mu.Unlock()
	j.state = st
	if err == nil && serr == nil && st != jobpb.JobState_DONE && st != jobpb.JobState_CANCELLED {
		err = fmt.Errorf("job ended in state %v", st)
	}
	if err != nil {
		j.err = fmt.Errorf("runners: job %s on %s: %w", j.ID, j.Runner, err)
	}
}

// jobOptions builds the PipelineOptions of a job: what Beam Go's own
// submission sends (its flags and hooks, app name, experiments,
// parallelism) plus the runner's options.
func jobOptions(opt *Options, name string) (*structpb.Struct, error) {
	hooks.SerializeHooksToOptions()
	beam.PipelineOptions.LoadOptionsFromFlags(nil)
	raw := beamruntime.RawOptionsWrapper{
		Options:     beam.PipelineOptions.Export(),
		AppName:     name,
		Experiments: []string{"beam_fn_api"},
		Parallelism: -1,
	}
	if opt.Parallelism > 0 {
		raw.Parallelism = opt.Parallelism
	}
	s, err := tools.OptionsToProto(raw)
	if err != nil {
		return nil, fmt.Errorf("runners: pipeline options: %w", err)
	}
	extra := opt.pipelineOptions()
	keys := make([]string, 0, len(extra))
	for k := range extra {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		v, err := structpb.NewValue(normalizeOption(extra[k]))
		if err != nil {
			return nil, fmt.Errorf("runners: pipeline option %s: %w", k, err)
		}
		s.Fields["beam:option:"+k+":v1"] = v
	}
	return s, nil
}

func normalizeOption(v any) any {
	switch x := v.(type) {
	case time.Duration:
		return x.Milliseconds()
	case int:
		return int64(x)
	case int32:
		return int64(x)
	}
	return v
}
