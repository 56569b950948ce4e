package kafkaio

import (
	"context"
	"flag"
	"log/slog"
	"net"
	"os"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/apache/beam/sdks/v2/go/pkg/beam"
	"github.com/segmentio/kafka-go"
	"github.com/twmb/franz-go/pkg/kfake"
)

func TestMain(m *testing.M) {
	flag.Parse()
	beam.Init()
	// Prism and the SDK log every job's life at INFO; keep test output to
	// warnings and errors unless KAFKAIO_TEST_LOG=info (or debug).
	level := slog.LevelWarn
	level.UnmarshalText([]byte(os.Getenv("KAFKAIO_TEST_LOG")))
	slog.SetDefault(slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level})))
	os.Exit(m.Run())
}

func TestReadConfigValidate(t *testing.T) {
	ok := ReadConfig{Brokers: []string{"127.0.0.1:9092"}, Topic: "t"}
	for _, tc := range []struct {
		name string
		edit func(*ReadConfig)
		want string // substring of the error; "" for valid
	}{
		{"minimal", func(*ReadConfig) {}, ""},
		{"comma list", func(c *ReadConfig) { c.Brokers = []string{"a:1, b:2"} }, ""},
		{"no brokers", func(c *ReadConfig) { c.Brokers = nil }, "Brokers is required"},
		{"blank brokers", func(c *ReadConfig) { c.Brokers = []string{" ", ""} }, "Brokers is required"},
		{"no port", func(c *ReadConfig) { c.Brokers = []string{"localhost"} }, "not host:port"},
		{"no topic", func(c *ReadConfig) { c.Topic = " " }, "Topic is required"},
		{"bad start", func(c *ReadConfig) { c.StartFrom = "beginning" }, "StartFrom"},
		{"earliest", func(c *ReadConfig) { c.StartFrom = StartEarliest }, ""},
		{"negative partition", func(c *ReadConfig) { c.Partitions = []int{-1} }, "negative partition"},
		{"repeated partition", func(c *ReadConfig) { c.Partitions = []int{1, 1} }, "twice"},
		{"negative poll", func(c *ReadConfig) { c.PollTimeout = -time.Second }, "PollTimeout"},
		{"tiny max wait", func(c *ReadConfig) { c.FetchMaxWait = time.Microsecond }, "FetchMaxWait"},
		{"negative queue", func(c *ReadConfig) { c.QueueCapacity = -1 }, "QueueCapacity"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := ok
			tc.edit(&c)
			err := c.Validate()
			switch {
			case tc.want == "" && err != nil:
				t.Errorf("Validate() = %v, want nil", err)
			case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
				t.Errorf("Validate() = %v, want an error containing %q", err, tc.want)
			}
		})
	}
}

func TestReadConfigDefaults(t *testing.T) {
	c := ReadConfig{Brokers: []string{"a:1,b:2"}, Topic: "t"}.withDefaults()
	want := ReadConfig{
		Brokers: []string{"a:1", "b:2"}, Topic: "t", StartFrom: StartLatest, ClientID: "stratus-kafkaio",
		PollTimeout: DefaultPollTimeout, ResumeDelay: DefaultResumeDelay, IdleWatermarkLag: DefaultIdleWatermarkLag,
		MaxBundleRecords: DefaultMaxBundleRecords, FetchMaxWait: DefaultFetchMaxWait, FetchMaxBytes: DefaultFetchMaxBytes,
		QueueCapacity: DefaultQueueCapacity,
	}
	if !reflect.DeepEqual(c, want) {
		t.Errorf("withDefaults:\n got %+v\nwant %+v", c, want)
	}
	// Set values survive.
	c = ReadConfig{Brokers: []string{"a:1"}, Topic: "t", PollTimeout: time.Second, StartFrom: StartEarliest}.withDefaults()
	if c.PollTimeout != time.Second || c.StartFrom != StartEarliest {
		t.Errorf("explicit values overridden: %+v", c)
	}
}

func TestWriteConfigValidateAndDefaults(t *testing.T) {
	ok := WriteConfig{Brokers: []string{"127.0.0.1:9092"}, Topic: "t"}
	for _, tc := range []struct {
		name string
		edit func(*WriteConfig)
		want string
	}{
		{"minimal", func(*WriteConfig) {}, ""},
		{"no topic", func(c *WriteConfig) { c.Topic = "" }, ""}, // allowed for Record inputs
		{"no brokers", func(c *WriteConfig) { c.Brokers = nil }, "Brokers is required"},
		{"balancer", func(c *WriteConfig) { c.Balancer = "random" }, "Balancer"},
		{"murmur2", func(c *WriteConfig) { c.Balancer = BalanceMurmur2 }, ""},
		{"acks 0", func(c *WriteConfig) { c.RequiredAcks = 2 }, "RequiredAcks"},
		{"acks leader", func(c *WriteConfig) { c.RequiredAcks = 1 }, ""},
		{"compression", func(c *WriteConfig) { c.Compression = "brotli" }, "Compression"},
		{"zstd", func(c *WriteConfig) { c.Compression = CompressionZstd }, ""},
		{"negative timeout", func(c *WriteConfig) { c.BatchTimeout = -1 }, "negative"},
		{"negative size", func(c *WriteConfig) { c.BatchSize = -1 }, "negative"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := ok
			tc.edit(&c)
			err := c.Validate()
			switch {
			case tc.want == "" && err != nil:
				t.Errorf("Validate() = %v, want nil", err)
			case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
				t.Errorf("Validate() = %v, want an error containing %q", err, tc.want)
			}
		})
	}

	d := ok.withDefaults()
	if d.BatchTimeout != time.Millisecond || d.RequiredAcks != -1 || d.Balancer != BalanceHash || d.BatchSize != 100 || d.Compression != CompressionNone {
		t.Errorf("defaults %+v", d)
	}
	var wr writer
	wr.setup(d)
	defer wr.teardown()
	w := wr.w
	if w.BatchTimeout != time.Millisecond || w.RequiredAcks != kafka.RequireAll || w.Async || w.Topic != "t" {
		t.Errorf("kafka-go Writer not tuned for latency: BatchTimeout %v acks %v async %v", w.BatchTimeout, w.RequiredAcks, w.Async)
	}
	if _, ok := w.Balancer.(*kafka.Hash); !ok {
		t.Errorf("balancer %T, want *kafka.Hash", w.Balancer)
	}
}

