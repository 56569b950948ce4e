// Package storeio reads and writes Stratus samples (store.Sample) in Apache
// Beam pipelines, through the store API: CouchDB (store/couchdb, imported
// here) or any backend registered with store.Register.
//
//	samples := storeio.Read(s, storeio.Config{URL: url}, storeio.ReadOptions{Splits: 16})
//	written, dead := storeio.Write(s, storeio.Config{URL: url}, rescored)
//
// Read is a bounded splittable DoFn over the _id key space: its restriction
// is a KeyRange, tracked by a KeyRangeTracker that runners can split
// dynamically, and it reads pages with store.ScanSamples.
//
// Write buffers samples and upserts them (idempotent, merging predictions,
// never dropping a label) when the buffer is full and at the end of each
// bundle. It returns the ids it wrote and dead letters (stage "store") for
// the samples that failed after the store's retries; see Write.
//
// Elements: store.Sample and message.DeadLetter travel as JSON (coders
// registered here), so times (to the nanosecond) and maps survive.
//
// Credentials: Config is part of the pipeline definition that a runner
// receives. Leave Config.URL empty to have workers read $STRATUS_COUCHDB
// instead, which keeps the password out of it. Errors never show it.
package storeio

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"reflect"
	"time"

	"github.com/apache/beam/sdks/v2/go/pkg/beam"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/core/sdf"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/register"

	"github.com/stratusml/stratus/message"
	"github.com/stratusml/stratus/store"
	_ "github.com/stratusml/stratus/store/couchdb" // http(s):// URLs
)

func init() {
	beam.RegisterType(reflect.TypeOf((*store.Sample)(nil)).Elem())
	beam.RegisterType(reflect.TypeOf((*message.DeadLetter)(nil)).Elem())
	register.Function1x2(encodeSample)
	register.Function1x2(decodeSample)
	register.Function1x2(encodeDeadLetter)
	register.Function1x2(decodeDeadLetter)
	beam.RegisterCoder(reflect.TypeOf((*store.Sample)(nil)).Elem(), encodeSample, decodeSample)
	beam.RegisterCoder(reflect.TypeOf((*message.DeadLetter)(nil)).Elem(), encodeDeadLetter, decodeDeadLetter)

	register.DoFn4x1[context.Context, *sdf.LockRTracker, []byte, func(store.Sample), error](&readFn{})
	register.Emitter1[store.Sample]()
	register.DoFn5x1[context.Context, beam.EventTime, store.Sample, func(beam.EventTime, string), func(beam.EventTime, message.DeadLetter), error](&writeFn{})
	register.Emitter2[beam.EventTime, string]()
	register.Emitter2[beam.EventTime, message.DeadLetter]()
}

func encodeSample(s store.Sample) ([]byte, error)           { return json.Marshal(s) }
func decodeSample(b []byte) (s store.Sample, err error)     { err = json.Unmarshal(b, &s); return s, err }
func encodeDeadLetter(d message.DeadLetter) ([]byte, error) { return json.Marshal(d) }
func decodeDeadLetter(b []byte) (d message.DeadLetter, err error) {
	err = json.Unmarshal(b, &d)
	return d, err
}

// EnvStoreURL is the environment variable a worker reads the store URL
// from when Config.URL is empty: any store URL (CouchDB, file://, mem://),
// under the name users' scripts already set for `--couchdb`.
const EnvStoreURL = "STRATUS_COUCHDB"

// Config says which store the transforms use.
type Config struct {
	// URL of the store (store.Open): http(s)://user:pass@host:5984 for
	// CouchDB. Empty: $STRATUS_COUCHDB on the worker.
	URL string
	// Prefix of the database names (store.Options.Prefix).
	Prefix string
	// EnsureSchema makes each Write worker call EnsureSchema once before
	// writing (databases and indexes; idempotent).
	EnsureSchema bool
	// BatchSize is how many samples Write buffers before it writes
	// (default 500); it also writes at the end of every bundle.
	BatchSize int
}

// storeFn is what both DoFns share: the config and the open store.
type storeFn struct {
	URL          string
	Prefix       string
	EnsureSchema bool

	st store.Store
}

func (fn *storeFn) open(ctx context.Context) error {
	if fn.st != nil {
		return nil
	}
	u := fn.URL
	if u == "" {
		u = os.Getenv(EnvStoreURL)
	}
	if u == "" {
		return fmt.Errorf("storeio: no store URL: Config.URL and $%s are empty", EnvStoreURL)
	}
	st, err := store.Open(ctx, u, store.Options{Prefix: fn.Prefix})
	if err != nil {
		return err
	}
	if fn.EnsureSchema {
		if err := st.EnsureSchema(ctx); err != nil {
			st.Close()
			return err
		}
	}
	fn.st = st
	return nil
}

func (fn *storeFn) close() error {
	if fn.st == nil {
		return nil
	}
	err := fn.st.Close()
	fn.st = nil
	return err
}

// ---- Write ---------------------------------------------------------------

