# Benchmarks (issue 8): the harness in bench/ drives the real producer, writer
# and devstack binaries against the local PostgreSQL and writes a Markdown
# report with charts to $(BENCH_OUT)/<time>-<mode>/ (also on stdout);
# $(BENCH_OUT)/latest points at the newest. Missed targets never fail the
# target; a component that cannot start does.

BENCH_BIN  := $(CURDIR)/bin
BENCH_OUT  ?= $(CURDIR)/results
# Extra finflow-bench flags, e.g. BENCH_ARGS='--reps 5 --records 2000000'.
BENCH_ARGS ?=

.PHONY: bench-build
bench-build:
	@mkdir -p $(BENCH_BIN)
	go build -o $(BENCH_BIN)/ ./services/producer/cmd/producer ./services/writer/cmd/writer \
	  ./services/devstack/cmd/devstack ./bench/cmd/finflow-bench

.PHONY: bench
bench: postgres bench-build ## full benchmark (~15 min on 2 cores): ceiling, 1M-record drain, producer, latency, memory, batch curve
	$(BENCH_BIN)/finflow-bench --bin-dir $(BENCH_BIN) --out $(BENCH_OUT) $(BENCH_ARGS)

.PHONY: bench-smoke
bench-smoke: postgres bench-build ## quick benchmark run (< 3 min) that keeps the harness working; figures not meaningful
	$(BENCH_BIN)/finflow-bench --smoke --bin-dir $(BENCH_BIN) --out $(BENCH_OUT) $(BENCH_ARGS)
