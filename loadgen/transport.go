package loadgen

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/coder/websocket"
)

// maxAnswer bounds an answer's body.
const maxAnswer = 1 << 20

// errBadAnswer is an answer that is not the API's JSON.
var errBadAnswer = errors.New("an answer that is not the API's JSON")

// errorKind is TransportKind, or KindBadAnswer for errBadAnswer.
func errorKind(err error) string {
	if errors.Is(err, errBadAnswer) {
		return KindBadAnswer
	}
	return TransportKind(err)
}

// answer is what loadgen reads of a Prediction or an error body.
type answer struct {
	Digits      string    `json:"digits"`
	Error       string    `json:"error"`
	ReceivedAt  time.Time `json:"received_at"`
	PredictedAt time.Time `json:"predicted_at"`
}

// stamps are the pipeline's times in an answer.
func (a *answer) stamps() stamps { return stamps{a.ReceivedAt, a.PredictedAt} }

// runHTTP posts drawings one at a time until the schedule ends.
func (u *user) runHTTP(ctx context.Context) {
	for ctx.Err() == nil {
		measured, ok := u.r.sched.next()
		if !ok {
			return
		}
		d := u.drawing()
		u.r.rec.begin()
		sent := time.Now()
		kind, msg, a := u.post(ctx, d)
		now := time.Now()
		u.r.rec.end()
		if ctx.Err() != nil {
			return // stopped: not the frontend's failure
		}
		u.record(measured, sent, now, d, kind, msg, a.Digits, a.stamps())
		if !u.think(ctx) {
			return
		}
	}
}

// post sends one drawing and returns its error kind and message, or the
// answer.
func (u *user) post(ctx context.Context, d *Drawing) (kind, msg string, a answer) {
	ctx, cancel := context.WithTimeout(ctx, u.r.cfg.Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u.r.cfg.URL+"/api/v1/predict", bytes.NewReader(d.Body(u.session)))
	if err != nil {
		return KindOther, err.Error(), a
	}
	req.Header.Set("Content-Type", "application/json")
	res, err := u.r.http.Do(req)
	if err != nil {
		return TransportKind(err), err.Error(), a
	}
	defer res.Body.Close()
	body, err := io.ReadAll(io.LimitReader(res.Body, maxAnswer))
	if err != nil {
		return TransportKind(err), err.Error(), a
	}
	jerr := json.Unmarshal(body, &a)
	switch {
	case res.StatusCode != http.StatusOK:
		if a.Error == "" {
			a.Error = strings.TrimSpace(string(body[:min(len(body), 200)]))
		}
		return HTTPKind(res.StatusCode), a.Error, answer{}
	case jerr != nil:
		return KindBadAnswer, jerr.Error(), answer{}
	}
	return "", "", a
}

// wsAnswer is what loadgen reads of a WebSocket message.
type wsAnswer struct {
	answer
	Type   string `json:"type"`
	Seq    int64  `json:"seq"`
	Status int    `json:"status"`
}

// pending is a drawing sent over a WebSocket, waiting for its answer.
type pending struct {
	d        *Drawing
	sent     time.Time
	measured bool
}

// wsConn is one WebSocket connection of a user.
type wsConn struct {
	u    *user
	c    *websocket.Conn
	slot chan struct{} // a token per drawing in flight

	mu      sync.Mutex
	pending map[int64]pending
}

// finish records the answer to seq, if it is still waited for.
func (wc *wsConn) finish(seq int64, kind, msg string, a answer) {
	now := time.Now()
	wc.mu.Lock()
	p, ok := wc.pending[seq]
	delete(wc.pending, seq)
	wc.mu.Unlock()
	if !ok {
		return
	}
	wc.u.r.rec.end()
	wc.u.record(p.measured, p.sent, now, p.d, kind, msg, a.Digits, a.stamps())
	<-wc.slot
}

// failAll records every drawing still waited for as failed with err.
func (wc *wsConn) failAll(err error) {
	wc.mu.Lock()
	seqs := make([]int64, 0, len(wc.pending))
	for s := range wc.pending {
		seqs = append(seqs, s)
	}
	wc.mu.Unlock()
	for _, s := range seqs {
		wc.finish(s, errorKind(err), err.Error(), answer{})
	}
}

// expire fails the drawings waited for longer than the timeout.
func (wc *wsConn) expire(now time.Time) {
	wc.mu.Lock()
	var late []int64
	for s, p := range wc.pending {
		if now.Sub(p.sent) > wc.u.r.cfg.Timeout {
			late = append(late, s)
		}
	}
	wc.mu.Unlock()
	for _, s := range late {
		wc.finish(s, KindTimeout, "no answer over the WebSocket within "+wc.u.r.cfg.Timeout.String(), answer{})
	}
}

