# --- observability (issue 6): Prometheus rules, Grafana dashboards, compose --
# obs-check needs only promtool; obs-test runs the observability Go module's
# tests, including a real Prometheus (Debian's prometheus) scraping the real
# producer and writer binaries on the embedded dev stack and the local
# PostgreSQL. Both install the prometheus package when it is missing.

.PHONY: obs-check
obs-check: ## promtool: check prometheus.yml and the alert rules, run the rule unit tests
	@bash scripts/prometheus.sh check

.PHONY: obs-test
obs-test: build postgres ## observability tests: dashboards and rules vs README and a real Prometheus, docker-compose.yml vs the binaries
	@bash scripts/prometheus.sh ensure
	cd observability && FINFLOW_BIN_DIR=$(CURDIR)/bin go test -count=1 -timeout 10m ./...
