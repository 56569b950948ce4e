package runners

import "time"

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
	// emits at the end of a bundle (storeio.Write's ids) waits that long.
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
