//go:build integration

package rescore

import (
	"context"
	"fmt"
	"os"
	"testing"
	"time"

	"github.com/stratusml/stratus/internal/testenv"
	"github.com/stratusml/stratus/runners"
	"github.com/stratusml/stratus/store"
	"github.com/stratusml/stratus/store/localstore"
	"github.com/stratusml/stratus/store/storetest"
)

// BenchmarkRescore measures re-scoring throughput over 20,000 stored
// samples (STRATUS_BENCH_SAMPLES) on each runner, against the
// CouchDB-protocol server and the in-memory store: samples/s
// of a first run (every prediction written) and of a second run (nothing
// to write). Run it with
//
//	go test -tags integration -run '^$' -bench Rescore -benchtime 1x ./pipelines/rescore/
func BenchmarkRescore(b *testing.B) {
	n := 20000
	if v := os.Getenv("STRATUS_BENCH_SAMPLES"); v != "" {
		fmt.Sscan(v, &n)
	}
	couch := testenv.CouchDB(b)
	cases := []struct {
		name  string
		store string
		opt   runners.Options
	}{
		{"prism/couchdb", couch, runners.Options{Runner: runners.Prism}},
		{"prism/mem", "mem://bench", runners.Options{Runner: runners.Prism}},
		{"direct/mem", "mem://bench", runners.Options{Runner: runners.Direct}},
		{"flink/couchdb", couch, runners.Options{Runner: runners.Flink}},
		// LOOPBACK workers live in this process, so they see mem:// too:
		// the runner's own cost without the CouchDB-protocol server's.
		{"flink/mem", "mem://bench", runners.Options{Runner: runners.Flink}},
		{"spark/couchdb", couch, runners.Options{Runner: runners.Spark}},
		{"spark/mem", "mem://bench", runners.Options{Runner: runners.Spark}},
	}
	samples := mnistSamples(b, n, 0)
	models := storetest.ModelFiles(b, 4)
	for _, bc := range cases {
		b.Run(bc.name, func(b *testing.B) {
			switch bc.opt.Runner {
			case runners.Flink:
				bc.opt.Endpoint = testenv.Flink(b)
			case runners.Spark:
				bc.opt.Endpoint = testenv.Spark(b)
			}
			ctx := context.Background()
			var st store.Store
			prefix := ""
			if bc.store == couch {
				st, prefix = couchStore(b, couch)
			} else {
				localstore.Drop("bench", "")
				st = localstore.Open("bench", "")
				if err := st.EnsureSchema(ctx); err != nil {
					b.Fatal(err)
				}
				b.Cleanup(func() { localstore.Drop("bench", "") })
			}
			seed(b, ctx, st, samples)
			var first, second float64
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				info, err := st.PutModel(ctx, models[(i+1)%len(models)])
				if err != nil {
					b.Fatal(err)
				}
				cfg := Config{StoreURL: bc.store, StorePrefix: prefix, Model: info.ID, ModelID: info.ID}
				for round, rate := range []*float64{&first, &second} {
					start := time.Now()
					sum, err := Run(ctx, cfg, RunOptions{Runner: bc.opt})
					if err != nil {
						b.Fatal(err)
					}
					if sum.Scored != int64(n) {
						b.Fatalf("scored %d of %d", sum.Scored, n)
					}
					*rate = float64(n) / time.Since(start).Seconds()
					b.Logf("%s run %d: %d samples in %v (%.0f samples/s), %d written", bc.name, round+1, n, time.Since(start).Round(time.Millisecond), *rate, sum.Written)
				}
			}
			b.ReportMetric(first, "samples/s")
			b.ReportMetric(second, "rerun-samples/s")
		})
	}
}
