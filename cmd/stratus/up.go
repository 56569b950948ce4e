package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/apache/beam/sdks/v2/go/pkg/beam"
	jobpb "github.com/apache/beam/sdks/v2/go/pkg/beam/model/jobmanagement_v1"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/twmb/franz-go/pkg/kfake"

	"github.com/stratusml/stratus/frontend"
	"github.com/stratusml/stratus/frontend/reqreply"
	"github.com/stratusml/stratus/internal/beamprom"
	"github.com/stratusml/stratus/internal/flagenv"
	"github.com/stratusml/stratus/internal/kafkaprom"
	"github.com/stratusml/stratus/internal/kafkasec"
	"github.com/stratusml/stratus/internal/listeners"
	"github.com/stratusml/stratus/message"
	"github.com/stratusml/stratus/pipelines/stream"
	"github.com/stratusml/stratus/runners"
	"github.com/stratusml/stratus/store"
	"github.com/stratusml/stratus/transforms/kafkaio"
)

func runUp(ctx context.Context, env *environment, args []string) error {
	o, err := parseUpFlags(env, args)
	if err != nil {
		return err
	}
	start := time.Now()
	log := env.log
	profilesAddr, stopProfiles, err := startUpProfiles(log, o.pprofAddr)
	if err != nil {
		return err
	}
	defer stopProfiles()

	// 1. The broker.
	broker, err := startBroker(filepath.Join(o.dataDir, "kafka"), o.kafkaListen, o.partitions, o.auth)
	if err != nil {
		return err
	}
	defer broker.Close()
	brokerAddr := broker.ListenAddrs()[0]
	log.Info("up: Kafka-protocol broker", "addr", brokerAddr, "data", filepath.Join(o.dataDir, "kafka"))

	// 2. The store.
	storeURL := o.storeURL()
	st, err := openStore(ctx, storeURL, "")
	if err != nil {
		return err
	}
	defer st.Close()
	log.Info("up: store", "url", store.RedactURL(storeURL))

	// 3. The pipeline.
	pcfg := o.pipelineConfig(brokerAddr, storeURL)
	job, err := startUpPipeline(ctx, pcfg)
	if err != nil {
		return err
	}
	defer job.Close()
	defer stopUpPipeline(log, job)
	log.Info("up: pipeline running on prism", "job", job.ID)

	// 4. The frontend.
	srv, closeFrontend, err := newUpFrontend(ctx, log, o, pcfg, job, st)
	if err != nil {
		return err
	}
	defer closeFrontend()
	return serveUp(ctx, env, o.ff.listen, srv, job, func(listening string) error {
		// Everything listens now: nothing may be open beyond what the
		// flags named.
		named := append([]string{listening, profilesAddr}, broker.ListenAddrs()...)
		if err := checkOwnListeners(log, named...); err != nil {
			return err
		}
		log.Info("up: ready to start", "took", time.Since(start).Round(time.Millisecond))
		fmt.Fprintf(env.stdout, "Stratus is up: open %s (Kafka at %s, data in %s). Ctrl-C stops it.\n", pageURL(listening), brokerAddr, o.dataDir)
		return nil
	})
}

// startUpProfiles serves Go's profiles on --pprof, if given; the caller
// defers stop (a no-op without --pprof).
func startUpProfiles(log *slog.Logger, pprofAddr string) (addr string, stop func(), err error) {
	if pprofAddr == "" {
		return "", func() {}, nil
	}
	addr, stop, err = serveProfiles(pprofAddr)
	if err != nil {
		return "", nil, err
	}
	log.Info("up: profiles", "url", "http://"+addr+"/debug/pprof/")
	return addr, stop, nil
}

// serveUp serves the frontend on listen, calling ready once it listens,
// until serving ends (ctx done, or an error) or the pipeline stops.
func serveUp(ctx context.Context, env *environment, listen string, srv *frontend.Server, job *runners.Job, ready func(listening string) error) error {
	errc := make(chan error, 1)
	go func() {
		errc <- serveHTTP(ctx, env, listen, srv, ready)
	}()
	select {
	case err := <-errc:
		return err
	case <-job.Done():
		return fmt.Errorf("the pipeline stopped: %w", job.Wait(ctx))
	}
}

// upOptions are `up`'s flags, checked.
type upOptions struct {
	ff          *frontendFlags
	kafkaListen string
	auth        brokerAuth
	dataDir     string // absolute
	couch       string
	partitions  int
	modelRef    string
	pprofAddr   string
}

