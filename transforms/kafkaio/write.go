package kafkaio

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"reflect"
	"time"

	"github.com/apache/beam/sdks/v2/go/pkg/beam"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/core/typex"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/register"
	"github.com/segmentio/kafka-go"
	"github.com/segmentio/kafka-go/compress"
)

func init() {
	register.DoFn3x1[context.Context, []byte, []byte, error](&writeKVFn{})
	register.DoFn2x1[context.Context, Record, error](&writeRecordFn{})
}

var (
	recordType = reflect.TypeOf((*Record)(nil)).Elem()
	bytesType  = reflect.TypeOf((*[]byte)(nil)).Elem()
)

// Write writes col to Kafka. col is either a PCollection<KV<[]byte, []byte>>
// of (key, value) pairs, written to cfg.Topic, or a PCollection<Record>,
// whose key, value, headers and timestamp are written to cfg.Topic or, when
// that is empty, to each record's Topic (Partition and Offset are ignored:
// cfg.Balancer picks the partition from the key).
//
// Messages are buffered per bundle and written in FinishBundle; an error
// fails the bundle, so a runner that retries bundles writes them again
// (at-least-once). Write panics if cfg is invalid or col has another type.
func Write(s beam.Scope, cfg WriteConfig, col beam.PCollection) {
	s = s.Scope("kafkaio.Write")
	if err := cfg.Validate(); err != nil {
		panic(fmt.Errorf("kafkaio.Write: %w", err))
	}
	cfg = cfg.withDefaults()
	t := col.Type()
	switch {
	case typex.IsKV(t) && t.Components()[0].Type() == bytesType && t.Components()[1].Type() == bytesType:
		if cfg.Topic == "" {
			panic(errors.New("kafkaio.Write: WriteConfig.Topic is required for a KV<[]byte, []byte> input"))
		}
		beam.ParDo0(s, &writeKVFn{Config: cfg}, col)
	case t.Type() == recordType:
		beam.ParDo0(s, &writeRecordFn{Config: cfg}, col)
	default:
		panic(fmt.Errorf("kafkaio.Write: input must be KV<[]byte, []byte> or kafkaio.Record, got %v", t))
	}
}

// writer is the part the Write DoFns share: two kafka-go Writers over one
// connection pool, and the bundle's buffer.
//
// A bundle's messages are handed over at once, so every batch kafka-go
// builds is either full (sent at once) or the last of its partition, which
// waits BatchTimeout. A bundle of one message, the common case of a
// low-latency stream, goes through the second Writer, whose batches hold
// one message and never wait: that saves about a millisecond per bundle
// (measured: 2.3 ms → 1.2 ms p50 for a lone message on loopback).
type writer struct {
	cfg  WriteConfig
	w    *kafka.Writer // batches of up to BatchSize
	lone *kafka.Writer // batches of one message
	buf  []kafka.Message
}

// setup creates the kafka-go Writers.
func (wr *writer) setup(c WriteConfig) error {
	if wr.w != nil {
		return nil
	}
	wr.cfg = c
	transport, err := c.Security.Transport(c.ClientID, defaultDialTimeout)
	if err != nil {
		return fmt.Errorf("kafkaio: %w", err)
	}
	newWriter := func(batchSize int) *kafka.Writer {
		return &kafka.Writer{
			Addr:                   kafka.TCP(c.Brokers...),
			Topic:                  c.Topic,
			Balancer:               balancer(c.Balancer),
			MaxAttempts:            c.MaxAttempts,
			BatchSize:              batchSize,
			BatchBytes:             c.BatchBytes,
			BatchTimeout:           c.BatchTimeout,
			WriteTimeout:           c.WriteTimeout,
			RequiredAcks:           kafka.RequiredAcks(c.RequiredAcks),
			Async:                  false,
			Compression:            compression(c.Compression),
			AllowAutoTopicCreation: c.AllowAutoTopicCreation,
			Transport:              transport,
		}
	}
	wr.w = newWriter(c.BatchSize)
	wr.lone = newWriter(1)
	return nil
}

// add buffers m, writing the buffer out once it holds FlushRecords messages.
func (wr *writer) add(ctx context.Context, m kafka.Message) error {
	wr.buf = append(wr.buf, m)
	if len(wr.buf) >= wr.cfg.FlushRecords {
		return wr.flush(ctx)
	}
	return nil
}

