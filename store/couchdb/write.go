package couchdb

// This file: writes: labels and idempotent bulk upserts of samples, with conflict rounds.

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"math/rand/v2"
	"net/http"
	"sync"
	"time"

	kivik "github.com/go-kivik/kivik/v4"

	"github.com/stratusml/stratus/store"
)

// SetLabel implements store.Store: read, set, write with the read rev;
// a conflict re-reads.
func (s *Store) SetLabel(ctx context.Context, id, label string, at time.Time) error {
	if err := store.ValidateLabel(label); err != nil {
		return err
	}
	for round := 1; ; round++ {
		st, err := s.get(ctx, id)
		if err != nil {
			return err
		}
		smp := st.sample
		smp.Label, smp.LabelledAt = label, at
		store.Normalize(&smp, time.Now())
		body, err := encode(st, &smp)
		if err != nil {
			return s.wrap("label "+id, err)
		}
		err = s.retry(ctx, "label "+id, func(ctx context.Context) error {
			_, err := s.samples.Put(ctx, id, json.RawMessage(body))
			return err
		})
		if err == nil {
			return nil
		}
		if !errors.Is(err, store.ErrConflict) || round >= s.cfg.ConflictRounds {
			return err
		}
		if err := sleep(ctx, conflictWait(round)); err != nil {
			return s.wrap("label "+id, err)
		}
	}
}

// conflictWait spreads competing writers apart before a new round.
func conflictWait(round int) time.Duration {
	d := time.Duration(min(1<<min(round, 8), 200)) * time.Millisecond
	return time.Duration(rand.Int64N(int64(d) + 1))
}

// encode writes smp over the stored document st (nil: a new one): the
// document's own fields from smp, any other field of st as it was, and
// st's _rev.
func encode(st *stored, smp *store.Sample) ([]byte, error) {
	body, err := store.MarshalDocument(smp)
	if err != nil || st == nil {
		return body, err
	}
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(body, &fields); err != nil {
		return nil, err
	}
	out := maps.Clone(st.raw)
	for _, k := range store.DocumentFields {
		delete(out, k)
	}
	maps.Copy(out, fields)
	rev, _ := json.Marshal(st.rev)
	out["_rev"] = rev
	return json.Marshal(out)
}

