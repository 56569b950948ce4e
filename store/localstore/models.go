package localstore

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/stratusml/stratus/store"
)

// The models database (store.Registry). Each model is kept as its CouchDB
// document with the model file inline as a base64 attachment, written with
// (*db).put like every other document, so that a journal of put calls holds
// the models too.

// attachment is an inline CouchDB attachment.
type attachment struct {
	ContentType string `json:"content_type"`
	Data        []byte `json:"data"` // base64 in JSON
	Digest      string `json:"digest,omitempty"`
}

func (s *Store) checkModels() error {
	if !s.m.schema {
		return fmt.Errorf("localstore: %w: models database does not exist (call EnsureSchema)", store.ErrNotFound)
	}
	return nil
}

// modelDoc builds a model document: info's fields, and the given
// attachments.
func modelDoc(info *store.ModelInfo, atts json.RawMessage) ([]byte, error) {
	body, err := store.MarshalModelDocument(info)
	if err != nil {
		return nil, err
	}
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(body, &fields); err != nil {
		return nil, err
	}
	if atts != nil {
		fields["_attachments"] = atts
	}
	return json.Marshal(fields)
}

// PutModel implements store.Registry.
func (s *Store) PutModel(ctx context.Context, file []byte) (store.ModelInfo, error) {
	info, _, err := store.NewModelInfo(file)
	if err != nil {
		return store.ModelInfo{}, err
	}
	if err := ctx.Err(); err != nil {
		return store.ModelInfo{}, err
	}
	s.m.mu.Lock()
	defer s.m.mu.Unlock()
	if err := s.checkModels(); err != nil {
		return store.ModelInfo{}, err
	}
	if raw, ok := s.m.docs[info.ID]; ok {
		old, err := store.UnmarshalModelDocument(raw)
		if err != nil {
			return store.ModelInfo{}, err
		}
		if old.SHA256 != info.SHA256 || old.FileSHA256 != info.FileSHA256 {
			return store.ModelInfo{}, fmt.Errorf("localstore: model %s: %w: stored with other weights", info.ID, store.ErrConflict)
		}
		return old, nil
	}
	info.RegisteredAt = store.TruncTime(nowf())
	atts, err := json.Marshal(map[string]attachment{store.ModelAttachment: {
		ContentType: store.ModelContentType, Data: file, Digest: "sha256-" + info.FileSHA256,
	}})
	if err != nil {
		return store.ModelInfo{}, err
	}
	doc, err := modelDoc(&info, atts)
	if err != nil {
		return store.ModelInfo{}, err
	}
	if err := s.m.put(info.ID, doc); err != nil {
		return store.ModelInfo{}, err
	}
	return info, nil
}

// GetModel implements store.Registry.
func (s *Store) GetModel(ctx context.Context, id string) (store.ModelInfo, error) {
	raw, err := s.modelRaw(ctx, id)
	if err != nil {
		return store.ModelInfo{}, err
	}
	return store.UnmarshalModelDocument(raw)
}

func (s *Store) modelRaw(ctx context.Context, id string) ([]byte, error) {
	if err := store.ValidateModelID(id); err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	s.m.mu.RLock()
	defer s.m.mu.RUnlock()
	if err := s.checkModels(); err != nil {
		return nil, err
	}
	raw, ok := s.m.docs[id]
	if !ok {
		return nil, fmt.Errorf("localstore: model %q: %w", id, store.ErrNotFound)
	}
	return raw, nil
}

// ModelFile implements store.Registry.
func (s *Store) ModelFile(ctx context.Context, id string) ([]byte, error) {
	raw, err := s.modelRaw(ctx, id)
	if err != nil {
		return nil, err
	}
	var d struct {
		Attachments map[string]attachment `json:"_attachments"`
	}
	if err := json.Unmarshal(raw, &d); err != nil {
		return nil, fmt.Errorf("localstore: model %s: %w", id, err)
	}
	a, ok := d.Attachments[store.ModelAttachment]
	if !ok {
		return nil, fmt.Errorf("localstore: model %s has no %s attachment: %w", id, store.ModelAttachment, store.ErrNotFound)
	}
	return a.Data, nil
}

