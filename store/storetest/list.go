package storetest

import (
	"context"
	"errors"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stratusml/stratus/store"
)

// The contract of ListSamples: newest first by created_at, ties by id
// descending; following Before from page to page gives every sample once,
// whatever the limit, the ties or the order the samples were written in;
// a page holds no drawing unless it asks for one.

func listTests() []struct {
	name string
	fn   func(t *testing.T, ctx context.Context, st store.Store)
} {
	return []struct {
		name string
		fn   func(t *testing.T, ctx context.Context, st store.Store)
	}{
		{"ListNewestFirst", testList},
		{"ListTiesAcrossPages", testListTies},
		{"ListWrittenOutOfOrder", testListOutOfOrder},
		{"ListAfterUpdates", testListUpdated},
		{"ListDrawing", testListDrawing},
		{"ListLimits", testListLimits},
	}
}

// newestFirst sorts samples in the order of ListSamples.
func newestFirst(ss []store.Sample) []store.Sample {
	out := slices.Clone(ss)
	slices.SortFunc(out, func(a, b store.Sample) int {
		if c := b.CreatedAt.Truncate(time.Millisecond).Compare(a.CreatedAt.Truncate(time.Millisecond)); c != 0 {
			return c
		}
		return strings.Compare(b.ID, a.ID)
	})
	return out
}

// listAll follows Before from the first page to the last with pages of
// limit, checks each page's size, and returns the ids in the order read.
func listAll(t *testing.T, ctx context.Context, st store.Store, limit int) []string {
	t.Helper()
	var got []string
	q := store.ListQuery{Limit: limit}
	for range 1000 {
		page, err := st.ListSamples(ctx, q)
		if err != nil {
			t.Fatalf("ListSamples(%+v): %v", q, err)
		}
		if len(page) > limit {
			t.Fatalf("ListSamples(%+v) returned %d", q, len(page))
		}
		got = append(got, ids(page)...)
		if len(page) < limit {
			return got
		}
		q.Before = page[len(page)-1].ID
	}
	t.Fatalf("limit %d: more than 1000 pages", limit)
	return nil
}

// checkPages lists st with each limit and compares with want's order.
func checkPages(t *testing.T, ctx context.Context, st store.Store, want []store.Sample, limits ...int) {
	t.Helper()
	w := ids(newestFirst(want))
	for _, limit := range limits {
		if got := listAll(t, ctx, st, limit); !slices.Equal(got, w) {
			t.Errorf("limit %d: pages give %d ids\n%v\nwant %d\n%v (first difference at %d)", limit, len(got), got, len(w), w, firstDiff(got, w))
		}
	}
}

func testList(t *testing.T, ctx context.Context, st store.Store) {
	r := rand.New(rand.NewPCG(10, 10))
	var all []store.Sample
	for i := range 23 {
		at := t0.Add(time.Duration(i/3) * time.Second) // groups of 3 with the same created_at
		id := ULID(at, r)
		if i%4 == 0 {
			id = UUID(r) // ids that do not sort by time
		}
		all = append(all, Sample(id, at, "m1"))
	}
	mustUpsert(t, ctx, st, all...)
	checkPages(t, ctx, st, all, 1, 2, 5, 23, 50)
	top, err := st.ListSamples(ctx, store.ListQuery{Limit: 3, Drawing: true})
	if err != nil || len(top) != 3 || len(top[0].Predictions) != 1 || len(top[0].Strokes) != 1 {
		t.Errorf("ListSamples with Drawing returns whole samples: %v", err)
	}
}

// testListTies: many samples share one created_at (one upsert stamps a
// whole batch with one time), more than a page holds, so pages start and
// end inside the ties.
func testListTies(t *testing.T, ctx context.Context, st store.Store) {
	r := rand.New(rand.NewPCG(20, 20))
	var all []store.Sample
	for i := range 40 {
		at := t0
		switch {
		case i < 5:
			at = t0.Add(-time.Duration(i+1) * time.Millisecond) // just older
		case i >= 35:
			at = t0.Add(time.Duration(i) * time.Millisecond) // newer
		}
		id := ULID(at, r)
		if i%3 == 0 {
			id = UUID(r)
		}
		all = append(all, Sample(id, at, "m1"))
	}
	mustUpsert(t, ctx, st, all...)
	checkPages(t, ctx, st, all, 1, 3, 7, 30, 31)
}

