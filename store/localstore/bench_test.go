package localstore_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"runtime"
	"testing"
	"time"

	"github.com/stratusml/stratus/store"
	"github.com/stratusml/stratus/store/localstore"
	"github.com/stratusml/stratus/store/storetest"
)

// benchSizes are the store sizes BenchmarkListSamples compares: the cost
// of one page must not grow from one to the other.
var benchSizes = []int{10_000, 1_000_000}

// fillBatch is how many samples one UpsertSamples call of a fixture
// writes: large batches are the fast path of filling a store.
const fillBatch = 10_000

// fill writes n small, realistic digit samples (3-point strokes, one
// 28×28 input, one prediction), one millisecond apart, into st, and
// returns the id of the one in the middle.
func fill(b *testing.B, st store.Store, n int) (middle string) {
	b.Helper()
	ctx := context.Background()
	if err := st.EnsureSchema(ctx); err != nil {
		b.Fatal(err)
	}
	r := rand.New(rand.NewPCG(uint64(n), 1))
	start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	batch := make([]store.Sample, 0, fillBatch)
	for i := range n {
		at := start.Add(time.Duration(i) * time.Millisecond)
		batch = append(batch, storetest.Sample(storetest.ULID(at, r), at, "m1"))
		if i == n/2 {
			middle = batch[len(batch)-1].ID
		}
		if len(batch) == fillBatch || i == n-1 {
			if err := st.UpsertSamples(ctx, batch); err != nil {
				b.Fatal(err)
			}
			batch = batch[:0]
		}
	}
	return middle
}

// BenchmarkListSamples measures one history page (limit 20), the first
// and the one after the middle sample, on stores of 10,000 and 1,000,000 samples in
// memory (mem://) and on disk (file://). Each store is filled once, before
// its sub-benchmarks run.
func BenchmarkListSamples(b *testing.B) {
	backends := []struct {
		name string
		open func(b *testing.B, n int) (store.Store, func())
	}{
		{"mem", func(b *testing.B, n int) (store.Store, func()) {
			name := fmt.Sprintf("bench%d", n)
			return localstore.Open(name, ""), func() { localstore.Drop(name, "") }
		}},
		{"file", func(b *testing.B, n int) (store.Store, func()) {
			st, err := localstore.OpenDir(b.TempDir(), "")
			if err != nil {
				b.Fatal(err)
			}
			return st, func() { st.Close() }
		}},
	}
	for _, be := range backends {
		for _, n := range benchSizes {
			// The store is filled in this level, which runs once, so that a
			// -bench pattern that leaves it out does not fill it.
			b.Run(fmt.Sprintf("%s/n=%d", be.name, n), func(b *testing.B) {
				st, done := be.open(b, n)
				defer func() { done(); runtime.GC() }()
				middle := fill(b, st, n)
				ctx := context.Background()
				for _, page := range []struct {
					name, before string
				}{{"first", ""}, {"middle", middle}} {
					b.Run(page.name, func(b *testing.B) {
						b.ReportAllocs()
						for b.Loop() {
							got, err := st.ListSamples(ctx, store.ListQuery{Limit: 20, Before: page.before})
							if err != nil || len(got) != 20 {
								b.Fatalf("ListSamples: %d, %v", len(got), err)
							}
						}
					})
				}
			})
		}
	}
}

// BenchmarkUpsertSamples measures the write path that keeps the indexes:
// new samples in calls of 100, into a store already holding 100,000 (one
// op is one sample).
func BenchmarkUpsertSamples(b *testing.B) {
	for _, mode := range []string{"mem", "file"} {
		b.Run(mode, func(b *testing.B) {
			var st store.Store
			if mode == "mem" {
				st = localstore.Open("benchupsert", "")
				defer localstore.Drop("benchupsert", "")
			} else {
				fs, err := localstore.OpenDir(b.TempDir(), "")
				if err != nil {
					b.Fatal(err)
				}
				defer fs.Close()
				st = fs
			}
			fill(b, st, 100_000)
			ctx := context.Background()
			r := rand.New(rand.NewPCG(2, 2))
			at := time.Date(2027, 1, 1, 0, 0, 0, 0, time.UTC)
			batch := make([]store.Sample, 0, 100)
			b.ReportAllocs()
			for b.Loop() {
				at = at.Add(time.Millisecond)
				if batch = append(batch, storetest.Sample(storetest.ULID(at, r), at, "m1")); len(batch) == cap(batch) {
					if err := st.UpsertSamples(ctx, batch); err != nil {
						b.Fatal(err)
					}
					batch = batch[:0]
				}
			}
		})
	}
}
