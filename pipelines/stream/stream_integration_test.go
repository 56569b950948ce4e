//go:build integration

package stream

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/apache/beam/sdks/v2/go/pkg/beam"
	"github.com/segmentio/kafka-go"

	"github.com/stratusml/stratus/internal/testenv"
	"github.com/stratusml/stratus/message"
	"github.com/stratusml/stratus/model/mnist"
	"github.com/stratusml/stratus/runners"
	"github.com/stratusml/stratus/store"
	_ "github.com/stratusml/stratus/store/couchdb"
	"github.com/stratusml/stratus/transforms/kafkaio"
)

// rig is one test's private set of topics, consumer group and databases on
// the real broker and CouchDB-protocol server.
type rig struct {
	t       testing.TB
	brokers []string
	cfg     Config
	st      store.Store
	w       *kafka.Writer
}

func newRig(t testing.TB, name string) *rig {
	t.Helper()
	broker := testenv.Kafka(t)
	couch := testenv.CouchDB(t)
	suffix := strconv.FormatInt(time.Now().UnixNano(), 36)
	r := &rig{t: t, brokers: strings.Split(broker, ",")}
	r.cfg = Config{
		Brokers:          r.brokers,
		CanvasTopic:      "it." + name + "." + suffix + ".canvas",
		PredictionsTopic: "it." + name + "." + suffix + ".predictions",
		DeadLetterTopic:  "it." + name + "." + suffix + ".deadletter",
		SamplesTopic:     "it." + name + "." + suffix + ".samples",
		GroupID:          "it-" + name + "-" + suffix,
		StartFrom:        kafkaio.StartEarliest,
		StoreURL:         couch,
		StorePrefix:      "it_" + strings.ReplaceAll(name, "-", "_") + "_" + suffix + "_",
	}
	testenv.CreateTopics(t, r.brokers[0], map[string]int{
		r.cfg.CanvasTopic: 4, r.cfg.PredictionsTopic: 2, r.cfg.DeadLetterTopic: 1, r.cfg.SamplesTopic: 4,
	})
	st, err := store.Open(context.Background(), couch, store.Options{Prefix: r.cfg.StorePrefix})
	if err != nil {
		t.Fatal(err)
	}
	if err := st.EnsureSchema(context.Background()); err != nil {
		t.Fatal(err)
	}
	r.st = st
	r.w = &kafka.Writer{Addr: kafka.TCP(r.brokers...), Topic: r.cfg.CanvasTopic, BatchTimeout: time.Millisecond, RequiredAcks: kafka.RequireAll}
	t.Cleanup(func() { r.w.Close(); st.Close() })
	return r
}

func (r *rig) start(ctx context.Context) *runners.Job {
	r.t.Helper()
	p, s := beam.NewPipelineWithRoot()
	if err := Build(s, r.cfg); err != nil {
		r.t.Fatal(err)
	}
	j, err := runners.Start(ctx, p, runners.Options{JobName: "stream-it"})
	if err != nil {
		r.t.Fatal(err)
	}
	return j
}

// digitEvent encodes MNIST test digit i as a CanvasEvent carrying a PNG
// (the digit scaled ×4, dark ink on white).
func digitEvent(t testing.TB, set *mnist.Set, i int, replyTo string) (string, []byte) {
	pic, err := set.PNG(i, 4)
	if err != nil {
		t.Fatal(err)
	}
	id := fmt.Sprintf("01JDTEST%018d", i)
	ev := message.CanvasEvent{V: 1, ID: id, Session: "s" + strconv.Itoa(i%7), ReplyTo: replyTo, Mode: "digit",
		Width: 112, Height: 112, ImagePNG: pic, SentAt: time.Now().UTC()}
	b, err := json.Marshal(ev)
	if err != nil {
		t.Fatal(err)
	}
	return id, b
}

