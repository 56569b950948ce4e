package localstore_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"runtime"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stratusml/stratus/store"
	"github.com/stratusml/stratus/store/localstore"
	"github.com/stratusml/stratus/store/storetest"
)

var n atomic.Int64

func TestContract(t *testing.T) {
	storetest.Run(t, func(t *testing.T) store.Store {
		name := fmt.Sprintf("contract%d", n.Add(1))
		t.Cleanup(func() { localstore.Drop(name, "") })
		return localstore.Open(name, "")
	})
}

// TestContractOnDisk runs the store contract on the on-disk form.
func TestContractOnDisk(t *testing.T) {
	storetest.Run(t, func(t *testing.T) store.Store {
		st, err := localstore.OpenDir(t.TempDir(), "")
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { st.Close() })
		return st
	})
}

// backends opens an empty store of each form, in memory and on disk.
var backends = []struct {
	name string
	open func(t *testing.T) store.Store
}{
	{"mem", func(t *testing.T) store.Store {
		name := fmt.Sprintf("cost%d", n.Add(1))
		t.Cleanup(func() { localstore.Drop(name, "") })
		return localstore.Open(name, "")
	}},
	{"file", func(t *testing.T) store.Store {
		st, err := localstore.OpenDir(t.TempDir(), "")
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { st.Close() })
		return st
	}},
}

// filled returns a store of each backend's form holding n samples made by
// newSample, written in batches, and the id of the middle one.
func filled(t *testing.T, open func(*testing.T) store.Store, n int, newSample func(i int, at time.Time) store.Sample) (store.Store, string) {
	t.Helper()
	ctx := context.Background()
	st := open(t)
	if err := st.EnsureSchema(ctx); err != nil {
		t.Fatal(err)
	}
	start := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
	var batch []store.Sample
	middle := ""
	for i := range n {
		s := newSample(i, start.Add(time.Duration(i)*time.Millisecond))
		if i == n/2 {
			middle = s.ID
		}
		if batch = append(batch, s); len(batch) == 500 || i == n-1 {
			if err := st.UpsertSamples(ctx, batch); err != nil {
				t.Fatal(err)
			}
			batch = batch[:0]
		}
	}
	return st, middle
}

// TestListCostDoesNotGrow: a page of 20 costs the same allocations in a
// store of 100 samples as in one of 3,000, from the top and from the
// middle. (Decoding every stored document, as ListSamples once did, costs
// some 33 allocations a sample.)
func TestListCostDoesNotGrow(t *testing.T) {
	ctx := context.Background()
	r := rand.New(rand.NewPCG(1, 2))
	sample := func(_ int, at time.Time) store.Sample { return storetest.Sample(storetest.ULID(at, r), at, "m1") }
	for _, be := range backends {
		t.Run(be.name, func(t *testing.T) {
			cost := map[string]float64{}
			for _, size := range []int{100, 3000} {
				st, middle := filled(t, be.open, size, sample)
				for _, before := range []string{"", middle} {
					q := store.ListQuery{Limit: 20, Before: before}
					allocs := testing.AllocsPerRun(20, func() {
						if page, err := st.ListSamples(ctx, q); err != nil || len(page) != 20 {
							t.Fatalf("ListSamples(%+v): %d, %v", q, len(page), err)
						}
					})
					key := fmt.Sprintf("from middle %v", before != "")
					t.Logf("%d samples, %s: %.0f allocations a page", size, key, allocs)
					if small, ok := cost[key]; ok && allocs > small {
						t.Errorf("%s: a page costs %.0f allocations in %d samples, %.0f in 100", key, allocs, size, small)
					}
					cost[key] = allocs
				}
			}
		})
	}
}

// TestListSkipsPictures: a page of samples with large pictures allocates
// less than one of the pictures: the drawing is never decoded.
func TestListSkipsPictures(t *testing.T) {
	const picture = 256 << 10
	ctx := context.Background()
	r := rand.New(rand.NewPCG(3, 4))
	sample := func(_ int, at time.Time) store.Sample {
		s := storetest.Sample(storetest.ULID(at, r), at, "m1")
		s.Strokes, s.ImagePNG = nil, make([]byte, picture)
		return s
	}
	for _, be := range backends {
		t.Run(be.name, func(t *testing.T) {
			st, _ := filled(t, be.open, 60, sample)
			var stats [2]runtime.MemStats
			runtime.ReadMemStats(&stats[0])
			const runs = 5
			for range runs {
				if page, err := st.ListSamples(ctx, store.ListQuery{Limit: 20}); err != nil || len(page) != 20 {
					t.Fatalf("ListSamples: %d, %v", len(page), err)
				}
			}
			runtime.ReadMemStats(&stats[1])
			perPage := (stats[1].TotalAlloc - stats[0].TotalAlloc) / runs
			t.Logf("a page of 20 samples with %d-byte pictures allocates %d bytes", picture, perPage)
			if perPage > picture {
				t.Errorf("a page allocates %d bytes: more than one %d-byte picture", perPage, picture)
			}
		})
	}
}
