package couchdb

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"net/http"
	"strings"
	"time"

	kivik "github.com/go-kivik/kivik/v4"

	"github.com/stratusml/stratus/model"
	"github.com/stratusml/stratus/store"
)

// The models database (store.Registry): one document per model with the
// model file as its inline attachment (written in the same request as the
// document, so a model is never half stored), and rescore summaries.
// Request bodies are never gzipped (OptionNoRequestCompression in Open),
// which PouchDB-based servers would otherwise store as corrupt attachments.

func (s *Store) models() *kivik.DB { return s.client.DB(s.ModelsDB()) }

// PutModel implements store.Registry.
func (s *Store) PutModel(ctx context.Context, file []byte) (store.ModelInfo, error) {
	info, _, err := store.NewModelInfo(file)
	if err != nil {
		return store.ModelInfo{}, err
	}
	if old, err := s.GetModel(ctx, info.ID); err == nil {
		return s.sameModel(old, info)
	} else if !errors.Is(err, store.ErrNotFound) {
		return store.ModelInfo{}, err
	}
	info.RegisteredAt = store.TruncTime(time.Now())
	body, err := store.MarshalModelDocument(&info)
	if err != nil {
		return store.ModelInfo{}, err
	}
	var fields map[string]any
	if err := json.Unmarshal(body, &fields); err != nil {
		return store.ModelInfo{}, err
	}
	fields["_attachments"] = map[string]any{store.ModelAttachment: map[string]any{
		"content_type": store.ModelContentType, "data": file, // []byte: base64 in JSON
	}}
	doc, err := json.Marshal(fields)
	if err != nil {
		return store.ModelInfo{}, err
	}
	err = s.retry(ctx, "register model "+info.ID, func(ctx context.Context) error {
		_, err := s.models().Put(ctx, info.ID, json.RawMessage(doc))
		return err
	})
	if errors.Is(err, store.ErrConflict) { // registered meanwhile
		old, gerr := s.GetModel(ctx, info.ID)
		if gerr != nil {
			return store.ModelInfo{}, gerr
		}
		return s.sameModel(old, info)
	}
	if err != nil {
		return store.ModelInfo{}, err
	}
	return info, nil
}

func (s *Store) sameModel(old, info store.ModelInfo) (store.ModelInfo, error) {
	if old.SHA256 != info.SHA256 || old.FileSHA256 != info.FileSHA256 {
		return store.ModelInfo{}, s.wrap("register model "+info.ID, fmt.Errorf("%w: stored with other weights", store.ErrConflict))
	}
	return old, nil
}

// modelRaw reads a models-database document as raw fields.
func (s *Store) modelRaw(ctx context.Context, id, what string) (map[string]json.RawMessage, error) {
	var raw map[string]json.RawMessage
	err := s.retry(ctx, "get "+what+" "+id, func(ctx context.Context) error {
		raw = nil
		return s.models().Get(ctx, id).ScanDoc(&raw)
	})
	return raw, err
}

// GetModel implements store.Registry.
func (s *Store) GetModel(ctx context.Context, id string) (store.ModelInfo, error) {
	if err := store.ValidateModelID(id); err != nil {
		return store.ModelInfo{}, err
	}
	raw, err := s.modelRaw(ctx, id, "model")
	if err != nil {
		return store.ModelInfo{}, err
	}
	b, _ := json.Marshal(raw)
	return store.UnmarshalModelDocument(b)
}

// ModelFile implements store.Registry.
func (s *Store) ModelFile(ctx context.Context, id string) ([]byte, error) {
	if err := store.ValidateModelID(id); err != nil {
		return nil, err
	}
	var data []byte
	err := s.retry(ctx, "get model file "+id, func(ctx context.Context) error {
		att, err := s.models().GetAttachment(ctx, id, store.ModelAttachment)
		if err != nil {
			return err
		}
		defer att.Content.Close()
		data, err = io.ReadAll(io.LimitReader(att.Content, model.MaxFileSize+1))
		return err
	})
	if err != nil {
		return nil, err
	}
	return data, nil
}

