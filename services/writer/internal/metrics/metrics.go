// Package metrics defines the writer's Prometheus metrics, with exactly the
// names, types and labels of the README's metrics reference, registered on a
// private registry.
package metrics

import (
	"github.com/prometheus/client_golang/prometheus"
)

// Writer holds every finflow_writer_* metric.
type Writer struct {
	RecordsConsumed   *prometheus.CounterVec // topic
	RowsWritten       *prometheus.CounterVec // topic
	DeadLetters       *prometheus.CounterVec // reason
	DuplicatesSkipped *prometheus.CounterVec // topic
	UnknownFields     *prometheus.CounterVec // topic

	BatchRecords   prometheus.Histogram
	BatchBytes     prometheus.Histogram
	CommitDuration prometheus.Histogram

	CheckpointFailures *prometheus.CounterVec // reason: fenced, error
	CheckpointOffset   *prometheus.GaugeVec   // topic, partition
	CheckpointAge      *prometheus.GaugeVec   // topic, partition
	LagRecords         *prometheus.GaugeVec   // topic, partition
	LagSeconds         *prometheus.GaugeVec   // topic, partition

	EndToEndLatency prometheus.Histogram
	DBErrors        *prometheus.CounterVec // op
	Rebalances      *prometheus.CounterVec // event: assigned, revoked, lost

	AssignedPartitions prometheus.Gauge
}

// Label values of finflow_writer_checkpoint_failures_total{reason}.
const (
	FailureFenced = "fenced"
	FailureError  = "error"
)

// Label values of finflow_writer_rebalances_total{event}.
const (
	EventAssigned = "assigned"
	EventRevoked  = "revoked"
	EventLost     = "lost"
)

// New creates the writer metrics and registers them on reg.
func New(reg prometheus.Registerer) *Writer {
	const ns, sub = "finflow", "writer"
	counter := func(name, help string, labels ...string) *prometheus.CounterVec {
		return prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Subsystem: sub, Name: name, Help: help}, labels)
	}
	gauge := func(name, help string, labels ...string) *prometheus.GaugeVec {
		return prometheus.NewGaugeVec(prometheus.GaugeOpts{Namespace: ns, Subsystem: sub, Name: name, Help: help}, labels)
	}
	hist := func(name, help string, buckets []float64) prometheus.Histogram {
		return prometheus.NewHistogram(prometheus.HistogramOpts{Namespace: ns, Subsystem: sub, Name: name, Help: help, Buckets: buckets})
	}
	m := &Writer{
		RecordsConsumed:   counter("records_consumed_total", "Records fetched from Kafka.", "topic"),
		RowsWritten:       counter("rows_written_total", "Rows committed to raw_transactions.", "topic"),
		DeadLetters:       counter("dead_letters_total", "Records committed to dead_letters.", "reason"),
		DuplicatesSkipped: counter("duplicates_skipped_total", "Rows already present (staged upsert path).", "topic"),
		UnknownFields:     counter("unknown_fields_total", "Records carrying fields this writer's contract does not know (newer producer).", "topic"),

		// Batches run from one record to --batch-max-records (10,000 by default).
		BatchRecords: hist("batch_records", "Records per committed batch.",
			[]float64{1, 10, 50, 100, 250, 500, 1000, 2500, 5000, 10000, 25000, 50000}),
		BatchBytes: hist("batch_bytes", "Record bytes per committed batch.",
			prometheus.ExponentialBuckets(1024, 4, 10)), // 1 KiB .. 256 MiB
		CommitDuration: hist("commit_duration_seconds", "One batch transaction: checkpoints + rows + dead letters + commit.",
			[]float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10}),

		CheckpointFailures: counter("checkpoint_failures_total", "Batch transactions that did not commit.", "reason"),
		CheckpointOffset:   gauge("checkpoint_offset", "Committed next_offset.", "topic", "partition"),
		CheckpointAge:      gauge("checkpoint_age_seconds", "Time since that partition's checkpoint last advanced.", "topic", "partition"),
		LagRecords:         gauge("consumer_lag_records", "High watermark minus committed offset.", "topic", "partition"),
		LagSeconds:         gauge("consumer_lag_seconds", "Age of the oldest record not yet committed (0 when caught up).", "topic", "partition"),

		EndToEndLatency: hist("end_to_end_latency_seconds", "Event time to row committed.",
			[]float64{.01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60, 300, 900, 3600}),
		DBErrors:   counter("db_errors_total", "PostgreSQL errors.", "op"),
		Rebalances: counter("rebalances_total", "Consumer-group rebalances.", "event"),

		AssignedPartitions: prometheus.NewGauge(prometheus.GaugeOpts{Namespace: ns, Subsystem: sub,
			Name: "assigned_partitions", Help: "Partitions this writer owns."}),
	}
	reg.MustRegister(
		m.RecordsConsumed, m.RowsWritten, m.DeadLetters, m.DuplicatesSkipped, m.UnknownFields,
		m.BatchRecords, m.BatchBytes, m.CommitDuration,
		m.CheckpointFailures, m.CheckpointOffset, m.CheckpointAge, m.LagRecords, m.LagSeconds,
		m.EndToEndLatency, m.DBErrors, m.Rebalances, m.AssignedPartitions,
	)
	// Series that exist from the start, so rate() and alerts see zeros
	// rather than absent series.
	for _, r := range []string{FailureFenced, FailureError} {
		m.CheckpointFailures.WithLabelValues(r)
	}
	for _, e := range []string{EventAssigned, EventRevoked, EventLost} {
		m.Rebalances.WithLabelValues(e)
	}
	return m
}

// Topic pre-creates the per-topic series at zero.
func (m *Writer) Topic(topic string) {
	m.RecordsConsumed.WithLabelValues(topic)
	m.RowsWritten.WithLabelValues(topic)
	m.DuplicatesSkipped.WithLabelValues(topic)
	m.UnknownFields.WithLabelValues(topic)
}
