//go:build integration

package frontend_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/apache/beam/sdks/v2/go/pkg/beam"
	"github.com/coder/websocket"

	"github.com/stratusml/stratus/frontend"
	"github.com/stratusml/stratus/frontend/reqreply"
	"github.com/stratusml/stratus/internal/testenv"
	"github.com/stratusml/stratus/message"
	"github.com/stratusml/stratus/model/mnist"
	"github.com/stratusml/stratus/pipelines/stream"
	"github.com/stratusml/stratus/runners"
	"github.com/stratusml/stratus/store"
	_ "github.com/stratusml/stratus/store/couchdb"
	"github.com/stratusml/stratus/transforms/kafkaio"
)

// system is the whole path on the real components: the streaming pipeline
// on prism, the real Kafka broker and the CouchDB-protocol server, and
// frontend replicas.
type system struct {
	cfg     stream.Config
	st      store.Store
	job     *runners.Job
	brokers []string
}

func startSystem(t *testing.T, name string) *system {
	t.Helper()
	broker := testenv.Kafka(t)
	couch := testenv.CouchDB(t)
	suffix := strconv.FormatInt(time.Now().UnixNano(), 36)
	cfg := stream.Config{
		Brokers:          strings.Split(broker, ","),
		CanvasTopic:      "it.fe." + name + "." + suffix + ".canvas",
		PredictionsTopic: "it.fe." + name + "." + suffix + ".predictions",
		DeadLetterTopic:  "it.fe." + name + "." + suffix + ".deadletter",
		SamplesTopic:     "it.fe." + name + "." + suffix + ".samples",
		GroupID:          "it-fe-" + name + "-" + suffix,
		StartFrom:        kafkaio.StartEarliest,
		StoreURL:         couch,
		StorePrefix:      "it_fe_" + name + "_" + suffix + "_",
	}
	// Four reply partitions: two replicas most likely read different ones,
	// and may share one (both cases route by key).
	testenv.CreateTopics(t, cfg.Brokers[0], map[string]int{cfg.CanvasTopic: 4, cfg.PredictionsTopic: 4, cfg.DeadLetterTopic: 1, cfg.SamplesTopic: 4})
	st, err := store.Open(context.Background(), couch, store.Options{Prefix: cfg.StorePrefix})
	if err != nil {
		t.Fatal(err)
	}
	if err := st.EnsureSchema(context.Background()); err != nil {
		t.Fatal(err)
	}
	p, s := beam.NewPipelineWithRoot()
	if err := stream.Build(s, cfg); err != nil {
		t.Fatal(err)
	}
	job, err := runners.Start(context.Background(), p, runners.Options{JobName: "frontend-it"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		_ = job.Stop(ctx)
		_ = job.Close()
		_ = st.Close()
	})
	return &system{cfg: cfg, st: st, job: job, brokers: cfg.Brokers}
}

// replica starts one frontend replica and returns its URL.
func (sys *system) replica(t *testing.T, id string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	rr, err := reqreply.New(ctx, reqreply.Config{
		Brokers: sys.brokers, RequestTopic: sys.cfg.CanvasTopic, ReplyTopic: sys.cfg.PredictionsTopic, ReplicaID: id,
	})
	if err != nil {
		t.Fatal(err)
	}
	srv, err := frontend.New(frontend.Config{Requester: rr, Store: sys.st, Timeout: 30 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(srv)
	t.Cleanup(func() { ts.Close(); srv.Close(); rr.Close() })
	return ts.URL
}

// roundRobin is one address in front of several replicas, alternating
// between them per request, like a load balancer without stickiness.
func roundRobin(t *testing.T, backends ...string) string {
	var n atomic.Int64
	proxies := make([]*httputil.ReverseProxy, len(backends))
	for i, b := range backends {
		u, _ := url.Parse(b)
		proxies[i] = httputil.NewSingleHostReverseProxy(u)
	}
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		proxies[int(n.Add(1))%len(proxies)].ServeHTTP(w, r)
	}))
	t.Cleanup(ts.Close)
	return ts.URL
}

func pngEvent(t *testing.T, set *mnist.Set, i int, session string) []byte {
	pic, err := set.PNG(i, 4)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := json.Marshal(map[string]any{"v": 1, "session": session, "mode": "digit", "image_png": base64.StdEncoding.EncodeToString(pic)})
	return b
}