// ListModels implements store.Registry.
func (s *Store) ListModels(ctx context.Context) ([]store.ModelInfo, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	s.m.mu.RLock()
	defer s.m.mu.RUnlock()
	if err := s.checkModels(); err != nil {
		return nil, err
	}
	var out []store.ModelInfo
	for _, id := range s.m.ids {
		if strings.HasPrefix(id, store.RescorePrefix) {
			continue
		}
		m, err := store.UnmarshalModelDocument(s.m.docs[id])
		if err != nil {
			return nil, err
		}
		out = append(out, m)
	}
	store.SortModels(out)
	return out, nil
}

// ActivateModel implements store.Registry: the new one first, then the
// others cleared (one lock here, but the same order as the CouchDB
// backend).
func (s *Store) ActivateModel(ctx context.Context, id string, at time.Time) error {
	if err := store.ValidateModelID(id); err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	if at.IsZero() {
		at = nowf()
	}
	s.m.mu.Lock()
	defer s.m.mu.Unlock()
	if err := s.checkModels(); err != nil {
		return err
	}
	if _, ok := s.m.docs[id]; !ok {
		return fmt.Errorf("localstore: activate model %q: %w", id, store.ErrNotFound)
	}
	set := func(mid string, active bool) error {
		raw := s.m.docs[mid]
		info, err := store.UnmarshalModelDocument(raw)
		if err != nil {
			return err
		}
		if info.Active == active && (!active || info.ActivatedAt.Equal(store.TruncTime(at))) {
			return nil
		}
		info.Active = active
		if active {
			info.ActivatedAt = store.TruncTime(at)
		}
		var d map[string]json.RawMessage
		if err := json.Unmarshal(raw, &d); err != nil {
			return err
		}
		doc, err := modelDoc(&info, d["_attachments"])
		if err != nil {
			return err
		}
		return s.m.put(mid, doc)
	}
	if err := set(id, true); err != nil {
		return err
	}
	for _, mid := range s.m.ids {
		if mid == id || strings.HasPrefix(mid, store.RescorePrefix) {
			continue
		}
		if err := set(mid, false); err != nil {
			return err
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
		return store.ModelInfo{}, fmt.Errorf("localstore: no active model: %w", store.ErrNotFound)
	}
	return m, nil
}

// PutRescore implements store.Registry.
func (s *Store) PutRescore(ctx context.Context, sum store.RescoreSummary) error {
	doc, err := store.MarshalRescoreDocument(&sum)
	if err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	s.m.mu.Lock()
	defer s.m.mu.Unlock()
	if err := s.checkModels(); err != nil {
		return err
	}
	return s.m.put(sum.ID, doc)
}

// GetRescore implements store.Registry.
func (s *Store) GetRescore(ctx context.Context, id string) (store.RescoreSummary, error) {
	if err := ctx.Err(); err != nil {
		return store.RescoreSummary{}, err
	}
	s.m.mu.RLock()
	defer s.m.mu.RUnlock()
	if err := s.checkModels(); err != nil {
		return store.RescoreSummary{}, err
	}
	raw, ok := s.m.docs[id]
	if !ok || !strings.HasPrefix(id, store.RescorePrefix) {
		return store.RescoreSummary{}, fmt.Errorf("localstore: rescore summary %q: %w", id, store.ErrNotFound)
	}
	return store.UnmarshalRescoreDocument(raw)
}

// ListRescores implements store.Registry.
func (s *Store) ListRescores(ctx context.Context, modelID string) ([]store.RescoreSummary, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	s.m.mu.RLock()
	defer s.m.mu.RUnlock()
	if err := s.checkModels(); err != nil {
		return nil, err
	}
	prefix := store.RescorePrefix
	if modelID != "" {
		prefix = store.RescoreID(modelID, "")
	}
	var out []store.RescoreSummary
	for _, id := range s.m.ids {
		if !strings.HasPrefix(id, prefix) {
			continue
		}
		r, err := store.UnmarshalRescoreDocument(s.m.docs[id])
		if err != nil {
			return nil, err
		}
		out = append(out, r)
	}
	store.SortRescores(out)
	return out, nil
}
