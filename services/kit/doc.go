// Package kit is the little code finflow's services really share: flag and
// environment configuration (config), the metrics and health endpoint
// (telemetry) and per-test PostgreSQL databases (pgtest).
package kit