func (r *rig) produce(ctx context.Context, key string, values ...[]byte) {
	r.t.Helper()
	msgs := make([]kafka.Message, len(values))
	for i, v := range values {
		msgs[i] = kafka.Message{Key: []byte(key), Value: v}
	}
	// A topic created a moment ago may not be in the writer's metadata yet.
	for attempt := 0; ; attempt++ {
		err := r.w.WriteMessages(ctx, msgs...)
		if err == nil {
			return
		}
		var we kafka.WriteErrors
		unknown := errors.Is(err, kafka.UnknownTopicOrPartition) || (errors.As(err, &we) && len(we) > 0 && errors.Is(we[0], kafka.UnknownTopicOrPartition))
		if !unknown || attempt == 50 {
			r.t.Fatal(err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// collector reads a topic from the start in the background.
type collector struct {
	mu   sync.Mutex
	msgs []kafka.Message
}

func (r *rig) collect(ctx context.Context, topic string) *collector {
	c := &collector{}
	conn, err := kafka.DialLeader(ctx, "tcp", r.brokers[0], topic, 0)
	if err != nil {
		r.t.Fatal(err)
	}
	parts, err := conn.ReadPartitions(topic)
	conn.Close()
	if err != nil {
		r.t.Fatal(err)
	}
	for _, p := range parts {
		rd := kafka.NewReader(kafka.ReaderConfig{Brokers: r.brokers, Topic: topic, Partition: p.ID, MinBytes: 1, MaxBytes: 10 << 20, MaxWait: 50 * time.Millisecond})
		r.t.Cleanup(func() { rd.Close() })
		go func() {
			for {
				m, err := rd.ReadMessage(ctx)
				if err != nil {
					return
				}
				c.mu.Lock()
				c.msgs = append(c.msgs, m)
				c.mu.Unlock()
			}
		}()
	}
	return c
}

func (c *collector) snapshot() []kafka.Message {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]kafka.Message(nil), c.msgs...)
}

// waitFor polls cond until it holds or the deadline passes.
func waitFor(t testing.TB, d time.Duration, what string, cond func() (bool, string)) {
	t.Helper()
	deadline := time.Now().Add(d)
	for {
		ok, state := cond()
		if ok {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s: %s", d, what, state)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// answers decodes the predictions collected so far, by event id, and
// counts their messages; error replies are left out (see errorReplies).
func answers(t testing.TB, c *collector) (map[string]message.Prediction, int) {
	byID := map[string]message.Prediction{}
	n := 0
	for _, m := range c.snapshot() {
		var p message.Prediction
		if err := json.Unmarshal(m.Value, &p); err != nil {
			t.Fatalf("reply is not a Prediction: %v: %s", err, m.Value)
		}
		if p.Error != "" {
			continue
		}
		byID[p.ID] = p
		n++
	}
	return byID, n
}

// errorReplies decodes the error replies collected so far, by event id.
func errorReplies(t testing.TB, c *collector) map[string]message.Prediction {
	byID := map[string]message.Prediction{}
	for _, m := range c.snapshot() {
		var p message.Prediction
		if err := json.Unmarshal(m.Value, &p); err != nil {
			t.Fatalf("reply is not a Prediction: %v: %s", err, m.Value)
		}
		if p.Error != "" {
			byID[p.ID] = p
		}
	}
	return byID
}

func TestStreamIntegration(t *testing.T) {
	r := newRig(t, "flow")
	set, err := mnist.Test("")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 8*time.Minute)
	defer cancel()
	replies := r.collect(ctx, r.cfg.PredictionsTopic)
	dead := r.collect(ctx, r.cfg.DeadLetterTopic)
	job := r.start(ctx)
	defer job.Close()
	defer job.Stop(context.Background())

	const good, bad = 500, 50
	want := map[string]int{}
	var badIDs []string
	for i := 0; i < good; i++ {
		id, ev := digitEvent(t, set, i, "frontend-it")
		want[id] = int(set.Labels[i])
		r.produce(ctx, "session", ev)
		if i%10 == 9 { // malformed events interleaved with good ones
			k := i / 10
			var junk []byte
			switch k % 5 {
			case 0:
				junk = []byte(`{"v":1,"id":"bad` + strconv.Itoa(k) + `","reply_to":"x"`) // truncated JSON
			case 1:
				junk = []byte(`{"v":1,"id":"bad` + strconv.Itoa(k) + `","reply_to":"x","mode":"digit","width":100000,"height":10,"strokes":[[{"x":1,"y":1}]]}`)
			case 2:
				junk = []byte(`{"v":1,"id":"bad` + strconv.Itoa(k) + `","reply_to":"x","mode":"digit","width":100,"height":100,"image_png":"bm90IGEgcG5n"}`)
			case 3:
				junk = []byte(`{"v":1,"id":"bad` + strconv.Itoa(k) + `","reply_to":"x","mode":"digit","width":100,"height":100,"strokes":[]}`)
			case 4:
				junk = []byte(`{"v":1,"id":"bad` + strconv.Itoa(k) + `","reply_to":"x","mode":"digit","width":100,"height":100,"strokes":[[{"x":5,"y":5}]],"image_png":"AA=="}`)
			}
			badIDs = append(badIDs, "bad"+strconv.Itoa(k))
			r.produce(ctx, "session", junk)
		}
	}
	// Every bad event but the truncated JSON (1 in 5) names its sender: it
	// gets an error reply too.
	const errReplies = bad - bad/5
	waitFor(t, 5*time.Minute, "500 answers, 50 dead letters and 40 error replies", func() (bool, string) {
		got, _ := answers(t, replies)
		d, e := len(dead.snapshot()), len(errorReplies(t, replies))
		return len(got) >= good && d >= bad && e >= errReplies, fmt.Sprintf("%d answers, %d dead letters, %d error replies", len(got), d, e)
	})
	got, n := answers(t, replies)
	right := 0
	for id, label := range want {
		p, ok := got[id]
		if !ok {
			t.Fatalf("no answer for %s", id)
		}
		if p.Digits == strconv.Itoa(label) {
			right++
		}
		if p.Model == "" || len(p.Candidates) != 1 || p.PredictedAt.Before(p.ReceivedAt) {
			t.Fatalf("odd prediction: %+v", p)
		}
	}
	t.Logf("%d answers (%d messages), accuracy %d/%d", len(got), n, right, good)
	if float64(right) < 0.99*good {
		t.Errorf("accuracy %d/%d, want ≥ 99%%", right, good)
	}
	if n != good {
		t.Errorf("%d reply messages for %d events: duplicates without a restart", n, good)
	}
	for _, m := range replies.snapshot() {
		var p message.Prediction
		_ = json.Unmarshal(m.Value, &p)
		if want := map[bool]string{false: "frontend-it", true: "x"}[p.Error != ""]; string(m.Key) != want {
			t.Fatalf("reply %s keyed %q, want the event's reply_to %q", p.ID, m.Key, want)
		}
	}
	errs := errorReplies(t, replies)
	if len(errs) != errReplies {
		t.Errorf("%d error replies, want %d", len(errs), errReplies)
	}
	for id, p := range errs {
		if !strings.HasPrefix(id, "bad") || p.Stage == "" || p.Digits != "" {
			t.Errorf("odd error reply: %+v", p)
		}
	}
	// Dead letters: exactly the 50 bad ids, each with a stage and a reason.
	seen := map[string]bool{}
	for _, m := range dead.snapshot() {
		var dl message.DeadLetter
		if err := json.Unmarshal(m.Value, &dl); err != nil {
			t.Fatalf("dead letter is not JSON: %v", err)
		}
		if dl.Error == "" || dl.Stage == "" || len(dl.Payload) == 0 {
			t.Fatalf("dead letter lacks a reason, stage or payload: %s", m.Value)
		}
		if dl.ID == "" { // truncated JSON: the id cannot be read, find it in the payload
			for _, b := range badIDs {
				if strings.Contains(string(dl.Payload), `"`+b+`"`) {
					dl.ID = b
				}
			}
		}
		seen[dl.ID] = true
	}
	for _, b := range badIDs {
		if !seen[b] {
			t.Errorf("no dead letter for %s", b)
		}
	}
	if len(dead.snapshot()) != bad {
		t.Errorf("%d dead letters, want %d", len(dead.snapshot()), bad)
	}
	// Documents: one per good event, with its prediction.
	waitFor(t, time.Minute, "500 documents", func() (bool, string) {
		c, err := r.st.Count(ctx)
		return err == nil && c == good, fmt.Sprintf("%d documents (%v)", c, err)
	})
	for id := range want {
		s, err := r.st.GetSample(ctx, id)
		if err != nil {
			t.Fatalf("sample %s: %v", id, err)
		}
		if len(s.Predictions) != 1 || len(s.Input28) != 1 || len(s.ImagePNG) == 0 {
			t.Fatalf("sample %s incomplete: %d predictions, %d inputs", id, len(s.Predictions), len(s.Input28))
		}
		break
	}
}

// TestStreamRestartIntegration stops the pipeline in the middle of a stream
// and starts it again with the same consumer group: every event must be
// answered and stored exactly once as a document.
func TestStreamRestartIntegration(t *testing.T) {
	r := newRig(t, "restart")
	set, err := mnist.Test("")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 8*time.Minute)
	defer cancel()
	replies := r.collect(ctx, r.cfg.PredictionsTopic)
	const total = 300
	ids := map[string]bool{}
	produceRange := func(from, to int) {
		for i := from; i < to; i++ {
			id, ev := digitEvent(t, set, 1000+i, "frontend-it")
			ids[id] = true
			r.produce(ctx, "s"+strconv.Itoa(i%5), ev)
		}
	}
	job := r.start(ctx)
	produceRange(0, 150)
	// Stop while the first half is still flowing.
	waitFor(t, 3*time.Minute, "the first answers", func() (bool, string) {
		got, _ := answers(t, replies)
		return len(got) >= 40, fmt.Sprintf("%d answers", len(got))
	})
	if err := job.Stop(ctx); err != nil {
		t.Fatal(err)
	}
	job.Close()
	before, _ := answers(t, replies)
	produceRange(150, total) // produced while no pipeline runs
	job2 := r.start(ctx)
	defer job2.Close()
	defer job2.Stop(context.Background())
	waitFor(t, 5*time.Minute, "every event answered", func() (bool, string) {
		got, _ := answers(t, replies)
		return len(got) >= total, fmt.Sprintf("%d/%d answered", len(got), total)
	})
	got, n := answers(t, replies)
	for id := range ids {
		if _, ok := got[id]; !ok {
			t.Fatalf("event %s never answered", id)
		}
	}
	t.Logf("answered before the stop: %d; reply messages in all: %d for %d events (replays after the restart: %d)", len(before), n, total, n-total)
	waitFor(t, time.Minute, "documents", func() (bool, string) {
		c, err := r.st.Count(ctx)
		return err == nil && c == total, fmt.Sprintf("%d documents (%v)", c, err)
	})
	// The second run resumed from committed offsets: it did not replay the
	// whole first half.
	if n-total >= 150 {
		t.Errorf("%d replies replayed: the restart re-read everything instead of resuming", n-total)
	}
}
