// Package kit is the little code finflow's modules really share: flag and
// environment configuration (config), the metrics and health endpoint
// (telemetry), per-test PostgreSQL databases (pgtest) and child processes
// that cannot outlive their parent (proc).
package kit
