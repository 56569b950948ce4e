package frontend

import (
	"context"
	"encoding/json"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"runtime"
	"testing"
	"time"

	"github.com/stratusml/stratus/store"
	"github.com/stratusml/stratus/store/storetest"
)

// storeSamples writes n samples made by newSample into st, one millisecond
// apart after the ones written before (from is how many there are).
func storeSamples(t *testing.T, st store.Store, from, n int, newSample func(at time.Time) store.Sample) {
	t.Helper()
	start := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
	var batch []store.Sample
	for i := from; i < from+n; i++ {
		if batch = append(batch, newSample(start.Add(time.Duration(i)*time.Millisecond))); len(batch) == 500 || i == from+n-1 {
			if err := st.UpsertSamples(context.Background(), batch); err != nil {
				t.Fatal(err)
			}
			batch = batch[:0]
		}
	}
}

// history answers one GET /api/v1/samples with query q and fails the test
// unless it is a page of want samples.
func history(t *testing.T, srv *Server, q string, want int) {
	rec := httptest.NewRecorder()
	srv.handleSamples(rec, httptest.NewRequest(http.MethodGet, "/api/v1/samples?"+q, nil))
	var page samplesResponse
	if err := json.Unmarshal(rec.Body.Bytes(), &page); rec.Code != http.StatusOK || err != nil || len(page.Samples) != want {
		t.Fatalf("history ?%s: %d, %d samples, %v", q, rec.Code, len(page.Samples), err)
	}
}

// TestHistoryCostDoesNotGrow: a page of history costs the same allocations
// (within 10%) with 100 samples stored as with 3,000 (the store once
// decoded every stored document for each page: some 33 allocations a
// sample, 30 times as many here).
func TestHistoryCostDoesNotGrow(t *testing.T) {
	r := newTestRig(t, nil)
	rnd := rand.New(rand.NewPCG(5, 6))
	sample := func(at time.Time) store.Sample { return storetest.Sample(storetest.ULID(at, rnd), at, "m1") }
	var small float64
	stored := 0
	for _, size := range []int{100, 3000} {
		storeSamples(t, r.st, stored, size-stored, sample)
		stored = size
		allocs := testing.AllocsPerRun(20, func() { history(t, r.srv, "limit=20", 20) })
		t.Logf("%d samples stored: %.0f allocations a page", size, allocs)
		if size == 100 {
			small = allocs
		} else if allocs > small*1.1 { // a little slack for the HTTP layer's own variations
			t.Errorf("a page costs %.0f allocations with %d samples stored, %.0f with 100", allocs, size, small)
		}
	}
}

// TestHistorySkipsPictures: a page of samples with large pictures
// allocates less than one of the pictures: the history never reads them.
func TestHistorySkipsPictures(t *testing.T) {
	const picture = 512 << 10
	r := newTestRig(t, nil)
	rnd := rand.New(rand.NewPCG(7, 8))
	storeSamples(t, r.st, 0, 30, func(at time.Time) store.Sample {
		s := storetest.Sample(storetest.ULID(at, rnd), at, "m1")
		s.Strokes, s.ImagePNG = nil, make([]byte, picture)
		return s
	})
	var stats [2]runtime.MemStats
	runtime.ReadMemStats(&stats[0])
	const runs = 5
	for range runs {
		history(t, r.srv, "limit=20", 20)
	}
	runtime.ReadMemStats(&stats[1])
	perPage := (stats[1].TotalAlloc - stats[0].TotalAlloc) / runs
	t.Logf("a page of 20 samples with %d-byte pictures allocates %d bytes", picture, perPage)
	if perPage > picture {
		t.Errorf("a page allocates %d bytes: more than one %d-byte picture", perPage, picture)
	}
}
