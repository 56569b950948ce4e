//go:build integration

// Integration tests proving that the components started by deploy/local
// really work with the clients Stratus uses: kafka-go against Kafka, and
// kivik's CouchDB driver against the CouchDB-protocol server.
//
//	deploy/local/up.sh
//	STRATUS_INTEGRATION=1 go test -tags integration ./internal/testenv
//	deploy/local/down.sh
package testenv_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	kivik "github.com/go-kivik/kivik/v4"
	"github.com/go-kivik/kivik/v4/couchdb"
	"github.com/segmentio/kafka-go"

	"github.com/stratusml/stratus/internal/testenv"
)

// The topics deploy/local/kafka.sh creates (docs/contracts.md, Kafka topics).
var stratusTopics = []string{"stratus.canvas", "stratus.predictions", "stratus.deadletter"}

func TestKafkaTopicsExist(t *testing.T) {
	brokers := strings.Split(testenv.Kafka(t), ",")
	conn, err := kafka.Dial("tcp", brokers[0])
	if err != nil {
		t.Fatalf("dial %s: %v", brokers[0], err)
	}
	defer conn.Close()
	parts, err := conn.ReadPartitions(stratusTopics...)
	if err != nil {
		t.Fatalf("read partitions: %v", err)
	}
	count := map[string]int{}
	for _, p := range parts {
		count[p.Topic]++
		if p.Leader.Port == 0 {
			t.Errorf("%s/%d has no leader", p.Topic, p.ID)
		}
	}
	for _, topic := range stratusTopics {
		if count[topic] == 0 {
			t.Errorf("topic %s missing (have %v)", topic, count)
		}
	}
	t.Logf("partitions: %v", count)
}

func TestKafkaProduceConsume(t *testing.T) {
	brokers := strings.Split(testenv.Kafka(t), ",")
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()

	id := fmt.Sprintf("testenv-%d", time.Now().UnixNano())
	w := &kafka.Writer{
		Addr:         kafka.TCP(brokers...),
		Topic:        "stratus.canvas",
		Balancer:     &kafka.Hash{},
		RequiredAcks: kafka.RequireAll,
		// kafka-go waits BatchTimeout (default 1 s) before sending a lone message.
		BatchTimeout: time.Millisecond,
	}
	defer w.Close()
	value := fmt.Sprintf(`{"v":1,"id":%q,"session":"s-%s","mode":"digit"}`, id, id)
	start := time.Now()
	var err error
	for attempt := 0; attempt < 5; attempt++ {
		// A fresh topic's leader may need a moment; retry briefly.
		err = w.WriteMessages(ctx, kafka.Message{
			Key:     []byte("s-" + id),
			Value:   []byte(value),
			Headers: []kafka.Header{{Key: "test", Value: []byte(id)}},
		})
		if err == nil {
			break
		}
		time.Sleep(500 * time.Millisecond)
	}
	if err != nil {
		t.Fatalf("produce: %v", err)
	}
	t.Logf("produced %s in %v", id, time.Since(start))

	r := kafka.NewReader(kafka.ReaderConfig{
		Brokers:     brokers,
		GroupID:     id, // a new group: reads every partition from the start
		Topic:       "stratus.canvas",
		StartOffset: kafka.FirstOffset,
		MinBytes:    1,
		MaxBytes:    10 << 20, // MinBytes without MaxBytes panics
		MaxWait:     200 * time.Millisecond,
		// On a fresh broker the group coordinator (__consumer_offsets) is not
		// ready at the first join; kafka-go then waits JoinGroupBackoff
		// (default 5 s) before trying again.
		JoinGroupBackoff: 200 * time.Millisecond,
	})
	defer r.Close()
	start = time.Now()
	for {
		m, err := r.FetchMessage(ctx)
		var kerr kafka.Error
		if errors.As(err, &kerr) && kerr.Temporary() && ctx.Err() == nil {
			// e.g. "Not Coordinator For Group" while a fresh broker loads
			// __consumer_offsets: the reader recovers on the next call.
			t.Logf("retrying after a retriable error: %v", err)
			continue
		}
		if err != nil {
			t.Fatalf("consume (waiting for %s): %v", id, err)
		}
		if string(m.Key) != "s-"+id {
			continue // from an earlier run
		}
		if string(m.Value) != value {
			t.Fatalf("value = %q, want %q", m.Value, value)
		}
		if len(m.Headers) != 1 || string(m.Headers[0].Value) != id {
			t.Fatalf("headers = %v", m.Headers)
		}
		if err := r.CommitMessages(ctx, m); err != nil {
			t.Fatalf("commit: %v", err)
		}
		t.Logf("consumed %s from partition %d offset %d in %v (group join included)", id, m.Partition, m.Offset, time.Since(start))
		return
	}
}

