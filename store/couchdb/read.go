package couchdb

// This file: reads: samples by id, id-range scans in pages, the id range and the count.

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"

	kivik "github.com/go-kivik/kivik/v4"

	"github.com/stratusml/stratus/store"
)

// stored is a document as read: its rev, its raw fields and its sample.
type stored struct {
	rev    string
	raw    map[string]json.RawMessage
	sample store.Sample
}

func decodeStored(doc json.RawMessage) (*stored, error) {
	st := &stored{}
	if err := json.Unmarshal(doc, &st.raw); err != nil {
		return nil, err
	}
	if err := json.Unmarshal(st.raw["_rev"], &st.rev); err != nil {
		return nil, fmt.Errorf("document without _rev: %w", err)
	}
	smp, err := store.UnmarshalDocument(doc)
	if err != nil {
		return nil, err
	}
	st.sample = smp
	return st, nil
}

// fetch reads the documents of ids that exist (deleted ones do not), and
// says which stored documents it could not read as samples.
func (s *Store) fetch(ctx context.Context, ids []string) (map[string]*stored, map[string]error, error) {
	var docs map[string]json.RawMessage
	err := s.retry(ctx, "read "+s.SamplesDB(), func(ctx context.Context) error {
		docs = make(map[string]json.RawMessage, len(ids))
		rs := s.samples.AllDocs(ctx, kivik.Params(map[string]any{"keys": ids, "include_docs": true}))
		defer rs.Close()
		for rs.Next() {
			var v struct {
				Rev     string `json:"rev"`
				Deleted bool   `json:"deleted"`
			}
			if err := rs.ScanValue(&v); err != nil {
				return err
			}
			if v.Rev == "" || v.Deleted { // not_found rows have no value
				continue
			}
			id, err := rs.ID()
			if err != nil {
				return err
			}
			var doc json.RawMessage
			if err := rs.ScanDoc(&doc); err != nil {
				return err
			}
			if len(doc) > 0 && string(doc) != "null" {
				docs[id] = doc
			}
		}
		return rs.Err()
	})
	if err != nil {
		return nil, nil, err
	}
	out := make(map[string]*stored, len(docs))
	var bad map[string]error
	for id, doc := range docs {
		st, err := decodeStored(doc)
		if err != nil {
			if bad == nil {
				bad = map[string]error{}
			}
			bad[id] = s.wrap("read stored "+id, fmt.Errorf("%w: %w", store.ErrInvalid, err))
			continue
		}
		out[id] = st
	}
	return out, bad, nil
}

// GetSample implements store.Store.
func (s *Store) GetSample(ctx context.Context, id string) (store.Sample, error) {
	st, err := s.get(ctx, id)
	if err != nil {
		return store.Sample{}, err
	}
	return st.sample, nil
}

func (s *Store) get(ctx context.Context, id string) (*stored, error) {
	if err := store.ValidateID(id); err != nil {
		return nil, err
	}
	var doc json.RawMessage
	err := s.retry(ctx, "get sample "+id, func(ctx context.Context) error {
		return s.samples.Get(ctx, id).ScanDoc(&doc)
	})
	if err != nil {
		return nil, err
	}
	st, err := decodeStored(doc)
	if err != nil {
		return nil, s.wrap("get sample "+id, permanent{err})
	}
	return st, nil
}

// ScanSamples implements store.Store with _all_docs pages of
// Config.PageSize documents. Each page asks for one row more than it
// returns and the next page starts at that row's id, so a document deleted
// between pages cannot make the scan skip its successor (as skip=1 would).
func (s *Store) ScanSamples(ctx context.Context, start, end string, fn func(store.Sample) error) error {
	next := start
	for {
		docs, more, err := s.page(ctx, next, end)
		if err != nil {
			return err
		}
		for _, doc := range docs {
			smp, err := store.UnmarshalDocument(doc)
			if err != nil {
				return s.wrap("scan", err)
			}
			if err := fn(smp); err != nil {
				if errors.Is(err, store.ErrStopScan) {
					return nil
				}
				return err
			}
		}
		if more == "" {
			return nil
		}
		next = more
	}
}

