//go:build integration

package couchdb_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stratusml/stratus/internal/testenv"
	"github.com/stratusml/stratus/store"
	"github.com/stratusml/stratus/store/couchdb"
	"github.com/stratusml/stratus/store/storetest"
)

// counting is an http.RoundTripper that counts the requests a client
// sends and the bytes of the answers it reads, and keeps the _find
// answers' bodies.
type counting struct {
	base http.RoundTripper

	mu       sync.Mutex
	requests int
	bytes    int64
	finds    [][]byte
}

func (c *counting) RoundTrip(req *http.Request) (*http.Response, error) {
	res, err := c.base.RoundTrip(req)
	if err != nil {
		return nil, err
	}
	body, err := io.ReadAll(res.Body)
	res.Body.Close()
	if err != nil {
		return nil, err
	}
	res.Body = io.NopCloser(bytes.NewReader(body))
	c.mu.Lock()
	defer c.mu.Unlock()
	c.requests++
	c.bytes += int64(len(body))
	if strings.HasSuffix(req.URL.Path, "/_find") {
		c.finds = append(c.finds, body)
	}
	return res, nil
}

// reset starts a new count and returns the last one.
func (c *counting) reset() (requests int, bytes int64, finds [][]byte) {
	c.mu.Lock()
	defer c.mu.Unlock()
	requests, bytes, finds = c.requests, c.bytes, c.finds
	c.requests, c.bytes, c.finds = 0, 0, nil
	return requests, bytes, finds
}

// openCounting opens a store with a fresh prefix whose requests c counts.
func openCounting(t testing.TB, c *counting) *couchdb.Store {
	t.Helper()
	c.base = http.DefaultTransport.(*http.Transport).Clone()
	st := open(t, testenv.CouchDB(t), couchdb.Config{HTTPClient: &http.Client{Transport: c}})
	if err := st.EnsureSchema(context.Background()); err != nil {
		t.Fatal(err)
	}
	return st
}

// pictured is a sample with a PNG of 4 KiB: a page that carried drawings
// would show in the bytes read.
func pictured(id string, at time.Time) store.Sample {
	s := storetest.Sample(id, at, "m1")
	s.Strokes, s.ImagePNG = nil, bytes.Repeat([]byte{0x89}, 4<<10)
	return s
}

// TestListReadsOnlyThePage: whatever the cursor, one page of 20 is at most
// four requests whose answers hold at most 3×20+2 documents, none with
// its drawing: the cost does not depend on the 3,000 stored samples nor
// on the 400 that share one created_at (a batch can be stamped with one
// time).
func TestListReadsOnlyThePage(t *testing.T) {
	const limit, ties = 20, 400
	ctx := context.Background()
	c := &counting{}
	st := openCounting(t, c)
	r := rand.New(rand.NewPCG(1, 1))
	t0 := time.Date(2026, 11, 25, 10, 0, 0, 0, time.UTC)
	var all []store.Sample
	for i := range 3000 {
		at := t0.Add(time.Duration(i) * time.Millisecond)
		if i >= 1000 && i < 1000+ties {
			at = t0.Add(1000 * time.Millisecond)
		}
		all = append(all, pictured(storetest.ULID(at, r), at))
	}
	for lo := 0; lo < len(all); lo += 500 {
		if err := st.UpsertSamples(ctx, all[lo:lo+500]); err != nil {
			t.Fatal(err)
		}
	}
	// The first query of each index builds it; that is not what is measured.
	if _, err := st.ListSamples(ctx, store.ListQuery{Limit: 1, Before: all[len(all)-1].ID}); err != nil {
		t.Fatal(err)
	}
	summary, err := store.MarshalDocument(&store.Sample{ID: all[0].ID, Input28: all[0].Input28, CreatedAt: t0, Predictions: all[0].Predictions, Session: all[0].Session})
	if err != nil {
		t.Fatal(err)
	}
	// The samples newest first; the ties are sorted[firstTie:firstTie+ties].
	sorted := slices.Clone(all)
	slices.SortFunc(sorted, func(a, b store.Sample) int {
		if c := b.CreatedAt.Compare(a.CreatedAt); c != 0 {
			return c
		}
		return strings.Compare(b.ID, a.ID)
	})
	firstTie := len(all) - 1000 - ties
	for _, tc := range []struct {
		name   string
		cursor int // position in sorted of Before; -1: none
	}{
		{"first page", -1},
		{"far from the ties", 100},
		{"just before the ties", firstTie - 1},
		{"first of the ties", firstTie},
		{"inside the ties", firstTie + ties/2},
		{"last pages of the ties", firstTie + ties - limit/2},
		{"last of the ties", firstTie + ties - 1},
		{"deep", len(all) - 30},
	} {
		t.Run(tc.name, func(t *testing.T) {
			q := store.ListQuery{Limit: limit}
			if tc.cursor >= 0 {
				q.Before = sorted[tc.cursor].ID
			}
			c.reset()
			page, err := st.ListSamples(ctx, q)
			if err != nil {
				t.Fatal(err)
			}
			requests, read, finds := c.reset()
			want := sorted[tc.cursor+1 : tc.cursor+1+limit]
			if !slices.EqualFunc(page, want, func(a, b store.Sample) bool { return a.ID == b.ID }) {
				t.Errorf("page after %d: %d samples, not the %d after it", tc.cursor, len(page), limit)
			}
			t.Logf("%d requests, %d bytes read", requests, read)
			if most := int64(4*1024 + (3*limit+2)*(len(summary)+512)); requests > 4 || read > most {
				t.Errorf("one page: %d requests, %d bytes read; want at most 4 and %d", requests, read, most)
			}
			for _, f := range finds {
				if bytes.Contains(f, []byte(`"image_png"`)) || bytes.Contains(f, []byte(`"strokes"`)) {
					t.Fatalf("a _find answer carries drawings: %.200s…", f)
				}
			}
		})
	}
}