// couchClient connects to the CouchDB-protocol server; with compress false
// request bodies go uncompressed, as Stratus sends them.
func couchClient(t *testing.T, compress bool) *kivik.Client {
	t.Helper()
	url := testenv.CouchDB(t)
	var opts []kivik.Option
	if !compress {
		opts = append(opts, couchdb.OptionNoRequestCompression())
	}
	c, err := kivik.New("couch", url, opts...)
	if err != nil {
		t.Fatalf("kivik.New: %v", err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return c
}

// tempDB creates a database with a unique name, destroyed when t ends.
func tempDB(t *testing.T, c *kivik.Client) *kivik.DB {
	t.Helper()
	ctx := context.Background()
	name := fmt.Sprintf("testenv_%d", time.Now().UnixNano())
	if err := c.CreateDB(ctx, name); err != nil {
		t.Fatalf("create db %s: %v", name, err)
	}
	t.Cleanup(func() { _ = c.DestroyDB(context.Background(), name) })
	return c.DB(name)
}

type sample struct {
	ID        string `json:"_id,omitempty"`
	Rev       string `json:"_rev,omitempty"`
	Type      string `json:"type"`
	Session   string `json:"session"`
	CreatedAt string `json:"created_at"`
	Label     string `json:"label,omitempty"`
}

func TestCouchDBDocuments(t *testing.T) {
	c := couchClient(t, false)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()

	if ok, err := c.Ping(ctx); !ok || err != nil {
		t.Fatalf("Ping = %v, %v; want true (GET /_up)", ok, err)
	}
	db := tempDB(t, c)

	// put, get
	rev1, err := db.Put(ctx, "s1", sample{Type: "sample", Session: "a", CreatedAt: "2026-11-25T10:00:00Z"})
	if err != nil {
		t.Fatalf("put: %v", err)
	}
	var got sample
	if err := db.Get(ctx, "s1").ScanDoc(&got); err != nil {
		t.Fatalf("get: %v", err)
	}
	if got.Rev != rev1 || got.Session != "a" || got.Type != "sample" {
		t.Fatalf("get = %+v, want rev %s session a", got, rev1)
	}

	// update
	got.Label = "7"
	rev2, err := db.Put(ctx, "s1", got)
	if err != nil {
		t.Fatalf("update: %v", err)
	}
	if rev2 == rev1 || !strings.HasPrefix(rev2, "2-") {
		t.Fatalf("update rev = %s (was %s)", rev2, rev1)
	}
	// GetRev is a HEAD request that reads the ETag header.
	if rev, err := db.GetRev(ctx, "s1"); err != nil || rev != rev2 {
		t.Fatalf("GetRev = %q, %v; want %q", rev, err, rev2)
	}

	// stale revisions: 409 for put and delete
	got.Rev = rev1
	if _, err := db.Put(ctx, "s1", got); kivik.HTTPStatus(err) != http.StatusConflict {
		t.Fatalf("put with stale rev: err %v (status %d), want 409", err, kivik.HTTPStatus(err))
	}
	if _, err := db.Delete(ctx, "s1", rev1); kivik.HTTPStatus(err) != http.StatusConflict {
		t.Fatalf("delete with stale rev: err %v (status %d), want 409", err, kivik.HTTPStatus(err))
	}
	if _, err := db.Put(ctx, "s1", sample{Type: "sample"}); kivik.HTTPStatus(err) != http.StatusConflict {
		t.Fatalf("put without rev over an existing doc: err %v, want 409", err)
	}

	// delete, then get: 404
	if _, err := db.Put(ctx, "s2", sample{Type: "sample", Session: "b", CreatedAt: "2026-11-25T10:00:01Z"}); err != nil {
		t.Fatalf("put s2: %v", err)
	}
	rev, err := db.GetRev(ctx, "s2")
	if err != nil {
		t.Fatalf("GetRev s2: %v", err)
	}
	if _, err := db.Delete(ctx, "s2", rev); err != nil {
		t.Fatalf("delete s2: %v", err)
	}
	if err := db.Get(ctx, "s2").Err(); kivik.HTTPStatus(err) != http.StatusNotFound {
		t.Fatalf("get deleted: err %v, want 404", err)
	}

	// A body _id never moves a PUT to another document (CouchDB: the URL wins).
	if _, err := db.Put(ctx, "s3", map[string]any{"_id": "other", "type": "sample"}); err != nil {
		t.Fatalf("put s3 with body _id other: %v", err)
	}
	if err := db.Get(ctx, "s3").Err(); err != nil {
		t.Fatalf("get s3: %v", err)
	}
	if err := db.Get(ctx, "other").Err(); kivik.HTTPStatus(err) != http.StatusNotFound {
		t.Fatalf("get other: err %v, want 404", err)
	}
}

func TestCouchDBMango(t *testing.T) {
	c := couchClient(t, false)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	db := tempDB(t, c)

	for i, label := range []string{"7", "3", "7", ""} {
		doc := sample{Type: "sample", Session: "m", CreatedAt: fmt.Sprintf("2026-11-25T10:00:0%dZ", i), Label: label}
		if _, err := db.Put(ctx, fmt.Sprintf("m%d", i), doc); err != nil {
			t.Fatalf("put m%d: %v", i, err)
		}
	}
	if err := db.CreateIndex(ctx, "", "by-label", map[string]any{"fields": []string{"label"}}); err != nil {
		t.Fatalf("create index: %v", err)
	}
	if err := db.CreateIndex(ctx, "", "by-created", map[string]any{"fields": []string{"created_at"}}); err != nil {
		t.Fatalf("create index: %v", err)
	}

	rs := db.Find(ctx, map[string]any{"selector": map[string]any{"label": "7"}})
	var ids []string
	for rs.Next() {
		var d sample
		if err := rs.ScanDoc(&d); err != nil {
			t.Fatalf("scan: %v", err)
		}
		if d.Label != "7" {
			t.Errorf("found %+v, want label 7", d)
		}
		ids = append(ids, d.ID)
	}
	if err := rs.Err(); err != nil {
		t.Fatalf("find: %v", err)
	}
	slices.Sort(ids)
	if !slices.Equal(ids, []string{"m0", "m2"}) {
		t.Fatalf("find label=7: ids %v, want [m0 m2]", ids)
	}

	plan, err := db.Explain(ctx, map[string]any{"selector": map[string]any{"label": "7"}})
	if err != nil {
		t.Fatalf("explain: %v", err)
	}
	if name, _ := plan.Index["name"].(string); name != "by-label" {
		t.Errorf("explain uses index %v, want by-label", plan.Index)
	}

	// newest first by created_at, through its index
	rs = db.Find(ctx, map[string]any{
		"selector": map[string]any{"created_at": map[string]any{"$gt": ""}},
		"sort":     []any{map[string]string{"created_at": "desc"}},
		"limit":    2,
	})
	ids = nil
	for rs.Next() {
		var d sample
		if err := rs.ScanDoc(&d); err != nil {
			t.Fatalf("scan: %v", err)
		}
		ids = append(ids, d.ID)
	}
	if err := rs.Err(); err != nil {
		t.Fatalf("find sorted: %v", err)
	}
	if !slices.Equal(ids, []string{"m3", "m2"}) {
		t.Fatalf("find newest 2: %v, want [m3 m2]", ids)
	}
}

func TestCouchDBChanges(t *testing.T) {
	c := couchClient(t, false)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	db := tempDB(t, c)

	for _, id := range []string{"c1", "c2"} {
		if _, err := db.Put(ctx, id, sample{Type: "sample"}); err != nil {
			t.Fatalf("put %s: %v", id, err)
		}
	}

	// normal feed
	ch := db.Changes(ctx, kivik.Param("since", "0"))
	var ids []string
	for ch.Next() {
		ids = append(ids, ch.ID())
	}
	if err := ch.Err(); err != nil {
		t.Fatalf("changes: %v", err)
	}
	_ = ch.Close()
	slices.Sort(ids)
	if !slices.Equal(ids, []string{"c1", "c2"}) {
		t.Fatalf("changes ids %v, want [c1 c2]", ids)
	}

	// continuous feed: a change made after the feed opened arrives promptly
	// (it would sit in a compression buffer if responses were gzipped).
	live, liveCancel := context.WithTimeout(ctx, 15*time.Second)
	defer liveCancel()
	feed := db.Changes(live, kivik.Params(map[string]any{"feed": "continuous", "since": "now", "heartbeat": 1000}))
	defer feed.Close()
	time.Sleep(200 * time.Millisecond)
	start := time.Now()
	if _, err := db.Put(ctx, "c3", sample{Type: "sample"}); err != nil {
		t.Fatalf("put c3: %v", err)
	}
	for feed.Next() {
		if feed.ID() == "c3" {
			t.Logf("continuous change arrived after %v", time.Since(start))
			return
		}
	}
	t.Fatalf("continuous feed ended without c3: %v", feed.Err())
}

// TestCouchDBCompressedRequests uses kivik's default (gzip request bodies):
// documents and standalone attachments must arrive intact.
func TestCouchDBCompressedRequests(t *testing.T) {
	c := couchClient(t, true)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	db := tempDB(t, c)

	rev, err := db.Put(ctx, "g1", map[string]any{"type": "model", "sha256": strings.Repeat("ab", 32)})
	if err != nil {
		t.Fatalf("put: %v", err)
	}
	payload := bytes.Repeat([]byte("weights\x00\x01\x02"), 5000)
	rev, err = db.PutAttachment(ctx, "g1", &kivik.Attachment{
		Filename:    "weights.bin",
		ContentType: "application/octet-stream",
		Content:     io.NopCloser(bytes.NewReader(payload)),
	}, kivik.Rev(rev))
	if err != nil {
		t.Fatalf("put attachment: %v", err)
	}
	att, err := db.GetAttachment(ctx, "g1", "weights.bin")
	if err != nil {
		t.Fatalf("get attachment: %v", err)
	}
	defer att.Content.Close()
	got, err := io.ReadAll(att.Content)
	if err != nil {
		t.Fatalf("read attachment: %v", err)
	}
	if !bytes.Equal(got, payload) {
		t.Fatalf("attachment: %d bytes back, want the %d put", len(got), len(payload))
	}
	var doc map[string]any
	if err := db.Get(ctx, "g1").ScanDoc(&doc); err != nil || doc["_rev"] != rev || doc["type"] != "model" {
		t.Fatalf("get g1 = %v, %v", doc, err)
	}
}