// runWS sends drawings over a WebSocket until the schedule ends, opening
// a new connection when one fails.
func (u *user) runWS(ctx context.Context) {
	wsURL := "ws" + strings.TrimPrefix(u.r.cfg.URL, "http") + "/api/v1/ws"
	for ctx.Err() == nil {
		more, err := u.connection(ctx, wsURL)
		if !more || ctx.Err() != nil {
			return
		}
		// The connection failed: a short pause, so that a frontend that is
		// down is not dialled in a tight loop.
		u.r.cfg.Logger.Debug("loadgen: WebSocket failed; reconnecting", "user", u.n, "err", err)
		select {
		case <-time.After(100 * time.Millisecond):
		case <-ctx.Done():
		}
	}
}

// connection runs one WebSocket connection; more says whether the schedule
// still has requests for this user (the connection failed before its end).
func (u *user) connection(ctx context.Context, wsURL string) (more bool, err error) {
	dialled := time.Now()
	dctx, dcancel := context.WithTimeout(ctx, u.r.cfg.Timeout)
	c, _, err := websocket.Dial(dctx, wsURL, &websocket.DialOptions{HTTPClient: u.r.http})
	dcancel()
	if err != nil {
		// A failed dial fails the request it was for.
		measured, ok := u.r.sched.next()
		if !ok {
			return false, err
		}
		d := u.drawing()
		u.record(measured, dialled, time.Now(), d, TransportKind(err), "WebSocket dial: "+err.Error(), "", stamps{})
		return true, err
	}
	c.SetReadLimit(maxAnswer)
	cctx, cancel := context.WithCancel(ctx)
	defer cancel()
	wc := &wsConn{u: u, c: c, slot: make(chan struct{}, u.r.cfg.InFlight), pending: map[int64]pending{}}

	readErr := make(chan error, 1)
	go func() { readErr <- wc.readLoop(cctx) }()
	go func() {
		tick := time.NewTicker(250 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case now := <-tick.C:
				wc.expire(now)
			case <-cctx.Done():
				return
			}
		}
	}()

	more, err = wc.sendLoop(cctx, readErr)
	if err == nil {
		// Every request is sent: wait for the answers in flight.
		err = wc.drain(cctx, readErr)
	}
	cancel()
	c.Close(websocket.StatusNormalClosure, "")
	if err != nil && ctx.Err() == nil {
		wc.failAll(err)
	}
	return more, err
}

// sendLoop sends drawings as slots free up; it stops when the schedule
// ends (more false) or the connection fails (err set, more true).
func (wc *wsConn) sendLoop(ctx context.Context, readErr <-chan error) (more bool, err error) {
	var seq int64
	first := true
	for {
		select {
		case wc.slot <- struct{}{}:
		case err := <-readErr:
			return true, err
		case <-ctx.Done():
			return false, ctx.Err()
		}
		if !first && !wc.u.think(ctx) {
			<-wc.slot
			return false, ctx.Err()
		}
		first = false
		measured, ok := wc.u.r.sched.next()
		if !ok {
			<-wc.slot
			return false, nil
		}
		d := wc.u.drawing()
		seq++
		wc.mu.Lock()
		wc.pending[seq] = pending{d: d, sent: time.Now(), measured: measured}
		wc.mu.Unlock()
		wc.u.r.rec.begin()
		wctx, cancel := context.WithTimeout(ctx, wc.u.r.cfg.Timeout)
		err := wc.c.Write(wctx, websocket.MessageText, d.Body(wc.u.session))
		cancel()
		if err != nil {
			return true, err
		}
	}
}

// drain waits until no drawing is in flight, or the connection fails.
func (wc *wsConn) drain(ctx context.Context, readErr <-chan error) error {
	for {
		wc.mu.Lock()
		n := len(wc.pending)
		wc.mu.Unlock()
		if n == 0 {
			return nil
		}
		select {
		case err := <-readErr:
			return err
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(5 * time.Millisecond):
		}
	}
}

// readLoop reads answers until the connection ends.
func (wc *wsConn) readLoop(ctx context.Context) error {
	for {
		_, data, err := wc.c.Read(ctx)
		if err != nil {
			return err
		}
		var m wsAnswer
		if err := json.Unmarshal(data, &m); err != nil {
			return fmt.Errorf("%w: %w", errBadAnswer, err)
		}
		switch m.Type {
		case "accepted":
		case "prediction":
			wc.finish(m.Seq, "", "", m.answer)
		case "error":
			wc.finish(m.Seq, WSKind(m.Status), m.Error, answer{})
		default:
			return fmt.Errorf("%w: unknown type %q", errBadAnswer, m.Type)
		}
	}
}
