package couchdb

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"time"

	"github.com/stratusml/stratus/store"
)

// ListSamples implements store.Store: a page is at most four Mango _find
// requests, each for at most a page and a row, through two indexes, so a
// page costs the same whatever the size of the database, on CouchDB and on
// PouchDB-based servers alike:
//
//  1. the cursor's created_at (by _id);
//  2. the cursor's ties after it: created_at = at and _id <= cursor on
//     (created_at, _id), one row more, the cursor's own row dropped here;
//  3. the older samples: created_at <= at less a millisecond (or any, for
//     the first page) on (created_at), one row more;
//  4. when the page ends in a group of ties (two or more of its samples,
//     or the row after it, share the last created_at), that group's part
//     of the page again, from (created_at, _id).
//
// Why two indexes: a range on created_at goes through the one-field index,
// because PouchDB pushes a limit into a two-field index only when the
// first field is an equality (otherwise it walks the whole range in
// memory). A group of ties goes through the two-field index, the only way
// to start inside a group at an id; as CouchDB orders that index's _id in
// its Unicode collation and the other index's ties in byte order (they
// differ only between ids whose first difference is in letter case), the
// group a page ends in is always read from the two-field index (step 4),
// so that the next page's step 2 continues it in the same order.
//
// Only inclusive bounds where rows would be excluded: PouchDB applies the
// limit before it drops the rows an exclusive bound excludes ($lt on
// created_at, in descending order, or on _id), and would return short or
// empty pages. So older than at is asked as created_at <= at less one
// millisecond: exact for times in store.TimeLayout, the layout of every
// document this package writes.
//
// Unless q asks for the drawing, the documents come without strokes and
// image_png (Mango's fields), the bulk of their bytes.
func (s *Store) ListSamples(ctx context.Context, q store.ListQuery) ([]store.Sample, error) {
	if q.Limit <= 0 {
		return nil, nil
	}
	var out []store.Sample
	older := map[string]any{"created_at": map[string]any{"$gt": nil}}
	if q.Before != "" {
		at, err := s.createdAt(ctx, q.Before)
		if err != nil {
			return nil, err
		}
		ties, err := s.find(ctx, q, byCreatedAtID, map[string]any{"created_at": at, "_id": map[string]any{"$lte": q.Before}}, q.Limit+1)
		if err != nil {
			return nil, err
		}
		out = slices.DeleteFunc(ties, func(t store.Sample) bool { return t.ID == q.Before })
		if len(out) >= q.Limit {
			return out[:q.Limit], nil
		}
		t, err := time.Parse(time.RFC3339Nano, at)
		if err != nil {
			return nil, s.wrap("list before "+q.Before, fmt.Errorf("%w: created_at %q: %w", store.ErrInvalid, at, err))
		}
		older = map[string]any{"created_at": map[string]any{"$lte": store.FormatTime(t.Add(-time.Millisecond))}}
	}
	rest, err := s.findGroups(ctx, q, older, q.Limit-len(out))
	if err != nil {
		return nil, err
	}
	return append(out, rest...), nil
}

// findGroups returns up to n samples matching selector, newest first, from
// the created_at index (steps 3 and 4 of ListSamples): the group of ties
// the result ends in is read from the (created_at, _id) index.
func (s *Store) findGroups(ctx context.Context, q store.ListQuery, selector map[string]any, n int) ([]store.Sample, error) {
	rows, err := s.find(ctx, q, byCreatedAt, selector, n+1)
	if err != nil || len(rows) == 0 {
		return rows, err
	}
	page := rows[:min(n, len(rows))]
	last := page[len(page)-1].CreatedAt
	k := 0 // the page's rows in the last group
	for k < len(page) && page[len(page)-1-k].CreatedAt.Equal(last) {
		k++
	}
	if k == 1 && (len(rows) == len(page) || !rows[n].CreatedAt.Equal(last)) {
		return page, nil // the last group is one sample, all on this page
	}
	head, err := s.find(ctx, q, byCreatedAtID, map[string]any{
		"created_at": store.FormatTime(last), "_id": map[string]any{"$gt": nil},
	}, k)
	if err != nil {
		return nil, err
	}
	if len(head) != k {
		// Only a created_at written in another layout than store.TimeLayout
		// misses; keep the group as the created_at index gave it.
		return page, nil
	}
	return append(page[:len(page)-k], head...), nil
}

// createdAt returns the stored created_at of sample id as documents write
// it, reading only that field; ErrNotFound when there is no such sample
// (or it has no created_at, which keeps it out of every page).
func (s *Store) createdAt(ctx context.Context, id string) (string, error) {
	if err := store.ValidateID(id); err != nil {
		return "", err
	}
	query := map[string]any{"selector": map[string]any{"_id": id}, "fields": []string{"_id", "created_at"}, "limit": 1}
	var doc struct {
		CreatedAt string `json:"created_at"`
	}
	err := s.retry(ctx, "list before "+id, func(ctx context.Context) error {
		doc.CreatedAt = ""
		rs := s.samples.Find(ctx, query)
		defer rs.Close()
		for rs.Next() {
			if err := rs.ScanDoc(&doc); err != nil {
				return err
			}
		}
		return rs.Err()
	})
	if err != nil {
		return "", err
	}
	if doc.CreatedAt == "" {
		return "", s.wrap("list before "+id, &statusError{status: http.StatusNotFound, msg: "no such sample"})
	}
	return doc.CreatedAt, nil
}

// listFields are the fields a page without drawings asks for.
var listFields = slices.DeleteFunc(slices.Clone(store.DocumentFields), func(f string) bool {
	return f == "strokes" || f == "image_png"
})

// find runs a _find on idx, sorted by its fields descending, and decodes
// the documents as q asks.
func (s *Store) find(ctx context.Context, q store.ListQuery, idx mangoIndex, selector map[string]any, limit int) ([]store.Sample, error) {
	sort := make([]any, len(idx.fields))
	for i, f := range idx.fields {
		sort[i] = map[string]string{f: "desc"}
	}
	query := map[string]any{
		"selector":  selector,
		"sort":      sort,
		"limit":     limit,
		"use_index": []string{"_design/" + ddocPrefix + idx.name, idx.name},
	}
	if !q.Drawing {
		query["fields"] = listFields
	}
	var docs []json.RawMessage
	err := s.retry(ctx, "find in "+s.SamplesDB(), func(ctx context.Context) error {
		docs = docs[:0]
		rs := s.samples.Find(ctx, query)
		defer rs.Close()
		for rs.Next() {
			var doc json.RawMessage
			if err := rs.ScanDoc(&doc); err != nil {
				return err
			}
			docs = append(docs, doc)
		}
		return rs.Err()
	})
	if err != nil {
		return nil, err
	}
	out := make([]store.Sample, 0, len(docs))
	for _, doc := range docs {
		smp, err := q.Decode(doc)
		if err != nil {
			return nil, s.wrap("find", err)
		}
		out = append(out, smp)
	}
	return out, nil
}