// parseUpFlags parses and checks `up`'s flags and warns of the addresses
// they expose beyond loopback.
func parseUpFlags(env *environment, args []string) (upOptions, error) {
	fs := flag.NewFlagSet("up", flag.ContinueOnError)
	fs.SetOutput(env.stderr)
	ff := addFrontendFlags(fs)
	kafkaListen := fs.String("kafka-listen", "127.0.0.1:9092", "address of the embedded Kafka-protocol broker, for outside Kafka clients too (port 0: any free port); beyond loopback it needs --kafka-user and a password")
	kafkaUser := fs.String("kafka-user", "", "SASL (SCRAM-SHA-512) user the embedded broker requires of every client, this process's own included; required when --kafka-listen is not loopback")
	kafkaPasswordFile := fs.String("kafka-password-file", "", "file holding --kafka-user's password (default: $"+kafkasec.EnvPassword+")")
	data := fs.String("data", "./stratus-data", "folder that keeps the broker's topics and offsets and the embedded store across restarts")
	couch := fs.String("couchdb", "", "use this CouchDB (http://user:pass@host:5984) instead of the embedded store")
	partitions := fs.Int("partitions", 4, "partitions of each topic the embedded broker creates")
	modelRef := fs.String("model", "", "model file (default: the model shipped in the binary)")
	pprofAddr := fs.String("pprof", "", "serve Go's profiles (net/http/pprof) on this address, e.g. 127.0.0.1:6060, for profiling under load")
	fs.Usage = flagenv.Usage(fs, "stratus up [--listen ADDR] [--kafka-listen ADDR] [--data DIR]",
		"Runs the whole system on this machine with nothing else installed: an\nembedded Kafka-protocol broker (franz-go's kfake, data under --data, reachable\nby Kafka clients at --kafka-listen), the streaming pipeline on prism, an\nembedded store on local disk (or --couchdb), and the frontend. Prints the\nURL to open; /readyz answers 200 once everything runs. Ctrl-C stops it.")
	if err := flagenv.Parse(fs, args, env.getenv); err != nil {
		return upOptions{}, usageErr(err)
	}
	if *partitions < 1 {
		return upOptions{}, fmt.Errorf("%w: --partitions must be at least 1", errUsage)
	}
	auth, err := embeddedBrokerAuth(*kafkaListen, *kafkaUser, *kafkaPasswordFile, env.getenv)
	if err != nil {
		return upOptions{}, err
	}
	warnExposed(env.log, "listen", ff.listen, exposesFrontend)
	warnExposed(env.log, "kafka-listen", *kafkaListen, exposesBroker)
	warnExposed(env.log, "pprof", *pprofAddr, exposesPprof)
	dataDir, err := filepath.Abs(*data)
	if err != nil {
		return upOptions{}, err
	}
	return upOptions{
		ff: ff, kafkaListen: *kafkaListen, auth: auth, dataDir: dataDir, couch: *couch,
		partitions: *partitions, modelRef: *modelRef, pprofAddr: *pprofAddr,
	}, nil
}

// storeURL is --couchdb, or else the embedded store under --data.
func (o upOptions) storeURL() string {
	if o.couch != "" {
		return o.couch
	}
	return "file://" + filepath.Join(o.dataDir, "store")
}

// pipelineConfig is the streaming pipeline's configuration against the
// embedded broker. Partitions without a committed offset start at the
// beginning: on a first start the topic is new, so nothing sent before the
// pipeline read it is skipped.
func (o upOptions) pipelineConfig(brokerAddr, storeURL string) stream.Config {
	return stream.Config{
		Brokers: []string{brokerAddr}, StoreURL: storeURL, ModelPath: o.modelRef, StartFrom: kafkaio.StartEarliest,
		GroupID: "stratus-stream", CanvasTopic: message.TopicCanvas, SamplesTopic: message.TopicSamples,
		KafkaSecurity: o.auth.client,
	}
}

// startUpPipeline builds the streaming pipeline and starts it on prism in
// this process. The caller closes the job and stops it (stopUpPipeline).
func startUpPipeline(ctx context.Context, pcfg stream.Config) (*runners.Job, error) {
	p, s := beam.NewPipelineWithRoot()
	if err := stream.Build(s, pcfg); err != nil {
		return nil, err
	}
	job, err := runners.Start(ctx, p, runners.Options{JobName: "stratus-up"})
	if err != nil {
		return nil, fmt.Errorf("start the pipeline: %w", err)
	}
	return job, nil
}

// stopUpPipeline stops the pipeline, waiting up to 30 seconds.
func stopUpPipeline(log *slog.Logger, job *runners.Job) {
	sctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := job.Stop(sctx); err != nil {
		log.Warn("up: stopping the pipeline", "err", err)
	}
}

