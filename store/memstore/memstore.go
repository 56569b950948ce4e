// Package memstore is an in-memory store.Store: the reference
// implementation of the store contract, for tests and examples. It keeps
// each sample as its stored document (store.MarshalDocument), so it has the
// same rounding of times as the real backends.
//
// It registers the URL scheme "mem": every Open of mem://NAME in one
// process shares the same data (with the same Options.Prefix), which lets
// a Beam pipeline's workers running in-process (prism, LOOPBACK) see what
// a test wrote. Data lives until the process ends or Drop.
package memstore

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/stratusml/stratus/store"
)

func init() {
	store.Register("mem", func(_ context.Context, rawURL string, opt store.Options) (store.Store, error) {
		u, err := url.Parse(rawURL)
		if err != nil {
			return nil, fmt.Errorf("%w: memstore URL", store.ErrInvalid)
		}
		return Open(u.Host+u.Path, opt.Prefix), nil
	})
}

var (
	mu   sync.Mutex
	dbs  = map[string]*space{}
	nowf = time.Now
)

// db is one database: documents by id. Every write of a document goes
// through put.
type db struct {
	mu     sync.RWMutex
	docs   map[string][]byte
	ids    []string // sorted
	schema bool
}

// put stores doc as the document id (new or replacing); the caller holds
// d.mu for writing.
func (d *db) put(id string, doc []byte) {
	if _, exists := d.docs[id]; !exists {
		i, _ := slices.BinarySearch(d.ids, id)
		d.ids = slices.Insert(d.ids, i, id)
	}
	d.docs[id] = doc
}

// space is what one name (and prefix) opens: the samples and the models
// databases.
type space struct {
	samples, models *db
}

// Store is an open memstore.
type Store struct {
	d *db // samples
	m *db // models (models.go)
}

var _ store.Store = (*Store)(nil)

// Open returns the store named name (with prefix), creating it empty when
// new.
func Open(name, prefix string) *Store {
	mu.Lock()
	defer mu.Unlock()
	key := prefix + "\x00" + name
	sp, ok := dbs[key]
	if !ok {
		sp = &space{samples: &db{docs: map[string][]byte{}}, models: &db{docs: map[string][]byte{}}}
		dbs[key] = sp
	}
	return &Store{d: sp.samples, m: sp.models}
}

// Drop forgets the store named name (with prefix).
func Drop(name, prefix string) {
	mu.Lock()
	defer mu.Unlock()
	delete(dbs, prefix+"\x00"+name)
}

// EnsureSchema implements store.Store.
func (s *Store) EnsureSchema(ctx context.Context) error {
	for _, d := range []*db{s.d, s.m} {
		d.mu.Lock()
		d.schema = true
		d.mu.Unlock()
	}
	return ctx.Err()
}

func (s *Store) check() error {
	if !s.d.schema {
		return fmt.Errorf("memstore: %w: database does not exist (call EnsureSchema)", store.ErrNotFound)
	}
	return nil
}

// UpsertSamples implements store.Store.
func (s *Store) UpsertSamples(ctx context.Context, samples []store.Sample) error {
	if err := ctx.Err(); err != nil {
		return failAll(samples, err)
	}
	s.d.mu.Lock()
	defer s.d.mu.Unlock()
	if err := s.check(); err != nil {
		return failAll(samples, err)
	}
	var failed []store.ItemError
	now := nowf()
	for i := range samples {
		in := samples[i]
		if err := store.Validate(&in); err != nil {
			failed = append(failed, store.ItemError{ID: in.ID, Err: err})
			continue
		}
		var old store.Sample
		raw, exists := s.d.docs[in.ID]
		if exists {
			var err error
			if old, err = store.UnmarshalDocument(raw); err != nil {
				failed = append(failed, store.ItemError{ID: in.ID, Err: err})
				continue
			}
		}
		m := store.Merge(old, in)
		store.Normalize(&m, now)
		doc, err := store.MarshalDocument(&m)
		if err != nil {
			failed = append(failed, store.ItemError{ID: in.ID, Err: err})
			continue
		}
		if exists && bytes.Equal(doc, raw) {
			continue
		}
		s.d.put(in.ID, doc)
	}
	if failed != nil {
		return &store.UpsertError{Items: failed}
	}
	return nil
}

func failAll(samples []store.Sample, err error) error {
	if len(samples) == 0 {
		return nil
	}
	items := make([]store.ItemError, len(samples))
	for i := range samples {
		items[i] = store.ItemError{ID: samples[i].ID, Err: err}
	}
	return &store.UpsertError{Items: items}
}

