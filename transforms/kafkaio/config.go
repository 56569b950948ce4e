package kafkaio

import (
	"errors"
	"fmt"
	"github.com/stratusml/stratus/internal/kafkasec"
	"strings"
	"time"
)

// StartOffset says where a partition is read from when the consumer group
// has no committed offset for it (or when no group is configured).
type StartOffset string

const (
	// StartLatest reads only records produced after the pipeline resolved the
	// partition's end offset at start-up (Kafka's auto.offset.reset=latest).
	StartLatest StartOffset = "latest"
	// StartEarliest reads every record still retained in the partition
	// (Kafka's auto.offset.reset=earliest).
	StartEarliest StartOffset = "earliest"
)

// Defaults taken by zero-valued fields of ReadConfig and WriteConfig.
const (
	// DefaultPollTimeout is ReadConfig.PollTimeout's default.
	DefaultPollTimeout = 100 * time.Millisecond
	// DefaultResumeDelay is ReadConfig.ResumeDelay's default.
	DefaultResumeDelay = 2 * time.Millisecond
	// DefaultIdleWatermarkLag is ReadConfig.IdleWatermarkLag's default.
	DefaultIdleWatermarkLag = time.Second
	// DefaultFetchMaxWait is ReadConfig.FetchMaxWait's default.
	DefaultFetchMaxWait = 500 * time.Millisecond
	// DefaultFetchMaxBytes is ReadConfig.FetchMaxBytes's default.
	DefaultFetchMaxBytes = 1 << 20
	// DefaultQueueCapacity is ReadConfig.QueueCapacity's default.
	DefaultQueueCapacity = 1000
	// DefaultMaxBundleRecords is ReadConfig.MaxBundleRecords's default.
	DefaultMaxBundleRecords = 1000
	// DefaultBatchTimeout is WriteConfig.BatchTimeout's default.
	DefaultBatchTimeout = time.Millisecond
	// DefaultRetryFor is WriteConfig.RetryFor's default.
	DefaultRetryFor = 2 * time.Minute
	// DefaultBatchBytes is WriteConfig.BatchBytes's default.
	DefaultBatchBytes = 8 << 20
	// DefaultBatchSize is WriteConfig.BatchSize's default.
	DefaultBatchSize = 100
	// DefaultWriteTimeout is WriteConfig.WriteTimeout's default.
	DefaultWriteTimeout = 10 * time.Second
	// DefaultMaxAttempts is WriteConfig.MaxAttempts's default.
	DefaultMaxAttempts = 10
	// DefaultFlushRecords is WriteConfig.FlushRecords's default.
	DefaultFlushRecords = 10000
)

const (
	defaultDialTimeout    = 10 * time.Second
	defaultRequestTimeout = 10 * time.Second
)

