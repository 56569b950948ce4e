package localstore

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

// TestIndexMatchesDocuments: the time index kept write by write (new
// samples, out of order, replays with a later created_at, labels) is the
// one rebuilt from the stored documents.
func TestIndexMatchesDocuments(t *testing.T) {
	ctx := context.Background()
	st := Open(t.Name(), "")
	t.Cleanup(func() { Drop(t.Name(), "") })
	if err := st.EnsureSchema(ctx); err != nil {
		t.Fatal(err)
	}
	r := rand.New(rand.NewPCG(9, 9))
	t0 := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
	var all []store.Sample
	for range 50 {
		at := t0.Add(time.Duration(r.IntN(5000)) * time.Millisecond)
		all = append(all, storetest.Sample(storetest.UUID(r), at, "m1"))
	}
	all = append(all, store.Sample{ID: "01JNOCREATEDAT000000000000"}) // stamped now
	if err := st.UpsertSamples(ctx, all); err != nil {
		t.Fatal(err)
	}
	replay := all[7]
	replay.CreatedAt = t0.Add(time.Hour)
	if err := st.UpsertSamples(ctx, []store.Sample{replay}); err != nil {
		t.Fatal(err)
	}
	if err := st.SetLabel(ctx, all[9].ID, "3", time.Time{}); err != nil {
		t.Fatal(err)
	}
	st.d.mu.Lock()
	defer st.d.mu.Unlock()
	kept := slices.Clone(st.d.order.keys)
	if err := st.d.reindex(); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(kept, st.d.order.keys) {
		t.Errorf("index kept by writes\n%v\nrebuilt from the documents\n%v", kept, st.d.order.keys)
	}
	if len(kept) != len(all) {
		t.Errorf("%d index entries for %d samples", len(kept), len(all))
	}
}

// TestCreatedMs: the quick read of created_at agrees with encoding/json on
// documents MarshalDocument writes (strings and keys that look like the
// field included) and falls back to it for any other JSON.
func TestCreatedMs(t *testing.T) {
	at := time.Date(2026, 11, 25, 10, 0, 0, 123e6, time.UTC)
	marshal := func(s store.Sample) []byte {
		doc, err := store.MarshalDocument(&s)
		if err != nil {
			t.Fatal(err)
		}
		return doc
	}
	base := storetest.Sample("01JBASE0000000000000000000", at, "m1")
	tricky := base
	tricky.Session = `x","created_at":"2000-01-01T00:00:00.000Z`
	tricky.Strokes = nil
	tricky.ImagePNG = []byte(`"created_at":"1999-01-01T00:00:00.000Z"`)
	tricky.Predictions = map[string]store.PredictionBody{"created_at": storetest.Prediction("created_at", 1, at)}
	none := base
	none.CreatedAt = time.Time{}
	for _, tc := range []struct {
		name    string
		doc     []byte
		want    int64
		quick   bool // read without encoding/json
		wantErr bool
	}{
		{"stored sample", marshal(base), at.UnixMilli(), true, false},
		{"look-alikes in strings and keys", marshal(tricky), at.UnixMilli(), true, false},
		{"no created_at", marshal(none), time.Time{}.UnixMilli(), false, false},
		{"spaces around the colon", []byte(`{"_id":"a", "created_at" : "2026-11-25T10:00:00.123Z"}`), at.UnixMilli(), false, false},
		{"finer than milliseconds", []byte(`{"created_at":"2026-11-25T10:00:00.123999Z"}`), at.UnixMilli(), true, false},
		{"not a time", []byte(`{"created_at":"yesterday"}`), 0, false, true},
		{"not JSON", []byte(`{"created_at":`), 0, false, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := createdMs(tc.doc)
			if (err != nil) != tc.wantErr || (!tc.wantErr && got != tc.want) {
				t.Fatalf("createdMs = %d, %v; want %d (error %v)", got, err, tc.want, tc.wantErr)
			}
			if tc.wantErr {
				return
			}
			if slow, err := createdMsJSON(tc.doc); err != nil || slow != got {
				t.Errorf("encoding/json reads %d, %v; createdMs %d", slow, err, got)
			}
			allocs := testing.AllocsPerRun(10, func() { _, _ = createdMs(tc.doc) })
			if quick := allocs <= 1; quick != tc.quick {
				t.Errorf("%.0f allocations: quick path %v, want %v", allocs, quick, tc.quick)
			}
		})
	}
}