// GetSample implements store.Store.
func (s *Store) GetSample(ctx context.Context, id string) (store.Sample, error) {
	if err := store.ValidateID(id); err != nil {
		return store.Sample{}, err
	}
	if err := ctx.Err(); err != nil {
		return store.Sample{}, err
	}
	s.d.mu.RLock()
	defer s.d.mu.RUnlock()
	if err := s.check(); err != nil {
		return store.Sample{}, err
	}
	raw, ok := s.d.docs[id]
	if !ok {
		return store.Sample{}, fmt.Errorf("memstore: sample %q: %w", id, store.ErrNotFound)
	}
	return store.UnmarshalDocument(raw)
}

// SetLabel implements store.Store.
func (s *Store) SetLabel(ctx context.Context, id, label string, at time.Time) error {
	if err := store.ValidateID(id); err != nil {
		return err
	}
	if err := store.ValidateLabel(label); err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	s.d.mu.Lock()
	defer s.d.mu.Unlock()
	if err := s.check(); err != nil {
		return err
	}
	raw, ok := s.d.docs[id]
	if !ok {
		return fmt.Errorf("memstore: sample %q: %w", id, store.ErrNotFound)
	}
	smp, err := store.UnmarshalDocument(raw)
	if err != nil {
		return err
	}
	smp.Label, smp.LabelledAt = label, at
	store.Normalize(&smp, nowf())
	doc, err := store.MarshalDocument(&smp)
	if err != nil {
		return err
	}
	s.d.put(id, doc)
	return nil
}

// ListSamples implements store.Store.
func (s *Store) ListSamples(ctx context.Context, limit int, before string) ([]store.Sample, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if limit <= 0 {
		return nil, nil
	}
	s.d.mu.RLock()
	defer s.d.mu.RUnlock()
	if err := s.check(); err != nil {
		return nil, err
	}
	all := make([]store.Sample, 0, len(s.d.ids))
	for _, id := range s.d.ids {
		smp, err := store.UnmarshalDocument(s.d.docs[id])
		if err != nil {
			return nil, err
		}
		all = append(all, smp)
	}
	slices.SortFunc(all, func(a, b store.Sample) int {
		if c := b.CreatedAt.Compare(a.CreatedAt); c != 0 {
			return c
		}
		return strings.Compare(b.ID, a.ID)
	})
	start := 0
	if before != "" {
		i := slices.IndexFunc(all, func(x store.Sample) bool { return x.ID == before })
		if i < 0 {
			return nil, fmt.Errorf("memstore: list before %q: %w", before, store.ErrNotFound)
		}
		start = i + 1
	}
	all = all[start:]
	if len(all) > limit {
		all = all[:limit]
	}
	return all, nil
}

// ScanSamples implements store.Store.
func (s *Store) ScanSamples(ctx context.Context, start, end string, fn func(store.Sample) error) error {
	const page = 100
	next := start
	first := true
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		batch, err := s.page(next, end, !first, page)
		if err != nil {
			return err
		}
		for _, smp := range batch {
			if err := fn(smp); err != nil {
				if errors.Is(err, store.ErrStopScan) {
					return nil
				}
				return err
			}
		}
		if len(batch) < page {
			return nil
		}
		next, first = batch[len(batch)-1].ID, false
	}
}

// page reads up to n samples from start (after it when exclusive) below end.
func (s *Store) page(start, end string, exclusive bool, n int) ([]store.Sample, error) {
	s.d.mu.RLock()
	defer s.d.mu.RUnlock()
	if err := s.check(); err != nil {
		return nil, err
	}
	i, found := slices.BinarySearch(s.d.ids, start)
	if found && exclusive {
		i++
	}
	var out []store.Sample
	for ; i < len(s.d.ids) && len(out) < n; i++ {
		id := s.d.ids[i]
		if end != "" && id >= end {
			break
		}
		smp, err := store.UnmarshalDocument(s.d.docs[id])
		if err != nil {
			return nil, err
		}
		out = append(out, smp)
	}
	return out, nil
}

// IDRange implements store.Store.
func (s *Store) IDRange(ctx context.Context, start, end string) (string, string, error) {
	if err := ctx.Err(); err != nil {
		return "", "", err
	}
	s.d.mu.RLock()
	defer s.d.mu.RUnlock()
	if err := s.check(); err != nil {
		return "", "", err
	}
	i, _ := slices.BinarySearch(s.d.ids, start)
	j := len(s.d.ids)
	if end != "" {
		j, _ = slices.BinarySearch(s.d.ids, end)
	}
	if i >= j {
		return "", "", fmt.Errorf("memstore: no sample in [%q, %q): %w", start, end, store.ErrNotFound)
	}
	return s.d.ids[i], s.d.ids[j-1], nil
}

// Count implements store.Store.
func (s *Store) Count(ctx context.Context) (int, error) {
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	s.d.mu.RLock()
	defer s.d.mu.RUnlock()
	if err := s.check(); err != nil {
		return 0, err
	}
	return len(s.d.ids), nil
}

// Close implements store.Store; the data stays (see Drop).
func (s *Store) Close() error { return nil }
