//go:build integration

package main

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/stratusml/stratus/drawing"
	"github.com/stratusml/stratus/internal/testenv"
	"github.com/stratusml/stratus/message"
	"github.com/stratusml/stratus/model/mnist"
	"github.com/stratusml/stratus/model/recognize"
	"github.com/stratusml/stratus/store"
	_ "github.com/stratusml/stratus/store/couchdb"
)

func get(ctx context.Context, url string) (int, []byte) {
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, nil
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res.StatusCode, b
}

// picturesThatRead picks n MNIST test digits the shipped model reads right
// as pictures, so that a wrong answer through the system is the system's
// fault, not the model's.
func picturesThatRead(t *testing.T, set *mnist.Set, n int) []int {
	rec, err := recognize.Default()
	if err != nil {
		t.Fatal(err)
	}
	var out []int
	for i := 0; len(out) < n; i++ {
		if res, err := rec.Image(set.Picture(i, 4), drawing.ModeDigit); err == nil && res.Digits == strconv.Itoa(int(set.Labels[i])) {
			out = append(out, i)
		}
	}
	return out
}

// deployment is Stratus as separate processes on the real broker and
// CouchDB-protocol server: `stratus stream` and its own topics, databases
// and consumer group.
type deployment struct {
	bin, kafka, couch, topicPrefix, dbPrefix string
	streamArgs                               []string
	stream                                   *proc
	metrics                                  string // the stream's /metrics URL
	st                                       store.Store
}

var metricsLine = regexp.MustCompile(`msg="metrics: serving" url=(http://\S+)`)