// ReadConfig configures Read. Brokers and Topic are required; every other
// field has a documented default taken when it is zero.
type ReadConfig struct {
	// Brokers are the bootstrap addresses, host:port.
	Brokers []string
	// Topic is the topic to read (all of its partitions, unless Partitions
	// is set).
	Topic string
	// Partitions restricts the read to these partition ids; empty reads every
	// partition the topic has when the pipeline starts.
	Partitions []int
	// GroupID is the consumer group whose committed offsets say where each
	// partition starts, and to which the read commits its progress once the
	// runner has durably taken the records' output. Empty: start per
	// StartFrom and commit nothing.
	GroupID string
	// StartFrom applies to partitions without a committed offset. Default
	// StartLatest, like Kafka consumers.
	StartFrom StartOffset
	// ClientID is sent to the broker with every request. Default "stratus-kafkaio".
	ClientID string
	// Security is TLS and SASL for the connections (zero: plain TCP). It
	// holds no secret: the SASL password is read on the worker.
	Security kafkasec.Config

	// PollTimeout is how long the first partition of a bundle waits for a
	// record (of any partition its DoFn instance reads) before the DoFn
	// self-checkpoints. A record ends the wait at once, so this does not add
	// latency; it bounds how long an idle partition's watermark and commit
	// wait for the next checkpoint. Default 100 ms.
	PollTimeout time.Duration
	// ResumeDelay is the delay requested with sdf.ResumeProcessingIn when the
	// DoFn self-checkpoints. Default 2 ms.
	ResumeDelay time.Duration
	// IdleWatermarkLag: while a partition is caught up, its watermark advances
	// to now minus this lag, which bounds how late a record still in flight
	// may arrive without being late. Default 1 s.
	IdleWatermarkLag time.Duration
	// MaxBundleRecords bounds the records one partition emits per bundle
	// before it checkpoints (with no delay) so its output is committed
	// downstream. Default 1000.
	MaxBundleRecords int

	// FetchMaxWait is the broker-side long-poll of a fetch; a fetch returns as
	// soon as one byte is available, so this only paces idle fetches.
	// Default 500 ms.
	FetchMaxWait time.Duration
	// FetchMaxBytes caps a fetch response (kafka-go MaxBytes). Default 1 MiB.
	FetchMaxBytes int
	// QueueCapacity is how many fetched records a partition reader buffers
	// ahead of the DoFn. Default 1000.
	QueueCapacity int
	// ReadCommitted makes readers skip records of aborted transactions and
	// stop at the last stable offset. Default false (read uncommitted).
	ReadCommitted bool
}

// Validate reports the first problem with cfg (after defaults), or nil.
func (cfg ReadConfig) Validate() error {
	c := cfg.withDefaults()
	if err := validateBrokers(c.Brokers); err != nil {
		return err
	}
	if strings.TrimSpace(c.Topic) == "" {
		return errors.New("kafkaio: ReadConfig.Topic is required")
	}
	seen := map[int]bool{}
	for _, p := range c.Partitions {
		if p < 0 {
			return fmt.Errorf("kafkaio: ReadConfig.Partitions: negative partition %d", p)
		}
		if seen[p] {
			return fmt.Errorf("kafkaio: ReadConfig.Partitions: partition %d listed twice", p)
		}
		seen[p] = true
	}
	switch c.StartFrom {
	case StartLatest, StartEarliest:
	default:
		return fmt.Errorf("kafkaio: ReadConfig.StartFrom %q: want %q or %q", c.StartFrom, StartEarliest, StartLatest)
	}
	for _, d := range []struct {
		name string
		v    time.Duration
	}{
		{"PollTimeout", c.PollTimeout},
		{"ResumeDelay", c.ResumeDelay},
		{"IdleWatermarkLag", c.IdleWatermarkLag},
		{"FetchMaxWait", c.FetchMaxWait},
	} {
		if d.v < 0 {
			return fmt.Errorf("kafkaio: ReadConfig.%s is negative (%v)", d.name, d.v)
		}
	}
	if c.FetchMaxWait < time.Millisecond {
		return fmt.Errorf("kafkaio: ReadConfig.FetchMaxWait %v is below 1 ms", c.FetchMaxWait)
	}
	for _, n := range []struct {
		name string
		v    int
	}{
		{"MaxBundleRecords", c.MaxBundleRecords},
		{"FetchMaxBytes", c.FetchMaxBytes},
		{"QueueCapacity", c.QueueCapacity},
	} {
		if n.v < 0 {
			return fmt.Errorf("kafkaio: ReadConfig.%s is negative (%d)", n.name, n.v)
		}
	}
	return nil
}

