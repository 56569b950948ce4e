//go:build integration

package couchdb_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	kivik "github.com/go-kivik/kivik/v4"

	"github.com/stratusml/stratus/internal/testenv"
	"github.com/stratusml/stratus/store"
	"github.com/stratusml/stratus/store/couchdb"
	"github.com/stratusml/stratus/store/storetest"
)

// prefix returns a database prefix no other test uses.
func prefix() string {
	return fmt.Sprintf("t%d%04d_", time.Now().UnixNano()%1e12, rand.IntN(10000))
}

// open opens a store with a fresh prefix on rawURL and drops its databases
// when the test ends.
func open(t testing.TB, rawURL string, cfg couchdb.Config) *couchdb.Store {
	t.Helper()
	cfg.URL, cfg.Prefix = rawURL, prefix()
	st, err := couchdb.Open(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		c, err := kivik.New("couch", testenv.CouchDB(t))
		if err != nil {
			t.Error(err)
			return
		}
		defer c.Close()
		for _, db := range []string{st.SamplesDB(), st.ModelsDB()} {
			if err := c.DestroyDB(ctx, db); err != nil && kivik.HTTPStatus(err) != http.StatusNotFound {
				t.Errorf("drop %s: %v", db, err)
			}
		}
	})
	return st
}

func TestContract(t *testing.T) {
	u := testenv.CouchDB(t)
	storetest.Run(t, func(t *testing.T) store.Store { return open(t, u, couchdb.Config{}) })
}

// TestContractSmallPages runs the suite with pages and batches small enough
// that every scan and write crosses their boundaries.
func TestContractSmallPages(t *testing.T) {
	u := testenv.CouchDB(t)
	storetest.Run(t, func(t *testing.T) store.Store {
		return open(t, u, couchdb.Config{PageSize: 7, BatchSize: 13, Concurrency: 3})
	})
}

func TestOpenByURL(t *testing.T) {
	u := testenv.CouchDB(t)
	ctx := context.Background()
	p := prefix()
	st, err := store.Open(ctx, u, store.Options{Prefix: p})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if _, ok := st.(*couchdb.Store); !ok {
		t.Fatalf("store.Open(%s) = %T, want *couchdb.Store", store.RedactURL(u), st)
	}
	if err := st.(*couchdb.Store).Ping(ctx); err != nil {
		t.Fatalf("Ping: %v", err)
	}
	c, _ := kivik.New("couch", u)
	defer c.Close()
	if err := st.EnsureSchema(ctx); err != nil {
		t.Fatal(err)
	}
	for _, db := range []string{p + "samples", p + "models"} {
		ok, err := c.DBExists(ctx, db)
		if err != nil || !ok {
			t.Errorf("database %s exists: %v, %v", db, ok, err)
		}
		_ = c.DestroyDB(ctx, db)
	}
}

// TestDocumentShape checks the stored JSON against docs/contracts.md (Store documents) as another
// client sees it.
func TestDocumentShape(t *testing.T) {
	u := testenv.CouchDB(t)
	ctx := context.Background()
	st := open(t, u, couchdb.Config{})
	if err := st.EnsureSchema(ctx); err != nil {
		t.Fatal(err)
	}
	s := storetest.Samples(1, time.Date(2026, 11, 25, 10, 0, 0, 100e6, time.UTC), "m1", 1)[0]
	if err := st.UpsertSamples(ctx, []store.Sample{s}); err != nil {
		t.Fatal(err)
	}
	var doc map[string]any
	if err := st.Client().DB(st.SamplesDB()).Get(ctx, s.ID).ScanDoc(&doc); err != nil {
		t.Fatal(err)
	}
	if doc["type"] != "sample" || doc["_id"] != s.ID || doc["created_at"] != "2026-11-25T10:00:00.100Z" {
		t.Errorf("document: type=%v _id=%v created_at=%v", doc["type"], doc["_id"], doc["created_at"])
	}
	in, ok := doc["input28"].([]any)
	if !ok || len(in) != 1 {
		t.Fatalf("input28 = %T %v", doc["input28"], doc["input28"])
	}
	if str, _ := in[0].(string); len(str) != 1048 { // base64 of 784 bytes
		t.Errorf("input28[0] is %d base64 characters, want 1048", len(str))
	}
	pred := doc["predictions"].(map[string]any)["m1"].(map[string]any)
	for _, k := range []string{"digits", "candidates", "confidence", "model", "received_at", "predicted_at"} {
		if _, ok := pred[k]; !ok {
			t.Errorf("prediction lacks %q: %v", k, pred)
		}
	}
	for _, k := range []string{"v", "id", "session"} {
		if _, ok := pred[k]; ok {
			t.Errorf("prediction keeps the envelope field %q", k)
		}
	}
	// Fields another writer added survive an upsert.
	doc["note"] = "kept"
	if _, err := st.Client().DB(st.SamplesDB()).Put(ctx, s.ID, doc); err != nil {
		t.Fatal(err)
	}
	s.Predictions = map[string]store.PredictionBody{"m2": storetest.Prediction("m2", 1, time.Now())}
	if err := st.UpsertSamples(ctx, []store.Sample{s}); err != nil {
		t.Fatal(err)
	}
	doc = nil
	if err := st.Client().DB(st.SamplesDB()).Get(ctx, s.ID).ScanDoc(&doc); err != nil {
		t.Fatal(err)
	}
	if doc["note"] != "kept" || len(doc["predictions"].(map[string]any)) != 2 {
		t.Errorf("after upsert: note=%v predictions=%v", doc["note"], doc["predictions"])
	}
	// A replay makes no new revision.
	rev := doc["_rev"]
	if err := st.UpsertSamples(ctx, []store.Sample{s}); err != nil {
		t.Fatal(err)
	}
	if r2, _ := st.Client().DB(st.SamplesDB()).GetRev(ctx, s.ID); r2 != rev {
		t.Errorf("replay made revision %v (was %v)", r2, rev)
	}
}

