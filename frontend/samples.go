package frontend

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/stratusml/stratus/drawing"
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
// does not have yet is retried for up to LabelWait before it is a 404. The
// label must fit the sample (labelFits): a 400 says why when it does not.
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
	sample, ok := s.awaitSample(w, r, id)
	if !ok {
		return
	}
	if err := labelFits(&sample, req.Label); err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	at := time.Now().UTC()
	switch err := s.cfg.Store.SetLabel(r.Context(), id, req.Label, at); {
	case err == nil:
		s.metrics.labels.Inc()
		writeJSON(w, http.StatusOK, labelResponse{ID: id, Label: req.Label, LabelledAt: store.TruncTime(at)})
	case errors.Is(err, store.ErrNotFound):
		writeError(w, http.StatusNotFound, "no sample "+id)
	case errors.Is(err, store.ErrInvalid):
		writeError(w, http.StatusBadRequest, err.Error())
	default:
		s.log.Error("frontend: store label", "id", id, "err", err)
		writeError(w, http.StatusServiceUnavailable, "the store is unavailable; try again")
	}
}

// awaitSample reads sample id for a label, waiting up to LabelWait for one
// the store does not have yet. When it fails it has answered the client.
func (s *Server) awaitSample(w http.ResponseWriter, r *http.Request, id string) (store.Sample, bool) {
	deadline := time.Now().Add(s.cfg.LabelWait)
	for {
		sample, err := s.cfg.Store.GetSample(r.Context(), id)
		switch {
		case err == nil:
			return sample, true
		case errors.Is(err, store.ErrNotFound) && time.Now().Before(deadline):
			select {
			case <-time.After(100 * time.Millisecond):
				continue
			case <-r.Context().Done():
				return sample, false
			}
		case errors.Is(err, store.ErrNotFound):
			writeError(w, http.StatusNotFound, "no sample "+id)
		default:
			s.log.Error("frontend: store read for a label", "id", id, "err", err)
			writeError(w, http.StatusServiceUnavailable, "the store is unavailable; try again")
		}
		return sample, false
	}
}

// maxExtraDigits is how many more digits than were read a number's label
// may have: a reading can miss a digit or two (touching digits read as
// one, a faint stroke left out), not more, and a label far longer than the
// drawing would train the model on a wrong answer.
const maxExtraDigits = 2

// labelFits checks a label (already 1 to 32 digits) against its sample: a
// digit-mode sample takes one digit; a number takes 1 to the digits read
// plus maxExtraDigits (at most store.MaxLabelLen).
func labelFits(sample *store.Sample, label string) error {
	if sample.Mode != drawing.ModeNumber { // "" is digit mode, as in drawing.ParseMode
		if len(label) != 1 {
			return fmt.Errorf("label %q has %d digits, but sample %s is a single digit: its label is one digit, 0-9", label, len(label), sample.ID)
		}
		return nil
	}
	read := digitsRead(sample)
	if most := min(read+maxExtraDigits, store.MaxLabelLen); len(label) > most {
		return fmt.Errorf("label %q has %d digits, but %d were read in sample %s: its label may have 1 to %d", label, len(label), read, sample.ID, most)
	}
	return nil
}

// digitsRead is how many digits were read in a sample: its network inputs,
// or the longest answer of any model if that is more.
func digitsRead(sample *store.Sample) int {
	n := len(sample.Input28)
	for _, p := range sample.Predictions {
		n = max(n, len(p.Digits))
	}
	return n
}

// sampleView is a sample as the history shows it: everything but the
// drawing itself (strokes or PNG), which can be large and which the store
// leaves out of a page (store.ListQuery.Drawing); input28 (784 bytes a
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
	// The page is read through the store's index and without drawings
	// (Drawing unset), so its cost does not grow with the store.
	list, err := s.cfg.Store.ListSamples(r.Context(), store.ListQuery{Limit: limit, Before: before})
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
