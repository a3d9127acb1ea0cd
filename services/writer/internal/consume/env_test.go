package consume_test

import (
	"context"
	"log/slog"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/sr"
	"github.com/twmb/franz-go/pkg/sr/srfake"

	"github.com/finflow/finflow/services/kit/pgtest"
	"github.com/finflow/finflow/services/writer/internal/consume"
	"github.com/finflow/finflow/services/writer/internal/decode"
	"github.com/finflow/finflow/services/writer/internal/fixture"
	"github.com/finflow/finflow/services/writer/internal/metrics"
	"github.com/finflow/finflow/services/writer/internal/sink"
)

const (
	topic = "transactions"
	group = "finflow-writer"
)

// env is one test's world: an in-process Kafka, an in-process registry with
// the contract registered, and a fresh migrated database.
type env struct {
	kafka    *kfake.Cluster
	brokers  []string
	registry *srfake.Registry
	sr       *sr.Client
	schemaID int
	producer *fixture.Producer
	dbURL    string
	pool     *pgxpool.Pool
}

func newEnv(t *testing.T, partitions int32) *env {
	t.Helper()
	e := &env{kafka: fixture.Cluster(t, topic, partitions), registry: srfake.New(), dbURL: pgtest.New(t)}
	t.Cleanup(e.registry.Close)
	e.brokers = e.kafka.ListenAddrs()
	var err error
	if e.sr, err = sr.NewClient(sr.URLs(e.registry.URL())); err != nil {
		t.Fatal(err)
	}
	serde, id, err := fixture.Register(context.Background(), e.sr, topic)
	if err != nil {
		t.Fatal(err)
	}
	e.schemaID = id
	e.producer = fixture.NewProducer(t, e.brokers, topic, serde)
	if e.pool, err = pgxpool.New(context.Background(), e.dbURL); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(e.pool.Close)
	return e
}

// writer is one running Consumer.
type writer struct {
	m    *metrics.Writer
	reg  *prometheus.Registry
	stop func()
}

// start runs a writer until the test ends or stop is called.
func (e *env) start(t *testing.T, tweak func(*consume.Config)) *writer {
	t.Helper()
	reg := prometheus.NewRegistry()
	m := metrics.New(reg)
	snk, err := sink.New(e.pool, sink.Config{Group: group, Topic: topic, Owner: t.Name(),
		OnDBError: func(op string, _ error) { m.DBErrors.WithLabelValues(op).Inc() }})
	if err != nil {
		t.Fatal(err)
	}
	cfg := consume.Config{
		Brokers:          e.brokers,
		Topic:            topic,
		Group:            group,
		Owner:            t.Name(),
		Policy:           consume.Policy{MaxWait: 20 * time.Millisecond},
		SessionTimeout:   1500 * time.Millisecond,
		RebalanceTimeout: 4 * time.Second,
		BackoffMin:       20 * time.Millisecond,
		BackoffMax:       300 * time.Millisecond,
		Logger:           slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn})),
	}
	if tweak != nil {
		tweak(&cfg)
	}
	c, err := consume.New(cfg, snk, decode.New(e.sr), m)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- c.Run(ctx) }()
	var once sync.Once
	w := &writer{m: m, reg: reg, stop: func() {
		once.Do(func() {
			cancel()
			select {
			case err := <-done:
				if err != nil {
					t.Errorf("writer stopped with %v", err)
				}
			case <-time.After(30 * time.Second):
				t.Error("writer did not stop within 30s of its context ending")
			}
		})
	}}
	t.Cleanup(w.stop)
	return w
}