// page reads up to PageSize documents with ids in [start, end) (design
// documents left out) and the id where the next page starts ("" at the
// end).
func (s *Store) page(ctx context.Context, start, end string) (docs []json.RawMessage, more string, err error) {
	params := map[string]any{"include_docs": true, "limit": s.cfg.PageSize + 1}
	if start != "" {
		params["startkey"] = start
	}
	if end != "" {
		params["endkey"] = end
		params["inclusive_end"] = false
	}
	err = s.retry(ctx, "scan "+s.SamplesDB(), func(ctx context.Context) error {
		docs, more = docs[:0], ""
		rs := s.samples.AllDocs(ctx, kivik.Params(params))
		defer rs.Close()
		n := 0
		for rs.Next() {
			id, err := rs.ID()
			if err != nil {
				return err
			}
			if n++; n > s.cfg.PageSize {
				more = id
				break
			}
			if strings.HasPrefix(id, "_") {
				continue
			}
			var doc json.RawMessage
			if err := rs.ScanDoc(&doc); err != nil {
				return err
			}
			docs = append(docs, doc)
		}
		return rs.Err()
	})
	return docs, more, err
}

// IDRange implements store.Store with two one-row _all_docs reads.
func (s *Store) IDRange(ctx context.Context, start, end string) (string, string, error) {
	first, err := s.edgeID(ctx, start, end, false)
	if err != nil {
		return "", "", err
	}
	last, err := s.edgeID(ctx, start, end, true)
	if err != nil {
		return "", "", err
	}
	return first, last, nil
}

// edgeID returns the first (or last) sample id in [start, end).
func (s *Store) edgeID(ctx context.Context, start, end string, last bool) (string, error) {
	const n = 8
	params := map[string]any{"limit": n}
	if last {
		params["descending"] = true
		if end != "" {
			params["startkey"] = end // inclusive: end itself is skipped below
		}
		if start != "" {
			params["endkey"] = start
		}
	} else {
		if start != "" {
			params["startkey"] = start
		}
		if end != "" {
			params["endkey"], params["inclusive_end"] = end, false
		}
	}
	after := "" // the row a next page starts with, already seen
	for {
		var ids []string
		err := s.retry(ctx, "id range of "+s.SamplesDB(), func(ctx context.Context) error {
			ids = ids[:0]
			rs := s.samples.AllDocs(ctx, kivik.Params(params))
			defer rs.Close()
			for rs.Next() {
				id, err := rs.ID()
				if err != nil {
					return err
				}
				ids = append(ids, id)
			}
			return rs.Err()
		})
		if err != nil {
			return "", err
		}
		for _, id := range ids {
			if (after != "" && id == after) || strings.HasPrefix(id, "_") || (last && end != "" && id >= end) {
				continue
			}
			return id, nil
		}
		if len(ids) < n {
			return "", s.wrap(fmt.Sprintf("id range [%q, %q)", start, end), &statusError{status: http.StatusNotFound, msg: "no sample in range"})
		}
		after = ids[len(ids)-1]
		params["startkey"] = after
	}
}

// Count implements store.Store: the database's doc_count less its design
// documents.
func (s *Store) Count(ctx context.Context) (int, error) {
	var total int64
	err := s.retry(ctx, "count "+s.SamplesDB(), func(ctx context.Context) error {
		st, err := s.samples.Stats(ctx)
		if err != nil {
			return err
		}
		total = st.DocCount
		return nil
	})
	if err != nil {
		return 0, err
	}
	var design int64
	err = s.retry(ctx, "count design documents", func(ctx context.Context) error {
		design = 0
		rs := s.samples.AllDocs(ctx, kivik.Params(map[string]any{
			"startkey": "_design/", "endkey": "_design0", "inclusive_end": false,
		}))
		defer rs.Close()
		for rs.Next() {
			design++
		}
		return rs.Err()
	})
	if err != nil {
		return 0, err
	}
	return int(total - design), nil
}