// Write upserts samples (PCollection<store.Sample>) into the store and
// returns two PCollections:
//
//   - written (PCollection<string>): the id of every sample once it is
//     stored, so that a step can run only after its sample is in the store
//     (key both sides by id and join, or use it as a side input);
//   - dead letters (PCollection<message.DeadLetter>): the samples that could
//     not be written after the store's retries (invalid ones, conflicts that
//     never settled, a store that stayed unreachable), with stage "store",
//     the error, and the first 4 KiB of the sample document as payload.
//
// Every input sample ends in exactly one of the two: nothing vanishes, and a
// dead store does not fail the pipeline (route the dead letters to Kafka's
// stratus.deadletter, or check that the PCollection is empty in a batch
// job). Writes are idempotent by id, so a bundle that a runner retries
// writes nothing twice.
//
// Outputs are emitted when their write is done: at the end of the bundle,
// in the global window, with the timestamps of their inputs (the Go SDK
// puts what FinishBundle emits in the global window; re-window downstream
// if needed).
func Write(s beam.Scope, cfg Config, samples beam.PCollection) (written, deadLetters beam.PCollection) {
	s = s.Scope("storeio.Write")
	fn := &writeFn{
		storeFn:   storeFn{URL: cfg.URL, Prefix: cfg.Prefix, EnsureSchema: cfg.EnsureSchema},
		BatchSize: cfg.BatchSize,
	}
	return beam.ParDo2(s, fn, samples)
}

type pendingSample struct {
	s  store.Sample
	ts beam.EventTime
}

type writtenID struct {
	id string
	ts beam.EventTime
}

type deadLetter struct {
	d  message.DeadLetter
	ts beam.EventTime
}

type writeFn struct {
	storeFn
	BatchSize int

	buf     []pendingSample
	written []writtenID
	dead    []deadLetter
}

// Counters of the transforms (see the pipeline result's metrics). Their
// namespaces keep the package's earlier name, couchio: dashboards and
// alerts read them (stratus_pipeline_*{namespace="couchio.Write"}).
var (
	writtenCount = beam.NewCounter("couchio.Write", "written")
	failedCount  = beam.NewCounter("couchio.Write", "failed")
	writeLatency = beam.NewDistribution("couchio.Write", "write_latency_micros")
	readCount    = beam.NewCounter("couchio.Read", "read")
)

func (fn *writeFn) Setup(ctx context.Context) error {
	if fn.BatchSize <= 0 {
		fn.BatchSize = 500
	}
	return fn.open(ctx)
}

func (fn *writeFn) ProcessElement(ctx context.Context, ts beam.EventTime, s store.Sample, _ func(beam.EventTime, string), _ func(beam.EventTime, message.DeadLetter)) error {
	fn.buf = append(fn.buf, pendingSample{s: s, ts: ts})
	if len(fn.buf) >= fn.BatchSize {
		fn.flush(ctx)
	}
	return nil
}

// flush writes the buffer and sorts its samples into written and dead.
func (fn *writeFn) flush(ctx context.Context) {
	if len(fn.buf) == 0 {
		return
	}
	fn.sort(ctx, fn.upsert(ctx, ctx))
}

// upsert writes the buffer's samples under wctx and records the write's
// latency in the bundle's metrics (ctx).
func (fn *writeFn) upsert(ctx, wctx context.Context) error {
	batch := make([]store.Sample, len(fn.buf))
	for i := range fn.buf {
		batch[i] = fn.buf[i].s
	}
	start := time.Now()
	err := fn.st.UpsertSamples(wctx, batch)
	writeLatency.Update(ctx, time.Since(start).Microseconds())
	return err
}

// sort files the buffer's samples under written or dead by what err (of
// their write) says, and empties the buffer.
func (fn *writeFn) sort(ctx context.Context, err error) {
	failed, ok := store.Failed(err)
	now := time.Now()
	nDead := 0
	for _, p := range fn.buf {
		cause, bad := failed[p.s.ID]
		if err != nil && !ok { // not the contract's error: count all as failed
			cause, bad = err, true
		}
		if !bad {
			fn.written = append(fn.written, writtenID{id: p.s.ID, ts: p.ts})
			continue
		}
		nDead++
		doc, _ := store.MarshalDocument(&p.s)
		fn.dead = append(fn.dead, deadLetter{
			d:  message.NewDeadLetter(p.s.ID, message.StageStore, cause, doc, now),
			ts: p.ts,
		})
	}
	writtenCount.Inc(ctx, int64(len(fn.buf)-nDead))
	failedCount.Inc(ctx, int64(nDead))
	clear(fn.buf) // let the samples go
	fn.buf = fn.buf[:0]
}

// StartBundle starts with empty buffers.
func (fn *writeFn) StartBundle(_ context.Context, _ func(beam.EventTime, string), _ func(beam.EventTime, message.DeadLetter)) {
	fn.buf, fn.written, fn.dead = fn.buf[:0], fn.written[:0], fn.dead[:0]
}

