package store_test

import (
	"context"
	"encoding/json"
	"errors"
	"runtime"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/stratusml/stratus/drawing"
	"github.com/stratusml/stratus/message"
	"github.com/stratusml/stratus/store"
	"github.com/stratusml/stratus/store/storetest"
)

var t0 = time.Date(2026, 11, 25, 10, 0, 0, 123456789, time.UTC)

func pred(model, digits string) store.PredictionBody {
	return store.PredictionBody{Digits: digits, Model: model, Confidence: 0.5, PredictedAt: t0}
}

func TestMergePredictions(t *testing.T) {
	old := store.Sample{ID: "a", Session: "s", Width: 280, Height: 280, CreatedAt: t0,
		Predictions: map[string]store.PredictionBody{"m1": pred("m1", "1"), "m2": pred("m2", "2")}}
	in := store.Sample{ID: "a", Predictions: map[string]store.PredictionBody{"m2": pred("m2", "7"), "m3": pred("m3", "3")}}
	got := store.Merge(old, in)
	want := map[string]string{"m1": "1", "m2": "7", "m3": "3"}
	if len(got.Predictions) != 3 {
		t.Fatalf("predictions %v", got.Predictions)
	}
	for k, d := range want {
		if got.Predictions[k].Digits != d {
			t.Errorf("%s: %q, want %q", k, got.Predictions[k].Digits, d)
		}
	}
	if got.Session != "s" || got.Width != 280 || !got.CreatedAt.Equal(t0) {
		t.Errorf("partial sample changed the rest: %+v", got)
	}
	// No aliasing: the inputs are untouched, the result's map is its own.
	got.Predictions["m9"] = pred("m9", "9")
	if len(old.Predictions) != 2 || len(in.Predictions) != 2 {
		t.Errorf("Merge modified its arguments")
	}
	// Neither side has predictions: nil.
	if m := store.Merge(store.Sample{ID: "a"}, store.Sample{ID: "a"}); m.Predictions != nil {
		t.Errorf("predictions %v, want nil", m.Predictions)
	}
}

func TestMergeLabelNeverDropped(t *testing.T) {
	at := t0.Add(time.Hour)
	labelled := store.Sample{ID: "a", Label: "3", LabelledAt: at}
	for _, tc := range []struct {
		name      string
		old, in   store.Sample
		label     string
		labelTime time.Time
	}{
		{"replay without label", labelled, store.Sample{ID: "a"}, "3", at},
		{"older label", labelled, store.Sample{ID: "a", Label: "8", LabelledAt: at.Add(-time.Second)}, "3", at},
		{"label without time", labelled, store.Sample{ID: "a", Label: "8"}, "3", at},
		{"same time", labelled, store.Sample{ID: "a", Label: "8", LabelledAt: at}, "8", at},
		{"newer label", labelled, store.Sample{ID: "a", Label: "5", LabelledAt: at.Add(time.Second)}, "5", at.Add(time.Second)},
		{"first label", store.Sample{ID: "a"}, store.Sample{ID: "a", Label: "4", LabelledAt: at}, "4", at},
		{"first label without time", store.Sample{ID: "a"}, store.Sample{ID: "a", Label: "4"}, "4", time.Time{}},
	} {
		got := store.Merge(tc.old, tc.in)
		if got.Label != tc.label || !got.LabelledAt.Equal(tc.labelTime) {
			t.Errorf("%s: label %q at %v, want %q at %v", tc.name, got.Label, got.LabelledAt, tc.label, tc.labelTime)
		}
	}
}

func TestMergeDrawingAndCreatedAt(t *testing.T) {
	old := storetest.Sample("01JDXXXXXXXXXXXXXXXXXXXXXX", t0, "m1")
	in := old
	in.CreatedAt = t0.Add(time.Hour)
	in.Strokes = nil
	in.ImagePNG = []byte("png")
	in.Mode = drawing.ModeNumber
	got := store.Merge(old, in)
	if !got.CreatedAt.Equal(t0) {
		t.Errorf("created_at = %v, want the first %v", got.CreatedAt, t0)
	}
	if got.Strokes != nil || string(got.ImagePNG) != "png" || got.Mode != drawing.ModeNumber {
		t.Errorf("strokes|image_png go together: %+v", got)
	}
	if got := store.Merge(store.Sample{ID: "a"}, in); !got.CreatedAt.Equal(in.CreatedAt) {
		t.Errorf("new sample: created_at = %v", got.CreatedAt)
	}
}

