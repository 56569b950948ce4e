package kafkaio

import (
	"context"
	"fmt"
	"log/slog"
	"math"
	"reflect"
	"slices"
	"sync"
	"time"

	"github.com/apache/beam/sdks/v2/go/pkg/beam"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/core/graph/mtime"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/core/sdf"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/io/rtrackers/offsetrange"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/register"
)

func init() {
	beam.RegisterType(reflect.TypeOf((*partitionStart)(nil)).Elem())
	register.DoFn3x1[context.Context, []byte, func(partitionStart), error](&listPartitionsFn{})
	register.Emitter1[partitionStart]()
	register.DoFn5x2[context.Context, *watermarkEstimator, *sdf.LockRTracker,
		partitionStart, func(beam.EventTime, Record), sdf.ProcessContinuation, error](&readFn{})
	register.Emitter2[beam.EventTime, Record]()
	register.Function2x0(dropRecords)
	register.Emitter2[int, int]()
}

// Read reads cfg.Topic as an unbounded PCollection<Record>, each record
// timestamped with its Kafka timestamp (see the package documentation for
// the restriction, watermark, checkpointing and commit design). It panics if
// cfg is invalid (see ReadConfig.Validate).
func Read(s beam.Scope, cfg ReadConfig) beam.PCollection {
	s = s.Scope("kafkaio.Read")
	if err := cfg.Validate(); err != nil {
		panic(fmt.Errorf("kafkaio.Read: %w", err))
	}
	cfg = cfg.withDefaults()
	imp := beam.Impulse(s)
	parts := beam.ParDo(s, &listPartitionsFn{Config: cfg}, imp)
	records := beam.ParDo(s, &readFn{Config: cfg}, parts)
	stageOutputGuard(s.Scope("stageOutputGuard"), records)
	return records
}

// stageOutputGuard gives the stage that runs the read a stage output that
// never carries data: records → a DoFn that drops them all → a GroupByKey,
// which cannot be fused. Without it, a pipeline whose read stage fuses only
// sinks (Read → Write) makes prism v2.77.0 busy-wait for the whole of every
// bundle: stage.Execute's progress loop selects on the bundle's data-done
// channel, which is closed from the start when a stage has no outputs, so
// it spins until the SDK answers; the read's bundles last up to PollTimeout
// each, so that is a full core, always (measured: 45% of the test process's
// CPU while idle, 3% with this guard). Elsewhere it costs one no-op call per
// record and an idle GroupByKey.
func stageOutputGuard(s beam.Scope, records beam.PCollection) {
	beam.GroupByKey(s, beam.ParDo(s, dropRecords, records))
}

// dropRecords emits nothing.
func dropRecords(Record, func(int, int)) {}

// partitionStart is one partition to read and the offset its restriction
// starts at, resolved once when the pipeline starts.
type partitionStart struct {
	Topic     string
	Partition int
	Start     int64
}

// listPartitionsFn lists the topic's partitions and resolves each one's start
// offset: the group's committed offset, else the earliest or latest offset.
type listPartitionsFn struct {
	// Config is the read's configuration, with defaults applied.
	Config ReadConfig

	broker brokerAPI // set by tests; else a kafkaBroker per call
}

// ProcessElement emits one partitionStart per partition.
func (fn *listPartitionsFn) ProcessElement(ctx context.Context, _ []byte, emit func(partitionStart)) error {
	b := fn.broker
	if b == nil {
		kb, err := newKafkaBroker(fn.Config.Brokers, fn.Config.ClientID, fn.Config.Security)
		if err != nil {
			return err
		}
		defer kb.close()
		b = kb
	}
	starts, err := resolveStarts(ctx, b, fn.Config)
	if err != nil {
		return err
	}
	for _, ps := range starts {
		slog.Info("kafkaio: reading partition", "topic", ps.Topic, "partition", ps.Partition, "start", ps.Start, "group", fn.Config.GroupID)
		emit(ps)
	}
	return nil
}

