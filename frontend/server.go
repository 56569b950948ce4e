// Package frontend is the Stratus web front end: the canvas page (embedded
// in the binary, no CDN) and the HTTP API of docs/contracts.md. Drawings become
// CanvasEvents that go to Kafka through a Requester (request-reply over
// Kafka: frontend/reqreply); the pipeline's answers come back to the replica
// named in reply_to and from there to the client that waits, over plain HTTP
// (POST /api/v1/predict) or a WebSocket (/api/v1/ws). Labels and history go
// straight to the store.
//
//	GET  /                             the canvas page
//	POST /api/v1/predict               CanvasEvent body → Prediction
//	GET  /api/v1/ws                    WebSocket: CanvasEvent bodies in, predictions out
//	POST /api/v1/samples/{id}/label    {"label":"7"}: the user's correction
//	GET  /api/v1/samples?limit=&before= recent samples with their predictions
//	GET  /api/v1/stats                 requests/s, p99 and model id for the page's panel
//	GET  /healthz /readyz /metrics     liveness, readiness, Prometheus
//
// Every route answers only requests whose Host is this server's (Config's
// AllowedHosts and ListensBeyondLoopback): a page on another site that
// rebinds its own name to 127.0.0.1 must not reach a server that listens
// on loopback. A wrong method on a route is a 405 with Allow.
package frontend

import (
	"context"
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"path"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/oklog/ulid/v2"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/stratusml/stratus/message"
	"github.com/stratusml/stratus/store"
)

//go:embed web
var webFS embed.FS

// Requester sends an event through the pipeline and waits for its answer
// (frontend/reqreply.Client implements it).
type Requester interface {
	// Send produces ev (ID set; ReplyTo and SentAt are filled in) and
	// returns the channel its reply comes on.
	Send(ctx context.Context, ev *message.CanvasEvent) (<-chan message.Prediction, error)
	// Wait waits for the reply of event id on ch until ctx ends.
	Wait(ctx context.Context, id string, ch <-chan message.Prediction) (message.Prediction, error)
	// Check reports whether the message bus answers.
	Check(ctx context.Context) error
}

// Check is a named readiness check.
type Check struct {
	Name string
	Fn   func(ctx context.Context) error
}

// Config sets up a Server. Requester and Store are required.
type Config struct {
	Requester Requester
	Store     store.Store
	// Timeout is how long a prediction may take before it is a 504
	// (default 5 s).
	Timeout time.Duration
	// LabelWait is how long a label waits for its sample to be stored (the
	// reply can overtake the store write; default 3 s).
	LabelWait time.Duration
	// AllowedOrigins are host patterns (path.Match syntax, as
	// coder/websocket's OriginPatterns) of pages on other origins that may
	// open the WebSocket; the page's own origin always may.
	AllowedOrigins []string
	// ReadyChecks are checked by /readyz besides Kafka and the store.
	ReadyChecks []Check
	// RateLimit is each client's sustained predictions per second (0: no
	// limit) and RateBurst its burst (default 2×RateLimit).
	RateLimit float64
	RateBurst int
	// TrustProxy takes the client address from X-Forwarded-For / X-Real-IP
	// (behind nginx or an ingress); otherwise the connection's address.
	TrustProxy bool
	// AllowedHosts are host patterns (path.Match syntax, matched ignoring
	// case against the Host header's name, or the whole Host with its
	// port) of the names this server answers for besides loopback ones
	// (localhost, *.localhost, 127.0.0.0/8, [::1]).
	AllowedHosts []string
	// ListensBeyondLoopback says other hosts can reach the listener (an
	// unspecified or non-loopback address): then, while AllowedHosts is
	// empty, every Host is answered, as a server behind a balancer must.
	// False, the zero value, is what a loopback listener needs: only
	// loopback Hosts and AllowedHosts are answered, so that a page whose
	// own name resolves to 127.0.0.1 (DNS rebinding) is refused.
	ListensBeyondLoopback bool
	// MaxWSPerClient bounds the WebSockets one client address holds open
	// at once (default 8; negative: no bound).
	MaxWSPerClient int
	// Registerer takes the Prometheus metrics (default: a new registry,
	// served at /metrics).
	Registry *prometheus.Registry
	// Logger (default slog.Default()).
	Logger *slog.Logger
}