// flaky is a proxy in front of the server that fails requests: every
// failEvery-th answers 503, every dropEvery-th is forwarded but its answer
// is dropped (the client sees a broken connection after the server acted).
type flaky struct {
	proxy                *httputil.ReverseProxy
	n, failed, dropped   atomic.Int64
	failEvery, dropEvery int64
}

func (f *flaky) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	n := f.n.Add(1)
	switch {
	case f.failEvery > 0 && n%f.failEvery == 0:
		f.failed.Add(1)
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusServiceUnavailable)
		io.WriteString(w, `{"error":"unavailable","reason":"injected"}`)
	case f.dropEvery > 0 && n%f.dropEvery == 0:
		f.dropped.Add(1)
		rec := httptest.NewRecorder()
		f.proxy.ServeHTTP(rec, r) // the server does the work…
		conn, _, err := w.(http.Hijacker).Hijack()
		if err == nil {
			conn.Close() // …and the answer is lost
		}
	default:
		f.proxy.ServeHTTP(w, r)
	}
}

func TestRetriesThroughFaults(t *testing.T) {
	u := testenv.CouchDB(t)
	target, _ := url.Parse(u)
	user := target.User
	target.User = nil
	f := &flaky{proxy: httputil.NewSingleHostReverseProxy(target), failEvery: 4, dropEvery: 7}
	srv := httptest.NewServer(f)
	defer srv.Close()
	pu, _ := url.Parse(srv.URL)
	pu.User = user
	st := open(t, pu.String(), couchdb.Config{BatchSize: 50, Retry: couchdb.Retry{Attempts: 8, Initial: time.Millisecond, Max: 20 * time.Millisecond}})
	ctx := context.Background()
	if err := st.EnsureSchema(ctx); err != nil {
		t.Fatal(err)
	}
	samples := storetest.Samples(500, time.Now(), "m1", 3)
	if err := st.UpsertSamples(ctx, samples); err != nil {
		t.Fatal(err)
	}
	if err := st.UpsertSamples(ctx, samples); err != nil {
		t.Fatal(err)
	}
	n, err := st.Count(ctx)
	if err != nil || n != 500 {
		t.Fatalf("Count = %d, %v; want 500", n, err)
	}
	seen := 0
	if err := st.ScanSamples(ctx, "", "", func(store.Sample) error { seen++; return nil }); err != nil || seen != 500 {
		t.Fatalf("scan saw %d, %v", seen, err)
	}
	t.Logf("%d requests, %d answered 503, %d dropped after the server acted", f.n.Load(), f.failed.Load(), f.dropped.Load())
	if f.failed.Load() == 0 || f.dropped.Load() == 0 {
		t.Error("no fault was injected")
	}
}

