package kafkaio

import (
	"context"
	"log/slog"
	"maps"
	"sync"
	"time"
)

// committer commits offsets to the consumer group in the background, so
// ProcessElement never waits for the group coordinator.
//
// Offsets only move forward: an offset at or below what this committer has
// already committed for a partition is dropped. A failed commit is retried
// with backoff; newer offsets for the same partition replace older pending
// ones. The goroutine exits when there has been nothing to do for a while
// and restarts on the next add.
type committer struct {
	broker brokerAPI
	group  string
	topic  string

	mu        sync.Mutex
	pending   map[int]int64
	committed map[int]int64
	running   bool
	kick      chan struct{}
}

func newCommitter(b brokerAPI, group, topic string) *committer {
	return &committer{
		broker:    b,
		group:     group,
		topic:     topic,
		pending:   map[int]int64{},
		committed: map[int]int64{},
		kick:      make(chan struct{}, 1),
	}
}

// add queues next-offsets (partition → offset of the next record to read)
// for commit.
func (c *committer) add(next map[int]int64) {
	c.mu.Lock()
	for p, off := range next {
		if off > c.committed[p] && off > c.pending[p] {
			c.pending[p] = off
		}
	}
	if !c.running && len(c.pending) > 0 {
		c.running = true
		go c.loop()
	}
	c.mu.Unlock()
	select {
	case c.kick <- struct{}{}:
	default:
	}
}

// loop commits whatever is pending until it has been idle for a while.
func (c *committer) loop() {
	backoff := 100 * time.Millisecond
	idle := time.NewTimer(30 * time.Second)
	defer idle.Stop()
	for {
		var batch map[int]int64
		c.mu.Lock()
		if len(c.pending) > 0 {
			batch = c.pending
			c.pending = map[int]int64{}
		}
		c.mu.Unlock()

		if len(batch) == 0 {
			select {
			case <-c.kick:
				continue
			case <-idle.C:
				c.mu.Lock()
				if len(c.pending) == 0 {
					c.running = false
					c.mu.Unlock()
					return
				}
				c.mu.Unlock()
				idle.Reset(30 * time.Second)
				continue
			}
		}

		ctx, cancel := context.WithTimeout(context.Background(), defaultRequestTimeout)
		err := c.broker.commit(ctx, c.group, c.topic, batch)
		cancel()

		c.settle(batch, err)

		if err != nil {
			slog.Warn("kafkaio: committing offsets failed; retrying", "group", c.group, "topic", c.topic, "offsets", batch, "error", err)
			time.Sleep(backoff)
			backoff = min(2*backoff, 5*time.Second)
			continue
		}
		backoff = 100 * time.Millisecond
		if !idle.Stop() {
			select {
			case <-idle.C:
			default:
			}
		}
		idle.Reset(30 * time.Second)
	}
}

// flush commits everything pending now, in the caller's goroutine, and
// returns the first error.
func (c *committer) flush(ctx context.Context) error {
	c.mu.Lock()
	batch := maps.Clone(c.pending)
	clear(c.pending)
	c.mu.Unlock()
	if len(batch) == 0 {
		return nil
	}
	err := c.broker.commit(ctx, c.group, c.topic, batch)
	c.settle(batch, err)
	return err
}

// settle records the outcome of committing batch: on success the offsets
// count as committed; on failure the batch is put back as pending, unless
// newer offsets arrived meanwhile.
func (c *committer) settle(batch map[int]int64, err error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for p, off := range batch {
		if err == nil {
			c.committed[p] = max(c.committed[p], off)
		} else if off > c.pending[p] && off > c.committed[p] {
			c.pending[p] = off
		}
	}
}

// lastCommitted returns a copy of the offsets committed so far.
func (c *committer) lastCommitted() map[int]int64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return maps.Clone(c.committed)
}