// Server is the frontend's HTTP handler.
type Server struct {
	cfg     Config
	mux     *http.ServeMux
	metrics *metrics
	limiter *limiter
	stats   *liveStats
	wsOpen  *wsCounter
	log     *slog.Logger

	// ctx ends when Close is called: WebSockets, which http.Server.Shutdown
	// does not track, close with it.
	ctx    context.Context
	cancel context.CancelFunc
	// wsWG counts the WebSockets being served; wsMu and closed order each
	// Add before Close's Wait (an Add racing a Wait is a misuse of
	// sync.WaitGroup that a handshake finishing during Close would be).
	wsWG   sync.WaitGroup
	wsMu   sync.Mutex
	closed bool

	modelMu sync.Mutex
	modelID string // the model of the last answer, for the stats panel
}

// Limits of the API's own bodies.
const (
	// maxPredictBody bounds a predict body (a CanvasEvent).
	maxPredictBody = message.MaxEventBytes
	// maxLabelBody bounds a label body.
	maxLabelBody = 1 << 10
	// maxHistory bounds ?limit= of the history.
	maxHistory = 100
)

// New builds a Server.
func New(cfg Config) (*Server, error) {
	if cfg.Requester == nil || cfg.Store == nil {
		return nil, errors.New("frontend: Requester and Store are required")
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = 5 * time.Second
	}
	if cfg.LabelWait <= 0 {
		cfg.LabelWait = 3 * time.Second
	}
	if cfg.Registry == nil {
		cfg.Registry = prometheus.NewRegistry()
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.MaxWSPerClient == 0 {
		cfg.MaxWSPerClient = 8
	}
	hosts, err := hostPatterns(cfg.AllowedHosts)
	if err != nil {
		return nil, err
	}
	cfg.AllowedHosts = hosts
	s := &Server{cfg: cfg, mux: http.NewServeMux(), log: cfg.Logger, stats: newLiveStats(), wsOpen: newWSCounter(cfg.MaxWSPerClient)}
	s.ctx, s.cancel = context.WithCancel(context.Background())
	if s.metrics, err = newMetrics(cfg.Registry); err != nil {
		return nil, err
	}
	s.limiter = newLimiter(cfg.RateLimit, cfg.RateBurst)
	static, err := fs.Sub(webFS, "web")
	if err != nil {
		return nil, fmt.Errorf("frontend: embedded assets: %w", err)
	}
	files := http.FileServerFS(static)
	s.route("GET /{$}", "page", files.ServeHTTP)
	s.route("GET /static/", "static", staticFiles(files))
	s.route("POST /api/v1/predict", "predict", s.handlePredict)
	s.route("GET /api/v1/ws", "ws", s.handleWS)
	s.route("POST /api/v1/samples/{id}/label", "label", s.handleLabel)
	s.route("GET /api/v1/samples", "samples", s.handleSamples)
	s.route("GET /api/v1/stats", "stats", s.handleStats)
	s.route("GET /healthz", "healthz", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		_, _ = w.Write([]byte("ok\n"))
	})
	s.route("GET /readyz", "readyz", s.handleReady)
	s.mux.Handle("GET /metrics", promhttp.HandlerFor(cfg.Registry, promhttp.HandlerOpts{Registry: cfg.Registry}))
	// The mux picks this pattern for every request no route takes with its
	// method, so it tells a wrong method (405) from a wrong path (404).
	s.mux.HandleFunc("/", s.handleUnrouted)
	return s, nil
}

