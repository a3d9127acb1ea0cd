// Package observability holds no code: it is the Go module whose tests check
// finflow's monitoring and deployment files against the running services —
// the Grafana dashboards and Prometheus alert rules against the README's
// metrics reference and a real Prometheus scraping real producer and writer
// processes, and docker-compose.yml against the flags those binaries accept.
//
// Run them with `make obs-test` (or `go test ./...` here); `make obs-check`
// runs promtool on the rules alone.
package observability
