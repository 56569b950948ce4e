package kafkaio

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/segmentio/kafka-go"
)

// partitionSource is what a partitionReader needs from kafka-go's
// single-partition Reader; tests substitute fakes.
type partitionSource interface {
	// FetchMessage returns the next message, blocking until one is fetched or
	// ctx ends.
	FetchMessage(ctx context.Context) (kafka.Message, error)
	// SetOffset repositions the source; the next message is the first at or
	// after offset.
	SetOffset(offset int64) error
	// Lag is the high-water mark of the last message's fetch minus that
	// message's offset plus one.
	Lag() int64
	// Close stops background fetching.
	Close() error
}

// newKafkaSource opens a kafka-go partition Reader tuned for latency: a fetch
// returns as soon as one byte is available (MinBytes 1) and otherwise waits
// FetchMaxWait on the broker.
func newKafkaSource(cfg ReadConfig, dialer *kafka.Dialer, partition int) partitionSource {
	iso := kafka.ReadUncommitted
	if cfg.ReadCommitted {
		iso = kafka.ReadCommitted
	}
	return kafka.NewReader(kafka.ReaderConfig{
		Brokers:        cfg.Brokers,
		Topic:          cfg.Topic,
		Partition:      partition,
		Dialer:         dialer,
		QueueCapacity:  max(cfg.QueueCapacity/10, 10),
		MinBytes:       1,
		MaxBytes:       cfg.FetchMaxBytes, // MinBytes without MaxBytes panics
		MaxWait:        cfg.FetchMaxWait,
		ReadBackoffMin: 50 * time.Millisecond,
		ReadBackoffMax: time.Second,
		IsolationLevel: iso,
		MaxAttempts:    3,
		ErrorLogger: kafka.LoggerFunc(func(msg string, args ...any) {
			slog.Warn("kafkaio: kafka-go reader: "+fmt.Sprintf(msg, args...), "topic", cfg.Topic, "partition", partition)
		}),
	})
}

// readerIdleTimeout: a partition reader unused this long closes itself (the
// Go SDK never calls Teardown, so a DoFn instance that stopped receiving a
// partition would otherwise fetch it forever).
const readerIdleTimeout = time.Minute

// partitionReader keeps one partition's source open across bundles. A pump
// goroutine fetches into a buffered channel and signals the DoFn instance's
// notify channel, so the DoFn can wait for data on any of its partitions.
//
// Fields under "bundle-owned" are only touched by the goroutine running the
// bundle that acquired the reader.
type partitionReader struct {
	partition int
	src       partitionSource
	msgs      chan kafka.Message
	errs      chan error
	notify    chan<- struct{}
	idleAfter time.Duration

	hwm       atomic.Int64 // high-water mark as last seen; -1: unknown
	hwmAsked  time.Time    // bundle-owned: last broker query for hwm
	lastUsed  atomic.Int64 // unix nanos of the last release
	pumpStop  context.CancelFunc
	pumpDone  chan struct{}
	mu        sync.Mutex // guards inUse and closed
	inUse     bool
	closed    bool
	closeOnce sync.Once

	// bundle-owned
	resumeAt   int64          // where the next restriction is expected to start
	stash      *kafka.Message // fetched but not claimed
	lastBundle uint64         // bundle sequence number of the last use
}

func newPartitionReader(src partitionSource, partition int, start int64, capacity int, notify chan<- struct{}, idleAfter time.Duration) (*partitionReader, error) {
	if err := src.SetOffset(start); err != nil {
		src.Close()
		return nil, fmt.Errorf("kafkaio: positioning partition %d at %d: %w", partition, start, err)
	}
	pr := &partitionReader{
		partition: partition,
		src:       src,
		msgs:      make(chan kafka.Message, capacity),
		errs:      make(chan error, 1),
		notify:    notify,
		idleAfter: idleAfter,
		resumeAt:  start,
	}
	pr.hwm.Store(-1)
	pr.lastUsed.Store(time.Now().UnixNano())
	pr.startPump()
	return pr, nil
}

func (pr *partitionReader) startPump() {
	ctx, cancel := context.WithCancel(context.Background())
	pr.pumpStop = cancel
	pr.pumpDone = make(chan struct{})
	go pr.pump(ctx, pr.pumpDone)
}

// pump moves fetched messages into pr.msgs until ctx ends, the source fails
// for good, or the reader has been idle for idleAfter.
func (pr *partitionReader) pump(ctx context.Context, done chan<- struct{}) {
	defer close(done)
	check := min(pr.idleAfter, time.Second)
	var lastWarn time.Time
	for {
		fctx, cancel := context.WithTimeout(ctx, check)
		m, err := pr.src.FetchMessage(fctx)
		cancel()
		if ctx.Err() != nil {
			return
		}
		if err != nil {
			if errors.Is(err, context.DeadlineExceeded) {
				if pr.closeIfIdle() {
					return
				}
				continue
			}
			var kerr kafka.Error
			if errors.As(err, &kerr) && !kerr.Temporary() {
				// Not something kafka-go recovers from (authorization,
				// corrupt data, ...): fail the bundle.
				select {
				case pr.errs <- fmt.Errorf("kafkaio: fetching partition %d: %w", pr.partition, err):
				default:
				}
				pr.signal()
				return
			}
			// Network errors and retriable Kafka errors (a broker
			// restarting, a leader moving): kafka-go's reader keeps
			// reconnecting with backoff; keep waiting for it rather than
			// failing the bundle, which on prism fails the whole job.
			if time.Since(lastWarn) > 10*time.Second {
				lastWarn = time.Now()
				slog.Warn("kafkaio: fetch failing, retrying", "partition", pr.partition, "error", err)
			}
			continue
		}
		pr.hwm.Store(m.Offset + 1 + max(pr.src.Lag(), 0))
		select {
		case pr.msgs <- m:
		case <-ctx.Done():
			return
		}
		pr.signal()
	}
}

