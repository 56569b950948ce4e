package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/stratusml/stratus/frontend"
	"github.com/stratusml/stratus/frontend/reqreply"
	"github.com/stratusml/stratus/internal/flagenv"
	"github.com/stratusml/stratus/internal/listeners"
	"github.com/stratusml/stratus/message"
	"github.com/stratusml/stratus/store"
	_ "github.com/stratusml/stratus/store/couchdb"    // http(s):// store URLs
	_ "github.com/stratusml/stratus/store/localstore" // file:// and mem:// store URLs
)

// frontendFlags are the flags `serve` and `up` share.
type frontendFlags struct {
	listen, replica, origins, hosts string
	timeout                         time.Duration
	rateLimit                       float64
	maxWSPerClient                  int
	trustProxy                      bool
}

func addFrontendFlags(fs *flag.FlagSet) *frontendFlags {
	f := &frontendFlags{}
	fs.StringVar(&f.listen, "listen", "127.0.0.1:8080", "HTTP address to serve the page and the API on")
	fs.StringVar(&f.replica, "replica", "", "this replica's id in reply_to, unique among replicas (default: host name and a random suffix)")
	fs.StringVar(&f.origins, "allowed-origins", "", "other origins whose pages may open the WebSocket, comma-separated host patterns (the page's own origin always may)")
	fs.StringVar(&f.hosts, "allowed-hosts", "", "host names this server answers for besides localhost and loopback addresses, comma-separated patterns (e.g. stratus.example,*.lan); on a loopback --listen no other Host is answered (against DNS rebinding), on any other --listen every Host is unless this is set")
	fs.DurationVar(&f.timeout, "timeout", 5*time.Second, "how long a prediction may take before it is answered 504")
	fs.Float64Var(&f.rateLimit, "rate-limit", 100, "work each client may sustain, in ordinary drawings per second (bursts of twice that); a drawing is charged by its work, about a unit per millisecond of CPU: 1 for a drawing of strokes, more for very long ones, 7 to 80 for a picture by its pixels and bytes; 0 turns the limit off")
	fs.IntVar(&f.maxWSPerClient, "max-ws-per-client", 8, "WebSockets each client address may hold open at once; 0 turns the bound off")
	fs.BoolVar(&f.trustProxy, "trust-proxy", false, "take the client address from X-Forwarded-For (behind nginx or an ingress)")
	return f
}

func (f *frontendFlags) replicaID() string {
	if f.replica != "" {
		return f.replica
	}
	host, _ := os.Hostname()
	if host == "" {
		host = "stratus"
	}
	b := make([]byte, 3)
	_, _ = rand.Read(b)
	return host + "-" + hex.EncodeToString(b)
}

func (f *frontendFlags) config(rr *reqreply.Client, st store.Store, log *slog.Logger, checks ...frontend.Check) frontend.Config {
	maxWS := f.maxWSPerClient
	if maxWS <= 0 {
		maxWS = -1 // the flag's 0 is "off"; Config's 0 is its default
	}
	return frontend.Config{
		Requester: rr, Store: st, Timeout: f.timeout, Logger: log, ReadyChecks: checks,
		AllowedOrigins: commaList(f.origins),
		AllowedHosts:   commaList(f.hosts),
		// The Host check guards a loopback listener against DNS rebinding;
		// one reachable from elsewhere answers any Host unless told which.
		ListensBeyondLoopback: !listeners.IsLoopback(f.listen),
		RateLimit:             f.rateLimit,
		MaxWSPerClient:        maxWS,
		TrustProxy:            f.trustProxy,
	}
}

// commaList splits a comma-separated flag value, leaving out blanks.
func commaList(v string) []string {
	var out []string
	for _, item := range strings.Split(v, ",") {
		if item = strings.TrimSpace(item); item != "" {
			out = append(out, item)
		}
	}
	return out
}

func runServe(ctx context.Context, env *environment, args []string) error {
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	fs.SetOutput(env.stderr)
	ff := addFrontendFlags(fs)
	kf := addKafkaFlags(fs)
	cf := addStoreFlags(fs, true)
	topicPrefix := fs.String("topic-prefix", "", "prefix of the Kafka topic names (as given to stratus stream)")
	fs.Usage = flagenv.Usage(fs, "stratus serve --kafka HOSTS --couchdb URL [flags]",
		"Runs the frontend only: the canvas page and the HTTP API, sending drawings\nto Kafka (stratus.canvas) and answering with the pipeline's replies\n(stratus.predictions). Run several replicas behind a load balancer; each\nneeds its own --replica id (the default is unique).")
	if err := flagenv.Parse(fs, args, env.getenv); err != nil {
		return usageErr(err)
	}
	if *cf.url == "" {
		return fmt.Errorf("%w: --couchdb (or STRATUS_COUCHDB) is required", errUsage)
	}
	if err := kf.check(); err != nil {
		return err
	}
	couch, err := cf.resolve(args, env.log)
	if err != nil {
		return err
	}
	transport, err := kf.sec.Transport("stratus-serve", 10*time.Second)
	if err != nil {
		return err
	}
	dialer, err := kf.sec.Dialer("stratus-serve", 10*time.Second)
	if err != nil {
		return err
	}
	st, err := openStore(ctx, couch, *cf.prefix)
	if err != nil {
		return err
	}
	defer st.Close()
	rr, err := connectReplies(ctx, env.log, reqreply.Config{
		Brokers: kf.list(), ReplicaID: ff.replicaID(), Transport: transport, Dialer: dialer,
		RequestTopic: *topicPrefix + message.TopicCanvas, ReplyTopic: *topicPrefix + message.TopicPredictions,
	})
	if err != nil {
		return err
	}
	defer rr.Close()
	srv, err := frontend.New(ff.config(rr, st, env.log))
	if err != nil {
		return err
	}
	defer srv.Close()
	warnExposed(env.log, "listen", ff.listen, exposesFrontend)
	return serveHTTP(ctx, env, ff.listen, srv, func(listening string) error {
		if err := checkOwnListeners(env.log, listening); err != nil {
			return err
		}
		env.log.Info("serve: listening", "url", pageURL(listening), "replica", rr.ReplicaID(), "kafka", *kf.brokers, "store", store.RedactURL(couch))
		return nil
	})
}

// connectReplies starts request-reply over Kafka, waiting up to a minute
// for a broker that is still starting.
func connectReplies(ctx context.Context, log *slog.Logger, cfg reqreply.Config) (*reqreply.Client, error) {
	cctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	cfg.Logger = log
	rr, err := reqreply.New(cctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("kafka %s: %w", strings.Join(cfg.Brokers, ","), err)
	}
	return rr, nil
}

// serveHTTP serves h on addr until ctx ends, then shuts down gracefully:
// new connections stop at once, requests in flight get 10 s to finish.
// ready is called with the address it listens on once the listener is
// open; its error closes the server and is returned.
func serveHTTP(ctx context.Context, env *environment, addr string, h http.Handler, ready func(listening string) error) error {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", addr, err)
	}
	hs := &http.Server{
		Handler:           h,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       time.Minute,
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          slog.NewLogLogger(env.log.Handler(), slog.LevelWarn),
	}
	errc := make(chan error, 1)
	go func() { errc <- hs.Serve(ln) }()
	if err := ready(ln.Addr().String()); err != nil {
		_ = hs.Close()
		return err
	}
	select {
	case err := <-errc:
		return fmt.Errorf("http server: %w", err)
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := hs.Shutdown(sctx); err != nil && !errors.Is(err, context.DeadlineExceeded) {
		return fmt.Errorf("http shutdown: %w", err)
	}
	return nil
}
