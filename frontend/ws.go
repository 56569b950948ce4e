package frontend

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"sync"
	"time"

	"github.com/coder/websocket"

	"github.com/stratusml/stratus/message"
)

// The WebSocket protocol (/api/v1/ws). The client sends CanvasEvent bodies
// (text messages, the POST body's shape). It may set "id" to an id this
// connection was given before: that revises the same drawing (live
// predictions while drawing, then the final one), so one drawing stays one
// sample. The server answers each message, numbered by seq from 1 in the
// order the client sent them, with
//
//	{"type":"accepted","seq":1,"id":"01J…"}             the event is on its way
//	{"type":"prediction","seq":1, …Prediction fields}   the answer
//	{"type":"error","seq":1,"id":"…","status":504,"error":"…"}
//
// Answers can come out of order; seq and id tell which request they answer.
type wsMessage struct {
	Type   string
	Seq    int64
	Status int
	Pred   *message.Prediction // type prediction
	Err    *apiError           // type error (or accepted: its id)
}

// MarshalJSON writes the answer's fields next to type, seq and status.
func (m wsMessage) MarshalJSON() ([]byte, error) {
	fields := map[string]any{}
	var src any
	switch {
	case m.Pred != nil:
		src = m.Pred
	case m.Err != nil:
		src = m.Err
	}
	if src != nil {
		b, err := json.Marshal(src)
		if err != nil {
			return nil, err
		}
		if err := json.Unmarshal(b, &fields); err != nil {
			return nil, err
		}
	}
	fields["type"] = m.Type
	fields["seq"] = m.Seq
	if m.Status != 0 {
		fields["status"] = m.Status
	}
	return json.Marshal(fields)
}

const (
	// wsMaxInFlight bounds the predictions one connection waits for at once.
	wsMaxInFlight = 8
	// wsOwnedIDs is how many of its ids a connection may revise.
	wsOwnedIDs = 64
	// wsPing is how often an idle connection is pinged.
	wsPing = 30 * time.Second
)

// handleWS: GET /api/v1/ws.
func (s *Server) handleWS(w http.ResponseWriter, r *http.Request) {
	// The Host is checked here as well as in ServeHTTP: Accept lets in any
	// Origin equal to the Host, which is exactly what a rebinding page
	// sends, so the handshake must not rely on a wrapper to refuse it.
	if !s.hostAllowed(r.Host) {
		s.refuseHost(w, r)
		return
	}
	client := s.clientAddr(r)
	if !s.wsOpen.acquire(client) {
		w.Header().Set("Retry-After", "5")
		writeError(w, http.StatusTooManyRequests, fmt.Sprintf(
			"this client already has %d WebSockets open, the most one client may; close one first", s.cfg.MaxWSPerClient))
		return
	}
	defer s.wsOpen.release(client)
	c, err := websocket.Accept(w, r, &websocket.AcceptOptions{OriginPatterns: s.cfg.AllowedOrigins})
	if err != nil {
		return // Accept has answered (403 for a foreign origin, 426, …)
	}
	if !s.wsEnter() {
		c.Close(websocket.StatusGoingAway, "server shutting down")
		return
	}
	defer s.wsWG.Done()
	s.metrics.wsClients.Inc()
	defer s.metrics.wsClients.Dec()
	c.SetReadLimit(maxPredictBody)

	ctx, cancel := context.WithCancel(r.Context())
	defer cancel()
	go func() { // the server closing ends the connection too
		select {
		case <-s.ctx.Done():
			c.Close(websocket.StatusGoingAway, "server shutting down")
		case <-ctx.Done():
		}
	}()
	conn := &wsConn{s: s, c: c, session: "ws-" + newID(), client: client, out: make(chan wsMessage, wsMaxInFlight*2+4)}
	go conn.writeLoop(ctx, cancel)
	err = conn.readLoop(ctx)
	cancel()
	conn.wg.Wait()
	switch status := websocket.CloseStatus(err); {
	case status == websocket.StatusNormalClosure, status == websocket.StatusGoingAway, errors.Is(err, context.Canceled):
		c.Close(websocket.StatusNormalClosure, "")
	case status == websocket.StatusMessageTooBig:
	default:
		c.Close(websocket.StatusInternalError, "")
	}
}

// wsCounter counts the open WebSockets of each client address, so that
// one client cannot hold all the connections (and goroutines) the server
// can keep.
type wsCounter struct {
	max int // ≤ 0: no bound

	mu   sync.Mutex
	open map[string]int
}

func newWSCounter(limit int) *wsCounter {
	return &wsCounter{max: limit, open: map[string]int{}}
}

// acquire counts one more connection of client, unless it has max already.
func (c *wsCounter) acquire(client string) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.max > 0 && c.open[client] >= c.max {
		return false
	}
	c.open[client]++
	return true
}

