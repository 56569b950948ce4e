package rescore

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stratusml/stratus/runners"
	"github.com/stratusml/stratus/store"
	"github.com/stratusml/stratus/store/localstore"
	"github.com/stratusml/stratus/store/storetest"
)

var memN atomic.Int64

func memStore(t *testing.T) (store.Store, string) {
	t.Helper()
	name := fmt.Sprintf("rescore%d", memN.Add(1))
	t.Cleanup(func() { localstore.Drop(name, "") })
	st := localstore.Open(name, "")
	if err := st.EnsureSchema(context.Background()); err != nil {
		t.Fatal(err)
	}
	return st, "mem://" + name
}

// TestRescoreIdempotent: a run scores every sample and writes its
// prediction; a second run (other read) writes nothing and finds the same.
func TestRescoreIdempotent(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	st, url := memStore(t)
	samples := mnistSamples(t, 600, 0)
	seed(t, ctx, st, samples)
	info, err := st.PutModel(ctx, storetest.ModelFiles(t, 2)[1])
	if err != nil {
		t.Fatal(err)
	}
	cfg := Config{StoreURL: url, Model: info.ID, ModelID: info.ID, Splits: 4, MaxBatchSize: 64}
	first, err := Run(ctx, cfg, RunOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if first.Scored != 600 || first.Written != 600 || first.Failed != 0 || first.Labelled != 300 || first.Compared != 200 {
		t.Fatalf("first run: %+v", first)
	}
	if first.Accuracy < 0.98 {
		t.Errorf("accuracy %.4f on MNIST digits, want ≥ 0.98", first.Accuracy)
	}
	if first.Changed < 150 { // the served answer was always "7"
		t.Errorf("changed %d of %d, want most", first.Changed, first.Compared)
	}
	if err := sameFigures(first, expected(t, ctx, st, info.ID, false)); err != nil {
		t.Error(err)
	}
	var diag int64
	for d := range store.Classes {
		diag += first.Confusion[d][d]
	}
	if diag != first.Correct {
		t.Errorf("confusion diagonal %d, correct %d", diag, first.Correct)
	}
	got, err := st.GetSample(ctx, samples[0].ID)
	if err != nil {
		t.Fatal(err)
	}
	if p := got.Predictions[info.ID]; p.Model != info.ID || len(p.Candidates) != 1 || !p.ReceivedAt.IsZero() || got.Label != samples[0].Label {
		t.Errorf("stored prediction %+v (label %q)", p, got.Label)
	}
	before := dump(t, ctx, st)
	cfg.Read = ReadRanges
	second, err := Run(ctx, cfg, RunOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if second.Written != 0 {
		t.Errorf("second run wrote %d samples, want 0", second.Written)
	}
	if err := sameFigures(first, second); err != nil {
		t.Error(err)
	}
	if after := dump(t, ctx, st); after != before {
		t.Error("the second run changed stored samples")
	}
	sums, err := st.ListRescores(ctx, info.ID)
	if err != nil || len(sums) != 2 {
		t.Errorf("ListRescores: %d, %v; want both runs", len(sums), err)
	}
}

func dump(t *testing.T, ctx context.Context, st store.Store) string {
	t.Helper()
	var out []byte
	err := st.ScanSamples(ctx, "", "", func(s store.Sample) error {
		b, err := store.MarshalDocument(&s)
		out = append(out, b...)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return string(out)
}

// TestRescoreFilters: --only-labelled and --since.
func TestRescoreFilters(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	st, url := memStore(t)
	samples := mnistSamples(t, 100, 0)
	seed(t, ctx, st, samples)
	def := samples[0].Predictions
	var shipped string
	for k := range def {
		shipped = k
	}
	sum, err := Run(ctx, Config{StoreURL: url, Model: shipped, ModelID: shipped, OnlyLabelled: true}, RunOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if sum.Scored != 50 || sum.Labelled != 50 || !sum.OnlyLabelled {
		t.Errorf("only labelled: %+v", sum)
	}
	since := samples[60].CreatedAt
	sum, err = Run(ctx, Config{StoreURL: url, Model: shipped, ModelID: shipped, Since: since}, RunOptions{Runner: runners.Options{Runner: runners.Prism}})
	if err != nil {
		t.Fatal(err)
	}
	if sum.Scored != 40 {
		t.Errorf("since sample 60: scored %d, want 40", sum.Scored)
	}
}

// TestRescoreEmpty: an empty store still gets a summary.
func TestRescoreEmpty(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	st, url := memStore(t)
	info, err := st.PutModel(ctx, storetest.ModelFiles(t, 1)[0])
	if err != nil {
		t.Fatal(err)
	}
	sum, err := Run(ctx, Config{StoreURL: url, Model: info.ID, ModelID: info.ID}, RunOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if sum.Scored != 0 || sum.Model != info.ID {
		t.Errorf("empty store: %+v", sum)
	}
}

func TestSummarize(t *testing.T) {
	var s store.RescoreSummary
	for _, o := range []Outcome{
		{Kind: Scored, Label: "7", Digits: "7", Prev: "1", PrevModel: "a"},
		{Kind: Scored, Label: "7", Digits: "1"},
		{Kind: Scored, Label: "42", Digits: "47", Prev: "47", PrevModel: "b"},
		{Kind: Scored, Label: "42", Digits: "4"},
		{Kind: Scored, Digits: "3", Prev: "3", PrevModel: "a"},
		{Kind: Written}, {Kind: Failed},
	} {
		Summarize(&s, o)
	}
	if s.Scored != 5 || s.Labelled != 4 || s.Correct != 1 || s.Compared != 3 || s.Changed != 1 || s.ChangedFrom["a"] != 1 ||
		s.Written != 1 || s.Failed != 1 || s.LengthMismatch != 1 || s.Accuracy != 0.25 {
		t.Errorf("%+v", s)
	}
	if s.Confusion[7][7] != 1 || s.Confusion[7][1] != 1 || s.Confusion[4][4] != 1 || s.Confusion[2][7] != 1 {
		t.Errorf("confusion %v", s.Confusion)
	}
}
