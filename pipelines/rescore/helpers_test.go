package rescore

import (
	"context"
	"fmt"
	"math/rand/v2"
	"reflect"
	"strconv"
	"testing"
	"time"

	"github.com/stratusml/stratus/model"
	"github.com/stratusml/stratus/model/mnist"
	"github.com/stratusml/stratus/store"
	"github.com/stratusml/stratus/store/storetest"
)

// t0 is when the test samples were "drawn".
var t0 = time.Date(2026, 11, 25, 10, 0, 0, 0, time.UTC)

// mnistSamples makes n samples from the MNIST test digits from offset on:
// the digit as input28, the true digit as label on every second sample,
// and a prediction "7" of the shipped model as the one served (received_at
// set) on every third.
func mnistSamples(t testing.TB, n, offset int) []store.Sample {
	t.Helper()
	test, err := mnist.Test("")
	if err != nil {
		t.Fatal(err)
	}
	def, err := model.Default()
	if err != nil {
		t.Fatal(err)
	}
	r := rand.New(rand.NewPCG(uint64(offset), 7))
	out := make([]store.Sample, n)
	for i := range out {
		k := (offset + i) % test.Len()
		at := t0.Add(time.Duration(offset+i) * time.Millisecond)
		s := store.Sample{ID: storetest.ULID(at, r), Session: "s" + strconv.Itoa(i%5), Mode: "digit", Width: 28, Height: 28,
			Input28: [][]byte{append([]byte(nil), test.Images[k][:]...)}, CreatedAt: at}
		if i%2 == 0 {
			s.Label, s.LabelledAt = strconv.Itoa(int(test.Labels[k])), at.Add(time.Second)
		}
		if i%3 == 0 {
			s.Predictions = map[string]store.PredictionBody{def.ID: storetest.Prediction(def.ID, 7, at)}
		}
		out[i] = s
	}
	return out
}

// seed upserts samples in chunks.
func seed(t testing.TB, ctx context.Context, st store.Store, samples []store.Sample) {
	t.Helper()
	for lo := 0; lo < len(samples); lo += 1000 {
		if err := st.UpsertSamples(ctx, samples[lo:min(lo+1000, len(samples))]); err != nil {
			t.Fatal(err)
		}
	}
}

// sameFigures compares what a summary found (not its id, run, runner or
// times).
func sameFigures(a, b store.RescoreSummary) error {
	a.ID, a.RunID, a.Runner, a.StartedAt, a.FinishedAt, a.Written = "", "", "", time.Time{}, time.Time{}, 0
	b.ID, b.RunID, b.Runner, b.StartedAt, b.FinishedAt, b.Written = "", "", "", time.Time{}, time.Time{}, 0
	if !reflect.DeepEqual(a, b) {
		return fmt.Errorf("summaries differ:\n%+v\n%+v", a, b)
	}
	return nil
}

// expected computes the summary's figures from the stored samples after a
// run with modelID: the reference the pipeline must match.
func expected(t testing.TB, ctx context.Context, st store.Store, modelID string, onlyLabelled bool) store.RescoreSummary {
	t.Helper()
	sum := store.RescoreSummary{Model: modelID, OnlyLabelled: onlyLabelled}
	err := st.ScanSamples(ctx, "", "", func(s store.Sample) error {
		if onlyLabelled && s.Label == "" {
			return nil
		}
		p, ok := s.Predictions[modelID]
		if !ok {
			return fmt.Errorf("sample %s has no prediction of %s", s.ID, modelID)
		}
		o := Outcome{Kind: Scored, Label: s.Label, Digits: p.Digits}
		if prev, ok := store.PreviousPrediction(&s, modelID); ok {
			o.Prev, o.PrevModel = prev.Digits, prev.Model
		}
		Summarize(&sum, o)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return sum
}