// resolveStarts works out where each partition to read starts.
func resolveStarts(ctx context.Context, b brokerAPI, cfg ReadConfig) ([]partitionStart, error) {
	all, err := b.partitions(ctx, cfg.Topic)
	if err != nil {
		return nil, err
	}
	parts := all
	if len(cfg.Partitions) > 0 {
		parts = slices.Clone(cfg.Partitions)
		slices.Sort(parts)
		for _, p := range parts {
			if _, found := slices.BinarySearch(all, p); !found {
				return nil, fmt.Errorf("kafkaio: topic %q has no partition %d (it has %v)", cfg.Topic, p, all)
			}
		}
	}
	committed := map[int]int64{}
	if cfg.GroupID != "" {
		if committed, err = b.committed(ctx, cfg.GroupID, cfg.Topic, parts); err != nil {
			return nil, err
		}
	}
	var missing []int
	for _, p := range parts {
		if _, ok := committed[p]; !ok {
			missing = append(missing, p)
		}
	}
	fallback := map[int]int64{}
	if len(missing) > 0 {
		if fallback, err = b.offsets(ctx, cfg.Topic, missing, cfg.StartFrom == StartLatest); err != nil {
			return nil, err
		}
	}
	out := make([]partitionStart, 0, len(parts))
	for _, p := range parts {
		start, ok := committed[p]
		if !ok {
			start = fallback[p]
		}
		out = append(out, partitionStart{Topic: cfg.Topic, Partition: p, Start: start})
	}
	return out, nil
}

// readFn is the splittable DoFn that reads one partition per element. Its
// restriction is a growable offset range [start, math.MaxInt64).
type readFn struct {
	// Config is the read's configuration, with defaults applied.
	Config ReadConfig

	// Set in Setup (tests may set them before).
	broker    brokerAPI
	newSource func(partition int) partitionSource
	committer *committer
	notify    chan struct{}
	idleAfter time.Duration
	closers   []func()

	mu      sync.Mutex // guards readers (read by RestrictionSize during splits)
	readers map[int]*partitionReader

	// Bundle-owned: touched only by the goroutine running the current bundle.
	bundle     uint64
	waited     bool
	queued     map[int]int64 // last offset handed to the committer, per partition
	pendingEst *endEstimator
}

// Setup prepares the broker client; partition readers open lazily.
func (fn *readFn) Setup(ctx context.Context) error {
	if fn.broker == nil {
		kb, err := newKafkaBroker(fn.Config.Brokers, fn.Config.ClientID, fn.Config.Security)
		if err != nil {
			return err
		}
		fn.broker = kb
		fn.closers = append(fn.closers, kb.close)
	}
	if fn.newSource == nil {
		cfg := fn.Config
		dialer, err := cfg.Security.Dialer(cfg.ClientID, defaultDialTimeout)
		if err != nil {
			return fmt.Errorf("kafkaio: %w", err)
		}
		fn.newSource = func(p int) partitionSource { return newKafkaSource(cfg, dialer, p) }
	}
	if fn.Config.GroupID != "" && fn.committer == nil {
		fn.committer = newCommitter(fn.broker, fn.Config.GroupID, fn.Config.Topic)
	}
	if fn.notify == nil {
		fn.notify = make(chan struct{}, 1)
	}
	if fn.idleAfter == 0 {
		fn.idleAfter = readerIdleTimeout
	}
	if fn.queued == nil {
		fn.queued = map[int]int64{}
	}
	fn.mu.Lock()
	if fn.readers == nil {
		fn.readers = map[int]*partitionReader{}
	}
	fn.mu.Unlock()
	return nil
}

// CreateInitialRestriction returns [start, math.MaxInt64).
func (fn *readFn) CreateInitialRestriction(p partitionStart) offsetrange.Restriction {
	return offsetrange.Restriction{Start: p.Start, End: math.MaxInt64}
}

// SplitRestriction keeps a partition whole: it is read in order.
func (fn *readFn) SplitRestriction(_ partitionStart, rest offsetrange.Restriction) []offsetrange.Restriction {
	return []offsetrange.Restriction{rest}
}

// RestrictionSize estimates the records left: the backlog up to the
// high-water mark when this instance reads the partition, else 1.
func (fn *readFn) RestrictionSize(p partitionStart, rest offsetrange.Restriction) float64 {
	if rest.End != math.MaxInt64 {
		return float64(max(rest.End-rest.Start, 0))
	}
	fn.mu.Lock()
	pr := fn.readers[p.Partition]
	fn.mu.Unlock()
	if pr != nil {
		if h := pr.hwm.Load(); h > rest.Start {
			return float64(h - rest.Start)
		}
	}
	return 1
}

// CreateTracker returns a checkpoint-only growable tracker for an open-ended
// restriction (a plain tracker for a closed one, as a drain leaves).
func (fn *readFn) CreateTracker(rest offsetrange.Restriction) (*sdf.LockRTracker, error) {
	if rest.End != math.MaxInt64 {
		return sdf.NewLockRTracker(offsetrange.NewTracker(rest)), nil
	}
	est := &endEstimator{}
	gt, err := offsetrange.NewGrowableTracker(rest, est)
	if err != nil {
		return nil, fmt.Errorf("kafkaio: creating tracker: %w", err)
	}
	fn.pendingEst = est
	return sdf.NewLockRTracker(&partitionTracker{GrowableTracker: gt}), nil
}