// testListOutOfOrder: samples written in an order that is not their
// created_at order (older ones last, one at a time and in batches).
func testListOutOfOrder(t *testing.T, ctx context.Context, st store.Store) {
	r := rand.New(rand.NewPCG(30, 30))
	var all []store.Sample
	for range 60 {
		at := t0.Add(time.Duration(r.IntN(20)) * time.Second)
		all = append(all, Sample(UUID(r), at, "m1"))
	}
	for i, s := range all[:20] {
		mustUpsert(t, ctx, st, s)
		if i == 9 { // a read between writes must not freeze the order
			checkPages(t, ctx, st, all[:10], 4)
		}
	}
	mustUpsert(t, ctx, st, all[20:45]...)
	mustUpsert(t, ctx, st, all[45:]...)
	checkPages(t, ctx, st, all, 1, 6, 60)
}

// testListUpdated: updates (a new prediction, a label, a replay carrying a
// later created_at) neither duplicate nor move a sample, and a page shows
// the sample as it is now.
func testListUpdated(t *testing.T, ctx context.Context, st store.Store) {
	all := Samples(12, t0, "m1", 40)
	mustUpsert(t, ctx, st, all...)
	mustUpsert(t, ctx, st, store.Sample{ID: all[3].ID, Predictions: map[string]store.PredictionBody{"m2": Prediction("m2", 2, t0)}})
	if err := st.SetLabel(ctx, all[7].ID, "5", time.Time{}); err != nil {
		t.Fatal(err)
	}
	late := all[10]
	late.CreatedAt = t0.Add(time.Hour) // a replay processed later keeps the first created_at
	mustUpsert(t, ctx, st, late)
	mustCount(t, ctx, st, 12)
	checkPages(t, ctx, st, all, 1, 5, 12)
	page, err := st.ListSamples(ctx, store.ListQuery{Limit: 12})
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range page {
		switch s.ID {
		case all[3].ID:
			if len(s.Predictions) != 2 {
				t.Errorf("listed %s with predictions %v, want m1 and m2", s.ID, keys(s.Predictions))
			}
		case all[7].ID:
			if s.Label != "5" || s.LabelledAt.IsZero() {
				t.Errorf("listed %s with label %q at %v, want 5", s.ID, s.Label, s.LabelledAt)
			}
		}
	}
}

// testListDrawing: a page without Drawing is the stored sample less its
// strokes and image_png; with Drawing, the whole stored sample.
func testListDrawing(t *testing.T, ctx context.Context, st store.Store) {
	s := Samples(2, t0, "m1", 50)
	s[1].Strokes, s[1].ImagePNG = nil, []byte("\x89PNG a picture")
	mustUpsert(t, ctx, st, s...)
	for _, drawing := range []bool{false, true} {
		page, err := st.ListSamples(ctx, store.ListQuery{Limit: 2, Drawing: drawing})
		if err != nil || len(page) != 2 {
			t.Fatalf("ListSamples(Drawing: %v): %d, %v", drawing, len(page), err)
		}
		for _, got := range page {
			want := mustGet(t, ctx, st, got.ID)
			if !drawing {
				want.Strokes, want.ImagePNG = nil, nil
				if got.Strokes != nil || got.ImagePNG != nil {
					t.Errorf("%s: a page without Drawing holds %d strokes, %d PNG bytes", got.ID, len(got.Strokes), len(got.ImagePNG))
				}
			}
			if a, b := Canonical(t, got), Canonical(t, want); a != b {
				t.Errorf("Drawing %v: listed\n%s\nstored\n%s", drawing, a, b)
			}
		}
	}
}

// testListLimits: no page for a limit of 0 or less; an empty page after the
// last sample; ErrNotFound after an id that is not stored.
func testListLimits(t *testing.T, ctx context.Context, st store.Store) {
	all := Samples(3, t0, "m1", 60)
	mustUpsert(t, ctx, st, all...)
	for _, tc := range []struct {
		name    string
		q       store.ListQuery
		want    int
		wantErr error
	}{
		{"limit 0", store.ListQuery{}, 0, nil},
		{"negative limit", store.ListQuery{Limit: -1}, 0, nil},
		{"more than stored", store.ListQuery{Limit: 10}, 3, nil},
		{"after the oldest", store.ListQuery{Limit: 10, Before: all[0].ID}, 0, nil},
		{"after the newest", store.ListQuery{Limit: 1, Before: all[2].ID}, 1, nil},
		{"after a missing id", store.ListQuery{Limit: 5, Before: "01JDNOSUCHSAMPLE000000000"}, 0, store.ErrNotFound},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := st.ListSamples(ctx, tc.q)
			if !errors.Is(err, tc.wantErr) || len(got) != tc.want {
				t.Errorf("ListSamples(%+v) = %d samples, %v; want %d, %v", tc.q, len(got), err, tc.want, tc.wantErr)
			}
		})
	}
}
