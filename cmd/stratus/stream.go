package main

import (
	"context"
	"flag"
	"fmt"
	"time"

	"github.com/apache/beam/sdks/v2/go/pkg/beam"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/stratusml/stratus/internal/beamprom"
	"github.com/stratusml/stratus/internal/flagenv"
	"github.com/stratusml/stratus/internal/kafkaprom"
	"github.com/stratusml/stratus/message"
	"github.com/stratusml/stratus/pipelines/stream"
	"github.com/stratusml/stratus/runners"
	"github.com/stratusml/stratus/store"
	_ "github.com/stratusml/stratus/store/couchdb" // the couchdb:// and http(s):// store backend
	"github.com/stratusml/stratus/transforms/kafkaio"
)

func runStream(ctx context.Context, env *environment, args []string) error {
	fs := flag.NewFlagSet("stream", flag.ContinueOnError)
	fs.SetOutput(env.stderr)
	kf := addKafkaFlags(fs)
	cf := addStoreFlags(fs, true)
	topicPrefix := fs.String("topic-prefix", "", "prefix of the Kafka topic names (several deployments on one Kafka cluster)")
	runner := fs.String("runner", "prism", "Beam runner: prism (in process), flink or spark (portable job server at --endpoint)")
	endpoint := fs.String("endpoint", "", "job server host:port for --runner flink|spark")
	envType := fs.String("environment-type", "loopback", "SDK worker environment for portable runners: loopback, external (a worker pool at --environment-config), process or docker")
	envConfig := fs.String("environment-config", "", "the environment's configuration: worker pool host:port for external, {\"command\":…} for process, the image for docker")
	modelPath := fs.String("model", "", "model file or registered model id (default: the registry's active model, else the one shipped in the binary)")
	group := fs.String("group", "stratus-stream", "Kafka consumer group (the pipeline resumes from its committed offsets)")
	startFrom := fs.String("start-from", "latest", "where partitions without a committed offset start: latest or earliest")
	metricsAddr := fs.String("metrics-listen", "127.0.0.1:9464", "address of /metrics (the pipeline's Beam metrics and the consumer lag, for Prometheus) and /healthz; empty: none")
	batch := fs.Int("batch-size", 64, "largest inference batch")
	batchWait := fs.Duration("batch-wait", 5*time.Millisecond, "longest an event waits for its inference batch to fill")
	fs.Usage = flagenv.Usage(fs, "stratus stream --couchdb URL [flags]",
		"Runs the streaming pipeline: canvas events from Kafka (stratus.canvas) are\ndecoded, validated, preprocessed and recognised in batches; each sample is\nupserted into CouchDB and its Prediction written to stratus.predictions; bad\nevents go to stratus.deadletter. Runs until Ctrl-C, then stops the job cleanly.")
	if err := flagenv.Parse(fs, args, env.getenv); err != nil {
		return usageErr(err)
	}
	if *cf.url == "" {
		return fmt.Errorf("%w: --couchdb (or STRATUS_COUCHDB) is required", errUsage)
	}
	if err := kf.check(); err != nil {
		return err
	}
	couchURL, err := cf.resolve(args, env.log)
	if err != nil {
		return err
	}
	warnExposed(env.log, "metrics-listen", *metricsAddr, exposesMetrics)
	couch, prefix, brokers := &couchURL, cf.prefix, kf.brokers
	cfg := stream.Config{
		Brokers: kf.list(), KafkaSecurity: kf.sec, GroupID: *group, StartFrom: kafkaio.StartOffset(*startFrom),
		StoreURL: *couch, StorePrefix: *prefix, ModelPath: *modelPath,
		MaxBatchSize: *batch, MaxBatchWait: *batchWait,
		CanvasTopic: *topicPrefix + message.TopicCanvas, PredictionsTopic: *topicPrefix + message.TopicPredictions,
		DeadLetterTopic: *topicPrefix + message.TopicDeadLetter, SamplesTopic: *topicPrefix + message.TopicSamples,
	}
	p, s := beam.NewPipelineWithRoot()
	if err := stream.Build(s, cfg); err != nil {
		return err
	}
	job, err := runners.Start(ctx, p, runners.Options{Runner: *runner, Endpoint: *endpoint, EnvironmentType: *envType, EnvironmentConfig: *envConfig, JobName: "stratus-stream"})
	if err != nil {
		return err
	}
	defer job.Close()
	var metricsListening string
	if *metricsAddr != "" {
		reg := prometheus.NewRegistry()
		reg.MustRegister(beamprom.New(job, env.log), kafkaprom.NewLagCollector(env.log, kafkaio.ReadConfig{
			Brokers: cfg.Brokers, Topic: cfg.CanvasTopic, GroupID: cfg.GroupID, Security: cfg.KafkaSecurity,
		}, kafkaio.ReadConfig{
			Brokers: cfg.Brokers, Topic: cfg.SamplesTopic, GroupID: cfg.StoreGroupID(), Security: cfg.KafkaSecurity,
		}))
		addr, stop, err := serveMetrics(*metricsAddr, reg, env.log)
		if err != nil {
			return err
		}
		defer stop()
		metricsListening = addr
	}
	if err := checkOwnListeners(env.log, metricsListening); err != nil {
		stopCtx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		_ = job.Stop(stopCtx)
		return err
	}
	env.log.Info("stream: running", "job", job.ID, "runner", *runner, "kafka", *brokers, "couchdb", store.RedactURL(*couch))
	select {
	case <-ctx.Done():
		env.log.Info("stream: stopping")
		stopCtx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		return job.Stop(stopCtx)
	case <-job.Done():
		return fmt.Errorf("stream: the job ended: %w", job.Wait(ctx))
	}
}