func TestNormalize(t *testing.T) {
	now := time.Date(2027, 1, 2, 3, 4, 5, 678901234, time.FixedZone("X", 3600))
	s := store.Sample{ID: "a", Label: "1", Predictions: map[string]store.PredictionBody{"m": {PredictedAt: now}}}
	store.Normalize(&s, now)
	want := time.Date(2027, 1, 2, 2, 4, 5, 678000000, time.UTC)
	if !s.CreatedAt.Equal(want) || s.CreatedAt.Location() != time.UTC || !s.LabelledAt.Equal(want) {
		t.Errorf("created_at %v labelled_at %v, want %v", s.CreatedAt, s.LabelledAt, want)
	}
	if p := s.Predictions["m"]; p.Model != "m" || !p.PredictedAt.Equal(want) || !p.ReceivedAt.IsZero() {
		t.Errorf("prediction %+v", p)
	}
	s = store.Sample{ID: "a", LabelledAt: now}
	store.Normalize(&s, now)
	if !s.LabelledAt.IsZero() {
		t.Errorf("labelled_at without a label: %v", s.LabelledAt)
	}
}

func TestValidate(t *testing.T) {
	good := storetest.Sample("01JDXXXXXXXXXXXXXXXXXXXXXX", t0, "m1")
	if err := store.Validate(&good); err != nil {
		t.Fatal(err)
	}
	for name, mod := range map[string]func(*store.Sample){
		"empty id":         func(s *store.Sample) { s.ID = "" },
		"underscore id":    func(s *store.Sample) { s.ID = "_design/x" },
		"long id":          func(s *store.Sample) { s.ID = strings.Repeat("a", message.MaxIDLen+1) },
		"not UTF-8 id":     func(s *store.Sample) { s.ID = "a\xff" },
		"mode":             func(s *store.Sample) { s.Mode = "word" },
		"short input":      func(s *store.Sample) { s.Input28 = [][]byte{make([]byte, 783)} },
		"label":            func(s *store.Sample) { s.Label = "x" },
		"model key":        func(s *store.Sample) { s.Predictions = map[string]store.PredictionBody{"": {}} },
		"model mismatch":   func(s *store.Sample) { s.Predictions = map[string]store.PredictionBody{"a": {Model: "b"}} },
		"negative size":    func(s *store.Sample) { s.Width = -1 },
		"label too long":   func(s *store.Sample) { s.Label = strings.Repeat("1", 33) },
		"label with space": func(s *store.Sample) { s.Label = "1 2" },
	} {
		s := good
		mod(&s)
		if err := store.Validate(&s); !errors.Is(err, store.ErrInvalid) {
			t.Errorf("%s: %v, want ErrInvalid", name, err)
		}
	}
}

