//go:build integration

package main

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/stratusml/stratus/message"
	"github.com/stratusml/stratus/model/mnist"
)

// syncBuffer is a bytes.Buffer safe for a writer and a reader goroutine.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// upProcess is `stratus up` running in this test process.
type upProcess struct {
	url, kafka string
	stop       func() int // stops it (Ctrl-C) and returns its exit status
}

var upLine = regexp.MustCompile(`Stratus is up: open (http://\S+) \(Kafka at (\S+),`)

// startUp runs `stratus up` on free ports with data in dir and waits until
// /readyz answers 200.
func startUp(t *testing.T, dir string, extra ...string) *upProcess {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	stdout, stderr := &syncBuffer{}, &syncBuffer{}
	env := &environment{stdout: stdout, stderr: stderr, getenv: func(string) string { return "" },
		log: slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))}
	done := make(chan int, 1)
	args := append([]string{"up", "--data", dir, "--listen", "127.0.0.1:0", "--kafka-listen", "127.0.0.1:0"}, extra...)
	go func() { done <- run(ctx, env, args) }()
	var m []string
	deadline := time.Now().Add(3 * time.Minute)
	for m == nil {
		select {
		case code := <-done:
			cancel()
			t.Fatalf("stratus up exited with %d before it was up:\n%s", code, stderr.String())
		case <-time.After(50 * time.Millisecond):
		}
		m = upLine.FindStringSubmatch(stdout.String())
		if time.Now().After(deadline) {
			cancel()
			t.Fatalf("stratus up printed no URL in 3 minutes:\n%s", stderr.String())
		}
	}
	p := &upProcess{url: strings.TrimSuffix(m[1], "/"), kafka: m[2]}
	var once sync.Once
	code := 0
	p.stop = func() int {
		once.Do(func() {
			cancel()
			select {
			case code = <-done:
			case <-time.After(time.Minute):
				t.Errorf("stratus up did not stop within a minute of Ctrl-C:\n%s", stderr.String())
				code = -1
			}
		})
		return code
	}
	t.Cleanup(func() { p.stop() })
	for {
		res, err := http.Get(p.url + "/readyz")
		if err == nil {
			body, _ := io.ReadAll(res.Body)
			res.Body.Close()
			if res.StatusCode == 200 {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("/readyz still %d: %s\n%s", res.StatusCode, body, stderr.String())
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	return p
}

func postJSON(t *testing.T, url string, body []byte) (int, []byte) {
	t.Helper()
	res, err := http.Post(url, "application/json", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res.StatusCode, b
}

// TestUpIntegration: `stratus up` with nothing installed answers a digit,
// stores its correction, keeps samples, events and offsets across a
// restart, and lets an outside Kafka client read its topics.
func TestUpIntegration(t *testing.T) {
	dir := t.TempDir()
	set, err := mnist.Test("")
	if err != nil {
		t.Fatal(err)
	}
	pic, err := set.PNG(0, 4)
	if err != nil {
		t.Fatal(err)
	}
	event, _ := json.Marshal(map[string]any{"v": 1, "mode": "digit", "session": "up-test", "image_png": base64.StdEncoding.EncodeToString(pic)})

	up := startUp(t, dir)
	code, body := postJSON(t, up.url+"/api/v1/predict", event)
	if code != 200 {
		t.Fatalf("predict: %d %s", code, body)
	}
	var p message.Prediction
	_ = json.Unmarshal(body, &p)
	if want := string(rune('0' + set.Labels[0])); p.Digits != want {
		t.Fatalf("answered %q for a %s", p.Digits, want)
	}
	if code, body := postJSON(t, up.url+"/api/v1/samples/"+p.ID+"/label", []byte(`{"label":"1"}`)); code != 200 {
		t.Fatalf("label: %d %s", code, body)
	}
	// /metrics shows the pipeline's metrics and consumer lag beside the
	// frontend's.
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(200 * time.Millisecond) {
		_, m := get(context.Background(), up.url+"/metrics")
		missing := ""
		for _, w := range []string{`stratus_frontend_predictions_total{`, `stratus_pipeline_metrics_up 1`, `stratus_pipeline_counter_total{name="events_in",namespace="stratus.stream"} `, `stratus_kafka_consumer_lag{group="stratus-stream",partition="0",topic="stratus.canvas"}`, `stratus_kafka_consumer_lag{group="stratus-stream-store",partition="0",topic="stratus.samples"}`} {
			if !strings.Contains(string(m), w) {
				missing = w
			}
		}
		if missing == "" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("/metrics of stratus up lacks %s:\n%s", missing, m)
		}
	}
	// An outside Kafka client reaches the embedded broker.
	rd := kafka.NewReader(kafka.ReaderConfig{Brokers: []string{up.kafka}, Topic: message.TopicCanvas, Partition: partitionOf(t, up.kafka, "up-test"), MinBytes: 1, MaxBytes: 4 << 20, MaxWait: 200 * time.Millisecond})
	defer rd.Close()
	rctx, rcancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer rcancel()
	m, err := rd.ReadMessage(rctx)
	if err != nil {
		t.Fatalf("outside client reading %s: %v", message.TopicCanvas, err)
	}
	var ev message.CanvasEvent
	if err := json.Unmarshal(m.Value, &ev); err != nil || ev.ID != p.ID || ev.ReplyTo == "" {
		t.Fatalf("the event on %s: %+v %v", message.TopicCanvas, ev, err)
	}
	if code := up.stop(); code != 0 {
		t.Fatalf("stratus up exited %d on Ctrl-C", code)
	}

	// Restart on the same data: the sample and its label are there, the
	// event is still on the topic, and new drawings are answered.
	up = startUp(t, dir)
	res, err := http.Get(up.url + "/api/v1/samples?limit=10")
	if err != nil {
		t.Fatal(err)
	}
	var page struct {
		Samples []struct {
			ID          string         `json:"id"`
			Label       string         `json:"label"`
			Predictions map[string]any `json:"predictions"`
		} `json:"samples"`
	}
	_ = json.NewDecoder(res.Body).Decode(&page)
	res.Body.Close()
	if len(page.Samples) != 1 || page.Samples[0].ID != p.ID || page.Samples[0].Label != "1" || len(page.Samples[0].Predictions) != 1 {
		t.Fatalf("after a restart the history is %+v, want the one labelled sample", page.Samples)
	}
	code, body = postJSON(t, up.url+"/api/v1/predict", event)
	if code != 200 {
		t.Fatalf("predict after restart: %d %s", code, body)
	}
	rd2 := kafka.NewReader(kafka.ReaderConfig{Brokers: []string{up.kafka}, Topic: message.TopicCanvas, Partition: partitionOf(t, up.kafka, "up-test"), MinBytes: 1, MaxBytes: 4 << 20, MaxWait: 200 * time.Millisecond})
	defer rd2.Close()
	first, err := rd2.ReadMessage(rctx)
	if err != nil || !strings.Contains(string(first.Value), p.ID) {
		t.Fatalf("the first event is gone from %s after a restart: %v", message.TopicCanvas, err)
	}
	// The reply can overtake the sample's store write: wait for it.
	for deadline := time.Now().Add(30 * time.Second); countSamples(t, up.url) != 2; time.Sleep(100 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("%d samples after one more drawing, want 2", countSamples(t, up.url))
		}
	}
}

func countSamples(t *testing.T, base string) int {
	res, err := http.Get(base + "/api/v1/samples?limit=100")
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var page struct {
		Samples []json.RawMessage `json:"samples"`
	}
	_ = json.NewDecoder(res.Body).Decode(&page)
	return len(page.Samples)
}

// partitionOf is the canvas partition the frontend's writer (kafka-go's
// Hash balancer) puts a session's events in.
func partitionOf(t *testing.T, broker, session string) int {
	conn, err := kafka.Dial("tcp", broker)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	parts, err := conn.ReadPartitions(message.TopicCanvas)
	if err != nil {
		t.Fatal(err)
	}
	ids := make([]int, len(parts))
	for i, p := range parts {
		ids[i] = p.ID
	}
	slices.Sort(ids)
	return (&kafka.Hash{}).Balance(kafka.Message{Key: []byte(session)}, ids...)
}
