//go:build integration && faults

// Fault tests: they stop and restart the shared Kafka broker and
// CouchDB-protocol server of deploy/local, so they run on their own, after
// every other test (scripts/test.sh: `go test -tags integration,faults -p 1
// -run Fault ./cmd/stratus`). Each counts the events that went in against
// the replies and documents that came out.

package main

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stratusml/stratus/model/mnist"
)

// outcome is what one request of the traffic got.
type outcome struct {
	at     time.Time
	status int    // 0: no HTTP answer
	id     string // the event id the answer names (200, 422, 504)
	digits string
	label  int
}

// traffic sends MNIST digits to a frontend from a few clients until
// stopped, and keeps every outcome.
type traffic struct {
	mu       sync.Mutex
	outcomes []outcome
	stop     chan struct{}
	wg       sync.WaitGroup
}

func startTraffic(t *testing.T, url string, clients int, every time.Duration) *traffic {
	set, err := mnist.Test("")
	if err != nil {
		t.Fatal(err)
	}
	digits := picturesThatRead(t, set, 100)
	tr := &traffic{stop: make(chan struct{})}
	hc := &http.Client{Timeout: 30 * time.Second}
	for c := 0; c < clients; c++ {
		tr.wg.Add(1)
		go func(c int) {
			defer tr.wg.Done()
			for k := c; ; k += clients {
				select {
				case <-tr.stop:
					return
				case <-time.After(every):
				}
				i := digits[k%len(digits)]
				pic, _ := set.PNG(i, 2)
				body := []byte(`{"v":1,"mode":"digit","session":"fault-` + strconv.Itoa(c) + `","image_png":"` + base64.StdEncoding.EncodeToString(pic) + `"}`)
				o := outcome{at: time.Now(), label: int(set.Labels[i])}
				res, err := hc.Post(url+"/api/v1/predict", "application/json", bytes.NewReader(body))
				if err == nil {
					b, _ := io.ReadAll(res.Body)
					res.Body.Close()
					o.status = res.StatusCode
					var p struct{ ID, Digits string }
					_ = json.Unmarshal(b, &p)
					o.id, o.digits = p.ID, p.Digits
				}
				tr.mu.Lock()
				tr.outcomes = append(tr.outcomes, o)
				tr.mu.Unlock()
			}
		}(c)
	}
	return tr
}

func (tr *traffic) end() []outcome {
	close(tr.stop)
	tr.wg.Wait()
	tr.mu.Lock()
	defer tr.mu.Unlock()
	return append([]outcome(nil), tr.outcomes...)
}

// between counts the outcomes with status in [from, to).
func between(os []outcome, from, to time.Time, status int) int {
	n := 0
	for _, o := range os {
		if !o.at.Before(from) && o.at.Before(to) && o.status == status {
			n++
		}
	}
	return n
}

// local runs a deploy/local script.
func local(t *testing.T, env []string, script string, args ...string) {
	t.Helper()
	cmd := exec.Command(filepath.Join("..", "..", "deploy", "local", script), args...)
	cmd.Env = append(os.Environ(), env...)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("%s %v: %v\n%s", script, args, err, out)
	}
}

