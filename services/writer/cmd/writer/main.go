// Command writer is finflow's stream writer: it consumes protobuf
// transactions from Kafka and stores them in PostgreSQL exactly once.
//
//	writer [run] [flags]   consume and write (the default)
//	writer migrate         apply the database migrations to DATABASE_URL
//
// Every flag can also be set by the environment variable of the same name
// (--kafka-brokers ↔ KAFKA_BROKERS). Bad configuration exits 2 with one line
// naming the setting; SIGINT/SIGTERM finish the batch in flight and leave
// the consumer group; a second signal exits at once (still safe: the
// database transaction either committed or did not).
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/sr"
	"github.com/twmb/franz-go/plugin/kprom"

	"github.com/finflow/finflow/migrations"
	"github.com/finflow/finflow/services/kit/config"
	"github.com/finflow/finflow/services/kit/telemetry"
	"github.com/finflow/finflow/services/writer/internal/consume"
	"github.com/finflow/finflow/services/writer/internal/decode"
	"github.com/finflow/finflow/services/writer/internal/metrics"
	"github.com/finflow/finflow/services/writer/internal/sink"
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

// Exit codes.
const (
	exitOK     = 0
	exitFail   = 1
	exitConfig = 2
)

func run(args []string, stdout, stderr io.Writer) int {
	cmd := "run"
	if len(args) > 0 && !strings.HasPrefix(args[0], "-") {
		cmd, args = args[0], args[1:]
	}
	switch cmd {
	case "run":
		return runWriter(args, stdout, stderr)
	case "migrate":
		return migrate(args, stdout, stderr)
	default:
		fmt.Fprintf(stderr, "writer: unknown command %q (want run or migrate)\n", cmd)
		return exitConfig
	}
}

func migrate(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("writer migrate", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	dsn := fs.String(config.DatabaseURL, config.DefaultDatabaseURL, "PostgreSQL URL")
	if err := config.Parse(fs, args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			fmt.Fprintln(stdout, "usage: writer migrate [--database-url URL]   (or DATABASE_URL)")
			return exitOK
		}
		fmt.Fprintf(stderr, "writer migrate: %v\n", err)
		return exitConfig
	}
	ctx, cancel := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer cancel()
	ctx, cancelT := context.WithTimeout(ctx, 2*time.Minute)
	defer cancelT()
	res, err := migrations.Up(ctx, *dsn)
	for _, r := range res {
		if r.Error == nil {
			fmt.Fprintf(stdout, "applied %s (%v)\n", r.Source.Path, r.Duration.Round(time.Millisecond))
		}
	}
	if err != nil {
		fmt.Fprintf(stderr, "writer migrate: %v\n", oneLine(err))
		return exitFail
	}
	if len(res) == 0 {
		fmt.Fprintln(stdout, "database schema is up to date")
	}
	return exitOK
}