func (pr *partitionReader) signal() {
	select {
	case pr.notify <- struct{}{}:
	default:
	}
}

// closeIfIdle closes the reader when no bundle holds it and none has used it
// for idleAfter.
func (pr *partitionReader) closeIfIdle() bool {
	pr.mu.Lock()
	defer pr.mu.Unlock()
	if pr.inUse || pr.closed || time.Since(time.Unix(0, pr.lastUsed.Load())) < pr.idleAfter {
		return false
	}
	pr.closed = true
	pr.closeOnce.Do(func() { pr.src.Close() })
	return true
}

// acquire marks the reader as used by a bundle; it fails if the reader has
// closed itself.
func (pr *partitionReader) acquire(bundle uint64) bool {
	pr.mu.Lock()
	defer pr.mu.Unlock()
	if pr.closed {
		return false
	}
	pr.inUse = true
	pr.lastBundle = bundle
	return true
}

// release ends a bundle's use.
func (pr *partitionReader) release() {
	pr.lastUsed.Store(time.Now().UnixNano())
	pr.mu.Lock()
	pr.inUse = false
	pr.mu.Unlock()
}

// close stops the pump and the source.
func (pr *partitionReader) close() {
	pr.mu.Lock()
	pr.closed = true
	pr.mu.Unlock()
	pr.pumpStop()
	<-pr.pumpDone
	pr.closeOnce.Do(func() { pr.src.Close() })
}

// seek repositions the reader at offset, dropping everything buffered. Only
// the holder of the reader may call it.
func (pr *partitionReader) seek(offset int64) error {
	pr.pumpStop()
	<-pr.pumpDone
	for {
		select {
		case <-pr.msgs:
			continue
		case <-pr.errs:
			continue
		default:
		}
		break
	}
	pr.stash = nil
	if err := pr.src.SetOffset(offset); err != nil {
		return fmt.Errorf("kafkaio: seeking partition %d to %d: %w", pr.partition, offset, err)
	}
	pr.resumeAt = offset
	pr.startPump()
	return nil
}

// position makes the next message the first at or after start: it keeps the
// buffer when start is where the previous bundle stopped, and seeks
// otherwise (another worker read the range in between, or a split moved the
// restriction).
func (pr *partitionReader) position(start int64) error {
	if start == pr.resumeAt {
		return nil
	}
	return pr.seek(start)
}

// next returns the next buffered message at or after resumeAt without
// blocking; ok is false when nothing is buffered.
func (pr *partitionReader) next() (m kafka.Message, ok bool, err error) {
	if pr.stash != nil {
		m, pr.stash = *pr.stash, nil
		return m, true, nil
	}
	for {
		select {
		case m = <-pr.msgs:
			if m.Offset < pr.resumeAt {
				continue // before the restriction: already read
			}
			return m, true, nil
		case err = <-pr.errs:
			return kafka.Message{}, false, err
		default:
			return kafka.Message{}, false, nil
		}
	}
}

// unread puts back a message that could not be claimed.
func (pr *partitionReader) unread(m kafka.Message) { pr.stash = &m }

// buffered reports whether a message or error is waiting.
func (pr *partitionReader) buffered() bool {
	return pr.stash != nil || len(pr.msgs) > 0 || len(pr.errs) > 0
}

// caughtUp reports whether the partition has nothing left to read as far as
// the reader knows: nothing buffered and the position at the high-water mark.
func (pr *partitionReader) caughtUp() bool {
	h := pr.hwm.Load()
	return h >= 0 && pr.resumeAt >= h && !pr.buffered()
}

// refreshHWM asks the broker for the high-water mark when the reader has
// not learnt it from a fetch yet, at most every 500 ms.
func (pr *partitionReader) refreshHWM(ctx context.Context, b brokerAPI, topic string) {
	if pr.hwm.Load() >= 0 || time.Since(pr.hwmAsked) < 500*time.Millisecond {
		return
	}
	pr.hwmAsked = time.Now()
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	offs, err := b.offsets(ctx, topic, []int{pr.partition}, true)
	if err != nil {
		slog.Debug("kafkaio: reading high-water mark", "partition", pr.partition, "error", err)
		return
	}
	if h, ok := offs[pr.partition]; ok {
		// A fetch may have stored a fresher value meanwhile: keep the larger.
		for {
			cur := pr.hwm.Load()
			if h <= cur || pr.hwm.CompareAndSwap(cur, h) {
				break
			}
		}
	}
}

// endEstimator is the GrowableTracker's range-end estimator: the partition's
// high-water mark as the reader last saw it. It is created unbound in
// CreateTracker (which does not see the element) and bound to the
// partition's reader when ProcessElement starts; unbound, it estimates 0,
// which makes the tracker split right after the current position.
type endEstimator struct {
	pr atomic.Pointer[partitionReader]
}

// Estimate returns the exclusive end offset as currently known.
func (e *endEstimator) Estimate() int64 {
	if pr := e.pr.Load(); pr != nil {
		return max(pr.hwm.Load(), 0)
	}
	return 0
}