// ServeHTTP serves the page and the API to requests for this server's
// host names.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	securityHeaders(w.Header())
	if !s.hostAllowed(r.Host) {
		s.refuseHost(w, r)
		return
	}
	s.mux.ServeHTTP(w, r)
}

// Close ends the open WebSockets and waits for them.
func (s *Server) Close() {
	s.wsMu.Lock()
	s.closed = true
	s.wsMu.Unlock()
	s.cancel()
	s.wsWG.Wait()
}

// wsEnter counts one more WebSocket being served, unless Close has begun.
func (s *Server) wsEnter() bool {
	s.wsMu.Lock()
	defer s.wsMu.Unlock()
	if s.closed {
		return false
	}
	s.wsWG.Add(1)
	return true
}

// route registers a handler with its metrics.
func (s *Server) route(pattern, name string, h http.HandlerFunc) {
	s.mux.Handle(pattern, s.metrics.instrument(name, h))
}

// staticFiles serves the embedded assets under /static/. A path that is
// not valid UTF-8 or holds a control character is the client's mistake, a
// 400: the file system refuses such a name as invalid, which the file
// server would answer with a 500.
func staticFiles(files http.Handler) http.HandlerFunc {
	strip := http.StripPrefix("/static/", files)
	return func(w http.ResponseWriter, r *http.Request) {
		if why := badPath(r.URL.Path); why != "" {
			writeError(w, http.StatusBadRequest, "bad path: "+why)
			return
		}
		strip.ServeHTTP(w, r)
	}
}

// badPath says what is wrong with a request path, or "" when nothing is.
func badPath(p string) string {
	if !utf8.ValidString(p) {
		return "it is not valid UTF-8 once unescaped"
	}
	for _, c := range []byte(p) {
		if c < 0x20 || c == 0x7f {
			return "it holds a control character"
		}
	}
	return ""
}

// handleUnrouted answers a request no route took: 405 with Allow when the
// path has routes for other methods, else 404.
func (s *Server) handleUnrouted(w http.ResponseWriter, r *http.Request) {
	if allow := s.allowedMethods(r); len(allow) > 0 {
		w.Header().Set("Allow", strings.Join(allow, ", "))
		writeError(w, http.StatusMethodNotAllowed, fmt.Sprintf("%s is not allowed on %s: use %s", r.Method, r.URL.Path, strings.Join(allow, " or ")))
		return
	}
	writeError(w, http.StatusNotFound, "no such page: "+r.URL.Path)
}

// allowedMethods lists the methods a route of the mux takes on r's path
// (GET routes take HEAD too), by asking the mux for each: the routes stay
// the one place that says which methods a path has.
func (s *Server) allowedMethods(r *http.Request) []string {
	var allow []string
	for _, m := range []string{http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete, http.MethodOptions} {
		if m == r.Method {
			continue
		}
		probe := r.WithContext(r.Context()) // a shallow copy
		probe.Method = m
		if _, pattern := s.mux.Handler(probe); pattern != "" && pattern != "/" {
			allow = append(allow, m)
		}
	}
	return allow
}

// hostPatterns checks and lower-cases AllowedHosts patterns.
func hostPatterns(patterns []string) ([]string, error) {
	out := make([]string, 0, len(patterns))
	for _, p := range patterns {
		p = strings.ToLower(strings.TrimSpace(p))
		if p == "" {
			continue
		}
		if _, err := path.Match(p, ""); err != nil {
			return nil, fmt.Errorf("frontend: allowed host pattern %q: %w", p, err)
		}
		out = append(out, p)
	}
	return out, nil
}