// UpsertSamples implements store.Store: samples are checked (store.Validate),
// those with the same id merged in order, and written in batches of
// Config.BatchSize, Config.Concurrency batches at a time.
func (s *Store) UpsertSamples(ctx context.Context, samples []store.Sample) error {
	var failed []store.ItemError
	var unique []store.Sample
	index := map[string]int{}
	for i := range samples {
		smp := samples[i]
		if err := store.Validate(&smp); err != nil {
			failed = append(failed, store.ItemError{ID: smp.ID, Err: err})
			continue
		}
		if j, dup := index[smp.ID]; dup {
			unique[j] = store.Merge(unique[j], smp)
			continue
		}
		index[smp.ID] = len(unique)
		unique = append(unique, smp)
	}
	var (
		mu   sync.Mutex
		wg   sync.WaitGroup
		sem  = make(chan struct{}, s.cfg.Concurrency)
		errs = failed
	)
	for lo := 0; lo < len(unique); lo += s.cfg.BatchSize {
		batch := unique[lo:min(lo+s.cfg.BatchSize, len(unique))]
		sem <- struct{}{}
		wg.Add(1)
		go func() {
			defer func() { <-sem; wg.Done() }()
			if f := s.upsertBatch(ctx, batch); len(f) > 0 {
				mu.Lock()
				errs = append(errs, f...)
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	if len(errs) > 0 {
		return &store.UpsertError{Items: errs}
	}
	return nil
}

// upsertBatch writes one batch of samples with unique ids and returns those
// it could not write.
//
// Each round reads the stored documents of the pending samples, merges,
// and writes the changed ones with their revs; the ones that lost a race
// (409) go to the next round. When most recent writes were of new
// documents, the first round skips the read and writes the samples as new
// documents: a write that meets an existing document conflicts, and the
// next round reads and merges it. That saves a request per batch in the
// common case (the streaming pipeline writes new samples); when most
// writes meet existing documents (re-scoring, replays), the Store switches
// back to reading first.
//
// It is long because each round shares the failures so far, the pending
// samples, byID and whether it was optimistic with the next; split, that
// state would be threaded through and back out of every helper.
func (s *Store) upsertBatch(ctx context.Context, batch []store.Sample) []store.ItemError {
	var failed []store.ItemError
	failAll := func(pending []store.Sample, err error) []store.ItemError {
		for _, p := range pending {
			failed = append(failed, store.ItemError{ID: p.ID, Err: err})
		}
		return failed
	}
	pending := batch
	for round := 1; ; round++ {
		optimistic := round == 1 && !s.readFirst.Load()
		existing := map[string]*stored{}
		var unreadable map[string]error
		if !optimistic {
			ids := make([]string, len(pending))
			for i := range pending {
				ids[i] = pending[i].ID
			}
			var err error
			if existing, unreadable, err = s.fetch(ctx, ids); err != nil {
				return failAll(pending, err)
			}
			if round == 1 {
				s.readFirst.Store(2*(len(existing)+len(unreadable)) >= len(pending))
			}
		}
		now := time.Now()
		docs := make([]any, 0, len(pending))
		byID := make(map[string]store.Sample, len(pending))
		for _, p := range pending {
			if err := unreadable[p.ID]; err != nil {
				failed = append(failed, store.ItemError{ID: p.ID, Err: err})
				continue
			}
			st := existing[p.ID]
			var old store.Sample
			if st != nil {
				old = st.sample
			}
			m := store.Merge(old, p)
			store.Normalize(&m, now)
			if st != nil && sameDocument(&old, &m) {
				continue // a replay: nothing new, no new revision
			}
			body, err := encode(st, &m)
			if err != nil {
				failed = append(failed, store.ItemError{ID: p.ID, Err: s.wrap("encode "+p.ID, err)})
				continue
			}
			docs = append(docs, json.RawMessage(body))
			byID[p.ID] = p
		}
		if len(docs) == 0 {
			return failed
		}
		var results []kivik.BulkResult
		err := s.retry(ctx, "bulk write to "+s.SamplesDB(), func(ctx context.Context) error {
			var err error
			results, err = s.samples.BulkDocs(ctx, docs)
			return err
		})
		if err != nil {
			// Some may have been written before the error: the caller's
			// retry merges them as replays.
			rest := make([]store.Sample, 0, len(byID))
			for _, p := range byID {
				rest = append(rest, p)
			}
			return failAll(rest, err)
		}
		var conflicts []store.Sample
		for _, r := range results {
			p, ok := byID[r.ID]
			if !ok {
				continue
			}
			delete(byID, r.ID)
			switch {
			case r.Error == nil:
			case kivik.HTTPStatus(r.Error) == http.StatusConflict:
				conflicts = append(conflicts, p)
			default:
				failed = append(failed, store.ItemError{ID: r.ID, Err: s.wrap("write "+r.ID, r.Error)})
			}
		}
		for id := range byID { // no result for it: should not happen
			failed = append(failed, store.ItemError{ID: id, Err: s.wrap("write "+id, errors.New("no result from _bulk_docs"))})
		}
		if optimistic && 2*len(conflicts) > len(docs) {
			s.readFirst.Store(true)
		}
		if len(conflicts) == 0 {
			return failed
		}
		if round >= s.cfg.ConflictRounds {
			return failAll(conflicts, s.wrap("write", fmt.Errorf("%w: still conflicting after %d rounds", store.ErrConflict, round)))
		}
		if !optimistic { // lost a race with another writer: step aside a little
			if err := sleep(ctx, conflictWait(round)); err != nil {
				return failAll(conflicts, s.wrap("write", err))
			}
		}
		pending = conflicts
	}
}

// sameDocument reports whether writing m over old would change nothing.
func sameDocument(old, m *store.Sample) bool {
	a, err1 := store.MarshalDocument(old)
	b, err2 := store.MarshalDocument(m)
	return err1 == nil && err2 == nil && bytes.Equal(a, b)
}
