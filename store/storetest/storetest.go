// Package storetest is the contract of store.Store as a test suite that
// every backend runs:
//
//	func TestContract(t *testing.T) {
//		storetest.Run(t, func(t *testing.T) store.Store { return newEmptyStore(t) })
//	}
//
// newStore must return an empty store of its own (unique database names or
// prefix) for each call; Run calls EnsureSchema itself, and closes the
// store at the end of the subtest.
package storetest

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stratusml/stratus/drawing"
	"github.com/stratusml/stratus/store"
)

// crockford is the ULID alphabet.
const crockford = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"

// ULID makes a ULID (26 Crockford base32 characters) for time at with
// randomness from r: ids made later sort after earlier ones.
func ULID(at time.Time, r *rand.Rand) string {
	var b [26]byte
	ms := uint64(at.UnixMilli())
	for i := 9; i >= 0; i-- {
		b[i] = crockford[ms&31]
		ms >>= 5
	}
	for i := 10; i < 26; i++ {
		b[i] = crockford[r.IntN(32)]
	}
	return string(b[:])
}

// UUID makes a random (version 4) UUID from r, lower case.
func UUID(r *rand.Rand) string {
	var b [16]byte
	for i := range b {
		b[i] = byte(r.IntN(256))
	}
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}

// Prediction makes a prediction of model for digit d.
func Prediction(model string, d int, at time.Time) store.PredictionBody {
	probs := make([]float32, 10)
	for i := range probs {
		probs[i] = 0.01
	}
	probs[d] = 0.91
	return store.PredictionBody{
		Digits: fmt.Sprint(d),
		Candidates: []drawing.Candidate{{
			Digit: d, Probabilities: probs, Box: drawing.Box{X: 10, Y: 20, W: 100, H: 150.5},
		}},
		Confidence: 0.91, Model: model, ReceivedAt: at.Add(-3 * time.Millisecond), PredictedAt: at,
	}
}

// Sample makes a digit sample with strokes, one network input and one
// prediction of model.
func Sample(id string, created time.Time, model string) store.Sample {
	in := make([]byte, store.Input28Len)
	for i := range in {
		in[i] = byte(i * 7)
	}
	return store.Sample{
		ID: id, Session: "session-" + id[len(id)-4:], Mode: drawing.ModeDigit, Width: 280, Height: 280,
		Strokes:     []drawing.Stroke{{{X: 10.5, Y: 20, T: 0}, {X: 30, Y: 40.25, T: 16}, {X: 50, Y: 90, T: 33}}},
		Input28:     [][]byte{in},
		CreatedAt:   created,
		Predictions: map[string]store.PredictionBody{model: Prediction(model, 7, created)},
	}
}

// Samples makes n samples with ULIDs one millisecond apart from start
// (ids ascending with created_at), each with a prediction of model.
func Samples(n int, start time.Time, model string, seed uint64) []store.Sample {
	r := rand.New(rand.NewPCG(seed, 0x5eed))
	out := make([]store.Sample, n)
	for i := range out {
		at := start.Add(time.Duration(i) * time.Millisecond)
		out[i] = Sample(ULID(at, r), at, model)
	}
	return out
}

// Canonical is the stored document of s as a string, after what a store
// does to a new sample (store.Normalize with now = created_at): two
// samples a store treats as equal have equal Canonical forms.
func Canonical(t testing.TB, s store.Sample) string {
	t.Helper()
	m := store.Merge(store.Sample{}, s)
	store.Normalize(&m, s.CreatedAt)
	b, err := store.MarshalDocument(&m)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// Run runs the contract suite; newStore returns an empty store for one
// subtest.
func Run(t *testing.T, newStore func(t *testing.T) store.Store) {
	open := func(t *testing.T) (context.Context, store.Store) {
		t.Helper()
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		t.Cleanup(cancel)
		st := newStore(t)
		t.Cleanup(func() {
			if err := st.Close(); err != nil {
				t.Errorf("Close: %v", err)
			}
		})
		if err := st.EnsureSchema(ctx); err != nil {
			t.Fatalf("EnsureSchema: %v", err)
		}
		return ctx, st
	}
	tests := []struct {
		name string
		fn   func(t *testing.T, ctx context.Context, st store.Store)
	}{
		{"Schema", testSchema},
		{"RoundTrip", testRoundTrip},
		{"NotFound", testNotFound},
		{"ReplayIsIdempotent", testReplay},
		{"PredictionsMerge", testPredictionsMerge},
		{"LabelNeverDropped", testLabelNeverDropped},
		{"SetLabel", testSetLabel},
		{"InvalidSamplesFailAlone", testInvalid},
		{"DuplicateIDsInOneCall", testDuplicates},
		{"Scan", testScan},
		{"ScanStops", testScanStops},
		{"IDRange", testIDRange},
		{"Concurrent", testConcurrent},
		{"Replay500", testReplay500},
	}
	tests = append(tests, listTests()...)
	tests = append(tests, registryTests()...)
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ctx, st := open(t)
			tc.fn(t, ctx, st)
		})
	}
}

