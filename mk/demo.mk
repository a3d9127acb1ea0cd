# --- demo: the whole pipeline on the embedded dev stack (services/devstack) --
# Settings come from the environment (see `bin/demo -help`): DEMO_RATE
# (events/s, default 2000), DEMO_DURATION (e.g. 20s; empty = until Ctrl-C),
# DATABASE_URL (the server; the demo DROPS and recreates its own database
# finflow_demo there), KAFKA_BROKERS + SCHEMA_REGISTRY_URL (external Kafka and
# registry instead of bin/devstack).

.PHONY: demo
demo: build postgres ## run the pipeline with live progress and an exactly-once check (DEMO_DURATION=20s, DEMO_RATE=2000)
	go build -o bin/ ./services/devstack/cmd/demo
	bin/demo

.PHONY: demo-ci
demo-ci: build postgres ## the demo for CI: 15 s, plain output, fails unless every record is stored exactly once
	go build -o bin/ ./services/devstack/cmd/demo
	DEMO_DURATION=15s DEMO_LIVE=off bin/demo
