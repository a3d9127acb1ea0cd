// Package e2e is finflow's real-stack end-to-end and chaos suite: the
// producer and writer binaries against a real Apache Kafka broker, a real
// Confluent-compatible schema registry (Apicurio) and the local PostgreSQL,
// with writers killed -9, PostgreSQL and Kafka restarted, consumers added and
// removed and malformed records injected, then exactly-once checked
// independently (package audit, and a Python consumer in python/).
//
// The suite itself is behind the build tag e2e so that `go test ./...` stays
// light; run it with `make e2e`, which provisions the components and builds
// the binaries first. The packages poison and audit are ordinary packages
// with their own fast tests; the children are run with services/kit/proc.
package e2e
