// Package localstore is the store.Store that lives in this process: in
// memory (mem://), or in memory over a journal on local disk (file://, the
// embedded store of `stratus up`). It is the reference implementation of
// the store contract, for tests and examples too. It keeps
// each sample as its stored document (store.MarshalDocument), so it has the
// same rounding of times as the real backends, with two indexes: ids in
// order (scans) and samples by created_at (ListSamples, index.go).
//
// It registers the URL scheme "mem": every Open of mem://NAME in one
// process shares the same data (with the same Options.Prefix), which lets
// a Beam pipeline's workers running in-process (prism, LOOPBACK) see what
// a test wrote. Data lives until the process ends or Drop.
//
// It also registers "file": file:///abs/dir or file:rel/dir (OpenDir) is
// the same store kept on local disk, in a journal that is replayed when the
// folder is opened again (journal.go): the embedded store of `stratus up`.
// Opens of one folder in a process share the data; a second process is
// refused while the first has it open.
package localstore

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/url"
	"path/filepath"
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
			return nil, fmt.Errorf("%w: localstore URL", store.ErrInvalid)
		}
		return Open(u.Host+u.Path, opt.Prefix), nil
	})
	store.Register("file", func(_ context.Context, rawURL string, opt store.Options) (store.Store, error) {
		dir, err := DirOfURL(rawURL)
		if err != nil {
			return nil, err
		}
		return OpenDir(dir, opt.Prefix)
	})
}

// DirOfURL returns the folder a file: URL names (file:///abs/dir, or
// file:rel/dir relative to the working directory).
func DirOfURL(rawURL string) (string, error) {
	u, err := url.Parse(rawURL)
	if err != nil || u.Scheme != "file" {
		return "", fmt.Errorf("%w: want a file:///path URL, got %q", store.ErrInvalid, rawURL)
	}
	dir := u.Path
	if u.Opaque != "" {
		dir = u.Opaque
	}
	if u.Host != "" && u.Host != "localhost" {
		return "", fmt.Errorf("%w: file URL %q names host %q (use file:///path)", store.ErrInvalid, rawURL, u.Host)
	}
	if dir == "" {
		return "", fmt.Errorf("%w: file URL %q has no path", store.ErrInvalid, rawURL)
	}
	return dir, nil
}

var (
	mu   sync.Mutex
	dbs  = map[string]*space{}
	nowf = time.Now
)

// db is one database: documents by id. Every write of a document goes
// through put. A stored document is never modified (a write replaces the
// slice), so a reader may decode one after releasing mu.
type db struct {
	name   string // store.SamplesDB or store.ModelsDB
	mu     sync.RWMutex
	docs   map[string][]byte
	ids    []string // sorted
	order  *byTime  // the samples database only: ids by created_at
	bytes  int64    // of the documents
	schema bool
	j      *journal // nil: in memory only
}

func newDB(name string) *db {
	d := &db{name: name, docs: map[string][]byte{}}
	if name == store.SamplesDB {
		d.order = newByTime()
	}
	return d
}

// put stores doc as the document id (new or replacing) of a database
// without a time index (the models), in the journal first when the store
// is on disk; the caller holds d.mu for writing.
func (d *db) put(id string, doc []byte) error {
	if d.order != nil {
		return fmt.Errorf("localstore: %s: a document without its created_at", d.name)
	}
	return d.write(id, doc)
}

// putSample is put for a samples document: createdAt, the document's own
// created_at, keys it in the time index. The caller has it at hand, which
// spares reading it back from the document on every write.
func (d *db) putSample(id string, doc []byte, createdAt time.Time) error {
	if err := d.write(id, doc); err != nil {
		return err
	}
	d.order.set(id, createdAt.UnixMilli())
	return nil
}

// write stores doc in the journal and the map and keeps the id index.
func (d *db) write(id string, doc []byte) error {
	if d.j != nil {
		if err := d.j.append(record{DB: d.name, ID: id, Doc: doc}); err != nil {
			return err
		}
	}
	if old, exists := d.docs[id]; !exists {
		i, _ := slices.BinarySearch(d.ids, id)
		d.ids = slices.Insert(d.ids, i, id)
	} else {
		d.bytes -= int64(len(old))
	}
	d.docs[id] = doc
	d.bytes += int64(len(doc))
	return nil
}

// load stores doc as the document id without the journal or the indexes:
// a replay loads every record, then reindex builds the indexes once.
func (d *db) load(id string, doc []byte) {
	if old, exists := d.docs[id]; exists {
		d.bytes -= int64(len(old))
	}
	d.docs[id] = doc
	d.bytes += int64(len(doc))
}

// reindex rebuilds the indexes from the documents, each in one sort.
func (d *db) reindex() error {
	d.ids = make([]string, 0, len(d.docs))
	for id := range d.docs {
		d.ids = append(d.ids, id)
	}
	slices.Sort(d.ids)
	if d.order == nil {
		return nil
	}
	at := make(map[string]int64, len(d.docs))
	for id, doc := range d.docs {
		ms, err := createdMs(doc)
		if err != nil {
			return fmt.Errorf("sample %q: %w", id, err)
		}
		at[id] = ms
	}
	d.order.rebuild(at)
	return nil
}

// space is what one name (and prefix) opens: the samples and the models
// databases.
type space struct {
	samples, models *db
	key             string
	j               *journal // on disk only
	refs            int      // open Stores, on disk only
}

