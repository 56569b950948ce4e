package frontend

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/stratusml/stratus/drawing"
	"github.com/stratusml/stratus/frontend/reqreply"
	"github.com/stratusml/stratus/message"
	"github.com/stratusml/stratus/model/recognize"
)

// predictError is a prediction that did not happen: the HTTP status and
// what the client is told.
type predictError struct {
	status int
	body   apiError
}

func (e *predictError) Error() string { return e.body.Error }

func failed(status int, id, msg string) *predictError {
	return &predictError{status: status, body: apiError{Error: msg, ID: id}}
}

// decodeEvent reads a CanvasEvent body from a client: docs/contracts.md's
// rules and limits, and for strokes the preprocessing too (it is cheap, and
// an empty or degenerate drawing is better refused here, with a 400, than
// answered by an error reply). owned says whether a client-given id is one
// this client was issued (a WebSocket revising a drawing); otherwise id and
// reply_to are the server's to assign.
func decodeEvent(body []byte, owned func(id string) bool) (message.CanvasEvent, *predictError) {
	ev, err := message.DecodeCanvasEvent(body, message.DecodeOptions{})
	if err != nil {
		return ev, failed(http.StatusBadRequest, "", clientError(err))
	}
	if ev.ReplyTo != "" {
		return ev, failed(http.StatusBadRequest, "", "reply_to is set by the server; leave it out")
	}
	if ev.ID != "" && (owned == nil || !owned(ev.ID)) {
		return ev, failed(http.StatusBadRequest, "", "id is assigned by the server; leave it out (over the WebSocket, an id the server gave this connection revises that drawing)")
	}
	if len(ev.Strokes) > 0 {
		if _, err := recognize.EventDigits(&ev, drawing.DefaultLimits()); err != nil {
			return ev, failed(http.StatusBadRequest, "", "the drawing cannot be read: "+err.Error())
		}
	}
	return ev, nil
}

// predict sends ev (its ID set) through the pipeline and waits for the
// answer, at most the configured timeout.
func (s *Server) predict(ctx context.Context, ev *message.CanvasEvent, via string) (message.Prediction, *predictError) {
	start := time.Now()
	s.metrics.inFlight.Inc()
	defer s.metrics.inFlight.Dec()
	ctx, cancel := context.WithTimeout(ctx, s.cfg.Timeout)
	defer cancel()
	p, perr := s.exchange(ctx, ev)
	outcome := "ok"
	if perr != nil {
		outcome = http.StatusText(perr.status)
		s.log.Warn("frontend: prediction failed", "id", ev.ID, "via", via, "status", perr.status, "err", perr.body.Error)
	} else {
		s.setModel(p.Model)
	}
	took := time.Since(start)
	s.metrics.predictions.WithLabelValues(via, outcome).Inc()
	s.metrics.predictLatency.WithLabelValues(via).Observe(took.Seconds())
	s.stats.add(took, perr == nil)
	return p, perr
}

func (s *Server) exchange(ctx context.Context, ev *message.CanvasEvent) (message.Prediction, *predictError) {
	ch, err := s.cfg.Requester.Send(ctx, ev)
	if err != nil {
		if ctx.Err() != nil {
			return message.Prediction{}, failed(http.StatusGatewayTimeout, ev.ID, "the message bus did not take the drawing in time; try again")
		}
		return message.Prediction{}, failed(http.StatusServiceUnavailable, ev.ID, "the message bus is unavailable; try again in a moment")
	}
	p, err := s.cfg.Requester.Wait(ctx, ev.ID, ch)
	switch {
	case errors.Is(err, reqreply.ErrTimeout), errors.Is(err, context.DeadlineExceeded):
		return p, failed(http.StatusGatewayTimeout, ev.ID, fmt.Sprintf("no answer within %s: the recognition pipeline is slow or down", s.cfg.Timeout))
	case err != nil:
		return p, failed(http.StatusServiceUnavailable, ev.ID, "the frontend is shutting down or lost the message bus; try again")
	case p.Error != "":
		e := failed(http.StatusUnprocessableEntity, ev.ID, "the drawing could not be recognised: "+p.Error)
		e.body.Stage = p.Stage
		return p, e
	}
	return p, nil
}

// handlePredict: POST /api/v1/predict.
func (s *Server) handlePredict(w http.ResponseWriter, r *http.Request) {
	if !s.limiter.allow(s.clientAddr(r)) {
		s.metrics.rateLimited.Inc()
		w.Header().Set("Retry-After", "1")
		writeError(w, http.StatusTooManyRequests, "too many predictions from this client; slow down")
		return
	}
	body, perr := readBody(w, r, maxPredictBody)
	if perr != nil {
		writeJSON(w, perr.status, perr.body)
		return
	}
	price, ok := s.limiter.admit(s.clientAddr(r), body)
	if !ok {
		s.refuseRate(w)
		return
	}
	ev, perr := decodeEvent(body, nil)
	price.settle(&ev) // its exact work, refused or not
	if perr != nil {
		writeJSON(w, perr.status, perr.body)
		return
	}
	ev.ID = newID()
	if ev.Session == "" {
		ev.Session = "http-" + ev.ID
	}
	p, perr := s.predict(r.Context(), &ev, "http")
	if perr != nil {
		writeJSON(w, perr.status, perr.body)
		return
	}
	writeJSON(w, http.StatusOK, p)
}

// readBody reads a request body of at most limit bytes.
func readBody(w http.ResponseWriter, r *http.Request, limit int64) ([]byte, *predictError) {
	// Only JSON: another site's page cannot send application/json without
	// a CORS preflight, which this server never grants, so it cannot post
	// predictions or labels in a visitor's name.
	if !isJSON(r.Header.Get("Content-Type")) {
		return nil, failed(http.StatusUnsupportedMediaType, "", "send JSON (Content-Type: application/json)")
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, limit))
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			return nil, failed(http.StatusRequestEntityTooLarge, "", fmt.Sprintf("the body is over the %d-byte limit", limit))
		}
		return nil, failed(http.StatusBadRequest, "", "could not read the body: "+err.Error())
	}
	return body, nil
}

// isJSON reports whether a Content-Type is application/json (any parameters).
func isJSON(contentType string) bool {
	mt, _, _ := strings.Cut(contentType, ";")
	return strings.EqualFold(strings.TrimSpace(mt), "application/json")
}
