package publish

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/twmb/franz-go/pkg/kgo"
)

// metrics are the finflow_producer_* series of the README's metrics
// reference. The topic label is bound once: the promise path only touches
// ready counters.
type metrics struct {
	records, bytes, errors prometheus.Counter
	latency                prometheus.Histogram
	target, actual         prometheus.Gauge
}

func newMetrics(reg prometheus.Registerer, topic string, targetRate float64, buffered func() float64) (*metrics, error) {
	const ns, sub = "finflow", "producer"
	records := prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: ns, Subsystem: sub, Name: "records_total",
		Help: "Records acknowledged by the broker.",
	}, []string{"topic"})
	bytes := prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: ns, Subsystem: sub, Name: "bytes_total",
		Help: "Key + value bytes of records acknowledged by the broker.",
	}, []string{"topic"})
	errs := prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: ns, Subsystem: sub, Name: "errors_total",
		Help: "Records that failed to produce.",
	}, []string{"topic"})
	m := &metrics{
		records: records.WithLabelValues(topic),
		bytes:   bytes.WithLabelValues(topic),
		errors:  errs.WithLabelValues(topic),
		latency: prometheus.NewHistogram(prometheus.HistogramOpts{
			Namespace: ns, Subsystem: sub, Name: "produce_latency_seconds",
			Help: "Time from the produce call to the broker's acknowledgement.",
			// 0.5 ms to ~16 s: local brokers answer in about a millisecond,
			// a struggling cluster in seconds.
			Buckets: prometheus.ExponentialBuckets(0.0005, 2, 16),
		}),
		target: prometheus.NewGauge(prometheus.GaugeOpts{
			Namespace: ns, Subsystem: sub, Name: "target_rate",
			Help: "Configured events per second (0 = unlimited).",
		}),
		actual: prometheus.NewGauge(prometheus.GaugeOpts{
			Namespace: ns, Subsystem: sub, Name: "actual_rate",
			Help: "Acknowledged events per second over the last few seconds.",
		}),
	}
	m.target.Set(targetRate)
	// Zero-valued series exist from the start, so dashboards and alerts
	// see 0 rather than "no data".
	var errsAll []error
	for _, c := range []prometheus.Collector{
		records, bytes, errs, m.latency, m.target, m.actual,
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Namespace: ns, Subsystem: sub, Name: "buffered_records",
			Help: "Records buffered in the client, not yet acknowledged.",
		}, buffered),
	} {
		errsAll = append(errsAll, reg.Register(c))
	}
	return m, errors.Join(errsAll...)
}

// dialHook remembers the last failed broker connection, so "no broker
// answered" can say why (connection refused, no such host, TLS...).
type dialHook struct{ err atomic.Pointer[error] }

var _ kgo.HookBrokerConnect = (*dialHook)(nil)

func (h *dialHook) OnBrokerConnect(_ kgo.BrokerMetadata, _ time.Duration, _ net.Conn, err error) {
	if err != nil {
		h.err.Store(&err)
	}
}

func (h *dialHook) last() error {
	if p := h.err.Load(); p != nil {
		return *p
	}
	return nil
}

// slogAdapter passes franz-go's warnings and errors to slog; its info and
// debug logs are per-request chatter.
type slogAdapter struct{ l *slog.Logger }

func (a slogAdapter) Level() kgo.LogLevel { return kgo.LogLevelWarn }

func (a slogAdapter) Log(level kgo.LogLevel, msg string, keyvals ...any) {
	l := slog.LevelWarn
	if level == kgo.LogLevelError {
		l = slog.LevelError
	}
	a.l.Log(context.Background(), l, "kafka: "+msg, keyvals...)
}