// TestTwoReplicasIntegration: 8 clients send MNIST digits through one
// address in front of two replicas; every client must get the answers to
// its own drawings (the reply's session is the client's, and the sample
// stored under the reply's id is the drawing the client sent).
func TestTwoReplicasIntegration(t *testing.T) {
	sys := startSystem(t, "two")
	lb := roundRobin(t, sys.replica(t, "replica-a"), sys.replica(t, "replica-b"))
	set, err := mnist.Test("")
	if err != nil {
		t.Fatal(err)
	}
	const clients, each = 8, 25
	type answer struct {
		client, digit int
		p             message.Prediction
	}
	var mu sync.Mutex
	var answers []answer
	var wg sync.WaitGroup
	errs := make(chan error, clients*each)
	for c := 0; c < clients; c++ {
		wg.Add(1)
		go func(c int) {
			defer wg.Done()
			session := "client-" + strconv.Itoa(c)
			for k := 0; k < each; k++ {
				i := c*each + k
				res, err := http.Post(lb+"/api/v1/predict", "application/json", bytes.NewReader(pngEvent(t, set, i, session)))
				if err != nil {
					errs <- err
					return
				}
				body, _ := io.ReadAll(res.Body)
				res.Body.Close()
				if res.StatusCode != 200 {
					errs <- fmt.Errorf("client %d request %d: %d %s", c, k, res.StatusCode, body)
					continue
				}
				var p message.Prediction
				if err := json.Unmarshal(body, &p); err != nil {
					errs <- err
					continue
				}
				mu.Lock()
				answers = append(answers, answer{client: c, digit: i, p: p})
				mu.Unlock()
			}
		}(c)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	right := 0
	ids := map[string]bool{}
	for _, a := range answers {
		if a.p.Session != "client-"+strconv.Itoa(a.client) {
			t.Fatalf("client %d got the answer to session %q's drawing", a.client, a.p.Session)
		}
		if ids[a.p.ID] {
			t.Fatalf("two answers share id %s", a.p.ID)
		}
		ids[a.p.ID] = true
		if a.p.Digits == strconv.Itoa(int(set.Labels[a.digit])) {
			right++
		}
	}
	t.Logf("%d answers through 2 replicas, %d right", len(answers), right)
	if len(answers) != clients*each {
		t.Fatalf("%d answers for %d requests", len(answers), clients*each)
	}
	if right < clients*each*98/100 {
		t.Errorf("accuracy %d/%d", right, clients*each)
	}
	// The stored sample under each id is the drawing its client sent.
	for _, a := range answers[:20] {
		s, err := waitSample(sys.st, a.p.ID)
		if err != nil {
			t.Fatalf("sample %s: %v", a.p.ID, err)
		}
		if s.Session != a.p.Session || len(s.Predictions) != 1 {
			t.Fatalf("sample %s: session %q, %d predictions", a.p.ID, s.Session, len(s.Predictions))
		}
	}
	// A correction through the balancer is stored.
	res, err := http.Post(lb+"/api/v1/samples/"+answers[0].p.ID+"/label", "application/json", strings.NewReader(`{"label":"3"}`))
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != 200 {
		t.Fatalf("label: %d", res.StatusCode)
	}
	if s, err := sys.st.GetSample(context.Background(), answers[0].p.ID); err != nil || s.Label != "3" {
		t.Fatalf("label not stored: %+v %v", s, err)
	}
}

func waitSample(st store.Store, id string) (store.Sample, error) {
	deadline := time.Now().Add(30 * time.Second)
	for {
		s, err := st.GetSample(context.Background(), id)
		if err == nil || time.Now().After(deadline) {
			return s, err
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// TestWebSocketIntegration: a WebSocket client through a replica on the
// real path; a refused drawing gets an error reply, not a timeout.
func TestWebSocketIntegration(t *testing.T) {
	sys := startSystem(t, "ws")
	base := sys.replica(t, "replica-ws")
	set, err := mnist.Test("")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	c, _, err := websocket.Dial(ctx, "ws"+strings.TrimPrefix(base, "http")+"/api/v1/ws", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c.CloseNow()
	c.SetReadLimit(1 << 20)
	// 30 digits in rounds of 6 (a connection may have 8 in flight), then a
	// blank picture: it passes the frontend's checks (PNGs are preprocessed
	// in the pipeline) and is refused there, which must come back as an
	// error reply, not a timeout.
	const n, round = 30, 6
	blank, err := (&mnist.Set{Images: make([][784]uint8, 1), Labels: []uint8{0}}).PNG(0, 2)
	if err != nil {
		t.Fatal(err)
	}
	blankEvent, _ := json.Marshal(map[string]any{"v": 1, "mode": "digit", "image_png": base64.StdEncoding.EncodeToString(blank)})
	preds, accepted, refused, right := 0, 0, 0, 0
	for sent := 0; sent <= n; {
		batch := 0
		for ; batch < round && sent <= n; batch++ {
			ev := blankEvent
			if sent < n {
				ev = pngEvent(t, set, 500+sent, "")
			}
			if err := c.Write(ctx, websocket.MessageText, ev); err != nil {
				t.Fatal(err)
			}
			sent++
		}
		for answered := 0; answered < batch; {
			_, data, err := c.Read(ctx)
			if err != nil {
				t.Fatalf("after %d predictions: %v", preds, err)
			}
			var m struct {
				Type   string `json:"type"`
				Seq    int    `json:"seq"`
				Digits string `json:"digits"`
				Status int    `json:"status"`
				Error  string `json:"error"`
			}
			_ = json.Unmarshal(data, &m)
			switch m.Type {
			case "accepted":
				accepted++
			case "prediction":
				preds++
				answered++
				if m.Digits == strconv.Itoa(int(set.Labels[500+m.Seq-1])) {
					right++
				}
			case "error":
				if m.Seq != n+1 || m.Status != http.StatusUnprocessableEntity || !strings.Contains(m.Error, "could not be recognised") {
					t.Fatalf("unexpected error: %s", data)
				}
				refused++
				answered++
			}
		}
	}
	t.Logf("%d accepted, %d predictions (%d right), %d refused", accepted, preds, right, refused)
	if accepted != n+1 || right < n-1 || refused != 1 {
		t.Errorf("%d accepted, %d/%d right", accepted, right, n)
	}
}
