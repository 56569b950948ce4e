// Package runners is the one place that maps Stratus's --runner and
// --endpoint options onto Apache Beam: prism in process (the default), or a
// portable job server (Flink, Spark) at an endpoint. It starts a pipeline as
// a Job that can be stopped cleanly through the job service, and imports only
// the runners it uses so that the binary stays lean.
package runners

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
	"sync"
	"time"

	"github.com/apache/beam/sdks/v2/go/pkg/beam"
	jobpb "github.com/apache/beam/sdks/v2/go/pkg/beam/model/jobmanagement_v1"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/options/jobopts"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/runners/prism"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/runners/universal"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
)

// Options choose where a pipeline runs.
type Options struct {
	// Runner is "prism" (default), "flink", "spark" or "universal".
	Runner string
	// Endpoint is the job server (host:port); for prism, empty starts one in
	// this process.
	Endpoint string
	// JobName names the job (default "stratus").
	JobName string
	// EnvironmentType is the SDK worker environment: "loopback" (default:
	// workers run inside this process), "process" or "docker".
	EnvironmentType string
	// EnvironmentConfig is the environment's configuration (command line
	// for "process", image for "docker").
	EnvironmentConfig string
	// Parallelism for Flink (-1 = runner default).
	Parallelism int
}

// Job is a pipeline started by Start.
type Job struct {
	ID     string
	client jobpb.JobServiceClient
	conn   *grpc.ClientConn
	done   chan struct{}
	err    error
}

// execMu serialises job submission: Beam keeps the submission options in
// process-wide flags.
var execMu sync.Mutex

// prismServers keeps one in-process prism job server per process.
var prismServers sync.Map // "" → string endpoint

// Start submits p and returns once the job service knows the job. The job
// runs until it finishes or Stop is called; the calling process must live
// as long as the job (its workers run in it in loopback mode).
func Start(ctx context.Context, p *beam.Pipeline, opt Options) (*Job, error) {
	if !beam.Initialized() {
		beam.Init()
	}
	if opt.Runner == "" {
		opt.Runner = "prism"
	}
	if opt.JobName == "" {
		opt.JobName = "stratus"
	}
	if opt.EnvironmentType == "" {
		opt.EnvironmentType = "loopback"
	}
	endpoint := opt.Endpoint
	switch opt.Runner {
	case "prism":
		if endpoint == "" {
			ep, err := prismEndpoint(ctx)
			if err != nil {
				return nil, err
			}
			endpoint = ep
		}
	case "flink", "spark", "universal", "portable":
		if endpoint == "" {
			return nil, fmt.Errorf("runners: --runner %s needs --endpoint host:port of its job server", opt.Runner)
		}
	default:
		return nil, fmt.Errorf("runners: unknown runner %q (want prism, flink, spark or universal)", opt.Runner)
	}
	conn, err := grpc.NewClient(endpoint, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		return nil, fmt.Errorf("runners: job server %s: %w", endpoint, err)
	}
	client := jobpb.NewJobServiceClient(conn)
	before, err := jobIDs(ctx, client)
	if err != nil {
		conn.Close()
		return nil, fmt.Errorf("runners: job server %s: %w", endpoint, err)
	}
	name := fmt.Sprintf("%s-%d", opt.JobName, time.Now().UnixNano())

	execMu.Lock()
	*jobopts.Endpoint = endpoint
	*jobopts.JobName = name
	*jobopts.EnvironmentType = opt.EnvironmentType
	*jobopts.EnvironmentConfig = opt.EnvironmentConfig
	*jobopts.Parallelism = opt.Parallelism
	*jobopts.Async = false
	j := &Job{client: client, conn: conn, done: make(chan struct{})}
	go func() {
		defer close(j.done)
		_, err := universal.Execute(context.WithoutCancel(ctx), p)
		j.err = err
	}()
	// Find the job's id, then release the options for the next submission.
	id, err := waitForJob(ctx, client, before, name, j.done)
	execMu.Unlock()
	if err != nil {
		if j.err != nil {
			err = fmt.Errorf("%w: %w", err, j.err)
		}
		conn.Close()
		return nil, err
	}
	j.ID = id
	return j, nil
}

func prismEndpoint(ctx context.Context) (string, error) {
	if v, ok := prismServers.Load(""); ok {
		return v.(string), nil
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", fmt.Errorf("runners: pick a port for prism: %w", err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	if _, err := prism.CreateJobServer(context.WithoutCancel(ctx), prism.Options{Port: port}); err != nil {
		return "", fmt.Errorf("runners: start prism: %w", err)
	}
	ep := fmt.Sprintf("localhost:%d", port)
	actual, _ := prismServers.LoadOrStore("", ep)
	return actual.(string), nil
}

func jobIDs(ctx context.Context, c jobpb.JobServiceClient) (map[string]bool, error) {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	resp, err := c.GetJobs(ctx, &jobpb.GetJobsRequest{})
	if err != nil {
		return nil, err
	}
	ids := map[string]bool{}
	for _, j := range resp.GetJobInfo() {
		ids[j.GetJobId()] = true
	}
	return ids, nil
}

func waitForJob(ctx context.Context, c jobpb.JobServiceClient, before map[string]bool, name string, done <-chan struct{}) (string, error) {
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	deadline := time.After(2 * time.Minute)
	for {
		resp, err := c.GetJobs(ctx, &jobpb.GetJobsRequest{})
		if err == nil {
			for _, j := range resp.GetJobInfo() {
				if !before[j.GetJobId()] && strings.HasPrefix(j.GetJobName(), name) {
					return j.GetJobId(), nil
				}
			}
		}
		select {
		case <-done:
			return "", errors.New("runners: the pipeline ended before it was seen running")
		case <-ctx.Done():
			return "", ctx.Err()
		case <-deadline:
			return "", errors.New("runners: the job server did not list the job within 2 minutes")
		case <-tick.C:
		}
	}
}

// State returns the job's state as the job service reports it.
func (j *Job) State(ctx context.Context) (jobpb.JobState_Enum, error) {
	resp, err := j.client.GetState(ctx, &jobpb.GetJobStateRequest{JobId: j.ID})
	if err != nil {
		return jobpb.JobState_UNSPECIFIED, err
	}
	return resp.GetState(), nil
}

// Done is closed when the job has ended.
func (j *Job) Done() <-chan struct{} { return j.done }

// Wait blocks until the job ends and returns its error.
func (j *Job) Wait(ctx context.Context) error {
	select {
	case <-j.done:
		return j.err
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Close releases the connection to the job service (not the job).
func (j *Job) Close() error { return j.conn.Close() }

// Stop cancels the job through the job service and waits for it to end.
func (j *Job) Stop(ctx context.Context) error {
	select {
	case <-j.done:
		return nil
	default:
	}
	if _, err := j.client.Cancel(ctx, &jobpb.CancelJobRequest{JobId: j.ID}); err != nil {
		return fmt.Errorf("runners: cancel job %s: %w", j.ID, err)
	}
	select {
	case <-j.done:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("runners: job %s did not stop: %w", j.ID, ctx.Err())
	}
}