var t0 = time.Date(2026, 11, 25, 10, 0, 0, 123456789, time.UTC)

func mustUpsert(t *testing.T, ctx context.Context, st store.Store, samples ...store.Sample) {
	t.Helper()
	if err := st.UpsertSamples(ctx, samples); err != nil {
		t.Fatalf("UpsertSamples: %v", err)
	}
}

func mustGet(t *testing.T, ctx context.Context, st store.Store, id string) store.Sample {
	t.Helper()
	s, err := st.GetSample(ctx, id)
	if err != nil {
		t.Fatalf("GetSample(%s): %v", id, err)
	}
	return s
}

func mustCount(t *testing.T, ctx context.Context, st store.Store, want int) {
	t.Helper()
	n, err := st.Count(ctx)
	if err != nil {
		t.Fatalf("Count: %v", err)
	}
	if n != want {
		t.Fatalf("Count = %d, want %d", n, want)
	}
}

func testSchema(t *testing.T, ctx context.Context, st store.Store) {
	if err := st.EnsureSchema(ctx); err != nil {
		t.Fatalf("second EnsureSchema: %v", err)
	}
	mustCount(t, ctx, st, 0)
	if _, _, err := st.IDRange(ctx, "", ""); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("IDRange of an empty store: %v, want ErrNotFound", err)
	}
	got, err := st.ListSamples(ctx, store.ListQuery{Limit: 10})
	if err != nil || len(got) != 0 {
		t.Errorf("ListSamples of an empty store: %d, %v", len(got), err)
	}
}

func testRoundTrip(t *testing.T, ctx context.Context, st store.Store) {
	s := Samples(1, t0, "m1", 1)[0]
	s.Input28 = append(s.Input28, make([]byte, store.Input28Len)) // two digits
	s.Mode = drawing.ModeNumber
	mustUpsert(t, ctx, st, s)
	got := mustGet(t, ctx, st, s.ID)
	if a, b := Canonical(t, got), Canonical(t, s); a != b {
		t.Fatalf("read back\n%s\nwant\n%s", a, b)
	}
	if !got.CreatedAt.Equal(t0.Truncate(time.Millisecond)) || got.CreatedAt.Location() != time.UTC {
		t.Errorf("created_at = %v, want %v in UTC", got.CreatedAt, t0.Truncate(time.Millisecond))
	}
	if len(got.Input28) != 2 || len(got.Input28[0]) != store.Input28Len || got.Input28[0][5] != 35 {
		t.Errorf("input28 not kept: %d digits", len(got.Input28))
	}
	p := got.Predictions["m1"]
	if p.Model != "m1" || p.Digits != "7" || len(p.Candidates) != 1 || p.Candidates[0].Probabilities[7] != 0.91 {
		t.Errorf("prediction not kept: %+v", p)
	}
	// A PNG sample, and created_at filled in when zero.
	png := store.Sample{ID: s.ID + "P", ImagePNG: []byte("\x89PNG fake"), Mode: drawing.ModeDigit}
	before := time.Now().Add(-time.Second)
	mustUpsert(t, ctx, st, png)
	g := mustGet(t, ctx, st, png.ID)
	if string(g.ImagePNG) != string(png.ImagePNG) || g.Strokes != nil {
		t.Errorf("image_png sample read back as %+v", g)
	}
	if g.CreatedAt.Before(before) || g.CreatedAt.After(time.Now().Add(time.Second)) {
		t.Errorf("zero created_at stored as %v, want now", g.CreatedAt)
	}
	mustCount(t, ctx, st, 2)
}

