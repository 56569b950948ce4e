package kafkaio

import (
	"sync/atomic"
	"time"
)

// watermarkEstimator is the read DoFn's per-partition watermark estimator.
// Its state is a watermark in Unix milliseconds that only moves forward: to
// the timestamp of each record read, and, while the partition is caught up,
// to now minus the configured idle lag, so event-time windows close when a
// partition is quiet.
type watermarkEstimator struct {
	// ms is read by the SDK's split/checkpoint path while ProcessElement
	// writes it, hence atomic.
	ms atomic.Int64
}

func newWatermarkEstimator(ms int64) *watermarkEstimator {
	we := &watermarkEstimator{}
	we.ms.Store(ms)
	return we
}

// CurrentWatermark reports the estimated output watermark.
func (we *watermarkEstimator) CurrentWatermark() time.Time {
	return time.UnixMilli(we.ms.Load())
}

// state returns the estimator's state for checkpoints.
func (we *watermarkEstimator) state() int64 { return we.ms.Load() }

// advance moves the watermark to t if that is later.
func (we *watermarkEstimator) advance(t time.Time) {
	ms := t.UnixMilli()
	for {
		cur := we.ms.Load()
		if ms <= cur || we.ms.CompareAndSwap(cur, ms) {
			return
		}
	}
}
