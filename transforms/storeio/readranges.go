package storeio

import (
	"context"
	"errors"
	"reflect"
	"time"

	"github.com/apache/beam/sdks/v2/go/pkg/beam"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/register"

	"github.com/stratusml/stratus/store"
)

func init() {
	register.DoFn3x1[context.Context, []byte, func(KeyRange), error](&rangesFn{})
	register.Emitter1[KeyRange]()
	register.DoFn3x1[context.Context, KeyRange, func(store.Sample), error](&readRangeFn{})
	beam.RegisterType(reflect.TypeOf((*rangesFn)(nil)).Elem())
	beam.RegisterType(reflect.TypeOf((*readRangeFn)(nil)).Elem())
}

// OpenStore opens the store a Config names ($STRATUS_COUCHDB when its URL
// is empty), for DoFns outside this package; the caller closes it.
func OpenStore(ctx context.Context, cfg Config) (store.Store, error) {
	fn := &storeFn{URL: cfg.URL, Prefix: cfg.Prefix, EnsureSchema: cfg.EnsureSchema}
	if err := fn.open(ctx); err != nil {
		return nil, err
	}
	return fn.st, nil
}

// ReadRanges reads the samples like Read, with no splittable DoFn, for
// runners that run none (Beam's portable Spark runner): one DoFn on an
// Impulse cuts the key range present at the start into opt.Splits ranges,
// a Reshuffle spreads them over the workers, and a plain DoFn reads each
// range in pages. Splits are fixed when the read starts (no dynamic
// splitting); each sample in the range is emitted once.
func ReadRanges(s beam.Scope, cfg Config, opt ReadOptions) beam.PCollection {
	s = s.Scope("storeio.ReadRanges")
	if opt.Splits <= 0 {
		opt.Splits = 16
	}
	sf := storeFn{URL: cfg.URL, Prefix: cfg.Prefix}
	ranges := beam.ParDo(s, &rangesFn{storeFn: sf, Splits: opt.Splits, StartID: opt.StartID, EndID: opt.EndID}, beam.Impulse(s))
	ranges = beam.Reshuffle(s, ranges)
	return beam.ParDo(s, &readRangeFn{storeFn: sf, OnlyLabelled: opt.OnlyLabelled, CreatedSince: opt.CreatedSince}, ranges)
}

// rangesFn emits the key ranges of the read.
type rangesFn struct {
	storeFn
	Splits         int
	StartID, EndID string
}

func (fn *rangesFn) ProcessElement(ctx context.Context, _ []byte, emit func(KeyRange)) error {
	if err := fn.open(ctx); err != nil {
		return err
	}
	first, last, err := fn.st.IDRange(ctx, fn.StartID, fn.EndID)
	if errors.Is(err, store.ErrNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	for _, r := range (KeyRange{Start: first, End: last + "\x00"}).Split(fn.Splits) {
		emit(r)
	}
	return nil
}

func (fn *rangesFn) Teardown() error { return fn.close() }

// readRangeFn reads one key range. (It must not embed readFn: readFn's
// restriction methods would make it a splittable DoFn.)
type readRangeFn struct {
	storeFn
	OnlyLabelled bool
	CreatedSince time.Time
}

func (fn *readRangeFn) ProcessElement(ctx context.Context, r KeyRange, emit func(store.Sample)) error {
	if r.IsEmpty() {
		return nil
	}
	if err := fn.open(ctx); err != nil {
		return err
	}
	var n int64
	err := fn.st.ScanSamples(ctx, r.Start, r.End, func(s store.Sample) error {
		if (&readFn{OnlyLabelled: fn.OnlyLabelled, CreatedSince: fn.CreatedSince}).keep(&s) {
			n++
			emit(s)
		}
		return nil
	})
	readCount.Inc(ctx, n)
	return err
}

func (fn *readRangeFn) Teardown() error { return fn.close() }