func TestWriteFlushWithNothingBufferedIsNoop(t *testing.T) {
	fn := &writeKVFn{Config: WriteConfig{Brokers: []string{"127.0.0.1:1"}, Topic: "t"}.withDefaults()}
	fn.Setup()
	defer fn.Teardown()
	fn.StartBundle()
	if err := fn.FinishBundle(context.Background()); err != nil {
		t.Fatalf("empty FinishBundle: %v", err)
	}
}

func TestWriteRecordNeedsATopic(t *testing.T) {
	fn := &writeRecordFn{Config: WriteConfig{Brokers: []string{"127.0.0.1:1"}}.withDefaults()}
	fn.Setup()
	defer fn.Teardown()
	if err := fn.ProcessElement(context.Background(), Record{Value: []byte("v")}); err == nil || !strings.Contains(err.Error(), "no Topic") {
		t.Errorf("record without topic: %v", err)
	}
	if err := fn.ProcessElement(context.Background(), Record{Topic: "x", Value: []byte("v")}); err != nil {
		t.Errorf("record with topic: %v", err)
	}
	if len(fn.wr.buf) != 1 || fn.wr.buf[0].Topic != "x" {
		t.Errorf("buffer %+v", fn.wr.buf)
	}
}

func TestWriteFailureFailsTheBundle(t *testing.T) {
	// Nothing listens on port 1: the flush must return an error once
	// RetryFor has passed.
	fn := &writeKVFn{Config: WriteConfig{Brokers: []string{"127.0.0.1:1"}, Topic: "t", MaxAttempts: 1, WriteTimeout: time.Second, RetryFor: time.Second}.withDefaults()}
	fn.Setup()
	defer fn.Teardown()
	fn.StartBundle()
	if err := fn.ProcessElement(context.Background(), []byte("k"), []byte("v")); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := fn.FinishBundle(ctx); err == nil {
		t.Fatal("FinishBundle succeeded without a broker")
	}
}

func TestConstructionChecks(t *testing.T) {
	mustPanic := func(name, want string, f func()) {
		t.Helper()
		defer func() {
			r := recover()
			if r == nil {
				t.Errorf("%s: no panic", name)
				return
			}
			if msg := fmtAny(r); !strings.Contains(msg, want) {
				t.Errorf("%s: panic %q, want it to mention %q", name, msg, want)
			}
		}()
		f()
	}
	_, s := beam.NewPipelineWithRoot()
	mustPanic("read without topic", "Topic", func() { Read(s, ReadConfig{Brokers: []string{"a:1"}}) })
	strs := beam.Create(s, "a")
	mustPanic("write strings", "KV<[]byte, []byte> or kafkaio.Record", func() {
		Write(s, WriteConfig{Brokers: []string{"a:1"}, Topic: "t"}, strs)
	})
	recs := beam.Create(s, Record{Topic: "t"})
	Write(s, WriteConfig{Brokers: []string{"a:1"}}, recs) // per-record topics: fine
	kvs := beam.ParDo(s, func(r Record) ([]byte, []byte) { return r.Key, r.Value }, recs)
	mustPanic("KV without topic", "Topic is required", func() { Write(s, WriteConfig{Brokers: []string{"a:1"}}, kvs) })
	Write(s, WriteConfig{Brokers: []string{"a:1"}, Topic: "t"}, kvs)
}

func fmtAny(v any) string {
	if err, ok := v.(error); ok {
		return err.Error()
	}
	if s, ok := v.(string); ok {
		return s
	}
	return reflect.ValueOf(v).String()
}

// TestWriteWaitsForTheBroker: a broker that is down when the bundle ends
// (restarting) is waited for: the flush succeeds once it is back.
func TestWriteWaitsForTheBroker(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close() // down, for now
	fn := &writeKVFn{Config: WriteConfig{Brokers: []string{ln.Addr().String()}, Topic: "t", MaxAttempts: 1, WriteTimeout: time.Second}.withDefaults()}
	if err := fn.Setup(); err != nil {
		t.Fatal(err)
	}
	defer fn.Teardown()
	fn.StartBundle()
	if err := fn.ProcessElement(context.Background(), []byte("k"), []byte("v")); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- fn.FinishBundle(context.Background()) }()
	time.Sleep(1500 * time.Millisecond)
	select {
	case err := <-done:
		t.Fatalf("the flush ended while the broker was down: %v", err)
	default:
	}
	c, err := kfake.NewCluster(kfake.Ports(port), kfake.SeedTopics(1, "t"))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("the flush failed after the broker came back: %v", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("the flush did not finish within 30 s of the broker coming back")
	}
}
