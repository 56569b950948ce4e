package frontend

import (
	"net/http"
	"sort"
	"strconv"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
)

// metrics are the frontend's Prometheus metrics (namespace stratus_frontend).
type metrics struct {
	requests       *prometheus.CounterVec   // route, code
	latency        *prometheus.HistogramVec // route
	inFlight       prometheus.Gauge
	wsClients      prometheus.Gauge
	predictions    *prometheus.CounterVec   // via, outcome
	predictLatency *prometheus.HistogramVec // via
	rateLimited    prometheus.Counter
	labels         prometheus.Counter
}

func newMetrics(reg *prometheus.Registry) (*metrics, error) {
	buckets := []float64{.002, .005, .01, .02, .05, .1, .25, .5, 1, 2.5, 5, 10}
	m := &metrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "stratus_frontend", Name: "http_requests_total", Help: "HTTP requests by route and status code.",
		}, []string{"route", "code"}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Namespace: "stratus_frontend", Name: "http_request_duration_seconds", Help: "HTTP request latency by route (WebSockets: the whole connection).", Buckets: buckets,
		}, []string{"route"}),
		inFlight: prometheus.NewGauge(prometheus.GaugeOpts{
			Namespace: "stratus_frontend", Name: "predictions_in_flight", Help: "Predictions waiting for their answer.",
		}),
		wsClients: prometheus.NewGauge(prometheus.GaugeOpts{
			Namespace: "stratus_frontend", Name: "websocket_clients", Help: "Open WebSocket connections.",
		}),
		predictions: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "stratus_frontend", Name: "predictions_total", Help: "Predictions by transport (http, ws) and outcome (ok or the HTTP status text).",
		}, []string{"via", "outcome"}),
		predictLatency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Namespace: "stratus_frontend", Name: "prediction_duration_seconds", Help: "Drawing in → answer out, through Kafka and the pipeline.", Buckets: buckets,
		}, []string{"via"}),
		rateLimited: prometheus.NewCounter(prometheus.CounterOpts{
			Namespace: "stratus_frontend", Name: "rate_limited_total", Help: "Predictions refused by the per-client rate limit.",
		}),
		labels: prometheus.NewCounter(prometheus.CounterOpts{
			Namespace: "stratus_frontend", Name: "labels_total", Help: "Corrections stored.",
		}),
	}
	for _, c := range []prometheus.Collector{m.requests, m.latency, m.inFlight, m.wsClients, m.predictions, m.predictLatency, m.rateLimited, m.labels} {
		if err := reg.Register(c); err != nil {
			return nil, err
		}
	}
	// The process and Go runtime, unless the caller's registry has them.
	for _, c := range []prometheus.Collector{collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{})} {
		if err := reg.Register(c); err != nil {
			if _, dup := err.(prometheus.AlreadyRegisteredError); !dup {
				return nil, err
			}
		}
	}
	return m, nil
}

// instrument counts a route's requests and times them.
func (m *metrics) instrument(route string, h http.HandlerFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		sw := &statusWriter{ResponseWriter: w, code: http.StatusOK}
		h(sw, r)
		m.requests.WithLabelValues(route, strconv.Itoa(sw.code)).Inc()
		m.latency.WithLabelValues(route).Observe(time.Since(start).Seconds())
	})
}

// statusWriter remembers the status code; Unwrap lets http.ResponseController
// (and the WebSocket upgrade) reach the real writer.
type statusWriter struct {
	http.ResponseWriter
	code int
}

func (w *statusWriter) WriteHeader(code int) {
	w.code = code
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// liveStats keeps the last ten seconds of predictions for the page's panel.
type liveStats struct {
	mu     sync.Mutex
	window time.Duration
	events []statEvent // oldest first
}

type statEvent struct {
	at      time.Time
	latency time.Duration
	ok      bool
}

// maxStatEvents bounds the memory of liveStats under heavy load.
const maxStatEvents = 50000

func newLiveStats() *liveStats { return &liveStats{window: 10 * time.Second} }

func (l *liveStats) add(latency time.Duration, ok bool) {
	now := time.Now()
	l.mu.Lock()
	defer l.mu.Unlock()
	l.prune(now)
	if len(l.events) >= maxStatEvents {
		l.events = l.events[1:]
	}
	l.events = append(l.events, statEvent{at: now, latency: latency, ok: ok})
}

func (l *liveStats) prune(now time.Time) {
	cut := 0
	for cut < len(l.events) && now.Sub(l.events[cut].at) > l.window {
		cut++
	}
	if cut > 0 {
		l.events = append(l.events[:0], l.events[cut:]...)
	}
}

func (l *liveStats) snapshot(now time.Time) statsResponse {
	l.mu.Lock()
	l.prune(now)
	lat := make([]float64, 0, len(l.events))
	errs := 0
	for _, e := range l.events {
		if !e.ok {
			errs++
			continue
		}
		lat = append(lat, float64(e.latency.Microseconds())/1000)
	}
	n := len(l.events)
	l.mu.Unlock()
	secs := l.window.Seconds()
	out := statsResponse{RequestsPerSecond: float64(n) / secs, ErrorsPerSecond: float64(errs) / secs, WindowSeconds: secs}
	if len(lat) > 0 {
		sort.Float64s(lat)
		out.P50Millis = lat[len(lat)/2]
		out.P99Millis = lat[min(len(lat)-1, len(lat)*99/100)]
	}
	return out
}
