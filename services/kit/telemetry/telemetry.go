// Package telemetry serves a service's Prometheus metrics and health checks:
// /metrics, /healthz (the process is alive) and /readyz (its dependencies
// answer). Metrics live on a private registry, never the global one.
package telemetry

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// NewRegistry returns a private registry with the Go runtime and process
// collectors, which the dashboards' runtime rows use.
func NewRegistry() *prometheus.Registry {
	reg := prometheus.NewRegistry()
	reg.MustRegister(
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
	)
	return reg
}

// Check reports nil when a dependency is healthy.
type Check func(ctx context.Context) error

// Server is a running metrics and health endpoint.
type Server struct {
	srv *http.Server
	ln  net.Listener
}

// Listen binds addr at once, so a port in use fails start-up with a clear
// error, and serves in the background. live answers /healthz, ready /readyz;
// either may be nil (always OK).
func Listen(addr string, g prometheus.Gatherer, live, ready Check) (*Server, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("METRICS_ADDR: listen on %s: %w", addr, err)
	}
	mux := http.NewServeMux()
	mux.Handle("/metrics", promhttp.HandlerFor(g, promhttp.HandlerOpts{EnableOpenMetrics: true}))
	mux.Handle("/healthz", checkHandler(live))
	mux.Handle("/readyz", checkHandler(ready))
	s := &Server{srv: &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}, ln: ln}
	go func() { _ = s.srv.Serve(ln) }()
	return s, nil
}

// Addr is the address actually bound (useful with port 0).
func (s *Server) Addr() string { return s.ln.Addr().String() }

// Shutdown stops serving; in-flight scrapes get until ctx ends.
func (s *Server) Shutdown(ctx context.Context) error {
	if err := s.srv.Shutdown(ctx); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

func checkHandler(c Check) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if c != nil {
			ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
			defer cancel()
			if err := c(ctx); err != nil {
				http.Error(w, "not ok: "+err.Error(), http.StatusServiceUnavailable)
				return
			}
		}
		_, _ = w.Write([]byte("ok\n"))
	})
}