// checkStored waits until every event the frontend took (its answer named
// an id: 200, or 504 when the answer was late) is a document, and checks
// that the only other documents are of requests that failed with no id (a
// produce the broker took but did not acknowledge before it went away):
// nothing lost; and a document is one per id, so nothing twice.
func checkStored(t *testing.T, d *deployment, outs []outcome) {
	t.Helper()
	want := map[string]bool{}
	unsure := 0
	for _, o := range outs {
		switch {
		case o.id != "" && (o.status == 200 || o.status == http.StatusGatewayTimeout):
			want[o.id] = true
		case o.status != 200:
			unsure++
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	for id := range want {
		if _, err := waitStored(ctx, d.st, id); err != nil {
			t.Fatalf("event %s was taken but its document never came: %v", id, err)
		}
	}
	n, err := d.st.Count(ctx)
	if err != nil {
		t.Fatal(err)
	}
	// The warm-up event is stored too.
	if n < len(want)+1 || n > len(want)+1+unsure {
		t.Errorf("%d documents for %d events taken (+1 warm-up, + at most %d of failed requests)", n, len(want), unsure)
	}
	statuses := map[int]int{}
	for _, o := range outs {
		statuses[o.status]++
	}
	t.Logf("answers by HTTP status (0: none): %v", statuses)
	t.Logf("%d documents: %d events taken, the warm-up, and %d of %d requests that failed", n, len(want), n-len(want)-1, unsure)
}

// faultDeployment starts a stream and one frontend replica on the shared
// components, waits for it to be ready and warms it up.
func faultDeployment(t *testing.T, name, replica string) (*deployment, string) {
	t.Helper()
	d := deploy(t, name)
	_, url := d.replica(t, replica)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	waitReady(t, ctx, url)
	warmUp(t, url)
	return d, url
}

// waitAnswers waits up to 2 minutes for 50 answers (200) to requests sent
// after since.
func (tr *traffic) waitAnswers(t *testing.T, since time.Time, after string) {
	t.Helper()
	for deadline := time.Now().Add(2 * time.Minute); ; time.Sleep(200 * time.Millisecond) {
		tr.mu.Lock()
		n := between(tr.outcomes, since, time.Now().Add(time.Hour), 200)
		tr.mu.Unlock()
		if n >= 50 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("answers did not resume within 2 minutes of %s", after)
		}
	}
}

// notAnswered counts the outcomes that are not a 200.
func notAnswered(outs []outcome) int {
	n := 0
	for _, o := range outs {
		if o.status != 200 {
			n++
		}
	}
	return n
}

func warmUp(t *testing.T, url string) {
	t.Helper()
	set, _ := mnist.Test("")
	pic, _ := set.PNG(0, 2)
	if code, body := postJSON(t, url+"/api/v1/predict", []byte(`{"v":1,"mode":"digit","image_png":"`+base64.StdEncoding.EncodeToString(pic)+`"}`)); code != 200 {
		t.Fatalf("warm-up: %d %s", code, body)
	}
}

// TestFaultCouchDBDown: the CouchDB-protocol server is down for 30 s in
// the middle of a stream. Answers keep flowing; every sample is stored once
// the server is back.
func TestFaultCouchDBDown(t *testing.T) {
	data := t.TempDir()
	persist := []string{"STRATUS_COUCHDB_DATA=" + data}
	local(t, persist, "couchdb.sh", "restart") // on disk, so that a stop keeps what was stored
	t.Cleanup(func() { local(t, nil, "couchdb.sh", "restart") })
	d, url := faultDeployment(t, "couchdown", "replica-c")

	tr := startTraffic(t, url, 4, 50*time.Millisecond)
	time.Sleep(5 * time.Second)
	down := time.Now()
	local(t, persist, "couchdb.sh", "stop")
	time.Sleep(30 * time.Second)
	up := time.Now()
	local(t, persist, "couchdb.sh", "start")
	time.Sleep(5 * time.Second)
	outs := tr.end()

	during := between(outs, down, up, 200)
	failed := notAnswered(outs)
	for _, o := range outs {
		if o.status == 200 && o.digits != strconv.Itoa(o.label) {
			t.Errorf("a wrong answer %s for a %d", o.digits, o.label)
		}
	}
	t.Logf("%d requests, %d answered while CouchDB was down for 30 s, %d not answered", len(outs), during, failed)
	if during < 100 {
		t.Errorf("only %d answers while the store was down: answers must keep flowing", during)
	}
	if failed > 0 {
		t.Errorf("%d requests got no answer", failed)
	}
	checkStored(t, d, outs)
}

// TestFaultKafkaRestart: the broker restarts (keeping its data) in the
// middle of a stream. Requests during the restart may fail; every event the
// frontend took is answered or stored, once.
func TestFaultKafkaRestart(t *testing.T) {
	d, url := faultDeployment(t, "kafkarestart", "replica-k")

	tr := startTraffic(t, url, 4, 50*time.Millisecond)
	time.Sleep(5 * time.Second)
	restart := time.Now()
	local(t, []string{"STRATUS_KAFKA_KEEP_DATA=1"}, "kafka.sh", "restart")
	back := time.Now()
	tr.waitAnswers(t, back.Add(2*time.Second), "the broker's restart")
	outs := tr.end()
	failed := notAnswered(outs)
	t.Logf("%d requests, %d failed or late around a %v broker restart", len(outs), failed, back.Sub(restart).Round(time.Millisecond))
	checkStored(t, d, outs)
}

// TestFaultPipelineKilled: `stratus stream` is killed with SIGKILL in the
// middle of a stream and started again with the same consumer group; every
// event taken is stored once (replays are idempotent).
func TestFaultPipelineKilled(t *testing.T) {
	d, url := faultDeployment(t, "pipekill", "replica-p")

	tr := startTraffic(t, url, 4, 50*time.Millisecond)
	time.Sleep(5 * time.Second)
	d.stream.kill(syscall.SIGKILL)
	time.Sleep(3 * time.Second)
	d.restartStream(t)
	tr.waitAnswers(t, time.Now(), "the pipeline's restart")
	outs := tr.end()
	t.Logf("%d requests around a SIGKILL of the pipeline", len(outs))
	checkStored(t, d, outs)
}
