//go:build integration

package rescore

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"net/http"
	"os"
	"testing"
	"time"

	kivik "github.com/go-kivik/kivik/v4"

	"github.com/stratusml/stratus/internal/testenv"
	"github.com/stratusml/stratus/runners"
	"github.com/stratusml/stratus/store"
	_ "github.com/stratusml/stratus/store/couchdb"
	"github.com/stratusml/stratus/store/storetest"
)

// couchStore opens a fresh set of databases on the CouchDB-protocol server
// and drops them when the test ends.
func couchStore(t testing.TB, couch string) (store.Store, string) {
	t.Helper()
	prefix := fmt.Sprintf("rs%d%04d_", time.Now().UnixNano()%1e12, rand.IntN(10000))
	ctx := context.Background()
	st, err := store.Open(ctx, couch, store.Options{Prefix: prefix})
	if err != nil {
		t.Fatal(err)
	}
	if err := st.EnsureSchema(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		st.Close()
		if os.Getenv("STRATUS_KEEP_DBS") != "" {
			return
		}
		c, err := kivik.New("couch", couch)
		if err != nil {
			return
		}
		defer c.Close()
		for _, db := range []string{prefix + store.SamplesDB, prefix + store.ModelsDB} {
			if err := c.DestroyDB(ctx, db); err != nil && kivik.HTTPStatus(err) != http.StatusNotFound {
				t.Errorf("drop %s: %v", db, err)
			}
		}
	})
	return st, prefix
}

// runnerCase is one runner the re-scoring pipeline must give the same
// results on.
type runnerCase struct {
	name string
	opt  runners.Options
	read ReadMode
}

func runnerCases(t *testing.T) []runnerCase {
	return []runnerCase{
		{"prism", runners.Options{Runner: runners.Prism}, ReadSDF},
		{"flink", runners.Options{Runner: runners.Flink, Endpoint: testenv.Flink(t)}, ReadSDF},
		// Beam's portable Spark runner runs this bounded splittable read (it
		// never self-checkpoints); the re-runs below use the range read.
		{"spark", runners.Options{Runner: runners.Spark, Endpoint: testenv.Spark(t)}, ReadSDF},
	}
}

// TestRescoreRunnersIntegration: the same samples re-scored on prism, on the
// Flink job server and on the Spark job server (LOOPBACK Go workers), each
// over its own copy in the CouchDB-protocol server, give the same summary
// and the same stored predictions; re-running on another runner over an
// already re-scored copy writes nothing and finds the same.
func TestRescoreRunnersIntegration(t *testing.T) {
	couch := testenv.CouchDB(t)
	cases := runnerCases(t)
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Minute)
	defer cancel()
	const n = 2000
	samples := mnistSamples(t, n, 0)
	model := storetest.ModelFiles(t, 2)[1]

	type result struct {
		sum  store.RescoreSummary
		st   store.Store
		pref string
	}
	var results []result
	var modelID string
	for _, rc := range cases {
		st, prefix := couchStore(t, couch)
		seed(t, ctx, st, samples)
		info, err := st.PutModel(ctx, model)
		if err != nil {
			t.Fatal(err)
		}
		modelID = info.ID
		start := time.Now()
		sum, err := Run(ctx, Config{StoreURL: couch, StorePrefix: prefix, Model: info.ID, ModelID: info.ID, Read: rc.read, Splits: 8}, RunOptions{Runner: rc.opt})
		if err != nil {
			t.Fatalf("%s: %v", rc.name, err)
		}
		t.Logf("%s: %d samples re-scored in %v (%.0f samples/s), accuracy %.4f, %d changed of %d",
			rc.name, sum.Scored, time.Since(start).Round(time.Millisecond), float64(sum.Scored)/time.Since(start).Seconds(), sum.Accuracy, sum.Changed, sum.Compared)
		if sum.Scored != n || sum.Written != n || sum.Failed != 0 || sum.Runner != rc.name {
			t.Errorf("%s: %+v", rc.name, sum)
		}
		if err := sameFigures(sum, expected(t, ctx, st, info.ID, false)); err != nil {
			t.Errorf("%s: the summary is not what the store holds: %v", rc.name, err)
		}
		results = append(results, result{sum, st, prefix})
	}
	ref := results[0]
	refPreds := predictions(t, ctx, ref.st, modelID)
	for i, r := range results[1:] {
		name := cases[i+1].name
		if err := sameFigures(ref.sum, r.sum); err != nil {
			t.Errorf("prism and %s: %v", name, err)
		}
		got := predictions(t, ctx, r.st, modelID)
		if err := samePredictions(refPreds, got); err != nil {
			t.Errorf("prism and %s store different predictions: %v", name, err)
		}
	}
	// Idempotent across runners: each runner again over the next one's copy,
	// with the read that uses no splittable DoFn.
	for i, rc := range cases {
		r := results[(i+1)%len(results)]
		again, err := Run(ctx, Config{StoreURL: couch, StorePrefix: r.pref, Model: modelID, ModelID: modelID, Read: ReadRanges}, RunOptions{Runner: rc.opt})
		if err != nil {
			t.Fatalf("%s again: %v", rc.name, err)
		}
		if again.Written != 0 {
			t.Errorf("%s over an already re-scored copy wrote %d samples, want 0", rc.name, again.Written)
		}
		if err := sameFigures(ref.sum, again); err != nil {
			t.Errorf("%s again: %v", rc.name, err)
		}
	}
}

func predictions(t *testing.T, ctx context.Context, st store.Store, modelID string) map[string]store.PredictionBody {
	t.Helper()
	out := map[string]store.PredictionBody{}
	err := st.ScanSamples(ctx, "", "", func(s store.Sample) error {
		out[s.ID] = s.Predictions[modelID]
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func samePredictions(a, b map[string]store.PredictionBody) error {
	if len(a) != len(b) {
		return fmt.Errorf("%d and %d samples", len(a), len(b))
	}
	for id, p := range a {
		q, ok := b[id]
		if !ok || p.Digits != q.Digits || p.Model != q.Model || len(p.Candidates) != len(q.Candidates) || math.Abs(p.Confidence-q.Confidence) > ProbTolerance {
			return fmt.Errorf("sample %s: %+v vs %+v", id, p, q)
		}
		for k := range p.Candidates {
			for j := range p.Candidates[k].Probabilities {
				if math.Abs(float64(p.Candidates[k].Probabilities[j]-q.Candidates[k].Probabilities[j])) > ProbTolerance {
					return fmt.Errorf("sample %s: probabilities %v vs %v", id, p.Candidates[k].Probabilities, q.Candidates[k].Probabilities)
				}
			}
		}
	}
	return nil
}