// partitionTracker is an offsetrange.GrowableTracker that splits only to
// checkpoint: at fraction 0, after ProcessElement has returned. It refuses
// dynamic splits, so every residual a runner gets back is the remainder of a
// finished bundle, and a ProcessElement that starts at offset S proves that
// the output of every record before S is durable. That is what makes the
// commit on resume safe (see readFn.ProcessElement). A Kafka partition is
// read in order anyway: splitting it would only make two readers fetch it.
type partitionTracker struct {
	*offsetrange.GrowableTracker
	checkpointable bool // set under LockRTracker.Mu when ProcessElement returns
}

// TrySplit checkpoints (fraction 0 after ProcessElement returned) and
// refuses every other split.
func (t *partitionTracker) TrySplit(fraction float64) (primary, residual any, err error) {
	if fraction != 0 || !t.checkpointable {
		return t.GetRestriction(), nil, nil
	}
	return t.GrowableTracker.TrySplit(0)
}

// allowCheckpoint lets the SDK take the checkpoint split once ProcessElement
// has returned a resuming continuation.
func allowCheckpoint(rt *sdf.LockRTracker) {
	rt.Mu.Lock()
	defer rt.Mu.Unlock()
	if t, ok := rt.Rt.(*partitionTracker); ok {
		t.checkpointable = true
	}
}

// TruncateRestriction ends the read when a pipeline drains.
func (fn *readFn) TruncateRestriction(rt *sdf.LockRTracker, _ partitionStart) offsetrange.Restriction {
	start := rt.GetRestriction().(offsetrange.Restriction).Start
	return offsetrange.Restriction{Start: start, End: start}
}

// InitialWatermarkEstimatorState starts the watermark at the element's
// timestamp (the impulse's, i.e. the beginning of time).
func (fn *readFn) InitialWatermarkEstimatorState(et beam.EventTime, _ offsetrange.Restriction, _ partitionStart) int64 {
	return et.Milliseconds()
}

// CreateWatermarkEstimator restores an estimator from its state.
func (fn *readFn) CreateWatermarkEstimator(ms int64) *watermarkEstimator {
	return newWatermarkEstimator(ms)
}

// WatermarkEstimatorState saves an estimator's state.
func (fn *readFn) WatermarkEstimatorState(we *watermarkEstimator) int64 {
	return we.state()
}

// StartBundle resets the per-bundle state. (The Go SDK requires StartBundle
// to declare ProcessElement's emitter; it is not used.)
func (fn *readFn) StartBundle(_ context.Context, _ func(beam.EventTime, Record)) {
	fn.bundle++
	fn.waited = false
}

// ProcessElement emits the records of one partition that are buffered now,
// claiming each offset; with none buffered, the first partition of the
// bundle waits up to PollTimeout for a record of any partition. It then
// self-checkpoints.
//
// Offsets are committed when a restriction resumes: a restriction that
// starts at S is the checkpoint residual of a bundle the runner has
// committed, with its output (and, where they are fused into the same stage,
// what downstream DoFns did with it: Write's flush, for instance), so every
// record before S is done. S is handed to the background committer.
func (fn *readFn) ProcessElement(ctx context.Context, we *watermarkEstimator, rt *sdf.LockRTracker, p partitionStart, emit func(beam.EventTime, Record)) (sdf.ProcessContinuation, error) {
	rest := rt.GetRestriction().(offsetrange.Restriction)
	est := fn.pendingEst
	fn.pendingEst = nil
	if rest.Start >= rest.End {
		return sdf.StopProcessing(), nil // truncated by a drain
	}
	fn.commitResumed(p.Partition, rest.Start)

	pr, err := fn.acquire(p.Partition, rest.Start)
	if err != nil {
		return sdf.StopProcessing(), err
	}
	defer pr.release()
	if est != nil {
		est.pr.Store(pr)
	}

	emitted := 0
	defer func() {
		if emitted > 0 {
			fn.waited = true // the bundle has output: the others must not delay it
		}
	}()
	for emitted < fn.Config.MaxBundleRecords {
		m, ok, err := pr.next()
		if err != nil {
			fn.discard(pr)
			return sdf.StopProcessing(), err
		}
		if !ok {
			if emitted > 0 || fn.waited {
				break
			}
			fn.waited = true
			if err := fn.wait(ctx, pr); err != nil {
				return sdf.StopProcessing(), fmt.Errorf("kafkaio: waiting on partition %d: %w", p.Partition, err)
			}
			if pr.buffered() {
				continue
			}
			break
		}
		if !rt.TryClaim(m.Offset) {
			if err := rt.GetError(); err != nil {
				return sdf.StopProcessing(), fmt.Errorf("kafkaio: claiming offset %d of partition %d: %w", m.Offset, p.Partition, err)
			}
			// The restriction is closed before m (a drain truncated it):
			// keep m for whoever reads on from there.
			pr.unread(m)
			return sdf.StopProcessing(), nil
		}
		rec := recordFromMessage(m)
		et := rec.Timestamp
		if et.IsZero() {
			et = time.Now()
		}
		we.advance(et)
		emit(mtime.FromTime(et), rec)
		pr.resumeAt = m.Offset + 1
		emitted++
	}
	allowCheckpoint(rt)
	if emitted >= fn.Config.MaxBundleRecords {
		return sdf.ResumeProcessingIn(0), nil // more is probably buffered
	}
	if !pr.buffered() {
		pr.refreshHWM(ctx, fn.broker, fn.Config.Topic)
		if pr.caughtUp() {
			we.advance(time.Now().Add(-fn.Config.IdleWatermarkLag))
		}
	}
	return sdf.ResumeProcessingIn(fn.Config.ResumeDelay), nil
}