func (fn *writeFn) FinishBundle(ctx context.Context, emitID func(beam.EventTime, string), emitDead func(beam.EventTime, message.DeadLetter)) error {
	fn.flush(ctx)
	for _, w := range fn.written {
		emitID(w.ts, w.id)
	}
	for _, d := range fn.dead {
		emitDead(d.ts, d.d)
	}
	fn.written, fn.dead = fn.written[:0], fn.dead[:0]
	return nil
}

func (fn *writeFn) Teardown() error { return fn.close() }

// ---- Read ----------------------------------------------------------------

// ReadOptions shape a Read.
type ReadOptions struct {
	// Splits is the number of key ranges the read starts as (default 16);
	// runners may split them further while reading.
	Splits int
	// StartID and EndID bound the ids read: [StartID, EndID); empty: open.
	StartID, EndID string
	// OnlyLabelled keeps only samples with a label.
	OnlyLabelled bool
	// CreatedSince, when set, keeps only samples created at or after it.
	CreatedSince time.Time
}

// Read reads the samples of the store (PCollection<store.Sample>) with a
// bounded splittable DoFn. The initial restriction is the key range from
// the smallest to the largest id present when the pipeline starts (within
// [StartID, EndID)), split into opt.Splits ranges of equal share of the key
// space between them; a runner may split any range further (TrySplit) while
// it is read. Each range is read in id order, in pages, and every id is
// claimed before its sample is emitted, so each sample is emitted once.
//
// Samples written during the read are included when their id falls in a
// range not yet read and is not above the largest id seen at the start.
func Read(s beam.Scope, cfg Config, opt ReadOptions) beam.PCollection {
	s = s.Scope("storeio.Read")
	if opt.Splits <= 0 {
		opt.Splits = 16
	}
	imp := beam.Impulse(s)
	return beam.ParDo(s, &readFn{
		storeFn:      storeFn{URL: cfg.URL, Prefix: cfg.Prefix},
		Splits:       opt.Splits,
		StartID:      opt.StartID,
		EndID:        opt.EndID,
		OnlyLabelled: opt.OnlyLabelled,
		CreatedSince: opt.CreatedSince,
	}, imp)
}

type readFn struct {
	storeFn
	Splits         int
	StartID, EndID string
	OnlyLabelled   bool
	CreatedSince   time.Time
}

func (fn *readFn) Setup(ctx context.Context) error {
	return fn.open(ctx)
}

// CreateInitialRestriction asks the store for the smallest and largest id
// in [StartID, EndID): the range is [first, last+"\x00").
func (fn *readFn) CreateInitialRestriction(ctx context.Context, _ []byte) (KeyRange, error) {
	if err := fn.open(ctx); err != nil {
		return KeyRange{}, err
	}
	first, last, err := fn.st.IDRange(ctx, fn.StartID, fn.EndID)
	if errors.Is(err, store.ErrNotFound) {
		return emptyRange, nil
	}
	if err != nil {
		return KeyRange{}, err
	}
	return KeyRange{Start: first, End: last + "\x00"}, nil
}

// SplitRestriction makes the initial splits.
func (fn *readFn) SplitRestriction(_ []byte, r KeyRange) []KeyRange {
	return r.Split(fn.Splits)
}

// RestrictionSize is the range's share of the key space.
func (fn *readFn) RestrictionSize(_ []byte, r KeyRange) float64 {
	return r.Size()
}

// CreateTracker tracks a range.
func (fn *readFn) CreateTracker(r KeyRange) *sdf.LockRTracker {
	return sdf.NewLockRTracker(NewKeyRangeTracker(r))
}

// ProcessElement reads the tracker's range page by page, claiming each id
// before it emits the sample; it stops at the first id the tracker refuses
// (the range was split there).
func (fn *readFn) ProcessElement(ctx context.Context, rt *sdf.LockRTracker, _ []byte, emit func(store.Sample)) error {
	r := rt.GetRestriction().(KeyRange)
	if r.IsEmpty() {
		rt.TryClaim(EndOfRange)
		return nil
	}
	if err := fn.open(ctx); err != nil {
		return err
	}
	refused := false
	var n int64
	err := fn.st.ScanSamples(ctx, r.Start, r.End, func(s store.Sample) error {
		if !rt.TryClaim(s.ID) {
			refused = true
			return store.ErrStopScan
		}
		if fn.keep(&s) {
			n++
			emit(s)
		}
		return nil
	})
	readCount.Inc(ctx, n)
	if err != nil {
		return err
	}
	if !refused {
		rt.TryClaim(EndOfRange)
	}
	return rt.GetError()
}

func (fn *readFn) keep(s *store.Sample) bool {
	if fn.OnlyLabelled && s.Label == "" {
		return false
	}
	if !fn.CreatedSince.IsZero() && s.CreatedAt.Before(fn.CreatedSince) {
		return false
	}
	return true
}

func (fn *readFn) Teardown() error { return fn.close() }