func testNotFound(t *testing.T, ctx context.Context, st store.Store) {
	if _, err := st.GetSample(ctx, "01JDNOSUCHSAMPLE000000000"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("GetSample of a missing id: %v, want ErrNotFound", err)
	}
	if err := st.SetLabel(ctx, "01JDNOSUCHSAMPLE000000000", "3", time.Time{}); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("SetLabel of a missing id: %v, want ErrNotFound", err)
	}
	if _, err := st.ListSamples(ctx, store.ListQuery{Limit: 5, Before: "01JDNOSUCHSAMPLE000000000"}); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("ListSamples before a missing id: %v, want ErrNotFound", err)
	}
	if _, err := st.GetSample(ctx, "_design/x"); !errors.Is(err, store.ErrInvalid) {
		t.Errorf("GetSample(_design/x): %v, want ErrInvalid", err)
	}
}

func testReplay(t *testing.T, ctx context.Context, st store.Store) {
	s := Samples(1, t0, "m1", 2)[0]
	mustUpsert(t, ctx, st, s)
	first := mustGet(t, ctx, st, s.ID)
	replay := s
	replay.CreatedAt = t0.Add(time.Hour) // a replay processed later
	mustUpsert(t, ctx, st, replay)
	mustUpsert(t, ctx, st, replay)
	mustCount(t, ctx, st, 1)
	got := mustGet(t, ctx, st, s.ID)
	if !got.CreatedAt.Equal(first.CreatedAt) {
		t.Errorf("replay moved created_at from %v to %v", first.CreatedAt, got.CreatedAt)
	}
	if Canonical(t, got) != Canonical(t, first) {
		t.Errorf("replay changed the sample:\n%s\nwas\n%s", Canonical(t, got), Canonical(t, first))
	}
}

func testPredictionsMerge(t *testing.T, ctx context.Context, st store.Store) {
	s := Samples(1, t0, "m1", 3)[0]
	mustUpsert(t, ctx, st, s)
	// A partial sample: only a new model's prediction (as re-scoring writes).
	mustUpsert(t, ctx, st, store.Sample{ID: s.ID, Predictions: map[string]store.PredictionBody{"m2": Prediction("m2", 1, t0)}})
	got := mustGet(t, ctx, st, s.ID)
	if len(got.Predictions) != 2 || got.Predictions["m1"].Digits != "7" || got.Predictions["m2"].Digits != "1" {
		t.Fatalf("predictions after adding m2: %v", keys(got.Predictions))
	}
	if len(got.Strokes) != 1 || len(got.Input28) != 1 || got.Session != s.Session || got.Width != 280 {
		t.Errorf("a partial sample changed the drawing: %+v", got)
	}
	// The same model again replaces its prediction.
	mustUpsert(t, ctx, st, store.Sample{ID: s.ID, Predictions: map[string]store.PredictionBody{"m1": Prediction("m1", 4, t0.Add(time.Minute))}})
	got = mustGet(t, ctx, st, s.ID)
	if len(got.Predictions) != 2 || got.Predictions["m1"].Digits != "4" || got.Predictions["m2"].Digits != "1" {
		t.Errorf("m1 not replaced: %+v", got.Predictions)
	}
	if !got.Predictions["m1"].PredictedAt.Equal(t0.Add(time.Minute).Truncate(time.Millisecond)) {
		t.Errorf("m1 predicted_at = %v", got.Predictions["m1"].PredictedAt)
	}
	mustCount(t, ctx, st, 1)
}

func keys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

func testLabelNeverDropped(t *testing.T, ctx context.Context, st store.Store) {
	s := Samples(1, t0, "m1", 4)[0]
	mustUpsert(t, ctx, st, s)
	at := t0.Add(time.Hour)
	if err := st.SetLabel(ctx, s.ID, "3", at); err != nil {
		t.Fatalf("SetLabel: %v", err)
	}
	check := func(when, want string, wantAt time.Time) {
		t.Helper()
		got := mustGet(t, ctx, st, s.ID)
		if got.Label != want || !got.LabelledAt.Equal(wantAt.Truncate(time.Millisecond)) {
			t.Errorf("%s: label %q at %v, want %q at %v", when, got.Label, got.LabelledAt, want, wantAt)
		}
	}
	check("after SetLabel", "3", at)
	mustUpsert(t, ctx, st, s) // replay without a label
	check("after a replay without label", "3", at)
	mustUpsert(t, ctx, st, store.Sample{ID: s.ID, Predictions: map[string]store.PredictionBody{"m2": Prediction("m2", 3, t0)}})
	check("after a new prediction", "3", at)
	old := s
	old.Label, old.LabelledAt = "8", at.Add(-time.Minute)
	mustUpsert(t, ctx, st, old) // an older label
	check("after a replay with an older label", "3", at)
	noTime := s
	noTime.Label = "8"
	mustUpsert(t, ctx, st, noTime) // a label without time does not beat a timed one
	check("after a label without labelled_at", "3", at)
	newer := s
	newer.Label, newer.LabelledAt = "5", at.Add(time.Minute)
	mustUpsert(t, ctx, st, newer)
	check("after a newer label", "5", at.Add(time.Minute))
	if got := mustGet(t, ctx, st, s.ID); len(got.Predictions) != 2 {
		t.Errorf("predictions: %v", keys(got.Predictions))
	}
}