// TestListSkipsDeleted: a sample another client deleted leaves the pages,
// and a page after its id is ErrNotFound, like any unknown id.
func TestListSkipsDeleted(t *testing.T) {
	ctx := context.Background()
	st := open(t, testenv.CouchDB(t), couchdb.Config{})
	if err := st.EnsureSchema(ctx); err != nil {
		t.Fatal(err)
	}
	all := storetest.Samples(10, time.Date(2026, 11, 25, 10, 0, 0, 0, time.UTC), "m1", 7)
	if err := st.UpsertSamples(ctx, all); err != nil {
		t.Fatal(err)
	}
	db := st.Client().DB(st.SamplesDB())
	gone := all[4].ID
	rev, err := db.GetRev(ctx, gone)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.Delete(ctx, gone, rev); err != nil {
		t.Fatal(err)
	}
	var got []string
	q := store.ListQuery{Limit: 3}
	for {
		page, err := st.ListSamples(ctx, q)
		if err != nil {
			t.Fatal(err)
		}
		for _, s := range page {
			got = append(got, s.ID)
		}
		if len(page) < q.Limit {
			break
		}
		q.Before = page[len(page)-1].ID
	}
	var want []string
	for i := len(all) - 1; i >= 0; i-- {
		if i != 4 {
			want = append(want, all[i].ID)
		}
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("pages after a delete give %v, want %v", got, want)
	}
	if _, err := st.ListSamples(ctx, store.ListQuery{Limit: 3, Before: gone}); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("a page after a deleted sample: %v, want ErrNotFound", err)
	}
}

// BenchmarkListSamples measures one page of 20 (the first, and the one
// after the middle sample) on the CouchDB-protocol server with 1,000 and
// 10,000 samples stored: the time, the requests, the bytes of the server's
// answers (read-B/op) and the client's allocations do not grow with the
// store. A million samples is not practical on the PouchDB engine of the
// test server on two cores: it writes some 10,000 documents a second,
// builds each index on its first query, and keeps everything in its
// memory.
func BenchmarkListSamples(b *testing.B) {
	ctx := context.Background()
	for _, n := range []int{1000, 10_000} {
		b.Run(fmt.Sprintf("n=%d", n), func(b *testing.B) {
			c := &counting{}
			st := openCounting(b, c)
			all := storetest.Samples(n, time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC), "m1", uint64(n))
			for lo := 0; lo < n; lo += 1000 {
				if err := st.UpsertSamples(ctx, all[lo:min(lo+1000, n)]); err != nil {
					b.Fatal(err)
				}
			}
			// The first query of each index builds it: not what is measured.
			if _, err := st.ListSamples(ctx, store.ListQuery{Limit: 1, Before: all[n-1].ID}); err != nil {
				b.Fatal(err)
			}
			for _, page := range []struct{ name, before string }{{"first", ""}, {"middle", all[n/2].ID}} {
				b.Run(page.name, func(b *testing.B) {
					b.ReportAllocs()
					c.reset()
					for b.Loop() {
						got, err := st.ListSamples(ctx, store.ListQuery{Limit: 20, Before: page.before})
						if err != nil || len(got) != 20 {
							b.Fatalf("ListSamples: %d, %v", len(got), err)
						}
					}
					_, read, _ := c.reset()
					b.ReportMetric(float64(read)/float64(b.N), "read-B/op")
				})
			}
		})
	}
}
