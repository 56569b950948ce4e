package runners

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"sync"
	"time"

	jobpb "github.com/apache/beam/sdks/v2/go/pkg/beam/model/jobmanagement_v1"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/runners/prism"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	"github.com/stratusml/stratus/internal/listeners"
)

// The in-process prism job service runs any pipeline it is sent (a PROCESS
// environment runs a command on the host), and Beam v2.77.0 opens it on
// every interface. Stratus builds Beam with tools/prismpatch, which keeps
// it on 127.0.0.1 and makes it refuse job-service calls that do not carry
// the token below; inProcessPrism proves both before it submits anything,
// so a binary built without the patch refuses to run instead of opening a
// hole.
const (
	// jobTokenEnv and jobTokenHeader are the patched job service's names
	// (tools/prismpatch/guard.go.txt): the variable it reads its token
	// from when it starts, and the gRPC metadata key it checks.
	jobTokenEnv    = "STRATUS_PRISM_JOB_TOKEN"
	jobTokenHeader = "stratus-job-token"
)

// ErrPrismUnpatched is returned when the in-process prism job service is
// open to the network or runs other processes' jobs: the binary was built
// without tools/prismpatch.
var ErrPrismUnpatched = errors.New("runners: this binary's prism job service is open (built without tools/prismpatch: build with `make build`, or `GOFLAGS=$(scripts/goflags.sh) go build ./cmd/stratus`)")

// prismServer is this process's prism job service.
type prismServer struct {
	endpoint string // 127.0.0.1:port
	token    string // sent in jobTokenHeader
}

// prismServers keeps one in-process prism job server per process.
var prismServers sync.Map // "" → prismServer

// inProcessPrism starts this process's prism job service once, on
// loopback, with a fresh token, and checks that it is closed to others.
func inProcessPrism(ctx context.Context) (prismServer, error) {
	if v, ok := prismServers.Load(""); ok {
		return v.(prismServer), nil
	}
	submitMu.Lock()
	defer submitMu.Unlock()
	if v, ok := prismServers.Load(""); ok {
		return v.(prismServer), nil
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return prismServer{}, fmt.Errorf("runners: pick a port for prism: %w", err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return prismServer{}, fmt.Errorf("runners: prism job token: %w", err)
	}
	srv := prismServer{endpoint: fmt.Sprintf("127.0.0.1:%d", port), token: hex.EncodeToString(b)}
	// The patched server reads its token from the environment when it
	// starts; it is gone from the environment right after, so that no
	// child process inherits it.
	if err := os.Setenv(jobTokenEnv, srv.token); err != nil {
		return prismServer{}, fmt.Errorf("runners: %w", err)
	}
	_, err = prism.CreateJobServer(context.WithoutCancel(ctx), prism.Options{Port: port})
	os.Unsetenv(jobTokenEnv)
	if err != nil {
		return prismServer{}, fmt.Errorf("runners: start prism: %w", err)
	}
	if err := CheckJobServiceClosed(ctx, srv.endpoint); err != nil {
		return prismServer{}, err
	}
	prismServers.Store("", srv)
	return srv, nil
}

// CheckJobServiceClosed returns nil when the prism job service at endpoint
// (127.0.0.1:port) listens on loopback only and refuses a caller without
// its token, and ErrPrismUnpatched (wrapped, with what it found) otherwise.
func CheckJobServiceClosed(ctx context.Context, endpoint string) error {
	ap, err := netip.ParseAddrPort(endpoint)
	if err != nil {
		return fmt.Errorf("runners: prism endpoint %q: %w", endpoint, err)
	}
	if open, err := openOnPort(ap.Port()); err != nil && !errors.Is(err, listeners.ErrUnsupported) {
		return fmt.Errorf("runners: check prism's listener: %w", err)
	} else if len(open) > 0 {
		return fmt.Errorf("%w: it listens on %v", ErrPrismUnpatched, open)
	}
	conn, err := grpc.NewClient(endpoint, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		return fmt.Errorf("runners: prism at %s: %w", endpoint, err)
	}
	defer conn.Close()
	cctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	_, err = jobpb.NewJobServiceClient(conn).GetJobs(cctx, &jobpb.GetJobsRequest{})
	switch status.Code(err) {
	case codes.PermissionDenied:
		return nil
	case codes.OK:
		return fmt.Errorf("%w: it lists its jobs to a caller without its token", ErrPrismUnpatched)
	default:
		return fmt.Errorf("runners: prism at %s: %w", endpoint, err)
	}
}

// openOnPort returns this process's listeners on port that are not on
// loopback.
func openOnPort(port uint16) ([]netip.AddrPort, error) {
	all, err := listeners.Of(0)
	if err != nil {
		return nil, err
	}
	var open []netip.AddrPort
	for _, a := range listeners.Unexpected(all) {
		if a.Port() == port {
			open = append(open, a)
		}
	}
	return open, nil
}

// withJobToken adds token to every call of a connection to the
// in-process prism.
func withJobToken(token string) []grpc.DialOption {
	add := func(ctx context.Context) context.Context {
		return metadata.AppendToOutgoingContext(ctx, jobTokenHeader, token)
	}
	return []grpc.DialOption{
		grpc.WithChainUnaryInterceptor(func(ctx context.Context, method string, req, reply any, cc *grpc.ClientConn, invoker grpc.UnaryInvoker, opts ...grpc.CallOption) error {
			return invoker(add(ctx), method, req, reply, cc, opts...)
		}),
		grpc.WithChainStreamInterceptor(func(ctx context.Context, desc *grpc.StreamDesc, cc *grpc.ClientConn, method string, streamer grpc.Streamer, opts ...grpc.CallOption) (grpc.ClientStream, error) {
			return streamer(add(ctx), desc, cc, method, opts...)
		}),
	}
}
