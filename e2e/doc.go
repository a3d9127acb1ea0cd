// Package e2e is finflow's real-stack end-to-end and chaos suite: the built
// producer and writers against a real Apache Kafka broker, a real
// Confluent-compatible schema registry and PostgreSQL, under faults. The
// suite itself is behind the `e2e` build tag and runs with `make e2e`.
package e2e