func TestDocumentFormat(t *testing.T) {
	s := storetest.Sample("01JDXXXXXXXXXXXXXXXXXXXXXX", t0, "m1")
	s.Label, s.LabelledAt = "7", t0
	b, err := store.MarshalDocument(&s)
	if err != nil {
		t.Fatal(err)
	}
	var doc map[string]any
	if err := json.Unmarshal(b, &doc); err != nil {
		t.Fatal(err)
	}
	if doc["type"] != "sample" || doc["_id"] != s.ID || doc["created_at"] != "2026-11-25T10:00:00.123Z" || doc["labelled_at"] != "2026-11-25T10:00:00.123Z" {
		t.Errorf("document %s", b)
	}
	var keys []string
	for k := range doc {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		found := false
		for _, f := range store.DocumentFields {
			found = found || f == k
		}
		if !found {
			t.Errorf("field %q is not in DocumentFields", k)
		}
	}
	back, err := store.UnmarshalDocument(b)
	if err != nil {
		t.Fatal(err)
	}
	if storetest.Canonical(t, back) != storetest.Canonical(t, s) {
		t.Errorf("round trip changed the sample")
	}
	// Fixed-width times sort as strings.
	times := []time.Time{t0, t0.Add(time.Millisecond), t0.Add(-123 * time.Millisecond), t0.Add(877 * time.Millisecond), t0.Add(time.Hour)}
	var strs []string
	for _, tt := range times {
		strs = append(strs, store.FormatTime(tt))
	}
	sort.Slice(times, func(i, j int) bool { return times[i].Before(times[j]) })
	sort.Strings(strs)
	for i := range times {
		if strs[i] != store.FormatTime(times[i]) {
			t.Errorf("string order %v differs from time order", strs)
		}
	}
	// Documents written by others with RFC 3339 times of any width read.
	other, err := store.UnmarshalDocument([]byte(`{"_id":"x","_rev":"1-a","type":"sample","created_at":"2026-11-25T11:00:00.5+01:00","extra":1}`))
	if err != nil || !other.CreatedAt.Equal(time.Date(2026, 11, 25, 10, 0, 0, 5e8, time.UTC)) {
		t.Errorf("reading another writer's document: %v, %v", other.CreatedAt, err)
	}
}

func TestPredictionBody(t *testing.T) {
	p := message.Prediction{V: 1, ID: "a", Session: "s", Digits: "7", Confidence: 0.9, Model: "m", ReceivedAt: t0, PredictedAt: t0}
	b := store.NewPredictionBody(p)
	if got := b.Prediction("a", "s"); got.Digits != "7" || got.V != 1 || got.ID != "a" || got.Session != "s" || !got.PredictedAt.Equal(t0) {
		t.Errorf("round trip: %+v", got)
	}
	raw, _ := json.Marshal(b)
	for _, k := range []string{`"v"`, `"id"`, `"session"`} {
		if strings.Contains(string(raw), k) {
			t.Errorf("body has envelope field %s: %s", k, raw)
		}
	}
}

func TestUpsertError(t *testing.T) {
	err := error(&store.UpsertError{Items: []store.ItemError{
		{ID: "a", Err: store.ErrInvalid}, {ID: "b", Err: store.ErrConflict},
		{ID: "c", Err: store.ErrConflict}, {ID: "d", Err: store.ErrConflict}, {ID: "e", Err: store.ErrConflict},
	}})
	if !errors.Is(err, store.ErrInvalid) || !errors.Is(err, store.ErrConflict) || errors.Is(err, store.ErrNotFound) {
		t.Errorf("errors.Is through UpsertError")
	}
	f, ok := store.Failed(err)
	if !ok || len(f) != 5 || f["a"] != store.ErrInvalid {
		t.Errorf("Failed = %v, %v", f, ok)
	}
	if _, ok := store.Failed(nil); ok {
		t.Error("Failed(nil) is ok")
	}
	if !strings.Contains(err.Error(), "5 sample(s)") || !strings.Contains(err.Error(), "and 2 more") {
		t.Errorf("message: %v", err)
	}
}

