package storeio

import (
	"context"
	"errors"
	"fmt"
	"os"
	"reflect"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/apache/beam/sdks/v2/go/pkg/beam"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/register"
	_ "github.com/apache/beam/sdks/v2/go/pkg/beam/runners/prism"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/testing/passert"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/testing/ptest"

	"github.com/stratusml/stratus/message"
	"github.com/stratusml/stratus/store"
	"github.com/stratusml/stratus/store/localstore"
	"github.com/stratusml/stratus/store/storetest"
)

func TestMain(m *testing.M) {
	os.Exit(ptest.MainRet(m))
}

func init() {
	register.Function1x1(sampleID)
	register.Function1x1(isStoreDeadLetter)
	register.DoFn3x1[context.Context, string, func(string), error](&checkStoredFn{})
	register.DoFn2x1[store.Sample, func(string), error](&checkSampleFn{})
}

func sampleID(s store.Sample) string { return s.ID }

func isStoreDeadLetter(d message.DeadLetter) bool {
	return d.Stage == message.StageStore && d.Error != "" && len(d.Payload) > 0 && d.V == message.Version
}

// checkStoredFn runs after Write: it reads each written id back from the
// store, proving that the id is emitted only once its sample is stored.
type checkStoredFn struct {
	URL, Prefix string
	st          store.Store
}

func (fn *checkStoredFn) Setup(ctx context.Context) (err error) {
	u := fn.URL
	if u == "" {
		u = os.Getenv(EnvStoreURL)
	}
	fn.st, err = store.Open(ctx, u, store.Options{Prefix: fn.Prefix})
	return err
}

func (fn *checkStoredFn) ProcessElement(ctx context.Context, id string, emit func(string)) error {
	if _, err := fn.st.GetSample(ctx, id); err != nil {
		return fmt.Errorf("written id %s is not in the store: %w", id, err)
	}
	emit(id)
	return nil
}

func (fn *checkStoredFn) Teardown() error { return fn.st.Close() }

// checkSampleFn checks that a sample read back is whole.
type checkSampleFn struct{}

func (checkSampleFn) ProcessElement(s store.Sample, emit func(string)) error {
	p, ok := s.Predictions["m1"]
	switch {
	case !ok || p.Model != "m1" || p.Digits != "7" || len(p.Candidates) != 1 || len(p.Candidates[0].Probabilities) != 10:
		return fmt.Errorf("%s: prediction %+v", s.ID, s.Predictions)
	case len(s.Input28) != 1 || len(s.Input28[0]) != store.Input28Len || len(s.Strokes) != 1:
		return fmt.Errorf("%s: drawing not whole", s.ID)
	case s.CreatedAt.IsZero() || s.CreatedAt.Nanosecond()%int(time.Millisecond) != 0:
		return fmt.Errorf("%s: created_at %v", s.ID, s.CreatedAt)
	}
	emit(s.ID)
	return nil
}

var t0 = time.Date(2026, 11, 25, 10, 0, 0, 0, time.UTC)

func sortedIDs(ss []store.Sample) []string {
	out := make([]string, len(ss))
	for i := range ss {
		out[i] = ss[i].ID
	}
	sort.Strings(out)
	return out
}

// writeAndReadBack writes n samples (plus bad ones) through Write in one
// pipeline, then reads the database back through Read with several initial
// splits in another: exactly the n ids, each once.
func writeAndReadBack(t *testing.T, cfg Config, n int) {
	t.Helper()
	samples := storetest.Samples(n, t0, "m1", 42)
	bad := storetest.Samples(3, t0.Add(-time.Hour), "m1", 43)
	for i := range bad {
		bad[i].Input28 = [][]byte{[]byte("short")}
	}
	want := sortedIDs(samples)

	p, s := beam.NewPipelineWithRoot()
	in := beam.CreateList(s, append(append([]store.Sample{}, samples...), bad...))
	written, dead := Write(s, cfg, in)
	passert.EqualsList(s, written, want)
	passert.Count(s, dead, "dead letters", len(bad))
	passert.True(s, dead, isStoreDeadLetter)
	checked := beam.ParDo(s, &checkStoredFn{URL: cfg.URL, Prefix: cfg.Prefix}, written)
	passert.Count(s, checked, "stored before emitted", n)
	start := time.Now()
	ptest.RunAndValidate(t, p)
	t.Logf("write pipeline: %d samples in %v", n, time.Since(start))

	for _, splits := range []int{1, 5, 16} {
		p, s := beam.NewPipelineWithRoot()
		got := Read(s, cfg, ReadOptions{Splits: splits})
		passert.EqualsList(s, beam.ParDo(s, sampleID, got), want)
		passert.Count(s, beam.ParDo(s, checkSampleFn{}, got), "whole samples", n)
		start := time.Now()
		ptest.RunAndValidate(t, p)
		t.Logf("read pipeline, %d initial splits: %d samples in %v", splits, n, time.Since(start))
	}
}