func TestGivesUpAndRedacts(t *testing.T) {
	testenv.CouchDB(t)
	// A port nobody listens on: connection refused, retried, then an error
	// per sample that names neither user nor password.
	l, _ := net.Listen("tcp", "127.0.0.1:0")
	addr := l.Addr().String()
	l.Close()
	st, err := couchdb.Open(context.Background(), couchdb.Config{
		URL:   "http://stratus:s3cr3t-pw@" + addr,
		Retry: couchdb.Retry{Attempts: 3, Initial: time.Millisecond, Max: 5 * time.Millisecond},
	})
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	err = st.UpsertSamples(context.Background(), storetest.Samples(3, time.Now(), "m1", 1))
	failed, ok := store.Failed(err)
	if !ok || len(failed) != 3 {
		t.Fatalf("UpsertSamples against nothing: %v", err)
	}
	if strings.Contains(err.Error(), "s3cr3t-pw") {
		t.Errorf("error shows the password: %v", err)
	}
	if time.Since(start) > 10*time.Second {
		t.Errorf("gave up after %v", time.Since(start))
	}
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	slow, _ := couchdb.Open(ctx, couchdb.Config{URL: "http://" + addr, Retry: couchdb.Retry{Attempts: 100, Initial: 20 * time.Millisecond}})
	if _, err := slow.GetSample(ctx, "x"); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("retries past the context: %v", err)
	}
}

// BenchmarkUpsert measures UpsertSamples throughput (docs/s): new
// documents, replays (nothing to write), and updates (a new model's
// prediction for every document), by batch size and concurrency.
func BenchmarkUpsert(b *testing.B) {
	u := testenv.CouchDB(b)
	ctx := context.Background()
	for _, c := range []struct{ batch, conc int }{{100, 1}, {100, 2}, {100, 4}, {250, 2}, {500, 2}} {
		for _, kind := range []string{"new", "replay", "update"} {
			b.Run(fmt.Sprintf("%s/batch%d/conc%d", kind, c.batch, c.conc), func(b *testing.B) {
				st := open(b, u, couchdb.Config{BatchSize: c.batch, Concurrency: c.conc})
				if err := st.EnsureSchema(ctx); err != nil {
					b.Fatal(err)
				}
				samples := storetest.Samples(b.N, time.Now(), "m1", uint64(b.N))
				if kind != "new" {
					if err := st.UpsertSamples(ctx, samples); err != nil {
						b.Fatal(err)
					}
				}
				if kind == "update" {
					for i := range samples {
						samples[i].Predictions = map[string]store.PredictionBody{"m2": storetest.Prediction("m2", 1, time.Now())}
					}
				}
				b.ResetTimer()
				for lo := 0; lo < len(samples); lo += 5000 {
					if err := st.UpsertSamples(ctx, samples[lo:min(lo+5000, len(samples))]); err != nil {
						b.Fatal(err)
					}
				}
				b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "docs/s")
			})
		}
	}
}

// BenchmarkScan measures ScanSamples throughput by page size: one op is
// one document read (b.N documents, one scan).
func BenchmarkScan(b *testing.B) {
	u := testenv.CouchDB(b)
	ctx := context.Background()
	for _, page := range []int{100, 200, 500, 1000} {
		b.Run(fmt.Sprintf("page%d", page), func(b *testing.B) {
			st := open(b, u, couchdb.Config{PageSize: page})
			if err := st.EnsureSchema(ctx); err != nil {
				b.Fatal(err)
			}
			if err := st.UpsertSamples(ctx, storetest.Samples(b.N, time.Now(), "m1", 1)); err != nil {
				b.Fatal(err)
			}
			b.ResetTimer()
			seen := 0
			if err := st.ScanSamples(ctx, "", "", func(store.Sample) error { seen++; return nil }); err != nil || seen != b.N {
				b.Fatalf("scan: %d, %v", seen, err)
			}
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "docs/s")
		})
	}
}

// TestUnreadableStoredDocument: a stored document that is not a sample
// (wrong field types) fails only its own upsert.
func TestUnreadableStoredDocument(t *testing.T) {
	u := testenv.CouchDB(t)
	ctx := context.Background()
	st := open(t, u, couchdb.Config{})
	if err := st.EnsureSchema(ctx); err != nil {
		t.Fatal(err)
	}
	samples := storetest.Samples(5, time.Now(), "m1", 5)
	if _, err := st.Client().DB(st.SamplesDB()).Put(ctx, samples[2].ID, map[string]any{"width": "wide"}); err != nil {
		t.Fatal(err)
	}
	err := st.UpsertSamples(ctx, samples)
	failed, ok := store.Failed(err)
	if !ok || len(failed) != 1 || !errors.Is(failed[samples[2].ID], store.ErrInvalid) {
		t.Fatalf("UpsertSamples over a foreign document: %v", err)
	}
	if n, _ := st.Count(ctx); n != 5 {
		t.Errorf("Count = %d, want 5", n)
	}
}