func newSpace(key string) *space {
	return &space{samples: newDB(store.SamplesDB), models: newDB(store.ModelsDB), key: key}
}

func (sp *space) all() []*db { return []*db{sp.samples, sp.models} }

func (sp *space) byName(name string) *db {
	for _, d := range sp.all() {
		if d.name == name {
			return d
		}
	}
	return nil
}

// Store is an open localstore.
type Store struct {
	d  *db // samples
	m  *db // models (models.go)
	sp *space

	closeOnce sync.Once
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
		sp = newSpace(key)
		dbs[key] = sp
	}
	return &Store{d: sp.samples, m: sp.models, sp: sp}
}

// OpenDir opens the store kept in folder dir (with prefix), creating it
// when new and replaying its journal otherwise. Close every Store it
// returns: the last Close of a folder syncs and closes its journal.
func OpenDir(dir, prefix string) (*Store, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, fmt.Errorf("localstore: data folder %s: %w", dir, err)
	}
	mu.Lock()
	defer mu.Unlock()
	key := "file\x00" + prefix + "\x00" + abs
	sp, ok := dbs[key]
	if !ok {
		sp = newSpace(key)
		j, err := openJournal(abs, strings.ReplaceAll(prefix, "/", "_"), sp)
		if err != nil {
			return nil, err
		}
		sp.j = j
		sp.samples.j, sp.models.j = j, j
		dbs[key] = sp
	}
	sp.refs++
	return &Store{d: sp.samples, m: sp.models, sp: sp}, nil
}

// Drop forgets the store named name (with prefix).
func Drop(name, prefix string) {
	mu.Lock()
	defer mu.Unlock()
	delete(dbs, prefix+"\x00"+name)
}

// EnsureSchema implements store.Store.
func (s *Store) EnsureSchema(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	for _, d := range []*db{s.d, s.m} {
		d.mu.Lock()
		var err error
		if !d.schema && d.j != nil {
			err = d.j.append(record{DB: d.name, Schema: true})
		}
		if err == nil {
			d.schema = true
		}
		d.mu.Unlock()
		if err != nil {
			return err
		}
	}
	return nil
}

func (s *Store) check() error {
	if !s.d.schema {
		return fmt.Errorf("localstore: %w: database does not exist (call EnsureSchema)", store.ErrNotFound)
	}
	return nil
}

// UpsertSamples implements store.Store.
func (s *Store) UpsertSamples(ctx context.Context, samples []store.Sample) error {
	if err := s.upsert(ctx, samples); err != nil {
		return err
	}
	return s.maybeCompact()
}

func (s *Store) upsert(ctx context.Context, samples []store.Sample) error {
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
		if err := s.d.putSample(in.ID, doc, m.CreatedAt); err != nil {
			failed = append(failed, store.ItemError{ID: in.ID, Err: err})
		}
	}
	if failed != nil {
		return &store.UpsertError{Items: failed}
	}
	return nil
}

// maybeCompact rewrites an on-disk store's journal when it has grown well
// past the live documents. The caller holds no database lock.
func (s *Store) maybeCompact() error {
	j := s.sp.j
	if j == nil {
		return nil
	}
	j.mu.Lock()
	size, slack := j.size, j.slack
	j.mu.Unlock()
	if size < slack {
		return nil
	}
	for _, d := range s.sp.all() {
		d.mu.Lock()
		defer d.mu.Unlock()
	}
	return j.compact(s.sp)
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
		return store.Sample{}, fmt.Errorf("localstore: sample %q: %w", id, store.ErrNotFound)
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
		return fmt.Errorf("localstore: sample %q: %w", id, store.ErrNotFound)
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
	return s.d.putSample(id, doc, smp.CreatedAt)
}

// ListSamples implements store.Store: the page is read through the
// byTime index, and only its documents are decoded (without their drawing
// unless q asks for it).
func (s *Store) ListSamples(ctx context.Context, q store.ListQuery) ([]store.Sample, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if q.Limit <= 0 {
		return nil, nil
	}
	docs, err := s.pageDocs(q)
	if err != nil {
		return nil, err
	}
	out := make([]store.Sample, len(docs))
	for i, doc := range docs {
		if out[i], err = q.Decode(doc); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// pageDocs returns the stored documents of the page q asks for, newest
// first. It holds the read lock only to walk the index; the documents are
// decoded after it is released.
func (s *Store) pageDocs(q store.ListQuery) ([][]byte, error) {
	s.d.mu.RLock()
	defer s.d.mu.RUnlock()
	if err := s.check(); err != nil {
		return nil, err
	}
	ids, ok := s.d.order.page(q.Limit, q.Before)
	if !ok {
		return nil, fmt.Errorf("localstore: list before %q: %w", q.Before, store.ErrNotFound)
	}
	docs := make([][]byte, len(ids))
	for i, id := range ids {
		docs[i] = s.d.docs[id]
	}
	return docs, nil
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
		return "", "", fmt.Errorf("localstore: no sample in [%q, %q): %w", start, end, store.ErrNotFound)
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
//
// A Store of OpenDir releases its folder: the last one open syncs and
// closes the journal, and the next OpenDir replays it.
func (s *Store) Close() error {
	var err error
	s.closeOnce.Do(func() {
		if s.sp.j == nil {
			return
		}
		mu.Lock()
		defer mu.Unlock()
		s.sp.refs--
		if s.sp.refs > 0 {
			return
		}
		delete(dbs, s.sp.key)
		err = s.sp.j.close()
	})
	return err
}