// readFiltered labels some samples and reads with filters and id bounds.
func readFiltered(t *testing.T, st store.Store, cfg Config) {
	t.Helper()
	ctx := context.Background()
	all := storetest.Samples(300, t0.Add(24*time.Hour), "m1", 44)
	if err := st.UpsertSamples(ctx, all); err != nil {
		t.Fatal(err)
	}
	var labelled, recent, bounded []string
	for i, s := range all {
		if i%7 == 0 {
			if err := st.SetLabel(ctx, s.ID, "7", time.Time{}); err != nil {
				t.Fatal(err)
			}
			labelled = append(labelled, s.ID)
		}
		if i >= 200 {
			recent = append(recent, s.ID)
		}
		if i >= 50 && i < 120 {
			bounded = append(bounded, s.ID)
		}
	}
	for name, tc := range map[string]struct {
		opt  ReadOptions
		want []string
	}{
		"labelled": {ReadOptions{Splits: 4, OnlyLabelled: true}, labelled},
		"since":    {ReadOptions{Splits: 4, CreatedSince: all[200].CreatedAt}, recent},
		"bounded":  {ReadOptions{Splits: 3, StartID: all[50].ID, EndID: all[120].ID}, bounded},
	} {
		p, s := beam.NewPipelineWithRoot()
		got := Read(s, cfg, tc.opt)
		passert.EqualsList(s, beam.ParDo(s, sampleID, got), tc.want)
		if err := ptest.Run(p); err != nil {
			t.Errorf("%s: %v", name, err)
		}
	}
}

var memN atomic.Int64

func memConfig(t *testing.T) (Config, store.Store) {
	name := fmt.Sprintf("storeio%d", memN.Add(1))
	t.Cleanup(func() { localstore.Drop(name, "") })
	return Config{URL: "mem://" + name, EnsureSchema: true, BatchSize: 64}, localstore.Open(name, "")
}

func TestWriteReadMem(t *testing.T) {
	cfg, _ := memConfig(t)
	writeAndReadBack(t, cfg, 1000)
}

func TestReadFiltersMem(t *testing.T) {
	cfg, st := memConfig(t)
	if err := st.EnsureSchema(context.Background()); err != nil {
		t.Fatal(err)
	}
	readFiltered(t, st, cfg)
}

func TestReadEmptyMem(t *testing.T) {
	cfg, st := memConfig(t)
	if err := st.EnsureSchema(context.Background()); err != nil {
		t.Fatal(err)
	}
	p, s := beam.NewPipelineWithRoot()
	passert.Empty(s, Read(s, cfg, ReadOptions{Splits: 4}))
	ptest.RunAndValidate(t, p)
}

// TestWriteDeadStore: a store that fails every write sends every sample to
// the dead letters, and the pipeline succeeds.
func TestWriteDeadStore(t *testing.T) {
	cfg, _ := memConfig(t) // never EnsureSchema'd: every write fails
	cfg.EnsureSchema = false
	samples := storetest.Samples(20, t0, "m1", 45)
	p, s := beam.NewPipelineWithRoot()
	written, dead := Write(s, cfg, beam.CreateList(s, samples))
	passert.Empty(s, written)
	passert.Count(s, dead, "dead letters", len(samples))
	passert.True(s, dead, isStoreDeadLetter)
	ptest.RunAndValidate(t, p)
}

func TestWriteNoURL(t *testing.T) {
	t.Setenv(EnvStoreURL, "")
	fn := &writeFn{}
	if err := fn.Setup(context.Background()); err == nil {
		t.Fatal("Setup without a URL succeeded")
	}
	t.Setenv(EnvStoreURL, "mem://fromenv")
	if err := fn.Setup(context.Background()); err != nil || fn.st == nil {
		t.Fatalf("Setup with $%s: %v", EnvStoreURL, err)
	}
}

