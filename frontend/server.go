// Package frontend is the Stratus web front end: the canvas page (embedded
// in the binary, no CDN) and the HTTP API of DESIGN.md §5. Drawings become
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
package frontend

import (
	"context"
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"time"

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
	log     *slog.Logger

	// ctx ends when Close is called: WebSockets, which http.Server.Shutdown
	// does not track, close with it.
	ctx    context.Context
	cancel context.CancelFunc
	wsWG   sync.WaitGroup

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
	s := &Server{cfg: cfg, mux: http.NewServeMux(), log: cfg.Logger, stats: newLiveStats()}
	s.ctx, s.cancel = context.WithCancel(context.Background())
	var err error
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
	s.route("GET /static/", "static", http.StripPrefix("/static/", files).ServeHTTP)
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
	s.mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		writeError(w, http.StatusNotFound, "no such page: "+r.URL.Path)
	})
	return s, nil
}

// ServeHTTP serves the page and the API.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	securityHeaders(w.Header())
	s.mux.ServeHTTP(w, r)
}

// Close ends the open WebSockets and waits for them.
func (s *Server) Close() {
	s.cancel()
	s.wsWG.Wait()
}

// route registers a handler with its metrics.
func (s *Server) route(pattern, name string, h http.HandlerFunc) {
	s.mux.Handle(pattern, s.metrics.instrument(name, h))
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
