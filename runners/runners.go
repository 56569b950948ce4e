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
package runners

import (
	"context"
	"errors"
	"fmt"
	"os"
	"runtime"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/apache/beam/sdks/v2/go/container/tools"
	"github.com/apache/beam/sdks/v2/go/pkg/beam"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/core/metrics"
	beamruntime "github.com/apache/beam/sdks/v2/go/pkg/beam/core/runtime"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/core/runtime/graphx"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/core/runtime/metricsx"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/core/runtime/xlangx"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/core/util/hooks"
	jobpb "github.com/apache/beam/sdks/v2/go/pkg/beam/model/jobmanagement_v1"
	pipepb "github.com/apache/beam/sdks/v2/go/pkg/beam/model/pipeline_v1"
	//lint:ignore SA1019 --runner direct is offered on purpose (batch pipelines, in process), prism being the default
	"github.com/apache/beam/sdks/v2/go/pkg/beam/runners/direct"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/runners/universal/extworker"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/runners/universal/runnerlib"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/protobuf/types/known/structpb"

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

// Options choose where a pipeline runs.
type Options struct {
	// Runner is one of Names() (default prism). "portable" is an alias of
	// universal.
	Runner string
	// Endpoint is the job server (host:port); for prism, empty starts one in
	// this process. Ignored by direct and dataflow.
	Endpoint string
	// JobName names the job (default "stratus"); a unique suffix is added.
	JobName string
	// EnvironmentType is the SDK worker environment of portable runners:
	// "loopback" (default: workers run inside this process, which must then
	// live as long as the job and share a host with the job server's
	// workers), "process" (EnvironmentConfig is the JSON ProcessPayload,
	// e.g. {"command":"/opt/stratus/bin/stratus"}), "docker"
	// (EnvironmentConfig is the image) or "external" (EnvironmentConfig is
	// the host:port of a Beam worker pool, such as apache/beam_go_sdk
	// --worker_pool beside each Flink task manager; "external" without a
	// config is loopback).
	EnvironmentType string
	// EnvironmentConfig configures the environment (see EnvironmentType).
	EnvironmentConfig string
	// WorkerBinary is the Go worker binary staged for process and docker
	// environments (default: this executable on linux/amd64).
	WorkerBinary string
	// Parallelism is the job's default parallelism on Flink and other
	// runners that read it (0: the runner's default).
	Parallelism int
	// Flink options, for --runner flink.
	Flink FlinkOptions
	// Spark options, for --runner spark.
	Spark SparkOptions
	// Dataflow options, for --runner dataflow.
	Dataflow DataflowOptions
	// PipelineOptions are more options for the job server, by their
	// snake_case names (sent as "beam:option:NAME:v1"); they override the
	// typed ones. Values: string, bool, integer or float types.
	PipelineOptions map[string]any

	// jobToken is sent with every job-service call to the in-process
	// prism, which refuses calls without it (see prism.go).
	jobToken string
}

// FlinkOptions are pipeline options of Beam's Flink runner.
type FlinkOptions struct {
	// Streaming forces streaming mode; without it Flink picks streaming
	// when the pipeline has an unbounded PCollection (a Kafka read).
	Streaming bool
	// CheckpointingInterval turns Flink checkpoints on (0: off).
	CheckpointingInterval time.Duration
	// MaxBundleSize and MaxBundleTime bound a bundle (Flink's defaults:
	// 1,000 elements, 1 s in streaming mode). Output that an SDK worker
	// emits at the end of a bundle (couchio.Write's ids) waits that long.
	MaxBundleSize int
	MaxBundleTime time.Duration
	// ObjectReuse lets Flink pass elements between operators without
	// copies.
	ObjectReuse bool
}

// SparkOptions are pipeline options of Beam's Spark runner.
type SparkOptions struct {
	// BundleSize is the size (bytes) Spark splits bounded sources into
	// (0: the runner's default).
	BundleSize int64
	// StorageLevel of cached RDDs (default MEMORY_ONLY).
	StorageLevel string
}

// DataflowOptions are the Dataflow runner's main settings; others are its
// own Go flags, in a binary built with -tags dataflow.
type DataflowOptions struct {
	Project, Region, TempLocation, StagingLocation string
}

// pipelineOptions returns the runner-specific "beam:option" values of opt.
func (opt *Options) pipelineOptions() map[string]any {
	m := map[string]any{}
	if opt.Runner == Flink {
		f := opt.Flink
		if f.Streaming {
			m["streaming"] = true
		}
		if f.CheckpointingInterval > 0 {
			m["checkpointing_interval"] = f.CheckpointingInterval.Milliseconds()
		}
		if f.MaxBundleSize > 0 {
			m["max_bundle_size"] = int64(f.MaxBundleSize)
		}
		if f.MaxBundleTime > 0 {
			m["max_bundle_time_mills"] = f.MaxBundleTime.Milliseconds() // sic: Beam's name
		}
		if f.ObjectReuse {
			m["object_reuse"] = true
		}
	}
	if opt.Runner == Spark {
		if opt.Spark.BundleSize > 0 {
			m["bundle_size"] = opt.Spark.BundleSize
		}
		if opt.Spark.StorageLevel != "" {
			m["storage_level"] = opt.Spark.StorageLevel
		}
	}
	for k, v := range opt.PipelineOptions {
		m[k] = v
	}
	return m
}

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

// submitMu serialises job submission: Beam keeps some submission state in
// process-wide flags and hooks.
var submitMu sync.Mutex

// prismServers keeps one in-process prism job server per process.
var prismServers sync.Map // "" → prismServer

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
// prepare (with the runner's options), stage the worker binary, run.
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
	fail := func(err error) (*Job, error) {
		cancel()
		if j.conn != nil {
			j.conn.Close()
		}
		return nil, err
	}

	envConfig := func(context.Context) string { return opt.EnvironmentConfig }
	var loopback *extworker.Loopback
	var worker string
	removeWorker := false
	pool := urn == graphx.URNEnvExternal && strings.EqualFold(opt.EnvironmentType, "external") && opt.EnvironmentConfig != ""
	if urn == graphx.URNEnvExternal && !pool {
		if loopback, err = extworker.StartLoopback(jctx, 0); err != nil {
			return fail(fmt.Errorf("runners: start the loopback worker server: %w", err))
		}
		envConfig = loopback.EnvironmentConfig
		// The job server wants an artifact; loopback workers never read it.
		f, err := os.CreateTemp("", "stratus-loopback-worker-*")
		if err != nil {
			loopback.Stop(jctx)
			return fail(fmt.Errorf("runners: %w", err))
		}
		f.Close()
		worker, removeWorker = f.Name(), true
	} else if worker = opt.WorkerBinary; worker == "" {
		// process, docker, or an external worker pool (EnvironmentConfig =
		// its host:port, e.g. apache/beam_go_sdk --worker_pool beside each
		// Flink task manager): they run this binary, staged as the job's
		// worker artifact.
		if runtime.GOOS != "linux" || runtime.GOARCH != "amd64" {
			return fail(fmt.Errorf("runners: environment %s needs a linux/amd64 worker binary: set the worker binary option", opt.EnvironmentType))
		}
		if worker, err = os.Executable(); err != nil {
			return fail(fmt.Errorf("runners: find this executable for the workers: %w", err))
		}
	}
	cleanup := func() {
		if loopback != nil {
			loopback.Stop(context.Background())
		}
		if removeWorker {
			os.Remove(worker)
		}
	}

	xlangx.ResolveArtifacts(jctx, edges, nil)
	env, err := graphx.CreateEnvironment(jctx, urn, envConfig)
	if err != nil {
		cleanup()
		return fail(fmt.Errorf("runners: worker environment: %w", err))
	}
	pipe, err := graphx.Marshal(edges, &graphx.Options{Environment: env})
	if err != nil {
		cleanup()
		return fail(fmt.Errorf("runners: translate pipeline: %w", err))
	}
	if err := runnerlib.UpdateGoEnvironmentWorker(worker, pipe); err != nil {
		cleanup()
		return fail(fmt.Errorf("runners: worker binary: %w", err))
	}
	j.pipeline = pipe

	dialOpts := []grpc.DialOption{grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithDefaultCallOptions(grpc.MaxCallRecvMsgSize(64<<20), grpc.MaxCallSendMsgSize(64<<20))}
	if opt.jobToken != "" {
		dialOpts = append(dialOpts, withJobToken(opt.jobToken)...)
	}
	conn, err := grpc.NewClient(opt.Endpoint, dialOpts...)
	if err != nil {
		cleanup()
		return fail(fmt.Errorf("runners: job server %s: %w", opt.Endpoint, err))
	}
	j.conn, j.client = conn, jobpb.NewJobServiceClient(conn)

	submitMu.Lock()
	options, err := jobOptions(&opt, name)
	submitMu.Unlock()
	if err != nil {
		cleanup()
		return fail(err)
	}
	pctx, pcancel := context.WithTimeout(ctx, 2*time.Minute)
	defer pcancel()
	prep, err := j.client.Prepare(pctx, &jobpb.PrepareJobRequest{Pipeline: pipe, PipelineOptions: options, JobName: name})
	if err != nil {
		cleanup()
		return fail(fmt.Errorf("runners: job server %s (%s): prepare job: %w", opt.Endpoint, opt.Runner, err))
	}
	token, err := runnerlib.Stage(pctx, prep.GetPreparationId(), prep.GetArtifactStagingEndpoint().GetUrl(), worker, prep.GetStagingSessionToken())
	if err != nil {
		cleanup()
		return fail(fmt.Errorf("runners: stage the worker: %w", err))
	}
	run, err := j.client.Run(pctx, &jobpb.RunJobRequest{PreparationId: prep.GetPreparationId(), RetrievalToken: token})
	if err != nil {
		cleanup()
		return fail(fmt.Errorf("runners: run job: %w", err))
	}
	j.ID = run.GetJobId()
	go func() {
		defer close(j.done)
		defer cleanup()
		err := runnerlib.WaitForCompletion(jctx, j.client, j.ID)
		st, serr := j.State(context.Background())
		j.mu.Lock()
		defer j.mu.Unlock()
		j.state = st
		if err == nil && serr == nil && st != jobpb.JobState_DONE && st != jobpb.JobState_CANCELLED {
			err = fmt.Errorf("job ended in state %v", st)
		}
		if err != nil {
			j.err = fmt.Errorf("runners: job %s on %s: %w", j.ID, opt.Runner, err)
		}
	}()
	return j, nil
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