// withDefaults returns cfg with zero fields replaced by their defaults.
func (cfg ReadConfig) withDefaults() ReadConfig {
	c := cfg
	c.Brokers = trimAll(c.Brokers)
	if c.StartFrom == "" {
		c.StartFrom = StartLatest
	}
	if c.ClientID == "" {
		c.ClientID = "stratus-kafkaio"
	}
	if c.PollTimeout == 0 {
		c.PollTimeout = DefaultPollTimeout
	}
	if c.ResumeDelay == 0 {
		c.ResumeDelay = DefaultResumeDelay
	}
	if c.IdleWatermarkLag == 0 {
		c.IdleWatermarkLag = DefaultIdleWatermarkLag
	}
	if c.MaxBundleRecords == 0 {
		c.MaxBundleRecords = DefaultMaxBundleRecords
	}
	if c.FetchMaxWait == 0 {
		c.FetchMaxWait = DefaultFetchMaxWait
	}
	if c.FetchMaxBytes == 0 {
		c.FetchMaxBytes = DefaultFetchMaxBytes
	}
	if c.QueueCapacity == 0 {
		c.QueueCapacity = DefaultQueueCapacity
	}
	return c
}

// Balancer names how Write picks a partition for a message.
type Balancer string

const (
	// BalanceHash hashes the key with FNV-1a (kafka-go's Hash, sarama's
	// default); messages with the same key go to the same partition. Keyless
	// messages are spread round-robin.
	BalanceHash Balancer = "hash"
	// BalanceMurmur2 hashes the key like the Java client's default
	// partitioner, so Go and Java producers agree on the partition of a key.
	BalanceMurmur2 Balancer = "murmur2"
	// BalanceRoundRobin ignores the key.
	BalanceRoundRobin Balancer = "roundrobin"
	// BalanceLeastBytes picks the partition that received the fewest bytes.
	BalanceLeastBytes Balancer = "leastbytes"
)

// Compression names a produce compression codec.
type Compression string

// Compression codecs accepted by WriteConfig.Compression.
const (
	// CompressionNone sends batches uncompressed.
	CompressionNone Compression = "none"
	// CompressionGzip compresses batches with gzip.
	CompressionGzip Compression = "gzip"
	// CompressionSnappy compresses batches with snappy.
	CompressionSnappy Compression = "snappy"
	// CompressionLz4 compresses batches with lz4.
	CompressionLz4 Compression = "lz4"
	// CompressionZstd compresses batches with zstd.
	CompressionZstd Compression = "zstd"
)

// WriteConfig configures Write. Brokers are required, and Topic unless the
// input is a PCollection<Record> whose records name their topics.
type WriteConfig struct {
	// Brokers are the bootstrap addresses, host:port.
	Brokers []string
	// Topic receives every message. Empty is allowed only for a Record input:
	// each record then goes to its Record.Topic (which must be set).
	Topic string
	// ClientID is sent to the broker with every request. Default "stratus-kafkaio".
	ClientID string
	// Security is TLS and SASL for the connections (zero: plain TCP).
	Security kafkasec.Config
	// Balancer picks the partition of a message. Default BalanceHash.
	Balancer Balancer
	// RequiredAcks: -1 waits for all in-sync replicas, 1 for the leader only.
	// Default -1 (all). 0 (fire and forget) cannot be chosen: it would lose
	// delivery errors.
	RequiredAcks int
	// BatchTimeout is how long kafka-go waits to fill a partition batch before
	// sending it. The whole bundle is handed over at once, so only the last,
	// partial batch of each partition waits this long, and a bundle of a
	// single message does not wait at all. Default 1 ms (kafka-go's own
	// default of 1 s would delay every lone message by a second).
	BatchTimeout time.Duration
	// BatchSize is the most messages per produce batch. Default 100.
	BatchSize int
	// RetryFor is how long a flush keeps retrying records the brokers did
	// not take for a passing reason (unreachable, restarting, a leader
	// moving) before the bundle fails. Default 2 minutes.
	RetryFor time.Duration
	// BatchBytes is the most bytes per produce batch, and so the largest
	// record (kafka-go refuses a bigger one). Default 8 MiB: records of
	// Stratus carry PNGs of up to 2 MiB in base64 JSON.
	BatchBytes int64
	// Compression of produced batches. Default none.
	Compression Compression
	// WriteTimeout bounds one produce request. Default 10 s.
	WriteTimeout time.Duration
	// MaxAttempts is how many times kafka-go tries a batch before FinishBundle
	// fails the bundle. Default 10.
	MaxAttempts int
	// FlushRecords: ProcessElement writes the buffer out early once it holds
	// this many messages, bounding memory in large bundles. Default 10000.
	FlushRecords int
	// AllowAutoTopicCreation lets the broker create a missing topic on first
	// write (when the broker allows it). Default false.
	AllowAutoTopicCreation bool
}

