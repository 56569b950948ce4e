package runners

import (
	"context"
	"errors"
	"net/netip"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/apache/beam/sdks/v2/go/pkg/beam"
	jobpb "github.com/apache/beam/sdks/v2/go/pkg/beam/model/jobmanagement_v1"
	pipepb "github.com/apache/beam/sdks/v2/go/pkg/beam/model/pipeline_v1"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/transforms/periodic"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	"github.com/stratusml/stratus/internal/listeners"
)

// TestPrismClosedToOthers runs a job on the in-process prism and then acts
// as another process on the host would: the job service is on loopback
// only, and without the token it lists nothing, cancels nothing and runs
// no pipeline (here one whose PROCESS environment would create a file).
func TestPrismClosedToOthers(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	p, s := beam.NewPipelineWithRoot()
	beam.ParDo(s, ticks, periodic.Impulse(s, time.Now(), time.Now().Add(time.Hour), 100*time.Millisecond, false))
	j, err := Start(ctx, p, Options{JobName: "owned"})
	if err != nil {
		t.Fatal(err)
	}
	defer j.Close()
	defer j.Stop(ctx)
	v, _ := prismServers.Load("")
	srv := v.(prismServer)

	all, err := listeners.Of(0)
	if err != nil {
		t.Fatal(err)
	}
	if open, _ := openOnPort(mustPort(t, srv.endpoint)); len(open) > 0 {
		t.Fatalf("the job service listens on %v (all listeners: %v)", open, all)
	}
	if u := listeners.Unexpected(all); len(u) > 0 {
		t.Errorf("this process listens beyond loopback: %v", u)
	}

	conn, err := grpc.NewClient(srv.endpoint, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	foreign := jobpb.NewJobServiceClient(conn)
	marker := filepath.Join(t.TempDir(), "ran")
	payload, _ := proto.Marshal(&pipepb.ProcessPayload{Command: "/bin/touch " + marker})
	pipe := &pipepb.Pipeline{Components: &pipepb.Components{Environments: map[string]*pipepb.Environment{
		"env": {Urn: "beam:env:process:v1", Payload: payload},
	}}}
	calls := map[string]func() error{
		"GetJobs": func() error { _, err := foreign.GetJobs(ctx, &jobpb.GetJobsRequest{}); return err },
		"Cancel":  func() error { _, err := foreign.Cancel(ctx, &jobpb.CancelJobRequest{JobId: j.ID}); return err },
		"Prepare": func() error {
			_, err := foreign.Prepare(ctx, &jobpb.PrepareJobRequest{Pipeline: pipe, JobName: "foreign"})
			return err
		},
		"GetState": func() error { _, err := foreign.GetState(ctx, &jobpb.GetJobStateRequest{JobId: j.ID}); return err },
	}
	for name, call := range calls {
		if err := call(); status.Code(err) != codes.PermissionDenied {
			t.Errorf("%s without the token: %v, want PermissionDenied", name, err)
		}
	}
	if st, err := j.State(ctx); err != nil || st != jobpb.JobState_RUNNING {
		t.Errorf("own job after the foreign calls: %v (%v), want RUNNING", st, err)
	}
	if _, err := os.Stat(marker); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the foreign pipeline's command ran (%v)", err)
	}
	if err := CheckJobServiceClosed(ctx, srv.endpoint); err != nil {
		t.Errorf("CheckJobServiceClosed: %v", err)
	}
}

func mustPort(t *testing.T, endpoint string) uint16 {
	t.Helper()
	ap, err := netip.ParseAddrPort(endpoint)
	if err != nil {
		t.Fatal(err)
	}
	return ap.Port()
}