// flush writes the buffer and waits for the broker's acknowledgements. A
// broker that is unreachable or answers with a retriable error (it is
// restarting, a leader moves) is retried, the failed messages only, with
// backoff, for up to RetryFor: the bundle waits rather than fails.
func (wr *writer) flush(ctx context.Context) error {
	if len(wr.buf) == 0 {
		return nil
	}
	msgs := wr.buf
	wr.buf = nil
	deadline := time.Now().Add(wr.cfg.RetryFor)
	wait := 100 * time.Millisecond
	for attempt := 1; ; attempt++ {
		w := wr.w
		if len(msgs) == 1 {
			w = wr.lone
		}
		err := w.WriteMessages(ctx, msgs...)
		if err == nil {
			return nil
		}
		again, retriable := failedMessages(msgs, err)
		if !retriable || ctx.Err() != nil || time.Now().After(deadline) {
			return fmt.Errorf("kafkaio: writing %d messages%s (attempt %d): %w", len(msgs), topicSuffix(wr.cfg.Topic), attempt, err)
		}
		if attempt == 1 || attempt%10 == 0 {
			slog.Warn("kafkaio: Kafka is not taking records; retrying", "records", len(again), "attempt", attempt, "err", err)
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("kafkaio: writing %d messages%s: %w", len(msgs), topicSuffix(wr.cfg.Topic), ctx.Err())
		case <-time.After(wait):
		}
		wait = min(2*wait, 2*time.Second)
		msgs = again
	}
}

// failedMessages returns the messages err says were not written, and
// whether every failure is worth retrying (the broker unreachable or
// answering with a retriable error); a record the broker refuses for good
// (too large, a bad topic) is not.
func failedMessages(msgs []kafka.Message, err error) ([]kafka.Message, bool) {
	var we kafka.WriteErrors
	if !errors.As(err, &we) || len(we) != len(msgs) {
		return msgs, retriable(err)
	}
	var out []kafka.Message
	for i, e := range we {
		if e == nil {
			continue
		}
		if !retriable(e) {
			return nil, false
		}
		out = append(out, msgs[i])
	}
	return out, len(out) > 0
}

// teardown closes the Writer.
func (wr *writer) teardown() error {
	if wr.w == nil {
		return nil
	}
	err := errors.Join(wr.w.Close(), wr.lone.Close())
	wr.w, wr.lone = nil, nil
	if err != nil {
		return fmt.Errorf("kafkaio: closing writer: %w", err)
	}
	return nil
}

func topicSuffix(topic string) string {
	if topic == "" {
		return ""
	}
	return " to " + topic
}

// writeKVFn writes (key, value) pairs to one topic.
type writeKVFn struct {
	// Config is the write's configuration, with defaults applied.
	Config WriteConfig

	wr writer
}

// Setup creates the kafka-go Writer.
func (fn *writeKVFn) Setup() error { return fn.wr.setup(fn.Config) }

// StartBundle clears the buffer (a failed bundle may have left messages).
func (fn *writeKVFn) StartBundle() { fn.wr.buf = fn.wr.buf[:0] }

// ProcessElement buffers one message.
func (fn *writeKVFn) ProcessElement(ctx context.Context, key, value []byte) error {
	return fn.wr.add(ctx, kafka.Message{Key: key, Value: value})
}

// FinishBundle writes the bundle's messages.
func (fn *writeKVFn) FinishBundle(ctx context.Context) error { return fn.wr.flush(ctx) }

// Teardown closes the kafka-go Writer.
func (fn *writeKVFn) Teardown() error { return fn.wr.teardown() }

// writeRecordFn writes Records, to the configured topic or their own.
type writeRecordFn struct {
	// Config is the write's configuration, with defaults applied.
	Config WriteConfig

	wr writer
}

// Setup creates the kafka-go Writer.
func (fn *writeRecordFn) Setup() error { return fn.wr.setup(fn.Config) }

// StartBundle clears the buffer (a failed bundle may have left messages).
func (fn *writeRecordFn) StartBundle() { fn.wr.buf = fn.wr.buf[:0] }

// ProcessElement buffers one record.
func (fn *writeRecordFn) ProcessElement(ctx context.Context, r Record) error {
	perRecord := fn.Config.Topic == ""
	if perRecord && r.Topic == "" {
		return fmt.Errorf("kafkaio: record (offset %d, key %q) has no Topic and WriteConfig.Topic is empty", r.Offset, r.Key)
	}
	return fn.wr.add(ctx, r.message(perRecord))
}

// FinishBundle writes the bundle's messages.
func (fn *writeRecordFn) FinishBundle(ctx context.Context) error { return fn.wr.flush(ctx) }

// Teardown closes the kafka-go Writer.
func (fn *writeRecordFn) Teardown() error { return fn.wr.teardown() }

func balancer(b Balancer) kafka.Balancer {
	switch b {
	case BalanceMurmur2:
		return &kafka.Murmur2Balancer{}
	case BalanceRoundRobin:
		return &kafka.RoundRobin{}
	case BalanceLeastBytes:
		return &kafka.LeastBytes{}
	default:
		return &kafka.Hash{}
	}
}

func compression(c Compression) kafka.Compression {
	switch c {
	case CompressionGzip:
		return compress.Gzip
	case CompressionSnappy:
		return compress.Snappy
	case CompressionLz4:
		return compress.Lz4
	case CompressionZstd:
		return compress.Zstd
	default:
		return 0
	}
}
