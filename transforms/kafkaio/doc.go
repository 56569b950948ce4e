// Package kafkaio is a native Go Kafka IO for the Apache Beam Go SDK, built on
// github.com/segmentio/kafka-go.
//
// # Reading
//
// [Read] is an unbounded source: an Impulse, a DoFn that lists the topic's
// partitions and resolves where each one starts (once, when the pipeline
// starts: partitions added later are read after a restart), and a
// splittable DoFn that reads one partition per element:
//
//	records := kafkaio.Read(s, kafkaio.ReadConfig{
//		Brokers: []string{"127.0.0.1:9092"},
//		Topic:   "stratus.canvas",
//		GroupID: "stratus-stream",
//	}) // PCollection<Record>, event time = record timestamp
//
// Each partition's restriction is a growable offsetrange.Restriction
// [start, math.MaxInt64). It starts at the consumer group's committed offset
// (ReadConfig.GroupID), or, when the group has none, at the earliest or latest
// offset (ReadConfig.StartFrom). The tracker is an offsetrange.GrowableTracker
// whose range-end estimator is the partition's high-water mark as last seen
// by the reader (no broker round trip per call), wrapped so that it splits
// only to checkpoint (see below).
//
// The splittable DoFn emits what its partition has buffered and returns as
// soon as it has emitted something, so a runner that commits output at bundle
// end (prism does) sees every record within a few milliseconds. When nothing
// is buffered the first partition of a bundle waits up to
// ReadConfig.PollTimeout for a record of any partition its DoFn instance
// reads; it then self-checkpoints with sdf.ResumeProcessingIn
// (ReadConfig.ResumeDelay). A kafka-go partition reader per partition is kept
// in the DoFn instance across bundles and fetches in the background
// (long-polling the broker with MinBytes 1), so resuming costs no reconnect.
// An unused reader closes itself after a minute.
//
// Watermark: a custom estimator holds the largest record timestamp read so
// far. Whenever the partition is caught up (nothing buffered, position at the
// high-water mark) it also advances to now minus ReadConfig.IdleWatermarkLag,
// so event-time windows close while a partition is idle.
//
// Offsets are committed to the consumer group only once the runner has
// durably taken the output of the records before them: when a partition's
// restriction resumes at offset S, S is committed (asynchronously, never
// moving backwards within a worker). A resuming restriction is the checkpoint
// residual of a bundle the runner has committed together with its output and
// with whatever DoFns fused into the same stage did with it (Write's flush,
// in a Read → Write pipeline); the tracker refuses dynamic splits, so no
// residual exists before its bundle is done. A restarted pipeline with the
// same GroupID resumes at the committed offsets; the records of the last
// bundle before a stop are read again (at-least-once). Records handed on to
// a later stage (after a GroupByKey or a stateful DoFn) count as done once
// the runner holds them: prism holds them in memory, so if a prism job dies
// with records between stages, they are not read again.
//
// Why not bundle finalization: in Beam Go v2.77.0, Plan.Finalize replaces the
// plan's bundleFinalizer while the ParDo keeps the one attached at plan
// creation, so callbacks registered after a plan's first finalized bundle
// never run (and pile up); prism also sends FinalizeBundle for every bundle
// of a stage that asks for finalization and the SDK answers each one it has
// no callbacks for with an error, logged by prism.
//
// # Writing
//
// [Write] writes a PCollection<KV<[]byte, []byte>> (key, value) or a
// PCollection<Record> to Kafka with kafka-go Writers tuned for latency
// (BatchTimeout 1 ms, RequiredAcks all, synchronous; a bundle of a single
// message goes through a Writer with batches of one, which skips even that
// millisecond). Messages are buffered in ProcessElement and written in
// FinishBundle; a delivery error fails the bundle so the runner retries it
// (at-least-once: consumers must be idempotent).
// With a Record input and an empty WriteConfig.Topic, each record goes to its
// own Record.Topic.
//
// # Runners
//
// Tested on prism (LOOPBACK). The runner must support self-checkpointing
// splittable DoFns (Spark's portable runner does not). Read adds an idle
// GroupByKey branch so that its stage always has an output: prism v2.77.0
// busy-waits through every bundle of a stage without one (a Read fused with
// Writes only), which costs a full core.
package kafkaio
