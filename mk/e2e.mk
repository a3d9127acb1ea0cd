# --- end-to-end suite (e2e/) ---------------------------------------------------
# The real stack — PostgreSQL, Apache Kafka (KRaft) and Apicurio Registry, each
# started by its script unless already running and stopped again afterwards —
# with the producer and writer binaries under chaos; exactly-once checked by the
# Go audit and an independent Python consumer. Bounded at ~15 minutes on a fresh
# machine (downloads included); a second run starts its components in seconds.
.PHONY: e2e
e2e: ## real-stack end-to-end + chaos suite (Kafka, Apicurio registry, PostgreSQL; ≤15 min)
	bash e2e/run.sh