func runWriter(args []string, stdout, stderr io.Writer) int {
	cfg, err := parseRun(args, stdout)
	if errors.Is(err, flag.ErrHelp) {
		return exitOK
	}
	if err != nil {
		fmt.Fprintf(stderr, "writer: %v\n", oneLine(err))
		return exitConfig
	}
	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: level(cfg.logLevel)}))

	// First signal: stop gracefully. Second: exit now.
	ctx, stop := context.WithCancel(context.Background())
	defer stop()
	sigs := make(chan os.Signal, 2)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM)
	go func() {
		s := <-sigs
		log.Info("signal received: finishing the batch in flight, then leaving (signal again to exit at once)", "signal", s.String())
		stop()
		<-sigs
		log.Warn("second signal: exiting now; an uncommitted batch is simply rolled back")
		os.Exit(exitFail)
	}()

	reg := telemetry.NewRegistry()
	m := metrics.New(reg)
	for _, r := range sink.Reasons {
		m.DeadLetters.WithLabelValues(string(r))
	}
	for _, op := range []string{sink.OpBegin, sink.OpCheckpoint, sink.OpCopy, sink.OpStagedCopy, sink.OpDeadLetters,
		sink.OpCommit, sink.OpLoadCheckpoints, sink.OpPing} {
		m.DBErrors.WithLabelValues(op)
	}
	kafkaMetrics := kprom.NewMetrics("finflow", kprom.Subsystem("kafka"), kprom.Registry(reg))

	pool, err := pgxpool.NewWithConfig(ctx, cfg.pool)
	if err != nil {
		fmt.Fprintf(stderr, "writer: %s: %v\n", config.EnvName(config.DatabaseURL), oneLine(err))
		return exitConfig
	}
	defer pool.Close()
	snk, err := sink.New(pool, sink.Config{
		Group: cfg.group, Topic: cfg.topic, Owner: owner(),
		OnDBError: func(op string, _ error) { m.DBErrors.WithLabelValues(op).Inc() },
	})
	if err != nil {
		fmt.Fprintf(stderr, "writer: %v\n", err)
		return exitConfig
	}
	registry, err := sr.NewClient(sr.URLs(cfg.registryURL), sr.HTTPClient(&http.Client{Timeout: 10 * time.Second}))
	if err != nil {
		fmt.Fprintf(stderr, "writer: %s: %v\n", config.EnvName(config.SchemaRegistryURL), oneLine(err))
		return exitConfig
	}

	var consumer atomic.Pointer[consume.Consumer]
	if cfg.metricsAddr != "" {
		ready := func(ctx context.Context) error {
			c := consumer.Load()
			if c == nil {
				return errors.New("starting: waiting for the database")
			}
			var errs []error
			if err := snk.Ping(ctx); err != nil {
				errs = append(errs, fmt.Errorf("database: %w", err))
			}
			if err := c.Ping(ctx); err != nil {
				errs = append(errs, fmt.Errorf("kafka: %w", err))
			}
			if res := registry.Compatibility(ctx); len(res) > 0 && res[0].Err != nil {
				errs = append(errs, fmt.Errorf("schema registry: %w", res[0].Err))
			}
			return errors.Join(errs...)
		}
		srv, err := telemetry.Listen(cfg.metricsAddr, reg, nil, ready)
		if err != nil {
			fmt.Fprintf(stderr, "writer: %v\n", oneLine(err))
			return exitConfig
		}
		defer func() {
			sctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
			defer cancel()
			_ = srv.Shutdown(sctx)
		}()
		log.Info("serving /metrics, /healthz, /readyz", "addr", srv.Addr())
	}

	if !waitForDatabase(ctx, log, snk, cfg) {
		return exitOK // stopped while waiting
	}

	c, err := consume.New(consume.Config{
		Brokers:          cfg.brokers,
		Topic:            cfg.topic,
		Group:            cfg.group,
		Owner:            owner(),
		Policy:           cfg.policy,
		Parallelism:      cfg.parallelism,
		SessionTimeout:   cfg.sessionTimeout,
		RebalanceTimeout: cfg.rebalanceTimeout,
		Logger:           log,
		KafkaOpts:        []kgo.Opt{kgo.WithHooks(kafkaMetrics)},
	}, snk, decode.New(registry), m)
	if err != nil {
		fmt.Fprintf(stderr, "writer: %v\n", oneLine(err))
		return exitConfig
	}
	consumer.Store(c)
	log.Info("writing", "topic", cfg.topic, "group", cfg.group, "brokers", strings.Join(cfg.brokers, ","),
		"batch_max_records", cfg.policy.MaxRecords, "batch_max_bytes", cfg.policy.MaxBytes, "batch_max_wait", cfg.policy.MaxWait, "write_parallelism", cfg.parallelism)
	if err := c.Run(ctx); err != nil {
		log.Error("writer stopped", "err", err)
		return exitFail
	}
	log.Info("stopped cleanly")
	return exitOK
}

// waitForDatabase blocks until PostgreSQL answers and has the schema, so a
// writer started before its database (or its migration job) waits instead
// of crash-looping. It returns false if ctx ended first.
func waitForDatabase(ctx context.Context, log *slog.Logger, snk *sink.Sink, cfg *runConfig) bool {
	backoff := 500 * time.Millisecond
	for {
		err := snk.Ping(ctx)
		if err == nil {
			if err = snk.CheckSchema(ctx); err == nil {
				return true
			}
		}
		if ctx.Err() != nil {
			return false
		}
		log.Warn("waiting for PostgreSQL", "host", cfg.pool.ConnConfig.Host, "port", cfg.pool.ConnConfig.Port,
			"database", cfg.pool.ConnConfig.Database, "retry_in", backoff, "err", oneLine(err))
		select {
		case <-ctx.Done():
			return false
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, 15*time.Second)
	}
}

func owner() string {
	host, err := os.Hostname()
	if err != nil {
		host = "unknown-host"
	}
	return fmt.Sprintf("%s/%d", host, os.Getpid())
}

func level(s string) slog.Level {
	var l slog.Level
	_ = l.UnmarshalText([]byte(s))
	return l
}

func oneLine(err error) string {
	return strings.Join(strings.Fields(strings.ReplaceAll(err.Error(), "\n", "; ")), " ")
}