// Validate reports the first problem with cfg (after defaults), or nil. It
// does not know the input type: Write additionally requires Topic for a KV
// input.
func (cfg WriteConfig) Validate() error {
	c := cfg.withDefaults()
	if err := validateBrokers(c.Brokers); err != nil {
		return err
	}
	switch c.Balancer {
	case BalanceHash, BalanceMurmur2, BalanceRoundRobin, BalanceLeastBytes:
	default:
		return fmt.Errorf("kafkaio: WriteConfig.Balancer %q: want one of hash, murmur2, roundrobin, leastbytes", c.Balancer)
	}
	switch c.RequiredAcks {
	case -1, 1:
	default:
		return fmt.Errorf("kafkaio: WriteConfig.RequiredAcks %d: want -1 (all) or 1 (leader)", c.RequiredAcks)
	}
	switch c.Compression {
	case CompressionNone, CompressionGzip, CompressionSnappy, CompressionLz4, CompressionZstd:
	default:
		return fmt.Errorf("kafkaio: WriteConfig.Compression %q: want none, gzip, snappy, lz4 or zstd", c.Compression)
	}
	if c.BatchTimeout < 0 || c.WriteTimeout < 0 {
		return errors.New("kafkaio: WriteConfig durations must not be negative")
	}
	if c.BatchSize < 0 || c.BatchBytes < 0 || c.MaxAttempts < 0 || c.FlushRecords < 0 {
		return errors.New("kafkaio: WriteConfig sizes and counts must not be negative")
	}
	return nil
}

// withDefaults returns cfg with zero fields replaced by their defaults.
func (cfg WriteConfig) withDefaults() WriteConfig {
	c := cfg
	c.Brokers = trimAll(c.Brokers)
	if c.ClientID == "" {
		c.ClientID = "stratus-kafkaio"
	}
	if c.Balancer == "" {
		c.Balancer = BalanceHash
	}
	if c.RequiredAcks == 0 {
		c.RequiredAcks = -1
	}
	if c.BatchTimeout == 0 {
		c.BatchTimeout = DefaultBatchTimeout
	}
	if c.BatchSize == 0 {
		c.BatchSize = DefaultBatchSize
	}
	if c.Compression == "" {
		c.Compression = CompressionNone
	}
	if c.WriteTimeout == 0 {
		c.WriteTimeout = DefaultWriteTimeout
	}
	if c.MaxAttempts == 0 {
		c.MaxAttempts = DefaultMaxAttempts
	}
	if c.FlushRecords == 0 {
		c.FlushRecords = DefaultFlushRecords
	}
	if c.BatchBytes == 0 {
		c.BatchBytes = DefaultBatchBytes
	}
	if c.RetryFor == 0 {
		c.RetryFor = DefaultRetryFor
	}
	return c
}

func validateBrokers(brokers []string) error {
	if len(brokers) == 0 {
		return errors.New("kafkaio: Brokers is required (host:port)")
	}
	for _, b := range brokers {
		if i := strings.LastIndexByte(b, ':'); i <= 0 || i == len(b)-1 {
			return fmt.Errorf("kafkaio: broker %q is not host:port", b)
		}
	}
	return nil
}

// trimAll splits comma-separated entries and trims spaces, so both
// []string{"a:1,b:2"} and []string{"a:1", " b:2"} work.
func trimAll(in []string) []string {
	var out []string
	for _, s := range in {
		for _, part := range strings.Split(s, ",") {
			if p := strings.TrimSpace(part); p != "" {
				out = append(out, p)
			}
		}
	}
	return out
}
