package api

import (
	"context"
	"net/http"
	"sync"

	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// healthRoutes mounts the probes and /metrics, which need no token: load
// balancers and Prometheus scrape them without credentials, and they show
// nothing secret.
func (s *Server) healthRoutes() {
	s.mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
	})
	s.mux.HandleFunc("GET /readyz", s.readyz)
	if s.opts.Gatherer != nil {
		s.mux.Handle("GET /metrics", promhttp.HandlerFor(s.opts.Gatherer, promhttp.HandlerOpts{}))
	} else {
		s.mux.HandleFunc("GET /metrics", func(w http.ResponseWriter, r *http.Request) {
			http.Error(w, "metrics are not available on this server", http.StatusServiceUnavailable)
		})
	}
}

// readyBody is /readyz's answer: "ready" or "not ready", and each failing
// check's reason by name.
type readyBody struct {
	Status string            `json:"status"`
	Failed map[string]string `json:"failed,omitempty"`
}

// readyz runs every check concurrently, each within ReadyTimeout, and
// answers 503 naming each failing check and why.
func (s *Server) readyz(w http.ResponseWriter, r *http.Request) {
	var (
		mu     sync.Mutex
		failed = map[string]string{}
		wg     sync.WaitGroup
	)
	for _, c := range s.opts.Ready {
		wg.Go(func() {
			ctx, cancel := context.WithTimeout(r.Context(), s.opts.ReadyTimeout)
			defer cancel()
			if err := c.Check(ctx); err != nil {
				mu.Lock()
				failed[c.Name] = err.Error()
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	if len(failed) > 0 {
		writeJSON(w, http.StatusServiceUnavailable, readyBody{Status: "not ready", Failed: failed})
		return
	}
	writeJSON(w, http.StatusOK, readyBody{Status: "ready"})
}
