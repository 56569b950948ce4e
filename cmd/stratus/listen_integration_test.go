//go:build integration

package main

import (
	"context"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	jobpb "github.com/apache/beam/sdks/v2/go/pkg/beam/model/jobmanagement_v1"
	pipepb "github.com/apache/beam/sdks/v2/go/pkg/beam/model/pipeline_v1"
	"github.com/segmentio/kafka-go"
	"github.com/segmentio/kafka-go/sasl/scram"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	"github.com/stratusml/stratus/internal/listeners"
	"github.com/stratusml/stratus/message"
)

// upProcLine is `stratus up`'s line once everything listens.
var upProcLine = regexp.MustCompile(`Stratus is up: open http://(\S+?)/ \(Kafka at (\S+),`)

// TestUpListensOnlyOnLoopback: `stratus up` with its defaults listens on
// loopback only (frontend, broker, prism's job service, the loopback
// worker), and its job service refuses another process's calls: it lists
// no job, cancels nothing and runs no pipeline.
func TestUpListensOnlyOnLoopback(t *testing.T) {
	bin := stratusBinary(t)
	up := spawn(t, "up", bin, "up", "--data", t.TempDir(), "--listen", "127.0.0.1:0", "--kafka-listen", "127.0.0.1:0")
	defer up.kill(syscall.SIGINT)
	m := up.waitLine(t, upProcLine, 3*time.Minute)
	got := listenersOf(t, up)
	if open := listeners.Unexpected(got); len(open) > 0 {
		t.Fatalf("stratus up listens beyond loopback on %v (all: %v)", open, got)
	}
	named := []string{m[1], m[2]}
	refuseForeignJobs(t, got, named, 1)
	up.kill(syscall.SIGINT)
}

// TestStreamListensOnlyOnLoopback: the same for `stratus stream` on its
// default prism runner, with --metrics-listen on loopback.
func TestStreamListensOnlyOnLoopback(t *testing.T) {
	d := deploy(t, "listen")
	got := listenersOf(t, d.stream)
	if open := listeners.Unexpected(got); len(open) > 0 {
		t.Fatalf("stratus stream listens beyond loopback on %v (all: %v)", open, got)
	}
	refuseForeignJobs(t, got, []string{strings.TrimSuffix(strings.TrimPrefix(d.metrics, "http://"), "/metrics")}, 1)
}

