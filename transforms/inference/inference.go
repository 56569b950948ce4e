// Package inference is a RunInference transform for the Beam Go SDK, after
// Beam Python's apache_beam.ml.inference: a ModelHandler loads a model once
// per worker process (shared by every bundle and DoFn instance of that
// process), elements are run through it in batches bounded by size and by
// waiting time, Beam metrics record what happens, and failures go to a
// dead-letter output instead of failing the bundle.
//
// Batching happens inside bundles: elements are buffered in ProcessElement,
// run when MaxBatchSize is reached or when the oldest buffered element has
// waited MaxBatchWait, and the rest is run in FinishBundle. This needs no
// state or timers, so it runs on every runner: on prism a DoFn with both
// timer domains hangs and GroupIntoBatches with MaxBufferingDuration hangs,
// and Flink's portable runner has no processing-time timers (NOTES.md).
// Streaming sources end their bundles when idle, which bounds the wait.
//
// Handlers live in packages of their own and register themselves by name
// in their init (the Stratus CNN: transforms/inference/cnn); a pipeline
// that names a handler imports its package.
package inference

import (
	"context"
	"fmt"
	"reflect"
	"sort"
	"sync"
	"time"

	"github.com/apache/beam/sdks/v2/go/pkg/beam"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/register"

	"github.com/stratusml/stratus/model/preprocess"
	"github.com/stratusml/stratus/model/recognize"
)

// Request is one element to run: the digits of one drawing, with the
// caller's own Payload passed through untouched.
type Request struct {
	Key     string             // the caller's id for the element (event id)
	Digits  []preprocess.Digit // network inputs, left to right
	Payload []byte             // opaque, returned in Response or Failure
}

// Response is a Request's answer.
type Response struct {
	Key     string
	Result  recognize.Result
	Payload []byte
}

// Failure is a Request that could not be run; it goes to the dead-letter output.
type Failure struct {
	Key     string
	Error   string
	Payload []byte
}

// Model runs batches; implementations must be safe for concurrent use.
type Model interface {
	// ID names the model; every Result carries it.
	ID() string
	// Infer answers a batch of drawings (one slice of digits each), in order.
	Infer(ctx context.Context, batch [][]preprocess.Digit) ([]recognize.Result, error)
}

// ModelHandler loads a model (cf. Beam Python's ModelHandler).
type ModelHandler interface {
	// ShareKey identifies the model for sharing: handlers with the same
	// key share one loaded model per process.
	ShareKey() string
	// Load loads the model; it runs once per process and key.
	Load(ctx context.Context) (Model, error)
}

// HandlerFactory builds a handler from its configuration string.
type HandlerFactory func(config string) (ModelHandler, error)

// handlers is the init-time registry of handler factories, like
// beam.RegisterRunner: DoFns are serialised as data, so they name their
// handler and look it up on the worker.
var handlers sync.Map // name → HandlerFactory

// RegisterHandler makes a handler available to RunInference by name. Call
// it from init, in a package every worker binary imports.
func RegisterHandler(name string, f HandlerFactory) { handlers.Store(name, f) }

// shared holds the models loaded in this process, by share key: the one
// place where a worker keeps a model across bundles and DoFn instances.
var shared sync.Map // share key → *sharedModel

type sharedModel struct {
	once     sync.Once
	model    Model
	err      error
	loadTime time.Duration
}

func loadShared(ctx context.Context, h ModelHandler) (Model, time.Duration, bool, error) {
	v, _ := shared.LoadOrStore(h.ShareKey(), &sharedModel{})
	sm := v.(*sharedModel)
	first := false
	sm.once.Do(func() {
		first = true
		start := time.Now()
		sm.model, sm.err = h.Load(ctx)
		sm.loadTime = time.Since(start)
	})
	if sm.err != nil {
		// Allow a later Setup to try again rather than caching a failure.
		shared.CompareAndDelete(h.ShareKey(), sm)
	}
	return sm.model, sm.loadTime, first, sm.err
}

// Config sets up RunInference.
type Config struct {
	// Handler names a registered ModelHandler; HandlerConfig is passed to its factory.
	Handler, HandlerConfig string
	// MaxBatchSize bounds a batch (default 64).
	MaxBatchSize int
	// MaxBatchWait bounds how long an element waits for its batch to fill
	// (default 5 ms); bundles ending flush earlier.
	MaxBatchWait time.Duration
}

// RunInference runs every Request of in through the model and returns the
// Responses and the Failures.
func RunInference(s beam.Scope, cfg Config, in beam.PCollection) (responses, failures beam.PCollection) {
	s = s.Scope("RunInference")
	if cfg.MaxBatchSize <= 0 {
		cfg.MaxBatchSize = 64
	}
	if cfg.MaxBatchWait <= 0 {
		cfg.MaxBatchWait = 5 * time.Millisecond
	}
	fn := &runInferenceFn{Handler: cfg.Handler, HandlerConfig: cfg.HandlerConfig,
		MaxBatchSize: cfg.MaxBatchSize, MaxBatchWaitMicros: cfg.MaxBatchWait.Microseconds()}
	return beam.ParDo2(s, fn, in)
}

