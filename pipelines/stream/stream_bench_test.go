//go:build integration

package stream

import (
	"context"
	"encoding/json"
	"os"
	"sort"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/stratusml/stratus/message"
	"github.com/stratusml/stratus/model/mnist"
	_ "github.com/stratusml/stratus/store/localstore"
)

// BenchmarkStreamLatency measures event → reply latency through the whole
// pipeline on prism with the real broker and CouchDB-protocol server:
// "rate=100" sends b.N events at 100 events/s and reports p50/p99; "max"
// sends b.N events as fast as one producer can and reports sustained
// events/s (first send to last answer). Run with
//
//	STRATUS_INTEGRATION=1 go test -tags integration -run '^$' -bench StreamLatency -benchtime 2000x ./pipelines/stream
func BenchmarkStreamLatency(b *testing.B) {
	for _, bc := range []struct {
		name     string
		interval time.Duration
	}{{"rate=100", 10 * time.Millisecond}, {"max", 0}} {
		b.Run(bc.name, func(b *testing.B) { benchStream(b, bc.interval) })
	}
}

func benchStream(b *testing.B, interval time.Duration) {
	r := newRig(b, "bench")
	if v := os.Getenv("STRATUS_BENCH_POLL"); v != "" {
		r.cfg.PollTimeout, _ = time.ParseDuration(v)
	}
	if v := os.Getenv("STRATUS_BENCH_STORE"); v != "" {
		r.cfg.StoreURL = v // e.g. mem://bench: the in-process store, to see what CouchDB costs
	}
	set, err := mnist.Test("")
	if err != nil {
		b.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Minute)
	defer cancel()
	job := r.start(ctx)
	defer job.Close()
	defer job.Stop(context.Background())

	// Warm up: one answered event (model loaded, partitions assigned).
	rd := kafka.NewReader(kafka.ReaderConfig{Brokers: r.brokers, Topic: r.cfg.PredictionsTopic, Partition: 0, MinBytes: 1, MaxBytes: 10 << 20, MaxWait: 500 * time.Millisecond})
	defer rd.Close()
	rd2 := kafka.NewReader(kafka.ReaderConfig{Brokers: r.brokers, Topic: r.cfg.PredictionsTopic, Partition: 1, MinBytes: 1, MaxBytes: 10 << 20, MaxWait: 500 * time.Millisecond})
	defer rd2.Close()
	var mu sync.Mutex
	arrived := map[string]time.Time{}
	stamps := map[string][3]time.Time{} // received_at, predicted_at, reply record time of each answer
	for _, reader := range []*kafka.Reader{rd, rd2} {
		go func(reader *kafka.Reader) {
			for {
				m, err := reader.ReadMessage(ctx)
				if err != nil {
					return
				}
				now := time.Now()
				var p message.Prediction
				if json.Unmarshal(m.Value, &p) == nil {
					mu.Lock()
					if _, dup := arrived[p.ID]; !dup {
						arrived[p.ID] = now
						stamps[p.ID] = [3]time.Time{p.ReceivedAt, p.PredictedAt, m.Time}
					}
					mu.Unlock()
				}
			}
		}(reader)
	}
	events := make([][]byte, 200)
	ids := make([]string, 200)
	for i := range events {
		ids[i], events[i] = digitEvent(b, set, i, "bench")
	}
	warmID, warm := digitEvent(b, set, 9999, "bench")
	r.produce(ctx, "bench", warm)
	waitFor(b, 2*time.Minute, "the warm-up answer", func() (bool, string) {
		mu.Lock()
		defer mu.Unlock()
		_, ok := arrived[warmID]
		return ok, "no answer yet"
	})

	// Events come from 16 sessions (keys), so they spread over the
	// partitions as real traffic does; "max" sends from 8 producers at once.
	sent := make(map[string]time.Time, b.N)
	producers := 1
	if interval == 0 {
		producers = 8
	}
	var sendMu sync.Mutex
	var wg sync.WaitGroup
	b.ResetTimer()
	start := time.Now()
	for w := 0; w < producers; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			next := start
			for i := w; i < b.N; i += producers {
				// A fresh id per send, so each is a new event.
				var ev message.CanvasEvent
				_ = json.Unmarshal(events[i%len(events)], &ev)
				ev.ID = ids[i%len(ids)] + "-" + strconv.Itoa(i)
				raw, _ := json.Marshal(ev)
				if interval > 0 {
					time.Sleep(time.Until(next))
					next = next.Add(interval)
				}
				sendMu.Lock()
				sent[ev.ID] = time.Now()
				sendMu.Unlock()
				// Not r.produce: it calls Fatal, which must not run off the test goroutine.
				if err := r.w.WriteMessages(ctx, kafka.Message{Key: []byte("bench-" + strconv.Itoa(i%16)), Value: raw}); err != nil {
					b.Error(err)
					return
				}
			}
		}(w)
	}
	wg.Wait()
	waitFor(b, 10*time.Minute, "every answer", func() (bool, string) {
		mu.Lock()
		defer mu.Unlock()
		missing := 0
		for id := range sent {
			if _, ok := arrived[id]; !ok {
				missing++
			}
		}
		return missing == 0, strconv.Itoa(missing) + " missing"
	})
	b.StopTimer()
	var lat, read, infer, produce, write []float64
	ms := func(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
	var last time.Time
	mu.Lock()
	for id, s := range sent {
		a := arrived[id]
		lat = append(lat, ms(a.Sub(s)))
		st := stamps[id]
		read, infer = append(read, ms(st[0].Sub(s))), append(infer, ms(st[1].Sub(st[0])))
		produce, write = append(produce, ms(st[2].Sub(st[1]))), append(write, ms(a.Sub(st[2])))
		if a.After(last) {
			last = a
		}
	}
	mu.Unlock()
	sort.Float64s(lat)
	q := func(p float64) float64 { return lat[min(len(lat)-1, int(p*float64(len(lat))))] }
	b.ReportMetric(q(0.50), "p50-ms")
	b.ReportMetric(q(0.99), "p99-ms")
	b.ReportMetric(lat[len(lat)-1], "max-ms")
	b.ReportMetric(float64(b.N)/last.Sub(start).Seconds(), "events/s")
	// Where the time goes (medians): send → pipeline read (Kafka, scheduling),
	// read → prediction (preprocess, batching, inference), prediction →
	// reply produced (the reply record's timestamp), produced → reply seen.
	for _, part := range []struct {
		name string
		v    []float64
	}{{"read-p50-ms", read}, {"infer-p50-ms", infer}, {"produce-p50-ms", produce}, {"write-p50-ms", write}} {
		sort.Float64s(part.v)
		b.ReportMetric(part.v[len(part.v)/2], part.name)
	}
}
