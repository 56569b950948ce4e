package frontend

import (
	"bytes"
	"encoding/json"
	"errors"
	"net/http"
	"strconv"
	"time"

	"github.com/stratusml/stratus/store"
)

// labelRequest is the body of POST /api/v1/samples/{id}/label.
type labelRequest struct {
	Label string `json:"label"`
}

// labelResponse answers a stored label.
type labelResponse struct {
	ID         string    `json:"id"`
	Label      string    `json:"label"`
	LabelledAt time.Time `json:"labelled_at"`
}

// handleLabel: POST /api/v1/samples/{id}/label. The reply to a drawing can
// overtake the store write of its sample, so a label for an id the store
// does not have yet is retried for up to LabelWait before it is a 404.
func (s *Server) handleLabel(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	if err := store.ValidateID(id); err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	body, perr := readBody(w, r, maxLabelBody)
	if perr != nil {
		writeJSON(w, perr.status, perr.body)
		return
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	var req labelRequest
	if err := dec.Decode(&req); err != nil || dec.More() {
		writeError(w, http.StatusBadRequest, `the body must be {"label":"<digits>"}`)
		return
	}
	if err := store.ValidateLabel(req.Label); err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	at := time.Now().UTC()
	deadline := time.Now().Add(s.cfg.LabelWait)
	for {
		err := s.cfg.Store.SetLabel(r.Context(), id, req.Label, at)
		switch {
		case err == nil:
			s.metrics.labels.Inc()
			writeJSON(w, http.StatusOK, labelResponse{ID: id, Label: req.Label, LabelledAt: store.TruncTime(at)})
			return
		case errors.Is(err, store.ErrNotFound) && time.Now().Before(deadline):
			select {
			case <-time.After(100 * time.Millisecond):
				continue
			case <-r.Context().Done():
				return
			}
		case errors.Is(err, store.ErrNotFound):
			writeError(w, http.StatusNotFound, "no sample "+id)
		case errors.Is(err, store.ErrInvalid):
			writeError(w, http.StatusBadRequest, err.Error())
		default:
			s.log.Error("frontend: store label", "id", id, "err", err)
			writeError(w, http.StatusServiceUnavailable, "the store is unavailable; try again")
		}
		return
	}
}

// sampleView is a sample as the history shows it: everything but the
// drawing itself (strokes or PNG), which can be large; input28 (784 bytes a
// digit) is enough for a thumbnail.
type sampleView struct {
	ID          string                          `json:"id"`
	Session     string                          `json:"session,omitempty"`
	Mode        string                          `json:"mode,omitempty"`
	Width       int                             `json:"width,omitempty"`
	Height      int                             `json:"height,omitempty"`
	Input28     [][]byte                        `json:"input28,omitempty"`
	CreatedAt   time.Time                       `json:"created_at"`
	Predictions map[string]store.PredictionBody `json:"predictions,omitempty"`
	Label       string                          `json:"label,omitempty"`
	LabelledAt  time.Time                       `json:"labelled_at,omitzero"`
}

// samplesResponse is a page of history; Next is the before= of the next page.
type samplesResponse struct {
	Samples []sampleView `json:"samples"`
	Next    string       `json:"next,omitempty"`
}

// handleSamples: GET /api/v1/samples?limit=&before=.
func (s *Server) handleSamples(w http.ResponseWriter, r *http.Request) {
	limit := 20
	if v := r.URL.Query().Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > maxHistory {
			writeError(w, http.StatusBadRequest, "limit must be 1 to "+strconv.Itoa(maxHistory))
			return
		}
		limit = n
	}
	before := r.URL.Query().Get("before")
	if before != "" {
		if err := store.ValidateID(before); err != nil {
			writeError(w, http.StatusBadRequest, "before: "+err.Error())
			return
		}
	}
	list, err := s.cfg.Store.ListSamples(r.Context(), limit, before)
	switch {
	case errors.Is(err, store.ErrNotFound):
		writeError(w, http.StatusNotFound, "no sample "+before)
		return
	case err != nil:
		s.log.Error("frontend: store history", "err", err)
		writeError(w, http.StatusServiceUnavailable, "the store is unavailable; try again")
		return
	}
	out := samplesResponse{Samples: make([]sampleView, len(list))}
	for i, x := range list {
		out.Samples[i] = sampleView{
			ID: x.ID, Session: x.Session, Mode: string(x.Mode), Width: x.Width, Height: x.Height,
			Input28: x.Input28, CreatedAt: x.CreatedAt, Predictions: x.Predictions,
			Label: x.Label, LabelledAt: x.LabelledAt,
		}
	}
	if len(list) == limit {
		out.Next = list[len(list)-1].ID
	}
	writeJSON(w, http.StatusOK, out)
}