func TestSampleCoder(t *testing.T) {
	s := storetest.Sample("01JDXXXXXXXXXXXXXXXXXXXXXX", time.Date(2026, 11, 25, 10, 0, 0, 123456789, time.FixedZone("X", 3600)), "m1")
	s.Label, s.LabelledAt = "7", s.CreatedAt.Add(time.Nanosecond)
	b, err := encodeSample(s)
	if err != nil {
		t.Fatal(err)
	}
	got, err := decodeSample(b)
	if err != nil {
		t.Fatal(err)
	}
	if !got.CreatedAt.Equal(s.CreatedAt) || !got.LabelledAt.Equal(s.LabelledAt) ||
		!got.Predictions["m1"].PredictedAt.Equal(s.Predictions["m1"].PredictedAt) {
		t.Errorf("times changed: %v %v", got.CreatedAt, got.LabelledAt)
	}
	got.CreatedAt, got.LabelledAt, got.Predictions = s.CreatedAt, s.LabelledAt, s.Predictions
	if !reflect.DeepEqual(got, s) {
		t.Errorf("round trip:\n%+v\nwant\n%+v", got, s)
	}
	d := message.NewDeadLetter("a", message.StageStore, errors.New("boom"), []byte("payload"), s.CreatedAt)
	b, _ = encodeDeadLetter(d)
	if gd, err := decodeDeadLetter(b); err != nil || gd.Error != "boom" || string(gd.Payload) != "payload" || !gd.At.Equal(d.At) {
		t.Errorf("dead letter round trip: %+v, %v", gd, err)
	}
}

// slowStore pauses its scans so that prism, seeing no progress, splits the
// running restriction (it asks for a split at half of the remainder when
// nothing moved between two of its 100 ms progress ticks). It registers
// the schemes slow+mem and slow+http.
type slowStore struct {
	store.Store
}

var (
	slowMu     sync.Mutex
	slowRanges []KeyRange
)

func init() {
	for _, inner := range []string{"mem", "http"} {
		store.Register("slow+"+inner, func(ctx context.Context, rawURL string, opt store.Options) (store.Store, error) {
			st, err := store.Open(ctx, strings.TrimPrefix(rawURL, "slow+"), opt)
			return slowStore{st}, err
		})
	}
}

func (s slowStore) ScanSamples(ctx context.Context, start, end string, fn func(store.Sample) error) error {
	slowMu.Lock()
	slowRanges = append(slowRanges, KeyRange{Start: start, End: end})
	slowMu.Unlock()
	n := 0
	return s.Store.ScanSamples(ctx, start, end, func(smp store.Sample) error {
		if n++; n%100 == 0 {
			time.Sleep(300 * time.Millisecond)
		}
		return fn(smp)
	})
}

// readWithDynamicSplits reads the samples in cfg's store through the slow
// wrapper with one initial range: the runner must split it while it runs,
// and every id must still come exactly once.
func readWithDynamicSplits(t *testing.T, cfg Config, want []string) {
	t.Helper()
	slowMu.Lock()
	slowRanges = nil
	slowMu.Unlock()
	cfg.URL = "slow+" + cfg.URL
	p, s := beam.NewPipelineWithRoot()
	got := Read(s, cfg, ReadOptions{Splits: 1})
	passert.EqualsList(s, beam.ParDo(s, sampleID, got), want)
	ptest.RunAndValidate(t, p)
	slowMu.Lock()
	defer slowMu.Unlock()
	t.Logf("%d scans: %v", len(slowRanges), slowRanges)
	if len(slowRanges) < 2 {
		t.Errorf("the runner never split the read (%d scans)", len(slowRanges))
	}
}

func TestDynamicSplitMem(t *testing.T) {
	cfg, st := memConfig(t)
	ctx := context.Background()
	if err := st.EnsureSchema(ctx); err != nil {
		t.Fatal(err)
	}
	samples := storetest.Samples(800, t0, "m1", 46)
	if err := st.UpsertSamples(ctx, samples); err != nil {
		t.Fatal(err)
	}
	readWithDynamicSplits(t, cfg, sortedIDs(samples))
}