// TestUpOnAllInterfaces: the addresses a user names may be wildcards; up
// warns about what each exposes and still opens nothing else; the broker
// refuses to listen beyond loopback without SASL credentials and, with
// them, refuses a client that does not log in.
func TestUpOnAllInterfaces(t *testing.T) {
	bin := stratusBinary(t)
	refused := spawn(t, "up-no-sasl", bin, "up", "--data", t.TempDir(), "--listen", "127.0.0.1:0", "--kafka-listen", "0.0.0.0:0")
	<-refused.done
	if code := refused.cmd.ProcessState.ExitCode(); code != 2 || !strings.Contains(refused.tail(5), "requires SASL") {
		t.Fatalf("up on 0.0.0.0 without SASL credentials: exit %d:\n%s", code, refused.tail(5))
	}

	pwFile := filepath.Join(t.TempDir(), "kafka-password")
	if err := os.WriteFile(pwFile, []byte("s3cret-for-the-test\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	up := spawn(t, "up-open", bin, "up", "--data", t.TempDir(), "--listen", "0.0.0.0:0", "--kafka-listen", "0.0.0.0:0",
		"--kafka-user", "stratus", "--kafka-password-file", pwFile, "--pprof", "0.0.0.0:0")
	defer up.kill(syscall.SIGINT)
	m := up.waitLine(t, upProcLine, 3*time.Minute)
	log := up.tail(200)
	for _, flag := range []string{"--listen", "--kafka-listen", "--pprof"} {
		if !strings.Contains(log, flag+" 0.0.0.0:0 is not a loopback address: other hosts can reach") {
			t.Errorf("no warning about %s 0.0.0.0:0 in:\n%s", flag, log)
		}
	}
	got := listenersOf(t, up)
	open := listeners.Unexpected(got)
	for _, a := range open {
		if !a.Addr().IsUnspecified() {
			t.Errorf("up listens on %v, which nobody named", a)
		}
	}
	if len(open) != 3 {
		t.Errorf("want exactly the three named wildcard listeners beyond loopback, got %v (all: %v)", open, got)
	}

	_, brokerPort, err := net.SplitHostPort(m[2])
	if err != nil {
		t.Fatal(err)
	}
	broker := net.JoinHostPort("127.0.0.1", brokerPort)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	anon := &kafka.Dialer{Timeout: 5 * time.Second}
	if c, err := anon.DialContext(ctx, "tcp", broker); err == nil {
		_, perr := c.ReadPartitions(message.TopicCanvas)
		c.Close()
		if perr == nil {
			t.Error("the broker on 0.0.0.0 answered a client that did not log in")
		}
	}
	mech, err := scram.Mechanism(scram.SHA512, "stratus", "s3cret-for-the-test")
	if err != nil {
		t.Fatal(err)
	}
	c, err := (&kafka.Dialer{Timeout: 5 * time.Second, SASLMechanism: mech}).DialContext(ctx, "tcp", broker)
	if err != nil {
		t.Fatalf("a client with the credentials: %v", err)
	}
	defer c.Close()
	if _, err := c.ReadPartitions(message.TopicCanvas); err != nil {
		t.Fatalf("a client with the credentials: %v", err)
	}
}

// listenersOf lists p's listeners.
func listenersOf(t *testing.T, p *proc) []netip.AddrPort {
	t.Helper()
	got, err := listeners.Of(p.cmd.Process.Pid)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%s listens on %v", p.name, got)
	return got
}

// refuseForeignJobs calls every listener of got, other than the named
// ones, as a Beam job service; at least want of them must be one, and
// each that is must refuse to list, cancel or prepare a job, here one
// whose PROCESS environment would create a file.
func refuseForeignJobs(t *testing.T, got []netip.AddrPort, named []string, want int) {
	t.Helper()
	marker := filepath.Join(t.TempDir(), "ran")
	payload, _ := proto.Marshal(&pipepb.ProcessPayload{Command: "/bin/touch " + marker})
	pipe := &pipepb.Pipeline{Components: &pipepb.Components{Environments: map[string]*pipepb.Environment{
		"env": {Urn: "beam:env:process:v1", Payload: payload},
	}}}
	services := 0
	for _, a := range got {
		if slices.ContainsFunc(named, func(n string) bool { return strings.HasSuffix(n, ":"+strconv.Itoa(int(a.Port()))) }) {
			continue
		}
		conn, err := grpc.NewClient(a.String(), grpc.WithTransportCredentials(insecure.NewCredentials()))
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		js := jobpb.NewJobServiceClient(conn)
		_, err = js.GetJobs(ctx, &jobpb.GetJobsRequest{})
		switch status.Code(err) {
		case codes.Unimplemented, codes.Unavailable, codes.DeadlineExceeded, codes.Internal:
			// Not a job service (the loopback worker pool), or not gRPC.
		case codes.PermissionDenied:
			services++
			if _, err := js.Prepare(ctx, &jobpb.PrepareJobRequest{Pipeline: pipe, JobName: "foreign"}); status.Code(err) != codes.PermissionDenied {
				t.Errorf("%v: Prepare of a foreign job: %v, want PermissionDenied", a, err)
			}
			if _, err := js.Cancel(ctx, &jobpb.CancelJobRequest{JobId: "job-001"}); status.Code(err) != codes.PermissionDenied {
				t.Errorf("%v: Cancel: %v, want PermissionDenied", a, err)
			}
		default:
			t.Errorf("%v: a job service that lists its jobs to anyone: %v", a, err)
		}
		cancel()
		conn.Close()
	}
	if services < want {
		t.Errorf("found %d job services among %v, want %d", services, got, want)
	}
	if _, err := os.Stat(marker); err == nil {
		t.Error("the foreign pipeline's command ran")
	}
}