// newUpFrontend connects the frontend's replies to the embedded broker and
// makes the frontend, its /readyz checking the pipeline and its /metrics
// showing the pipeline's metrics and consumer lag beside the frontend's, as
// `stratus stream --metrics-listen` does. The caller defers closeFrontend,
// which closes the server and then the replies.
func newUpFrontend(ctx context.Context, log *slog.Logger, o upOptions, pcfg stream.Config, job *runners.Job, st store.Store) (srv *frontend.Server, closeFrontend func(), err error) {
	transport, err := o.auth.client.Transport("stratus-up", 10*time.Second)
	if err != nil {
		return nil, nil, err
	}
	dialer, err := o.auth.client.Dialer("stratus-up", 10*time.Second)
	if err != nil {
		return nil, nil, err
	}
	rr, err := connectReplies(ctx, log, reqreply.Config{Brokers: pcfg.Brokers, ReplicaID: o.ff.replicaID(), Transport: transport, Dialer: dialer})
	if err != nil {
		return nil, nil, err
	}
	fcfg := o.ff.config(rr, st, log, pipelineRunning(job))
	fcfg.Registry = prometheus.NewRegistry()
	fcfg.Registry.MustRegister(beamprom.New(job, log), kafkaprom.NewLagCollector(log, kafkaio.ReadConfig{
		Brokers: pcfg.Brokers, Topic: pcfg.CanvasTopic, GroupID: pcfg.GroupID, Security: pcfg.KafkaSecurity,
	}, kafkaio.ReadConfig{
		Brokers: pcfg.Brokers, Topic: pcfg.SamplesTopic, GroupID: pcfg.StoreGroupID(), Security: pcfg.KafkaSecurity,
	}))
	srv, err = frontend.New(fcfg)
	if err != nil {
		rr.Close()
		return nil, nil, err
	}
	return srv, func() { srv.Close(); rr.Close() }, nil
}

// pipelineRunning is the /readyz check that the pipeline job runs.
func pipelineRunning(job *runners.Job) frontend.Check {
	return frontend.Check{Name: "pipeline", Fn: func(ctx context.Context) error {
		state, err := job.State(ctx)
		if err != nil {
			return err
		}
		if state != jobpb.JobState_RUNNING {
			return fmt.Errorf("the pipeline is %s", state)
		}
		return nil
	}}
}

// serveProfiles serves net/http/pprof's handlers on addr until stop, and
// returns the address it listens on.
func serveProfiles(addr string) (listening string, stop func(), err error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return "", nil, fmt.Errorf("--pprof %s: %w", addr, err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	hs := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = hs.Serve(ln) }()
	return ln.Addr().String(), func() { _ = hs.Close() }, nil
}

// brokerAuth is the SASL set-up of the embedded broker: the user it
// requires (none: no SASL) and how this process's own clients log in.
type brokerAuth struct {
	user, password string
	client         kafkasec.Config
}

// embeddedBrokerAuth reads the embedded broker's SASL user and password;
// a broker reachable from other hosts must have them.
func embeddedBrokerAuth(listen, user, passwordFile string, getenv func(string) string) (brokerAuth, error) {
	if user == "" {
		if !listeners.IsLoopback(listen) {
			return brokerAuth{}, fmt.Errorf("%w: --kafka-listen %s is reachable from other hosts: the embedded broker then requires SASL; give --kafka-user and its password in --kafka-password-file or $%s", errUsage, listen, kafkasec.EnvPassword)
		}
		return brokerAuth{}, nil
	}
	a := brokerAuth{user: user, client: kafkasec.Config{SASL: kafkasec.MechanismSCRAMSHA512, Username: user, PasswordFile: passwordFile}}
	if passwordFile != "" {
		b, err := os.ReadFile(passwordFile)
		if err != nil {
			return brokerAuth{}, fmt.Errorf("--kafka-password-file: %w", err)
		}
		a.password = strings.TrimRight(string(b), "\r\n")
	} else {
		a.password = getenv(kafkasec.EnvPassword)
	}
	if a.password == "" {
		return brokerAuth{}, fmt.Errorf("%w: --kafka-user %s has no password: put it in --kafka-password-file or $%s", errUsage, user, kafkasec.EnvPassword)
	}
	return a, nil
}

// startBroker starts kfake on addr with the Stratus topics, keeping its
// data in dir.
func startBroker(dir, addr string, partitions int, auth brokerAuth) (*kfake.Cluster, error) {
	host, portStr, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, fmt.Errorf("%w: --kafka-listen %q: %v", errUsage, addr, err)
	}
	port, err := strconv.Atoi(portStr)
	if err != nil {
		return nil, fmt.Errorf("%w: --kafka-listen %q: bad port", errUsage, addr)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("broker data folder: %w", err)
	}
	opts := []kfake.Opt{
		kfake.NumBrokers(1),
		kfake.Ports(port),
		// kfake listens on 127.0.0.1; this puts it on the host asked for.
		kfake.ListenFn(func(network, a string) (net.Listener, error) {
			_, p, _ := net.SplitHostPort(a)
			return net.Listen(network, net.JoinHostPort(host, p))
		}),
		kfake.DataDir(dir),
		kfake.SeedTopics(int32(partitions), message.TopicCanvas, message.TopicPredictions, message.TopicDeadLetter, message.TopicSamples),
		kfake.BrokerConfigs(map[string]string{"message.max.bytes": strconv.Itoa(message.MaxRecordBytes)}),
	}
	if auth.user != "" {
		opts = append(opts, kfake.EnableSASL(), kfake.Superuser("SCRAM-SHA-512", auth.user, auth.password))
	}
	c, err := kfake.NewCluster(opts...)
	if err != nil {
		var op *net.OpError
		if errors.As(err, &op) {
			return nil, fmt.Errorf("start the Kafka-protocol broker on %s (another Kafka there? use --kafka-listen): %w", addr, err)
		}
		return nil, fmt.Errorf("start the Kafka-protocol broker: %w", err)
	}
	return c, nil
}
