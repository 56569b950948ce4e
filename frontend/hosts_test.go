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

// getHost sends method path to the rig with the given Host header.
func getHost(t *testing.T, r *testRig, method, path, host string) (int, apiError) {
	t.Helper()
	var body io.Reader
	if method == http.MethodPost {
		body = strings.NewReader(seven)
	}
	req, err := http.NewRequest(method, r.ts.URL+path, body)
	if err != nil {
		t.Fatal(err)
	}
	req.Host = host
	req.Header.Set("Content-Type", "application/json")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var e apiError
	b, _ := io.ReadAll(res.Body)
	_ = json.Unmarshal(b, &e)
	return res.StatusCode, e
}

// TestHostRebinding: a server on loopback answers loopback Hosts and the
// configured ones only, on every route (the page, the API, health and
// metrics), and refuses others with a 421 that names the Host and the flag
// to use; a server that listens beyond loopback answers any Host unless
// hosts are configured.
func TestHostRebinding(t *testing.T) {
	loopbackOK := []string{"localhost", "localhost:8080", "LOCALHOST:1", "localhost.", "app.localhost:3000",
		"127.0.0.1", "127.0.0.1:8080", "127.8.9.10:80", "[::1]", "[::1]:8080"}
	foreign := []string{"evil.example", "evil.example:8080", "localhost.evil.example", "127.0.0.1.nip.io:8080",
		"0.0.0.0:8080", "10.0.0.1", "[::]:8080", "[2001:db8::1]:80", "127.1"}
	for _, tc := range []struct {
		name   string
		config func(*Config)
		ok     []string
		refuse []string
	}{
		{"loopback listener", nil, loopbackOK, foreign},
		{"loopback listener with allowed hosts",
			func(c *Config) { c.AllowedHosts = []string{"Stratus.Example", "*.lan", "box.test:9000"} },
			append([]string{"stratus.example", "STRATUS.example:8080", "pc.lan", "box.test:9000", "localhost:8080"}, loopbackOK...),
			append([]string{"stratus.example.evil", "lan", "box.test:9001", "box.test"}, foreign...)},
		{"public listener", func(c *Config) { c.ListensBeyondLoopback = true },
			append([]string{"evil.example", "stratus.example:8080", "10.0.0.1"}, loopbackOK...), nil},
		{"public listener with allowed hosts", func(c *Config) {
			c.ListensBeyondLoopback, c.AllowedHosts = true, []string{"stratus.example"}
		}, append([]string{"stratus.example:443"}, loopbackOK...), foreign},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := newTestRig(t, tc.config)
			routes := []struct{ method, path string }{
				{"GET", "/"}, {"GET", "/static/app.js"}, {"GET", "/api/v1/stats"}, {"GET", "/api/v1/samples"},
				{"POST", "/api/v1/predict"}, {"GET", "/healthz"}, {"GET", "/readyz"}, {"GET", "/metrics"}, {"GET", "/nope"},
			}
			for _, host := range tc.ok {
				for _, rt := range routes {
					if code, e := getHost(t, r, rt.method, rt.path, host); code == http.StatusMisdirectedRequest {
						t.Errorf("Host %s, %s %s: refused (%s)", host, rt.method, rt.path, e.Error)
					}
				}
			}
			for _, host := range tc.refuse {
				for _, rt := range routes {
					code, e := getHost(t, r, rt.method, rt.path, host)
					if code != http.StatusMisdirectedRequest {
						t.Errorf("Host %s, %s %s: %d, want 421", host, rt.method, rt.path, code)
						continue
					}
					if !strings.Contains(e.Error, "--allowed-hosts") || !strings.Contains(e.Error, hostName(strings.ToLower(host))) {
						t.Errorf("Host %s: the refusal %q does not name the host and --allowed-hosts", host, e.Error)
					}
				}
			}
			r.lp.mu.Lock()
			defer r.lp.mu.Unlock()
			if want := len(tc.ok); len(r.lp.sent) != want {
				t.Errorf("%d predictions reached the pipeline, want %d (one per allowed host)", len(r.lp.sent), want)
			}
		})
	}
}

// TestHostlessRequest: a request without a Host (HTTP/1.0) names no host a
// loopback server answers for.
func TestHostlessRequest(t *testing.T) {
	for _, tc := range []struct {
		cfg  Config
		want bool
	}{
		{Config{}, false},
		{Config{AllowedHosts: []string{"stratus.example"}}, false},
		{Config{ListensBeyondLoopback: true}, true},
	} {
		s := &Server{cfg: tc.cfg}
		if got := s.hostAllowed(""); got != tc.want {
			t.Errorf("%+v: empty Host allowed = %v, want %v", tc.cfg, got, tc.want)
		}
	}
}

// TestBadHostPattern: a malformed --allowed-hosts pattern stops New with
// an error that names it, instead of matching nothing.
func TestBadHostPattern(t *testing.T) {
	_, err := New(Config{Requester: &localPipeline{}, Store: newTestRig(t, nil).st, AllowedHosts: []string{"ok.example", "[bad"}})
	if err == nil || !strings.Contains(err.Error(), `"[bad"`) {
		t.Fatalf("New with a bad pattern: %v", err)
	}
}

// TestWebSocketHost: the WebSocket handshake of a rebinding page, whose
// Origin equals its Host, is refused; the same handshake under a loopback
// or allowed name opens.
func TestWebSocketHost(t *testing.T) {
	r := newTestRig(t, func(c *Config) { c.AllowedHosts = []string{"stratus.example"} })
	url := "ws" + strings.TrimPrefix(r.ts.URL, "http") + "/api/v1/ws"
	for _, tc := range []struct {
		host string
		want int // 0: the connection opens
	}{
		{"evil.example:8080", http.StatusMisdirectedRequest},
		{"attacker.example", http.StatusMisdirectedRequest},
		{"localhost:8080", 0},
		{"stratus.example", 0},
	} {
		t.Run(tc.host, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			h := http.Header{"Origin": {"http://" + tc.host}}
			c, res, err := websocket.Dial(ctx, url, &websocket.DialOptions{Host: tc.host, HTTPHeader: h})
			if tc.want == 0 {
				if err != nil {
					t.Fatalf("refused: %v", err)
				}
				c.CloseNow()
				return
			}
			if err == nil {
				c.CloseNow()
				t.Fatal("the handshake of a foreign Host opened a WebSocket")
			}
			if res == nil || res.StatusCode != tc.want {
				t.Fatalf("got %v (%v), want %d", res, err, tc.want)
			}
		})
	}
}