func testSetLabel(t *testing.T, ctx context.Context, st store.Store) {
	s := Samples(1, t0, "m1", 5)[0]
	mustUpsert(t, ctx, st, s)
	for _, bad := range []string{"", "x", "7a", " 7", strings.Repeat("1", store.MaxLabelLen+1)} {
		if err := st.SetLabel(ctx, s.ID, bad, t0); !errors.Is(err, store.ErrInvalid) {
			t.Errorf("SetLabel(%q): %v, want ErrInvalid", bad, err)
		}
	}
	before := time.Now().Add(-time.Second)
	if err := st.SetLabel(ctx, s.ID, "42", time.Time{}); err != nil {
		t.Fatal(err)
	}
	got := mustGet(t, ctx, st, s.ID)
	if got.Label != "42" || got.LabelledAt.Before(before) || got.LabelledAt.After(time.Now().Add(time.Second)) {
		t.Errorf("label %q at %v, want 42 at about now", got.Label, got.LabelledAt)
	}
	if err := st.SetLabel(ctx, s.ID, "7", t0.Add(time.Second)); err != nil { // the user changes their mind
		t.Fatal(err)
	}
	got = mustGet(t, ctx, st, s.ID)
	if got.Label != "7" || Canonical(t, withoutLabel(got)) != Canonical(t, withoutLabel(mustNormal(s))) {
		t.Errorf("SetLabel changed more than the label: %+v", got)
	}
}

func withoutLabel(s store.Sample) store.Sample {
	s.Label, s.LabelledAt = "", time.Time{}
	return s
}

func mustNormal(s store.Sample) store.Sample {
	m := store.Merge(store.Sample{}, s)
	store.Normalize(&m, s.CreatedAt)
	return m
}

func testInvalid(t *testing.T, ctx context.Context, st store.Store) {
	good := Samples(3, t0, "m1", 6)
	short := Samples(1, t0.Add(time.Second), "m1", 7)[0]
	short.Input28 = [][]byte{make([]byte, 10)}
	underscore := Sample("_bad", t0, "m1")
	badLabel := Samples(1, t0.Add(2*time.Second), "m1", 8)[0]
	badLabel.Label = "seven"
	err := st.UpsertSamples(ctx, []store.Sample{good[0], short, good[1], underscore, badLabel, good[2]})
	failed, ok := store.Failed(err)
	if !ok {
		t.Fatalf("UpsertSamples with bad samples: %v, want an *UpsertError", err)
	}
	if !errors.Is(err, store.ErrInvalid) {
		t.Errorf("error %v does not wrap ErrInvalid", err)
	}
	if len(failed) != 3 || failed[short.ID] == nil || failed[underscore.ID] == nil || failed[badLabel.ID] == nil {
		t.Errorf("failed = %v, want exactly the 3 bad samples", failed)
	}
	mustCount(t, ctx, st, 3)
	for _, g := range good {
		mustGet(t, ctx, st, g.ID)
	}
}

func testDuplicates(t *testing.T, ctx context.Context, st store.Store) {
	s := Samples(1, t0, "m1", 9)[0]
	b := store.Sample{ID: s.ID, Predictions: map[string]store.PredictionBody{"m2": Prediction("m2", 2, t0)}}
	mustUpsert(t, ctx, st, s, b, s)
	got := mustGet(t, ctx, st, s.ID)
	if len(got.Predictions) != 2 {
		t.Errorf("duplicates in one call: predictions %v, want m1 and m2", keys(got.Predictions))
	}
	mustCount(t, ctx, st, 1)
}

func ids(ss []store.Sample) []string {
	out := make([]string, len(ss))
	for i := range ss {
		out[i] = ss[i].ID
	}
	return out
}

