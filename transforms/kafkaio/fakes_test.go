package kafkaio

import (
	"context"
	"errors"
	"maps"
	"slices"
	"sync"
	"time"

	"github.com/segmentio/kafka-go"
)

// fakeLog is an in-memory partition shared by fakeSources.
type fakeLog struct {
	mu      sync.Mutex
	msgs    []kafka.Message
	changed chan struct{} // closed and replaced on every append
}

func newFakeLog() *fakeLog { return &fakeLog{changed: make(chan struct{})} }

// append adds records with consecutive offsets (or after a gap of skip).
func (l *fakeLog) append(skip int64, values ...string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	next := l.hwmLocked() + skip
	for _, v := range values {
		l.msgs = append(l.msgs, kafka.Message{
			Offset: next,
			Key:    []byte("k-" + v),
			Value:  []byte(v),
			Time:   time.UnixMilli(1_700_000_000_000 + next),
		})
		next++
	}
	close(l.changed)
	l.changed = make(chan struct{})
}

func (l *fakeLog) hwmLocked() int64 {
	if len(l.msgs) == 0 {
		return 0
	}
	return l.msgs[len(l.msgs)-1].Offset + 1
}

func (l *fakeLog) hwm() int64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.hwmLocked()
}

// fakeSource reads a fakeLog like kafka-go's partition Reader.
type fakeSource struct {
	log       *fakeLog
	partition int
	topic     string

	mu       sync.Mutex
	pos      int64
	lag      int64
	closed   bool
	seeks    []int64
	fetchErr error
}

func (s *fakeSource) FetchMessage(ctx context.Context) (kafka.Message, error) {
	for {
		s.mu.Lock()
		if s.closed {
			s.mu.Unlock()
			return kafka.Message{}, errors.New("closed")
		}
		if err := s.fetchErr; err != nil {
			s.fetchErr = nil
			s.mu.Unlock()
			return kafka.Message{}, err
		}
		pos := s.pos
		s.mu.Unlock()

		s.log.mu.Lock()
		changed := s.log.changed
		var found *kafka.Message
		for i := range s.log.msgs {
			if s.log.msgs[i].Offset >= pos {
				m := s.log.msgs[i]
				found = &m
				break
			}
		}
		hwm := s.log.hwmLocked()
		s.log.mu.Unlock()

		if found != nil {
			s.mu.Lock()
			if s.pos != pos { // repositioned meanwhile
				s.mu.Unlock()
				continue
			}
			s.pos = found.Offset + 1
			s.lag = hwm - s.pos
			s.mu.Unlock()
			found.Partition = s.partition
			found.Topic = s.topic
			return *found, nil
		}
		select {
		case <-changed:
		case <-ctx.Done():
			return kafka.Message{}, ctx.Err()
		}
	}
}

func (s *fakeSource) SetOffset(offset int64) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.pos = offset
	s.seeks = append(s.seeks, offset)
	return nil
}

func (s *fakeSource) Lag() int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.lag
}

func (s *fakeSource) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.closed = true
	return nil
}

func (s *fakeSource) seekHistory() []int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.seeks)
}

// fakeBroker implements brokerAPI over fakeLogs.
type fakeBroker struct {
	logs map[int]*fakeLog

	mu         sync.Mutex
	groups     map[string]map[int]int64
	commits    []map[int]int64
	commitErrs int // fail this many commits first
}

func newFakeBroker(partitions int) *fakeBroker {
	b := &fakeBroker{logs: map[int]*fakeLog{}, groups: map[string]map[int]int64{}}
	for p := range partitions {
		b.logs[p] = newFakeLog()
	}
	return b
}

func (b *fakeBroker) partitions(_ context.Context, _ string) ([]int, error) {
	return slices.Sorted(maps.Keys(b.logs)), nil
}

func (b *fakeBroker) committed(_ context.Context, group, _ string, parts []int) (map[int]int64, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	out := map[int]int64{}
	for _, p := range parts {
		if off, ok := b.groups[group][p]; ok {
			out[p] = off
		}
	}
	return out, nil
}

func (b *fakeBroker) offsets(_ context.Context, _ string, parts []int, last bool) (map[int]int64, error) {
	out := map[int]int64{}
	for _, p := range parts {
		l := b.logs[p]
		if last {
			out[p] = l.hwm()
		} else {
			l.mu.Lock()
			if len(l.msgs) > 0 {
				out[p] = l.msgs[0].Offset
			}
			l.mu.Unlock()
		}
	}
	return out, nil
}

func (b *fakeBroker) commit(_ context.Context, group, _ string, next map[int]int64) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.commitErrs > 0 {
		b.commitErrs--
		return kafka.RequestTimedOut
	}
	if b.groups[group] == nil {
		b.groups[group] = map[int]int64{}
	}
	maps.Copy(b.groups[group], next)
	b.commits = append(b.commits, maps.Clone(next))
	return nil
}

func (b *fakeBroker) groupOffsets(group string) map[int]int64 {
	b.mu.Lock()
	defer b.mu.Unlock()
	return maps.Clone(b.groups[group])
}