// allDocs reads the documents of the models database with ids in
// [start, end) (empty: open), design documents left out.
func (s *Store) allModelsDocs(ctx context.Context, start, end string) ([][]byte, error) {
	params := map[string]any{"include_docs": true}
	if start != "" {
		params["startkey"] = start
	}
	if end != "" {
		params["endkey"], params["inclusive_end"] = end, false
	}
	var docs [][]byte
	err := s.retry(ctx, "list "+s.ModelsDB(), func(ctx context.Context) error {
		docs = docs[:0]
		rs := s.models().AllDocs(ctx, kivik.Params(params))
		defer rs.Close()
		for rs.Next() {
			id, err := rs.ID()
			if err != nil {
				return err
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
	return docs, err
}

// ListModels implements store.Registry.
func (s *Store) ListModels(ctx context.Context) ([]store.ModelInfo, error) {
	docs, err := s.allModelsDocs(ctx, "", "")
	if err != nil {
		return nil, err
	}
	var out []store.ModelInfo
	for _, d := range docs {
		var t struct {
			Type string `json:"type"`
		}
		if json.Unmarshal(d, &t) != nil || t.Type != store.TypeModel {
			continue // rescore summaries, foreign documents
		}
		m, err := store.UnmarshalModelDocument(d)
		if err != nil {
			return nil, s.wrap("list models", err)
		}
		out = append(out, m)
	}
	store.SortModels(out)
	return out, nil
}

// setActive writes one model's active flag (and activated_at when it
// becomes active), keeping its attachment; it re-reads on conflicts.
func (s *Store) setActive(ctx context.Context, id string, active bool, at time.Time) error {
	for round := 1; ; round++ {
		raw, err := s.modelRaw(ctx, id, "model")
		if err != nil {
			return err
		}
		b, _ := json.Marshal(raw)
		info, err := store.UnmarshalModelDocument(b)
		if err != nil {
			return s.wrap("activate "+id, err)
		}
		if info.Active == active && (!active || info.ActivatedAt.Equal(at)) {
			return nil
		}
		info.Active = active
		if active {
			info.ActivatedAt = at
		}
		body, err := store.MarshalModelDocument(&info)
		if err != nil {
			return err
		}
		var fields map[string]json.RawMessage
		if err := json.Unmarshal(body, &fields); err != nil {
			return err
		}
		out := maps.Clone(raw) // _rev, _attachments (stubs) and foreign fields stay
		for _, k := range store.ModelDocumentFields {
			delete(out, k)
		}
		maps.Copy(out, fields)
		doc, _ := json.Marshal(out)
		err = s.retry(ctx, "activate "+id, func(ctx context.Context) error {
			_, err := s.models().Put(ctx, id, json.RawMessage(doc))
			return err
		})
		if err == nil {
			return nil
		}
		if !errors.Is(err, store.ErrConflict) || round >= s.cfg.ConflictRounds {
			return err
		}
		if err := sleep(ctx, conflictWait(round)); err != nil {
			return s.wrap("activate "+id, err)
		}
	}
}

// ActivateModel implements store.Registry: the new model is set active
// first, then the others are cleared, so that a failure in between leaves
// the new one in effect (store.ActiveOf).
func (s *Store) ActivateModel(ctx context.Context, id string, at time.Time) error {
	if err := store.ValidateModelID(id); err != nil {
		return err
	}
	if at.IsZero() {
		at = time.Now()
	}
	at = store.TruncTime(at)
	if err := s.setActive(ctx, id, true, at); err != nil {
		return err
	}
	all, err := s.ListModels(ctx)
	if err != nil {
		return err
	}
	for _, m := range all {
		if m.ID != id && m.Active {
			if err := s.setActive(ctx, m.ID, false, at); err != nil {
				return err
			}
		}
	}
	return nil
}

// ActiveModel implements store.Registry.
func (s *Store) ActiveModel(ctx context.Context) (store.ModelInfo, error) {
	all, err := s.ListModels(ctx)
	if err != nil {
		return store.ModelInfo{}, err
	}
	m, ok := store.ActiveOf(all)
	if !ok {
		return store.ModelInfo{}, s.wrap("active model", &statusError{status: http.StatusNotFound, msg: "no active model"})
	}
	return m, nil
}

// PutRescore implements store.Registry.
func (s *Store) PutRescore(ctx context.Context, sum store.RescoreSummary) error {
	body, err := store.MarshalRescoreDocument(&sum)
	if err != nil {
		return err
	}
	for round := 1; ; round++ {
		var fields map[string]json.RawMessage
		if err := json.Unmarshal(body, &fields); err != nil {
			return err
		}
		raw, err := s.modelRaw(ctx, sum.ID, "rescore summary")
		switch {
		case err == nil:
			fields["_rev"] = raw["_rev"]
		case !errors.Is(err, store.ErrNotFound):
			return err
		}
		doc, _ := json.Marshal(fields)
		err = s.retry(ctx, "store rescore summary "+sum.ID, func(ctx context.Context) error {
			_, err := s.models().Put(ctx, sum.ID, json.RawMessage(doc))
			return err
		})
		if err == nil || !errors.Is(err, store.ErrConflict) || round >= s.cfg.ConflictRounds {
			return err
		}
	}
}

// GetRescore implements store.Registry.
func (s *Store) GetRescore(ctx context.Context, id string) (store.RescoreSummary, error) {
	if !strings.HasPrefix(id, store.RescorePrefix) {
		return store.RescoreSummary{}, s.wrap("get rescore summary "+id, &statusError{status: http.StatusNotFound, msg: "not a rescore summary id"})
	}
	raw, err := s.modelRaw(ctx, id, "rescore summary")
	if err != nil {
		return store.RescoreSummary{}, err
	}
	b, _ := json.Marshal(raw)
	return store.UnmarshalRescoreDocument(b)
}

// ListRescores implements store.Registry.
func (s *Store) ListRescores(ctx context.Context, modelID string) ([]store.RescoreSummary, error) {
	prefix := store.RescorePrefix
	if modelID != "" {
		prefix = store.RescoreID(modelID, "")
	}
	// Ids are ASCII: every id with the prefix sorts below prefix+"\x7f".
	docs, err := s.allModelsDocs(ctx, prefix, prefix+"\x7f")
	if err != nil {
		return nil, err
	}
	out := make([]store.RescoreSummary, 0, len(docs))
	for _, d := range docs {
		r, err := store.UnmarshalRescoreDocument(d)
		if err != nil {
			return nil, s.wrap("list rescore summaries", err)
		}
		out = append(out, r)
	}
	store.SortRescores(out)
	return out, nil
}