func TestRedactURL(t *testing.T) {
	for in, want := range map[string]string{
		"http://u:secret@h:5984/x": "http://u:xxxxx@h:5984/x",
		"http://u@h:5984":          "http://u@h:5984",
		"http://h:5984":            "http://h:5984",
		"http://u:se%zzcret@h":     "xxxxx@h",
	} {
		if got := store.RedactURL(in); got != want {
			t.Errorf("RedactURL(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestOpen(t *testing.T) {
	ctx := context.Background()
	if _, err := store.Open(ctx, "nosuch://u:secret@x", store.Options{}); !errors.Is(err, store.ErrInvalid) || strings.Contains(err.Error(), "secret") {
		t.Errorf("unknown scheme: %v", err)
	}
	if _, err := store.Open(ctx, "mem://x", store.Options{Prefix: "Bad-"}); !errors.Is(err, store.ErrInvalid) {
		t.Errorf("bad prefix: %v", err)
	}
	for _, p := range []string{"", "a", "test_1_", "t0"} {
		if err := store.ValidatePrefix(p); err != nil {
			t.Errorf("ValidatePrefix(%q): %v", p, err)
		}
	}
	for _, p := range []string{"1a", "_a", "A", "a-b", "a/b"} {
		if err := store.ValidatePrefix(p); err == nil {
			t.Errorf("ValidatePrefix(%q) accepted", p)
		}
	}
}

// TestUnmarshalSummary: a summary is the document less its drawing, and
// ListQuery.Decode picks it unless the query asks for the drawing.
func TestUnmarshalSummary(t *testing.T) {
	withStrokes := storetest.Samples(1, t0, "m1", 1)[0]
	withPNG := withStrokes
	withPNG.Strokes, withPNG.ImagePNG = nil, []byte("\x89PNG a picture")
	withPNG.Label, withPNG.LabelledAt = "7", t0
	for _, tc := range []struct {
		name string
		s    store.Sample
	}{{"strokes", withStrokes}, {"png", withPNG}} {
		t.Run(tc.name, func(t *testing.T) {
			doc, err := store.MarshalDocument(&tc.s)
			if err != nil {
				t.Fatal(err)
			}
			whole, err := store.UnmarshalDocument(doc)
			if err != nil {
				t.Fatal(err)
			}
			sum, err := store.UnmarshalSummary(doc)
			if err != nil {
				t.Fatal(err)
			}
			if sum.Strokes != nil || sum.ImagePNG != nil {
				t.Errorf("summary holds the drawing: %d strokes, %d PNG bytes", len(sum.Strokes), len(sum.ImagePNG))
			}
			want := whole
			want.Strokes, want.ImagePNG = nil, nil
			if a, b := storetest.Canonical(t, sum), storetest.Canonical(t, want); a != b {
				t.Errorf("summary\n%s\nwant\n%s", a, b)
			}
			for _, q := range []store.ListQuery{{}, {Drawing: true}} {
				got, err := q.Decode(doc)
				if err != nil {
					t.Fatal(err)
				}
				if hasDrawing := got.Strokes != nil || got.ImagePNG != nil; hasDrawing != q.Drawing {
					t.Errorf("Decode with Drawing %v: drawing read %v", q.Drawing, hasDrawing)
				}
			}
		})
	}
	if _, err := store.UnmarshalSummary([]byte(`{"_id":"a","strokes":"not strokes"}`)); err != nil {
		t.Errorf("a summary steps over the drawing, a malformed one too: %v", err)
	}
	if _, err := store.UnmarshalSummary([]byte(`{"_id":"a","strokes":[`)); err == nil {
		t.Error("a summary of broken JSON: no error")
	}
}

// TestUnmarshalSummarySkipsPicture: the picture of a summary costs no
// memory. The measure is checked on UnmarshalDocument, which must pay for
// it.
func TestUnmarshalSummarySkipsPicture(t *testing.T) {
	const picture = 1 << 20
	s := storetest.Samples(1, t0, "m1", 1)[0]
	s.Strokes, s.ImagePNG = nil, make([]byte, picture)
	doc, err := store.MarshalDocument(&s)
	if err != nil {
		t.Fatal(err)
	}
	whole := allocatedBytes(func() { _, _ = store.UnmarshalDocument(doc) })
	sum := allocatedBytes(func() { _, _ = store.UnmarshalSummary(doc) })
	t.Logf("bytes allocated per read of a document with a %d-byte picture: whole %d, summary %d", picture, whole, sum)
	if whole < picture {
		t.Fatalf("the measure missed UnmarshalDocument's picture: %d bytes", whole)
	}
	if sum > picture/16 {
		t.Errorf("UnmarshalSummary allocated %d bytes, want well under the %d-byte picture", sum, picture)
	}
}

// allocatedBytes is the heap bytes one call of f allocates, averaged over
// several calls.
func allocatedBytes(f func()) uint64 {
	const runs = 10
	f() // warm up
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	for range runs {
		f()
	}
	runtime.ReadMemStats(&after)
	return (after.TotalAlloc - before.TotalAlloc) / runs
}