// Metric names, in the namespace "stratus.inference" (after Beam Python's).
const metricsNamespace = "stratus.inference"

type pending struct {
	req Request
	ts  beam.EventTime
}

// runInferenceFn is the batching DoFn behind RunInference.
type runInferenceFn struct {
	Handler            string
	HandlerConfig      string
	MaxBatchSize       int
	MaxBatchWaitMicros int64

	model  Model
	buf    []pending
	oldest time.Time

	inferences, failuresCount beam.Counter
	batchSize, batchLatency   beam.Distribution
	loadMillis                beam.Gauge
}

func (fn *runInferenceFn) Setup(ctx context.Context) error {
	f, ok := handlers.Load(fn.Handler)
	if !ok {
		var names []string
		handlers.Range(func(k, _ any) bool { names = append(names, k.(string)); return true })
		sort.Strings(names)
		return fmt.Errorf("inference: no model handler %q registered (have %v)", fn.Handler, names)
	}
	h, err := f.(HandlerFactory)(fn.HandlerConfig)
	if err != nil {
		return fmt.Errorf("inference: handler %q: %w", fn.Handler, err)
	}
	m, took, first, err := loadShared(ctx, h)
	if err != nil {
		return fmt.Errorf("inference: load model (%s): %w", h.ShareKey(), err)
	}
	fn.model = m
	fn.inferences = beam.NewCounter(metricsNamespace, "num_inferences")
	fn.failuresCount = beam.NewCounter(metricsNamespace, "failed_inferences")
	fn.batchSize = beam.NewDistribution(metricsNamespace, "inference_batch_size")
	fn.batchLatency = beam.NewDistribution(metricsNamespace, "inference_batch_latency_micro_secs")
	fn.loadMillis = beam.NewGauge(metricsNamespace, "load_model_latency_milli_secs")
	if first {
		fn.loadMillis.Set(ctx, took.Milliseconds())
	}
	return nil
}

func (fn *runInferenceFn) ProcessElement(ctx context.Context, ts beam.EventTime, req Request, emit func(beam.EventTime, Response), fail func(beam.EventTime, Failure)) {
	if len(fn.buf) == 0 {
		fn.oldest = time.Now()
	}
	fn.buf = append(fn.buf, pending{req: req, ts: ts})
	if len(fn.buf) >= fn.MaxBatchSize || time.Since(fn.oldest) >= time.Duration(fn.MaxBatchWaitMicros)*time.Microsecond {
		fn.flush(ctx, emit, fail)
	}
}

func (fn *runInferenceFn) FinishBundle(ctx context.Context, emit func(beam.EventTime, Response), fail func(beam.EventTime, Failure)) {
	fn.flush(ctx, emit, fail)
}

// flush runs the buffered batch. A batch that fails as a whole is retried
// element by element so that one bad input does not fail its neighbours.
func (fn *runInferenceFn) flush(ctx context.Context, emit func(beam.EventTime, Response), fail func(beam.EventTime, Failure)) {
	if len(fn.buf) == 0 {
		return
	}
	batch := make([][]preprocess.Digit, len(fn.buf))
	for i, p := range fn.buf {
		batch[i] = p.req.Digits
	}
	start := time.Now()
	results, err := fn.model.Infer(ctx, batch)
	fn.batchLatency.Update(ctx, time.Since(start).Microseconds())
	fn.batchSize.Update(ctx, int64(len(batch)))
	if err == nil && len(results) != len(batch) {
		err = fmt.Errorf("model %s answered %d of %d elements", fn.model.ID(), len(results), len(batch))
	}
	if err != nil && len(batch) > 1 {
		for _, p := range fn.buf {
			fn.buf = []pending{p}
			fn.flush(ctx, emit, fail)
		}
		fn.buf = fn.buf[:0]
		return
	}
	for i, p := range fn.buf {
		if err != nil {
			fn.failuresCount.Inc(ctx, 1)
			fail(p.ts, Failure{Key: p.req.Key, Error: err.Error(), Payload: p.req.Payload})
			continue
		}
		fn.inferences.Inc(ctx, 1)
		emit(p.ts, Response{Key: p.req.Key, Result: results[i], Payload: p.req.Payload})
	}
	fn.buf = fn.buf[:0]
}

func init() {
	register.DoFn5x0[context.Context, beam.EventTime, Request, func(beam.EventTime, Response), func(beam.EventTime, Failure)]((*runInferenceFn)(nil))
	register.Emitter2[beam.EventTime, Response]()
	register.Emitter2[beam.EventTime, Failure]()
	beam.RegisterType(reflect.TypeOf((*Request)(nil)).Elem())
	beam.RegisterType(reflect.TypeOf((*Response)(nil)).Elem())
	beam.RegisterType(reflect.TypeOf((*Failure)(nil)).Elem())
}
