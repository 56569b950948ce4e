//go:build integration

package storeio

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net/http"
	"testing"
	"time"

	"github.com/apache/beam/sdks/v2/go/pkg/beam"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/register"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/testing/passert"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/testing/ptest"
	kivik "github.com/go-kivik/kivik/v4"

	"github.com/stratusml/stratus/internal/testenv"
	"github.com/stratusml/stratus/store"
	"github.com/stratusml/stratus/store/storetest"
)

// couchConfig gives a test its own database prefix on the test server and
// drops the databases at the end.
func couchConfig(t *testing.T) (Config, store.Store) { return couchConfigB(t) }

func couchConfigB(t testing.TB) (Config, store.Store) {
	t.Helper()
	u := testenv.CouchDB(t)
	prefix := fmt.Sprintf("cio%d%04d_", time.Now().UnixNano()%1e12, rand.IntN(10000))
	st, err := store.Open(context.Background(), u, store.Options{Prefix: prefix})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		st.Close()
		c, err := kivik.New("couch", u)
		if err != nil {
			t.Error(err)
			return
		}
		defer c.Close()
		for _, db := range []string{prefix + store.SamplesDB, prefix + store.ModelsDB} {
			if err := c.DestroyDB(context.Background(), db); err != nil && kivik.HTTPStatus(err) != http.StatusNotFound {
				t.Errorf("drop %s: %v", db, err)
			}
		}
	})
	return Config{URL: u, Prefix: prefix, EnsureSchema: true}, st
}

func TestWriteReadCouch(t *testing.T) {
	cfg, _ := couchConfig(t)
	writeAndReadBack(t, cfg, 1000)
}

func TestReadFiltersCouch(t *testing.T) {
	cfg, st := couchConfig(t)
	if err := st.EnsureSchema(context.Background()); err != nil {
		t.Fatal(err)
	}
	readFiltered(t, st, cfg)
}

func TestDynamicSplitCouch(t *testing.T) {
	cfg, st := couchConfig(t)
	ctx := context.Background()
	if err := st.EnsureSchema(ctx); err != nil {
		t.Fatal(err)
	}
	samples := storetest.Samples(800, t0, "m1", 47)
	r := rand.New(rand.NewPCG(1, 2))
	for i := 0; i < 200; i++ { // UUIDs too, on both sides of the design documents
		samples = append(samples, storetest.Sample(storetest.UUID(r), t0, "m1"))
	}
	if err := st.UpsertSamples(ctx, samples); err != nil {
		t.Fatal(err)
	}
	readWithDynamicSplits(t, cfg, sortedIDs(samples))
}

// TestWriteFromEnv: with Config.URL empty the workers read $STRATUS_COUCHDB,
// so the password stays out of the pipeline.
func TestWriteFromEnv(t *testing.T) {
	cfg, st := couchConfig(t)
	t.Setenv(EnvStoreURL, cfg.URL)
	cfg.URL = ""
	writeAndReadBack(t, cfg, 50)
	if n, err := st.Count(context.Background()); err != nil || n != 50 {
		t.Errorf("Count = %d, %v", n, err)
	}
}

func init() {
	register.Function1x1(countOne)
	register.Function2x1(sumInts)
}

func countOne(store.Sample) int { return 1 }

// BenchmarkRead measures the splittable read on prism (docs/s, pipeline
// start included): b.N documents, read with 1, 4 and 16 initial splits.
func BenchmarkRead(b *testing.B) {
	for _, splits := range []int{1, 4, 16} {
		b.Run(fmt.Sprintf("splits%d", splits), func(b *testing.B) {
			cfg, st := couchConfigB(b)
			ctx := context.Background()
			if err := st.EnsureSchema(ctx); err != nil {
				b.Fatal(err)
			}
			if err := st.UpsertSamples(ctx, storetest.Samples(b.N, t0, "m1", 48)); err != nil {
				b.Fatal(err)
			}
			p, s := beam.NewPipelineWithRoot()
			n := beam.Combine(s, sumInts, beam.ParDo(s, countOne, Read(s, cfg, ReadOptions{Splits: splits})))
			passert.Equals(s, n, b.N)
			b.ResetTimer()
			if err := ptest.Run(p); err != nil {
				b.Fatal(err)
			}
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "docs/s")
		})
	}
}

func sumInts(a, b int) int { return a + b }

// BenchmarkWrite measures Write on prism (docs/s, pipeline start
// included): b.N new samples.
func BenchmarkWrite(b *testing.B) {
	cfg, _ := couchConfigB(b)
	samples := storetest.Samples(b.N, t0, "m1", 49)
	p, s := beam.NewPipelineWithRoot()
	written, dead := Write(s, cfg, beam.CreateList(s, samples))
	passert.Count(s, written, "written", b.N)
	passert.Empty(s, dead)
	b.ResetTimer()
	if err := ptest.Run(p); err != nil {
		b.Fatal(err)
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "docs/s")
}