func scanAll(t *testing.T, ctx context.Context, st store.Store, start, end string) []string {
	t.Helper()
	var got []string
	err := st.ScanSamples(ctx, start, end, func(s store.Sample) error {
		if len(s.Predictions) == 0 || len(s.Input28) == 0 {
			return fmt.Errorf("scan gave a partial sample %s", s.ID)
		}
		got = append(got, s.ID)
		return nil
	})
	if err != nil {
		t.Fatalf("ScanSamples(%q, %q): %v", start, end, err)
	}
	return got
}

func testScan(t *testing.T, ctx context.Context, st store.Store) {
	r := rand.New(rand.NewPCG(11, 11))
	all := Samples(430, t0, "m1", 12) // more than one page of every backend's default
	for i := range 40 {
		all = append(all, Sample(UUID(r), t0.Add(time.Duration(i)*time.Second), "m1")) // lower case: after "_design/"
	}
	for i := 0; i < len(all); i += 100 {
		mustUpsert(t, ctx, st, all[i:min(i+100, len(all))]...)
	}
	want := ids(all)
	sort.Strings(want)
	if got := scanAll(t, ctx, st, "", ""); !slices.Equal(got, want) {
		t.Fatalf("full scan: %d ids, want %d in order (first diff at %d)", len(got), len(want), firstDiff(got, want))
	}
	lo, hi := want[100], want[321]
	if got := scanAll(t, ctx, st, lo, hi); !slices.Equal(got, want[100:321]) {
		t.Errorf("scan [%s, %s): %d ids, want %d", lo, hi, len(got), 221)
	}
	if got := scanAll(t, ctx, st, lo, ""); !slices.Equal(got, want[100:]) {
		t.Errorf("scan [%s, ∞): %d ids, want %d", lo, len(got), len(want)-100)
	}
	if got := scanAll(t, ctx, st, "", hi); !slices.Equal(got, want[:321]) {
		t.Errorf("scan [∞, %s): %d ids, want %d", hi, len(got), 321)
	}
	// Bounds that are not ids: between two ids.
	mid := want[200] + "\x00"
	if got := scanAll(t, ctx, st, mid, want[202]); !slices.Equal(got, want[201:202]) {
		t.Errorf("scan [%q, %s) = %v, want %v", mid, want[202], got, want[201:202])
	}
	if got := scanAll(t, ctx, st, hi, hi); len(got) != 0 {
		t.Errorf("empty range gave %d ids", len(got))
	}
	mustCount(t, ctx, st, len(all))
}

func firstDiff(a, b []string) int {
	for i := range min(len(a), len(b)) {
		if a[i] != b[i] {
			return i
		}
	}
	return min(len(a), len(b))
}

func testScanStops(t *testing.T, ctx context.Context, st store.Store) {
	all := Samples(50, t0, "m1", 13)
	mustUpsert(t, ctx, st, all...)
	n := 0
	err := st.ScanSamples(ctx, "", "", func(store.Sample) error {
		if n++; n == 10 {
			return store.ErrStopScan
		}
		return nil
	})
	if err != nil || n != 10 {
		t.Errorf("ErrStopScan: n=%d err=%v, want 10 and nil", n, err)
	}
	boom := errors.New("boom")
	n = 0
	err = st.ScanSamples(ctx, "", "", func(store.Sample) error {
		if n++; n == 5 {
			return boom
		}
		return nil
	})
	if !errors.Is(err, boom) || n != 5 {
		t.Errorf("callback error: n=%d err=%v, want 5 and boom", n, err)
	}
}

func testIDRange(t *testing.T, ctx context.Context, st store.Store) {
	r := rand.New(rand.NewPCG(14, 14))
	all := Samples(30, t0, "m1", 15)
	for range 5 {
		all = append(all, Sample(UUID(r), t0, "m1"))
	}
	mustUpsert(t, ctx, st, all...)
	want := ids(all)
	sort.Strings(want)
	first, last, err := st.IDRange(ctx, "", "")
	if err != nil || first != want[0] || last != want[len(want)-1] {
		t.Errorf("IDRange(all) = %s, %s, %v; want %s, %s", first, last, err, want[0], want[len(want)-1])
	}
	first, last, err = st.IDRange(ctx, want[3], want[20])
	if err != nil || first != want[3] || last != want[19] {
		t.Errorf("IDRange[%s, %s) = %s, %s, %v; want %s, %s", want[3], want[20], first, last, err, want[3], want[19])
	}
	first, last, err = st.IDRange(ctx, want[3]+"\x00", want[4]+"\x00")
	if err != nil || first != want[4] || last != want[4] {
		t.Errorf("IDRange around one id = %s, %s, %v; want %s twice", first, last, err, want[4])
	}
	if _, _, err := st.IDRange(ctx, want[3]+"\x00", want[4]); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("IDRange of a range without ids: %v, want ErrNotFound", err)
	}
}

