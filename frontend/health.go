package frontend

import (
	"context"
	"net/http"
	"time"
)

// readyResponse says what /readyz checked.
type readyResponse struct {
	Ready  bool              `json:"ready"`
	Checks map[string]string `json:"checks"`
}

// handleReady: GET /readyz: 200 when Kafka, the store and every extra
// check answer within 2 s, else 503 with what failed.
func (s *Server) handleReady(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
	defer cancel()
	checks := append([]Check{
		{Name: "kafka", Fn: s.cfg.Requester.Check},
		{Name: "store", Fn: func(ctx context.Context) error { _, err := s.cfg.Store.Count(ctx); return err }},
	}, s.cfg.ReadyChecks...)
	type result struct {
		name string
		err  error
	}
	results := make(chan result, len(checks))
	for _, c := range checks {
		go func() { results <- result{c.Name, c.Fn(ctx)} }()
	}
	out := readyResponse{Ready: true, Checks: map[string]string{}}
	for range checks {
		res := <-results
		if res.err != nil {
			out.Ready = false
			out.Checks[res.name] = res.err.Error()
			continue
		}
		out.Checks[res.name] = "ok"
	}
	status := http.StatusOK
	if !out.Ready {
		status = http.StatusServiceUnavailable
	}
	writeJSON(w, status, out)
}

// statsResponse feeds the page's live panel.
type statsResponse struct {
	RequestsPerSecond float64 `json:"requests_per_second"`
	P50Millis         float64 `json:"p50_ms"`
	P99Millis         float64 `json:"p99_ms"`
	ErrorsPerSecond   float64 `json:"errors_per_second"`
	Model             string  `json:"model,omitempty"`
	WindowSeconds     float64 `json:"window_seconds"`
}

// handleStats: GET /api/v1/stats: this replica's predictions over the last
// ten seconds.
func (s *Server) handleStats(w http.ResponseWriter, _ *http.Request) {
	st := s.stats.snapshot(time.Now())
	st.Model = s.model()
	writeJSON(w, http.StatusOK, st)
}