func deploy(t *testing.T, name string) *deployment {
	t.Helper()
	d := &deployment{bin: stratusBinary(t), kafka: testenv.Kafka(t), couch: testenv.CouchDB(t)}
	suffix := strconv.FormatInt(time.Now().UnixNano(), 36)
	d.topicPrefix = "it." + name + "." + suffix + "."
	d.dbPrefix = "it_" + name + "_" + suffix + "_"
	testenv.CreateTopics(t, strings.Split(d.kafka, ",")[0], map[string]int{
		d.topicPrefix + message.TopicCanvas: 4, d.topicPrefix + message.TopicPredictions: 4, d.topicPrefix + message.TopicDeadLetter: 1, d.topicPrefix + message.TopicSamples: 4,
	})
	st, err := store.Open(context.Background(), d.couch, store.Options{Prefix: d.dbPrefix})
	if err != nil {
		t.Fatal(err)
	}
	if err := st.EnsureSchema(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	d.st = st
	d.streamArgs = []string{"stream", "--kafka", d.kafka, "--couchdb", d.couch, "--db-prefix", d.dbPrefix,
		"--topic-prefix", d.topicPrefix, "--group", "it-" + name + "-" + suffix, "--start-from", "earliest", "--metrics-listen", "127.0.0.1:0"}
	d.restartStream(t)
	return d
}

// restartStream starts `stratus stream` (again: same group, so it resumes
// from the committed offsets).
func (d *deployment) restartStream(t *testing.T) {
	t.Helper()
	d.stream = spawn(t, "stream", d.bin, d.streamArgs...)
	d.metrics = d.stream.waitLine(t, metricsLine, 2*time.Minute)[1]
}

func (d *deployment) replica(t *testing.T, id string) (*proc, string) {
	return serveReplica(t, d.bin, id, "--kafka", d.kafka, "--couchdb", d.couch, "--db-prefix", d.dbPrefix, "--topic-prefix", d.topicPrefix, "--timeout", "20s")
}

// TestNginxIntegration: Debian's nginx with deploy/nginx's config in front
// of two `stratus serve` replicas; 16 clients send 1,000 predictions through
// it; one replica is killed (SIGKILL) in the middle. Every answer must be
// right and reach its own client, and no request may fail but those in
// flight on the killed replica.
func TestNginxIntegration(t *testing.T) {
	d := deploy(t, "nginx")
	replicaA, urlA := d.replica(t, "replica-a")
	replicaB, urlB := d.replica(t, "replica-b")
	_ = replicaA
	portFile := filepath.Join(t.TempDir(), "lb.port")
	nginx := spawn(t, "nginx", filepath.Join("..", "..", "deploy", "nginx", "run.sh"),
		"--upstream", strings.TrimPrefix(urlA, "http://"), "--upstream", strings.TrimPrefix(urlB, "http://"), "--port-file", portFile)
	defer nginx.kill(syscall.SIGTERM)
	var lb string
	for deadline := time.Now().Add(time.Minute); lb == ""; time.Sleep(50 * time.Millisecond) {
		if b, err := os.ReadFile(portFile); err == nil && len(bytes.TrimSpace(b)) > 0 {
			lb = "http://127.0.0.1:" + string(bytes.TrimSpace(b))
		}
		if time.Now().After(deadline) {
			t.Fatalf("nginx did not start:\n%s", nginx.tail(20))
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	for _, u := range []string{urlA, urlB, lb} {
		waitReady(t, ctx, u)
	}

	set, err := mnist.Test("")
	if err != nil {
		t.Fatal(err)
	}
	const clients, total = 16, 1000
	digits := picturesThatRead(t, set, 200)
	events := make([][]byte, len(digits))
	for k, i := range digits {
		pic, err := set.PNG(i, 4)
		if err != nil {
			t.Fatal(err)
		}
		events[k] = []byte(`{"v":1,"mode":"digit","session":"SESSION","image_png":"` + base64.StdEncoding.EncodeToString(pic) + `"}`)
	}
	// The first answer loads the model and assigns partitions: not timed.
	if code, body := postJSON(t, lb+"/api/v1/predict", bytes.Replace(events[0], []byte("SESSION"), []byte("warm-up"), 1)); code != 200 {
		t.Fatalf("warm-up: %d %s", code, body)
	}

	type result struct {
		client, digit int
		code          int
		p             message.Prediction
		body          string
	}
	var (
		next           atomic.Int64
		inFlight       atomic.Int64
		answered       atomic.Int64
		mu             sync.Mutex
		results        []result
		killOnce       sync.Once
		inFlightAtKill int64
	)
	client := &http.Client{Timeout: time.Minute}
	var wg sync.WaitGroup
	for c := 0; c < clients; c++ {
		wg.Add(1)
		go func(c int) {
			defer wg.Done()
			session := "client-" + strconv.Itoa(c)
			for {
				n := int(next.Add(1)) - 1
				if n >= total {
					return
				}
				k := n % len(digits)
				if answered.Load() >= total*2/5 {
					killOnce.Do(func() {
						inFlightAtKill = inFlight.Load()
						replicaB.kill(syscall.SIGKILL)
					})
				}
				inFlight.Add(1)
				res, err := client.Post(lb+"/api/v1/predict", "application/json", bytes.NewReader(bytes.Replace(events[k], []byte("SESSION"), []byte(session), 1)))
				inFlight.Add(-1)
				r := result{client: c, digit: digits[k]}
				if err != nil {
					r.body = err.Error()
				} else {
					b, _ := io.ReadAll(res.Body)
					res.Body.Close()
					r.code, r.body = res.StatusCode, string(b)
					_ = json.Unmarshal(b, &r.p)
				}
				answered.Add(1)
				mu.Lock()
				results = append(results, r)
				mu.Unlock()
			}
		}(c)
	}
	wg.Wait()

	var failed, right int
	ids := map[string]bool{}
	for _, r := range results {
		if r.code != 200 {
			failed++
			t.Logf("failed request (client %d): %d %s", r.client, r.code, r.body)
			continue
		}
		if r.p.Session != "client-"+strconv.Itoa(r.client) {
			t.Fatalf("client %d got the answer to session %q", r.client, r.p.Session)
		}
		if ids[r.p.ID] {
			t.Fatalf("answer %s came twice", r.p.ID)
		}
		ids[r.p.ID] = true
		if r.p.Digits == strconv.Itoa(int(set.Labels[r.digit])) {
			right++
		}
	}
	t.Logf("%d requests through nginx, %d answered (%d right), %d failed; replica-b killed with %d requests in flight", len(results), len(results)-failed, right, failed, inFlightAtKill)
	if len(results) != total {
		t.Fatalf("%d results for %d requests", len(results), total)
	}
	if int64(failed) > inFlightAtKill {
		t.Errorf("%d requests failed, more than the %d in flight when the replica was killed", failed, inFlightAtKill)
	}
	if right != total-failed {
		t.Errorf("%d of %d answers right: every answer must be", right, total-failed)
	}
	// The surviving replica served what came after the kill.
	if code, _ := get(ctx, urlA+"/readyz"); code != 200 {
		t.Errorf("replica-a is not ready after the test")
	}
	// Every answer's sample is stored under its id with its client's session.
	checked := 0
	for _, r := range results {
		if r.code != 200 || checked == 50 {
			continue
		}
		checked++
		s, err := waitStored(ctx, d.st, r.p.ID)
		if err != nil || s.Session != r.p.Session {
			t.Fatalf("sample %s: %+v %v", r.p.ID, s.Session, err)
		}
	}
	// And nothing was lost: every event that reached Kafka is a document
	// (answered ones, and possibly some of those the kill cut off).
	want := total - failed + 1 // + the warm-up
	n := 0
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(200 * time.Millisecond) {
		if n, err = d.st.Count(ctx); err != nil {
			t.Fatal(err)
		}
		if n >= want || time.Now().After(deadline) {
			break
		}
	}
	if n < want || n > total+1 {
		t.Errorf("%d documents for %d answered events (+ %d cut off)", n, want, failed)
	}
}

func waitStored(ctx context.Context, st store.Store, id string) (store.Sample, error) {
	for {
		s, err := st.GetSample(ctx, id)
		if err == nil {
			return s, nil
		}
		select {
		case <-ctx.Done():
			return s, err
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// TestStreamMetricsIntegration: `stratus stream` serves the pipeline's
// metrics for Prometheus: events in, dead letters, inference batches, store
// writes, consumer lag.
func TestStreamMetricsIntegration(t *testing.T) {
	d := deploy(t, "metrics")
	_, url := d.replica(t, "replica-m")
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	waitReady(t, ctx, url)
	set, err := mnist.Test("")
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 20; i++ {
		pic, _ := set.PNG(i, 2)
		ev := []byte(`{"v":1,"mode":"digit","image_png":"` + base64.StdEncoding.EncodeToString(pic) + `"}`)
		if code, body := postJSON(t, url+"/api/v1/predict", ev); code != 200 {
			t.Fatalf("predict: %d %s", code, body)
		}
	}
	want := []string{
		`stratus_pipeline_counter_total{name="events_in",namespace="stratus.stream"}`,
		`stratus_pipeline_distribution_count{name="inference_batch_size",namespace="stratus.inference"}`,
		`stratus_pipeline_distribution_sum{name="write_latency_micros",namespace="couchio.Write"}`,
		`stratus_kafka_consumer_lag{group=`,
		`stratus_kafka_consumer_lag_up{group="it-metrics-`,
		`-store",topic="it.metrics.`,
		`stratus_pipeline_metrics_up 1`,
	}
	// Beam commits a bundle's metrics when the bundle ends: the last events
	// may show a moment after their answers, so poll until all 20 count.
	counted := regexp.MustCompile(`stratus_pipeline_counter_total\{name="events_in",namespace="stratus.stream"\} (2\d|[3-9]\d|\d{3,})\n`)
	for deadline := time.Now().Add(time.Minute); ; time.Sleep(500 * time.Millisecond) {
		_, b := get(ctx, d.metrics)
		body := string(b)
		missing := ""
		for _, w := range want {
			if !strings.Contains(body, w) {
				missing = w
			}
		}
		if missing == "" && !counted.MatchString(body) {
			missing = "events_in counting the 20 events"
		}
		if missing == "" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("/metrics of stratus stream lacks %s:\n%s", missing, body)
		}
	}
}
