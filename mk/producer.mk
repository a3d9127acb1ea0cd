# Producer micro-benchmarks (issue 3): generation alone and generation +
# Confluent framing on one core, then end to end into an in-process kfake
# broker on one and two cores. Numbers, not pass/fail: targets are
# >= 500,000 events/s generate+encode and >= 200,000 events/s produced.

PRODUCER_BENCH_ARGS ?= -count 3

.PHONY: bench-producer
bench-producer: ## producer benchmarks: generate, generate+encode (1 core), produce to kfake (1 and 2 cores)
	cd services/producer && go test -run '^$$' -bench . -benchmem -cpu 1 $(PRODUCER_BENCH_ARGS) ./generator ./encoding
	cd services/producer && go test -run '^$$' -bench . -benchmem -benchtime 1000000x -cpu 1,2 $(PRODUCER_BENCH_ARGS) ./publish