// hostAllowed reports whether this server answers for a request's Host:
// DNS rebinding makes a browser send a foreign page's requests to
// 127.0.0.1 with that page's own name as Host, which this refuses.
func (s *Server) hostAllowed(host string) bool {
	if s.cfg.ListensBeyondLoopback && len(s.cfg.AllowedHosts) == 0 {
		return true
	}
	host = strings.ToLower(host)
	name := hostName(host)
	if isLoopbackName(name) {
		return true
	}
	for _, p := range s.cfg.AllowedHosts {
		if ok, _ := path.Match(p, name); ok {
			return true
		}
		if ok, _ := path.Match(p, host); ok {
			return true
		}
	}
	return false
}

// hostName is a Host header's name without its port, brackets or final
// dot.
func hostName(host string) string {
	name := host
	if h, _, err := net.SplitHostPort(host); err == nil {
		name = h
	}
	name = strings.TrimSuffix(strings.TrimPrefix(name, "["), "]")
	return strings.TrimSuffix(name, ".")
}

// isLoopbackName reports whether a host name can only mean this machine:
// localhost and its subdomains (browsers resolve them to loopback
// themselves, RFC 6761) and loopback addresses.
func isLoopbackName(name string) bool {
	if name == "localhost" || strings.HasSuffix(name, ".localhost") {
		return true
	}
	ip := net.ParseIP(name)
	return ip != nil && ip.IsLoopback()
}

// refuseHost answers a request for a host this server does not serve: 421
// Misdirected Request, naming the host and how to allow it.
func (s *Server) refuseHost(w http.ResponseWriter, r *http.Request) {
	host := r.Host
	if len(host) > 100 {
		host = host[:100] + "…"
	}
	s.log.Debug("frontend: refused a request for another host", "host", host, "path", r.URL.Path)
	answers := "loopback names only (localhost, 127.0.0.1, [::1]), as it listens on loopback (a guard against DNS rebinding)"
	if len(s.cfg.AllowedHosts) > 0 {
		answers = "loopback names and those of --allowed-hosts only"
	}
	writeError(w, http.StatusMisdirectedRequest, fmt.Sprintf(
		"this server does not answer for host %q: it answers %s; to serve it under that name, start it with --allowed-hosts NAME (or STRATUS_ALLOWED_HOSTS)", host, answers))
}

// securityHeaders: no inline script or style, nothing from elsewhere, no
// framing, no sniffing.
func securityHeaders(h http.Header) {
	h.Set("Content-Security-Policy", "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("X-Frame-Options", "DENY")
	h.Set("Referrer-Policy", "no-referrer")
}

// newID is a new event id: a ULID, so ids sort by time.
func newID() string { return ulid.Make().String() }

// writeJSON answers v as JSON.
func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// apiError is the body of every error answer.
type apiError struct {
	Error string `json:"error,omitempty"`
	ID    string `json:"id,omitempty"`
	Stage string `json:"stage,omitempty"`
}

func writeError(w http.ResponseWriter, status int, msg string) {
	writeJSON(w, status, apiError{Error: msg})
}

// clientError shapes a decode error for the client: the message without
// the stage prefix.
func clientError(err error) string {
	var se *message.StageError
	if errors.As(err, &se) {
		return se.Err.Error()
	}
	return err.Error()
}

// clientAddr is who a request is from, for rate limiting.
func (s *Server) clientAddr(r *http.Request) string {
	if s.cfg.TrustProxy {
		if xff := r.Header.Get("X-Forwarded-For"); xff != "" {
			first, _, _ := strings.Cut(xff, ",")
			return strings.TrimSpace(first)
		}
		if ip := r.Header.Get("X-Real-IP"); ip != "" {
			return ip
		}
	}
	host := r.RemoteAddr
	if i := strings.LastIndexByte(host, ':'); i >= 0 {
		host = host[:i]
	}
	return host
}

func (s *Server) setModel(id string) {
	if id == "" {
		return
	}
	s.modelMu.Lock()
	s.modelID = id
	s.modelMu.Unlock()
}

func (s *Server) model() string {
	s.modelMu.Lock()
	defer s.modelMu.Unlock()
	return s.modelID
}
