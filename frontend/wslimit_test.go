package frontend

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
)

// dialAs opens a WebSocket to the rig as the client xff names (the rig
// trusts X-Forwarded-For), or as the connection's address when xff is "".
func dialAs(r *testRig, xff string) (*websocket.Conn, *http.Response, error) {
	h := http.Header{}
	if xff != "" {
		h.Set("X-Forwarded-For", xff)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	return websocket.Dial(ctx, "ws"+strings.TrimPrefix(r.ts.URL, "http")+"/api/v1/ws", &websocket.DialOptions{HTTPHeader: h})
}

// TestWebSocketsPerClient: one client address holds at most
// MaxWSPerClient WebSockets at once (8 by default); one more is refused at
// the handshake with a 429 and a reason, other clients are not affected,
// and closing a connection frees its place.
func TestWebSocketsPerClient(t *testing.T) {
	for _, tc := range []struct {
		name   string
		max    int
		opens  int    // connections of client "a" that open
		others string // another client, which still gets one
	}{
		{"default bound", 0, 8, ""},
		{"bound of 2", 2, 2, "b"},
		{"bound of 1", 1, 1, "c"},
		{"no bound", -1, 20, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := newTestRig(t, func(c *Config) { c.MaxWSPerClient, c.TrustProxy = tc.max, true })
			var open []*websocket.Conn
			t.Cleanup(func() {
				for _, c := range open {
					c.CloseNow()
				}
			})
			for i := 0; i < tc.opens; i++ {
				c, _, err := dialAs(r, "a")
				if err != nil {
					t.Fatalf("connection %d of %d refused: %v", i+1, tc.opens, err)
				}
				open = append(open, c)
			}
			if tc.max < 0 {
				return
			}
			c, res, err := dialAs(r, "a")
			if err == nil {
				open = append(open, c)
				t.Fatalf("connection %d opened over the bound", tc.opens+1)
			}
			if res == nil || res.StatusCode != http.StatusTooManyRequests {
				t.Fatalf("connection over the bound: %v %v, want 429", res, err)
			}
			var e apiError
			b, _ := io.ReadAll(res.Body)
			if json.Unmarshal(b, &e) != nil || !strings.Contains(e.Error, "WebSockets open") {
				t.Errorf("a 429 without a reason: %q", b)
			}
			if tc.others != "" {
				c, _, err := dialAs(r, tc.others)
				if err != nil {
					t.Fatalf("another client was refused: %v", err)
				}
				open = append(open, c)
			}
			// Closing one connection frees its place (once the server has
			// seen the close).
			_ = open[0].Close(websocket.StatusNormalClosure, "")
			deadline := time.Now().Add(5 * time.Second)
			for {
				c, _, err := dialAs(r, "a")
				if err == nil {
					open = append(open, c)
					break
				}
				if time.Now().After(deadline) {
					t.Fatalf("the place of a closed connection was never freed: %v", err)
				}
				time.Sleep(20 * time.Millisecond)
			}
		})
	}
}

// TestWSCounterForgets: a client whose connections all closed leaves
// nothing behind, so the counts cannot grow with the clients ever seen.
func TestWSCounterForgets(t *testing.T) {
	c := newWSCounter(2)
	for _, client := range []string{"a", "a", "b"} {
		if !c.acquire(client) {
			t.Fatalf("%s refused under the bound", client)
		}
	}
	if c.acquire("a") {
		t.Fatal("a third connection of a within a bound of 2")
	}
	for _, client := range []string{"a", "a", "b"} {
		c.release(client)
	}
	if len(c.open) != 0 {
		t.Errorf("counts left after every connection closed: %v", c.open)
	}
}