// release counts one connection of client closed; a client with none
// open is forgotten, so the map holds only clients connected now.
func (c *wsCounter) release(client string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.open[client]--; c.open[client] <= 0 {
		delete(c.open, client)
	}
}

// wsConn is one WebSocket client.
type wsConn struct {
	s       *Server
	c       *websocket.Conn
	session string
	client  string
	out     chan wsMessage
	wg      sync.WaitGroup

	mu    sync.Mutex
	owned []ownedID // ids given to this connection, newest last
	seq   int64
}

// ownedID is a drawing this connection revises, with its latest revision.
type ownedID struct {
	id  string
	rev int
}

func (wc *wsConn) readLoop(ctx context.Context) error {
	sem := make(chan struct{}, wsMaxInFlight)
	for {
		typ, data, err := wc.c.Read(ctx)
		if err != nil {
			return err
		}
		wc.seq++
		seq := wc.seq
		if typ != websocket.MessageText {
			wc.send(ctx, errorMessage(seq, failed(http.StatusBadRequest, "", "send CanvasEvents as JSON text messages")))
			continue
		}
		price, ok := wc.s.limiter.allowBody(wc.client, data)
		if !ok {
			wc.s.metrics.rateLimited.Inc()
			wc.send(ctx, errorMessage(seq, failed(http.StatusTooManyRequests, "", "too many predictions from this client; slow down")))
			continue
		}
		ev, perr := decodeEvent(data, wc.owns)
		price.settle(&ev) // its exact work, refused or not
		if perr != nil {
			wc.send(ctx, errorMessage(seq, perr))
			continue
		}
		if ev.ID == "" {
			ev.ID = newID()
			wc.own(ev.ID)
		}
		ev.Rev = wc.revise(ev.ID, ev.Rev)
		if ev.Session == "" {
			ev.Session = wc.session
		}
		select {
		case sem <- struct{}{}:
		default:
			wc.send(ctx, errorMessage(seq, failed(http.StatusTooManyRequests, ev.ID, "too many predictions in flight on this connection; wait for an answer")))
			continue
		}
		wc.send(ctx, wsMessage{Type: "accepted", Seq: seq, Err: &apiError{ID: ev.ID}})
		wc.wg.Add(1)
		go func() {
			defer wc.wg.Done()
			defer func() { <-sem }()
			p, perr := wc.s.predict(ctx, &ev, "ws")
			if perr != nil {
				wc.send(ctx, errorMessage(seq, perr))
				return
			}
			wc.send(ctx, wsMessage{Type: "prediction", Seq: seq, Pred: &p})
		}()
	}
}

func errorMessage(seq int64, perr *predictError) wsMessage {
	body := perr.body
	return wsMessage{Type: "error", Seq: seq, Status: perr.status, Err: &body}
}

// send queues a message for the writer; it gives up when the connection ends.
func (wc *wsConn) send(ctx context.Context, m wsMessage) {
	select {
	case wc.out <- m:
	case <-ctx.Done():
	}
}

// writeLoop writes queued messages and pings an idle client.
func (wc *wsConn) writeLoop(ctx context.Context, cancel context.CancelFunc) {
	defer cancel()
	ping := time.NewTicker(wsPing)
	defer ping.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case m := <-wc.out:
			b, err := json.Marshal(m)
			if err != nil {
				wc.s.log.Error("frontend: encode WebSocket message", "err", err)
				continue
			}
			wctx, wcancel := context.WithTimeout(ctx, 10*time.Second)
			err = wc.c.Write(wctx, websocket.MessageText, b)
			wcancel()
			if err != nil {
				return
			}
		case <-ping.C:
			pctx, pcancel := context.WithTimeout(ctx, 10*time.Second)
			err := wc.c.Ping(pctx)
			pcancel()
			if err != nil {
				return
			}
		}
	}
}

func (wc *wsConn) own(id string) {
	wc.mu.Lock()
	defer wc.mu.Unlock()
	wc.owned = append(wc.owned, ownedID{id: id})
	if len(wc.owned) > wsOwnedIDs {
		wc.owned = wc.owned[len(wc.owned)-wsOwnedIDs:]
	}
}

func (wc *wsConn) owns(id string) bool {
	wc.mu.Lock()
	defer wc.mu.Unlock()
	for _, o := range wc.owned {
		if o.id == id {
			return true
		}
	}
	return false
}

// revise returns the revision of the next version of drawing id: the one
// the client gave when it is newer, else one more than the last. Each
// version's reply names its revision, so an answer to an older version
// can never be taken for the newest one's.
func (wc *wsConn) revise(id string, asked int) int {
	wc.mu.Lock()
	defer wc.mu.Unlock()
	for i := range wc.owned {
		if o := &wc.owned[i]; o.id == id {
			o.rev = max(o.rev+1, asked)
			return o.rev
		}
	}
	return max(asked, 1)
}