// Teardown closes the partition readers and commits what is pending. (The
// Go SDK harness does not call Teardown today; readers then close
// themselves when idle.)
func (fn *readFn) Teardown() error {
	fn.mu.Lock()
	readers := fn.readers
	fn.readers = nil
	fn.mu.Unlock()
	for _, pr := range readers {
		pr.close()
	}
	var err error
	if fn.committer != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		err = fn.committer.flush(ctx)
		cancel()
	}
	for _, c := range fn.closers {
		c()
	}
	return err
}

// acquire returns the partition's reader positioned at start, opening one
// if this instance has none (or its last one closed itself).
func (fn *readFn) acquire(partition int, start int64) (*partitionReader, error) {
	fn.mu.Lock()
	pr := fn.readers[partition]
	fn.mu.Unlock()
	if pr != nil && !pr.acquire(fn.bundle) {
		fn.discard(pr)
		pr = nil
	}
	if pr == nil {
		slog.Info("kafkaio: opening partition reader", "topic", fn.Config.Topic, "partition", partition, "offset", start)
		var err error
		pr, err = newPartitionReader(fn.newSource(partition), partition, start, fn.Config.QueueCapacity, fn.notify, fn.idleAfter)
		if err != nil {
			return nil, err
		}
		pr.acquire(fn.bundle)
		fn.mu.Lock()
		fn.readers[partition] = pr
		fn.mu.Unlock()
		return pr, nil
	}
	if err := pr.position(start); err != nil {
		pr.release()
		fn.discard(pr)
		return nil, err
	}
	return pr, nil
}

// discard forgets and closes a reader.
func (fn *readFn) discard(pr *partitionReader) {
	fn.mu.Lock()
	if fn.readers[pr.partition] == pr {
		delete(fn.readers, pr.partition)
	}
	fn.mu.Unlock()
	pr.close()
}

// wait blocks until pr or another partition read by this instance recently
// has something buffered, PollTimeout passes, or ctx ends.
func (fn *readFn) wait(ctx context.Context, pr *partitionReader) error {
	t := time.NewTimer(fn.Config.PollTimeout)
	defer t.Stop()
	for {
		if pr.buffered() || fn.othersBuffered(pr) {
			return nil
		}
		select {
		case <-fn.notify:
		case <-t.C:
			return nil
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// othersBuffered reports whether a partition read in this bundle or the
// previous one, other than self, has something buffered: then this bundle
// should finish quickly so that partition's data goes out.
func (fn *readFn) othersBuffered(self *partitionReader) bool {
	fn.mu.Lock()
	defer fn.mu.Unlock()
	for _, r := range fn.readers {
		if r != self && r.lastBundle+1 >= fn.bundle && r.buffered() {
			return true
		}
	}
	return false
}

// commitResumed hands a resumed restriction's start to the committer when
// it moved past what this instance last handed over for the partition.
func (fn *readFn) commitResumed(partition int, start int64) {
	if fn.committer == nil {
		return
	}
	if last, ok := fn.queued[partition]; ok && start <= last {
		return
	}
	fn.queued[partition] = start
	fn.committer.add(map[int]int64{partition: start})
}
