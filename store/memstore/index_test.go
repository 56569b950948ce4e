package memstore

import (
	"context"
	"maps"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/stratusml/stratus/store"
	"github.com/stratusml/stratus/store/storetest"
)

func TestByTime(t *testing.T) {
	type op struct {
		id string
		ms int64
	}
	for _, tc := range []struct {
		name   string
		sets   []op
		limit  int
		before string
		want   []string
		found  bool
	}{
		{"empty", nil, 5, "", []string{}, true},
		{"newest first", []op{{"a", 1}, {"b", 3}, {"c", 2}}, 5, "", []string{"b", "c", "a"}, true},
		{"ties by id descending", []op{{"a", 1}, {"c", 1}, {"b", 1}}, 5, "", []string{"c", "b", "a"}, true},
		{"limit", []op{{"a", 1}, {"b", 2}, {"c", 3}}, 2, "", []string{"c", "b"}, true},
		{"after a cursor", []op{{"a", 1}, {"b", 2}, {"c", 3}, {"d", 4}}, 2, "c", []string{"b", "a"}, true},
		{"after a cursor inside ties", []op{{"a", 1}, {"b", 1}, {"c", 1}, {"d", 0}}, 2, "b", []string{"a", "d"}, true},
		{"after the oldest", []op{{"a", 1}, {"b", 2}}, 2, "a", []string{}, true},
		{"unknown cursor", []op{{"a", 1}}, 2, "z", nil, false},
		{"moved to another time", []op{{"a", 1}, {"b", 2}, {"a", 3}}, 5, "", []string{"a", "b"}, true},
		{"set again at the same time", []op{{"a", 1}, {"b", 2}, {"a", 1}}, 5, "", []string{"b", "a"}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			x := newByTime()
			for _, o := range tc.sets {
				x.set(o.id, o.ms)
			}
			got, found := x.page(tc.limit, tc.before)
			if found != tc.found || !slices.Equal(got, tc.want) {
				t.Errorf("page(%d, %q) = %v, %v; want %v, %v", tc.limit, tc.before, got, found, tc.want, tc.found)
			}
			if len(x.keys) != len(x.at) {
				t.Errorf("%d entries for %d ids", len(x.keys), len(x.at))
			}
			rebuilt := newByTime()
			rebuilt.rebuild(maps.Clone(x.at))
			if !slices.Equal(rebuilt.keys, x.keys) {
				t.Errorf("rebuild gives %v, set gave %v", rebuilt.keys, x.keys)
			}
		})
	}
}

func idsOf(ss []store.Sample) []string {
	out := make([]string, len(ss))
	for i := range ss {
		out[i] = ss[i].ID
	}
	return out
}

// TestIndexRebuiltOnReplay: the order survives a reopen of an on-disk
// store, also after compaction rewrote the journal in id order (ids that
// do not sort by time).
func TestIndexRebuiltOnReplay(t *testing.T) {
	ctx := context.Background()
	for _, compact := range []bool{false, true} {
		dir := t.TempDir()
		st := openDir(t, dir)
		if err := st.EnsureSchema(ctx); err != nil {
			t.Fatal(err)
		}
		r := rand.New(rand.NewPCG(8, 8))
		all := storetest.Samples(40, time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC), "m1", 8)
		for i := range all {
			all[i].ID = storetest.UUID(r) // id order is not time order
		}
		if err := st.UpsertSamples(ctx, all); err != nil {
			t.Fatal(err)
		}
		if compact { // rewrite the journal in id order, however small it is
			st.sp.j.slack = -1 << 40
			if err := st.maybeCompact(); err != nil {
				t.Fatal(err)
			}
		}
		want, err := st.ListSamples(ctx, store.ListQuery{Limit: 100})
		if err != nil {
			t.Fatal(err)
		}
		if err := st.Close(); err != nil {
			t.Fatal(err)
		}
		re := openDir(t, dir)
		got, err := re.ListSamples(ctx, store.ListQuery{Limit: 100})
		if err != nil {
			t.Fatal(err)
		}
		if len(want) != len(all) || !slices.Equal(idsOf(got), idsOf(want)) {
			t.Errorf("compacted %v: after reopen %v, before %v", compact, idsOf(got), idsOf(want))
		}
		re.Close()
	}
}
