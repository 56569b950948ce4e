package storeio

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/apache/beam/sdks/v2/go/pkg/beam"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/register"

	"github.com/stratusml/stratus/message"
	"github.com/stratusml/stratus/store"
)

func init() {
	register.DoFn6x1[context.Context, beam.EventTime, store.Sample, func(beam.EventTime, string), func(beam.EventTime, message.DeadLetter), func(beam.EventTime, store.Sample), error](&waitingWriteFn{})
	register.Emitter2[beam.EventTime, store.Sample]()
}

// WriteWaiting is Write for a stream that must lose nothing while the store
// is down, and must not hold up the rest of the pipeline meanwhile. It
// returns a third PCollection, retry: the samples that could not be written
// for a passing reason (the store unreachable, 5xx, conflicts that did not
// settle) at the end of a bundle. Write them somewhere durable that feeds
// this transform again (the streaming pipeline puts them back on its Kafka
// samples topic). Once a write has failed, each next element waits, in
// ProcessElement, until the store answers again; writes of full batches
// retry until they succeed. Invalid samples go to the dead letters.
//
// Why not simply wait at the end of the bundle: in the Beam Go SDK
// (v2.77.0) a FinishBundle that blocks holds a lock the harness's progress
// reports need, and the harness answers them on its control loop, so every
// other bundle of the worker, the rest of the pipeline included, stops too
// (measured on prism: answers stopped for the whole of a store outage).
// Blocking in ProcessElement does not have that effect.
func WriteWaiting(s beam.Scope, cfg Config, samples beam.PCollection) (written, deadLetters, retry beam.PCollection) {
	s = s.Scope("storeio.WriteWaiting")
	fn := &waitingWriteFn{writeFn: writeFn{
		storeFn:   storeFn{URL: cfg.URL, Prefix: cfg.Prefix, EnsureSchema: cfg.EnsureSchema},
		BatchSize: cfg.BatchSize,
	}}
	outs := beam.ParDoN(s, fn, samples)
	return outs[0], outs[1], outs[2]
}

// finishTimeout bounds the write at the end of a bundle.
const finishTimeout = time.Second

type waitingWriteFn struct {
	writeFn

	down       *atomic.Bool // shared by the process's instances for this store
	needSchema bool         // EnsureSchema has not succeeded yet
	retry      []pendingSample
}

// storeHealth holds, per store (URL and prefix), whether this worker
// process found it down: the DoFn instances of a process share it, as they
// share the model in transforms/inference, so that an outage one of them
// found costs the others no failed write at the end of a bundle.
var storeHealth sync.Map // string → *atomic.Bool

// Setup opens the store. The store may be down: the schema is then made
// once it answers.
func (fn *waitingWriteFn) Setup(ctx context.Context) error {
	if fn.BatchSize <= 0 {
		fn.BatchSize = 500
	}
	d, _ := storeHealth.LoadOrStore(fn.URL+"\x00"+fn.Prefix, &atomic.Bool{})
	fn.down = d.(*atomic.Bool)
	ensure := fn.EnsureSchema
	fn.EnsureSchema = false
	if err := fn.open(ctx); err != nil {
		return err // a bad URL: nothing will ever work
	}
	fn.needSchema = ensure
	if ensure {
		sctx, cancel := context.WithTimeout(ctx, finishTimeout)
		defer cancel()
		if err := fn.st.EnsureSchema(sctx); err != nil {
			slog.Warn("storeio: the store does not answer yet; samples wait for it", "err", err)
			fn.down.Store(true)
			return nil
		}
		fn.needSchema = false
	}
	return nil
}

// StartBundle starts with empty buffers.
func (fn *waitingWriteFn) StartBundle(ctx context.Context, a func(beam.EventTime, string), b func(beam.EventTime, message.DeadLetter), _ func(beam.EventTime, store.Sample)) {
	fn.writeFn.StartBundle(ctx, a, b)
	fn.retry = fn.retry[:0]
}

// ProcessElement waits for the store when it was down, buffers s, and
// writes a full batch until it is stored.
func (fn *waitingWriteFn) ProcessElement(ctx context.Context, ts beam.EventTime, s store.Sample, _ func(beam.EventTime, string), _ func(beam.EventTime, message.DeadLetter), _ func(beam.EventTime, store.Sample)) error {
	if fn.down.Load() || fn.needSchema {
		if err := fn.waitForStore(ctx); err != nil {
			return err
		}
	}
	fn.buf = append(fn.buf, pendingSample{s: s, ts: ts})
	if len(fn.buf) >= fn.BatchSize {
		fn.flushUntilStored(ctx)
	}
	return nil
}