func testConcurrent(t *testing.T, ctx context.Context, st store.Store) {
	base := Samples(120, t0, "m1", 16)
	mustUpsert(t, ctx, st, base[:60]...) // half exist, half are new
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for w := range 3 {
		model := fmt.Sprintf("w%d", w)
		wg.Go(func() {
			batch := make([]store.Sample, len(base))
			for i, s := range base {
				s.Predictions = map[string]store.PredictionBody{model: Prediction(model, w, t0)}
				batch[i] = s
			}
			if err := st.UpsertSamples(ctx, batch); err != nil {
				errs <- fmt.Errorf("writer %s: %w", model, err)
			}
		})
	}
	wg.Go(func() { // a user labels while the writers run
		for i := 0; i < 60; i += 6 {
			if err := st.SetLabel(ctx, base[i].ID, "1", t0.Add(time.Hour)); err != nil {
				errs <- fmt.Errorf("SetLabel: %w", err)
			}
		}
	})
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	mustCount(t, ctx, st, len(base))
	for i, s := range base {
		got := mustGet(t, ctx, st, s.ID)
		want := []string{"w0", "w1", "w2"}
		if i < 60 {
			want = []string{"m1", "w0", "w1", "w2"}
		}
		if !slices.Equal(keys(got.Predictions), want) {
			t.Fatalf("%s: predictions %v, want %v", s.ID, keys(got.Predictions), want)
		}
		if wantLabel := i < 60 && i%6 == 0; (got.Label == "1") != wantLabel {
			t.Fatalf("%s: label %q, want labelled=%v", s.ID, got.Label, wantLabel)
		}
	}
}

// testReplay500 is the idempotency check of the brief: the same 500 samples
// twice (and concurrently from two goroutines), a label set between.
func testReplay500(t *testing.T, ctx context.Context, st store.Store) {
	first := Samples(500, t0, "m1", 17)
	mustUpsert(t, ctx, st, first...)
	for i := 0; i < 500; i += 50 {
		if err := st.SetLabel(ctx, first[i].ID, "9", t0.Add(time.Hour)); err != nil {
			t.Fatal(err)
		}
	}
	second := make([]store.Sample, len(first))
	for i, s := range first {
		s.CreatedAt = t0.Add(24 * time.Hour)
		s.Predictions = map[string]store.PredictionBody{"m2": Prediction("m2", 2, t0)}
		second[i] = s
	}
	var wg sync.WaitGroup
	var e1, e2 error
	wg.Go(func() { e1 = st.UpsertSamples(ctx, second) })
	wg.Go(func() { e2 = st.UpsertSamples(ctx, first) }) // the first delivery replayed
	wg.Wait()
	if e1 != nil || e2 != nil {
		t.Fatalf("concurrent replays: %v; %v", e1, e2)
	}
	mustCount(t, ctx, st, 500)
	n := 0
	err := st.ScanSamples(ctx, "", "", func(got store.Sample) error {
		i := slices.IndexFunc(first, func(s store.Sample) bool { return s.ID == got.ID })
		if i < 0 {
			return fmt.Errorf("unknown sample %s", got.ID)
		}
		n++
		if !slices.Equal(keys(got.Predictions), []string{"m1", "m2"}) {
			return fmt.Errorf("%s: predictions %v, want m1 and m2", got.ID, keys(got.Predictions))
		}
		if !got.CreatedAt.Equal(first[i].CreatedAt.Truncate(time.Millisecond)) {
			return fmt.Errorf("%s: created_at moved to %v", got.ID, got.CreatedAt)
		}
		if wantLabel := i%50 == 0; (got.Label == "9") != wantLabel {
			return fmt.Errorf("%s: label %q, want labelled=%v", got.ID, got.Label, wantLabel)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if n != 500 {
		t.Fatalf("scan saw %d samples, want 500", n)
	}
}