// FinishBundle writes what is buffered, once and briefly; what failed for a
// passing reason goes to the retry output.
func (fn *waitingWriteFn) FinishBundle(ctx context.Context, emitID func(beam.EventTime, string), emitDead func(beam.EventTime, message.DeadLetter), emitRetry func(beam.EventTime, store.Sample)) error {
	if len(fn.buf) > 0 && fn.down.Load() {
		// Another instance found the store down since: no write, no wait.
		fn.holdBack(errStoreDown)
	}
	if len(fn.buf) > 0 {
		wctx, cancel := context.WithTimeout(ctx, finishTimeout)
		err := fn.upsert(ctx, wctx)
		cancel()
		if err != nil {
			fn.holdBack(err)
			err = invalidOnly(err)
		}
		fn.sort(ctx, err)
	}
	for _, p := range fn.retry {
		emitRetry(p.ts, p.s)
	}
	retriedCount.Inc(ctx, int64(len(fn.retry)))
	fn.retry = fn.retry[:0]
	return fn.writeFn.FinishBundle(ctx, emitID, emitDead)
}

var retriedCount = beam.NewCounter("couchio.Write", "retried") // the namespace of storeio.go's counters

var errStoreDown = errors.New("storeio: the store is down")

// splitPassing splits the buffer into the samples err says failed for a
// passing reason and the rest (written, or invalid).
func (fn *waitingWriteFn) splitPassing(err error) (again, done []pendingSample) {
	for _, p := range fn.buf {
		if passing(err, p.s.ID) {
			again = append(again, p)
		} else {
			done = append(done, p)
		}
	}
	return again, done
}

// holdBack moves the buffered samples that err says failed for a passing
// reason from the buffer to the retry list, and marks the store down.
func (fn *waitingWriteFn) holdBack(err error) {
	again, done := fn.splitPassing(err)
	fn.retry = append(fn.retry, again...)
	fn.buf = done
	if len(fn.retry) > 0 && !fn.down.Swap(true) {
		slog.Warn("storeio: the store is not taking samples; they go back to be written later", "samples", len(fn.retry), "err", err)
	}
}

// passing reports whether err says sample id failed for a passing reason
// (anything but being invalid); false when it did not fail.
func passing(err error, id string) bool {
	if err == nil {
		return false
	}
	failed, ok := store.Failed(err)
	if !ok {
		return true // the whole write failed (unreachable, timed out)
	}
	cause, bad := failed[id]
	return bad && !errors.Is(cause, store.ErrInvalid)
}

// invalidOnly keeps the invalid samples' failures of err (the rest were
// held back for a retry).
func invalidOnly(err error) error {
	failed, ok := store.Failed(err)
	if !ok {
		return nil
	}
	var items []store.ItemError
	for id, cause := range failed {
		if errors.Is(cause, store.ErrInvalid) {
			items = append(items, store.ItemError{ID: id, Err: cause})
		}
	}
	if len(items) == 0 {
		return nil
	}
	return &store.UpsertError{Items: items}
}

// flushUntilStored writes the buffer, retrying what fails for a passing
// reason, with backoff, until it is stored (ProcessElement may wait).
func (fn *waitingWriteFn) flushUntilStored(ctx context.Context) {
	wait := 100 * time.Millisecond
	for attempt := 1; len(fn.buf) > 0; attempt++ {
		err := fn.upsert(ctx, ctx)
		again, done := fn.splitPassing(err)
		if len(again) == len(fn.buf) && err != nil && attempt%10 == 1 {
			slog.Warn("storeio: the store is not taking samples; retrying until it does", "samples", len(again), "attempt", attempt, "err", err)
		}
		fn.buf = done
		fn.sort(ctx, invalidOnly(err))
		fn.buf = append(fn.buf, again...)
		if len(fn.buf) == 0 || ctx.Err() != nil {
			return
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(wait):
		}
		wait = min(2*wait, 5*time.Second)
	}
}

// waitForStore blocks until the store answers (the schema made, a count),
// with backoff.
func (fn *waitingWriteFn) waitForStore(ctx context.Context) error {
	wait, since := 100*time.Millisecond, time.Now()
	for attempt := 1; ; attempt++ {
		cctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		var err error
		if fn.needSchema {
			err = fn.st.EnsureSchema(cctx)
		}
		if err == nil {
			_, err = fn.st.Count(cctx)
		}
		cancel()
		if err == nil {
			fn.needSchema = false
			if fn.down.Swap(false) {
				slog.Info("storeio: the store answers again", "after", time.Since(since).Round(time.Millisecond))
			}
			return nil
		}
		if attempt%20 == 1 {
			slog.Warn("storeio: waiting for the store", "waiting", time.Since(since).Round(time.Second), "err", err)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(wait):
		}
		wait = min(2*wait, 5*time.Second)
	}
}
