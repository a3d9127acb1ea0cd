package scenario

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/finflow/finflow/bench/metrics"
)

// Quantiles reported for latency.
var Quantiles = []float64{0.5, 0.95, 0.99}

// LatencyConfig is one latency run.
type LatencyConfig struct {
	Rate     int           // events/s
	Duration time.Duration // how long the producer runs
	Seed     uint64
	Writer   WriterOptions
	Stall    time.Duration // default 2 minutes
}

// LatencyRun is a fixed-rate run through a live writer.
type LatencyRun struct {
	Rate     int
	Producer Produced
	Start    time.Time // producer started
	// Histogram is the writer's end-to-end latency histogram over the run
	// (after − before), and Estimates its quantiles.
	Histogram metrics.Histogram
	Estimates []metrics.Estimate
	// Commit is the writer's commit-duration histogram over the run.
	Commit metrics.Histogram
	// DBQuantiles are exact quantiles of ingested_at − event_time from the
	// table, in seconds: a lower bound, as ingested_at is when the batch's
	// transaction began, not when it committed.
	DBQuantiles []float64
	WriterRSS   int64
	Samples     []Sample
	DBErrors    float64 // finflow_writer_db_errors_total over the run: retried errors add latency
	ExitErr     error
}

// Latency runs the producer at a fixed rate through a writer that already
// owns its partitions, and reads the latency the writer observed.
func (e *Env) Latency(ctx context.Context, cfg LatencyConfig, rep int) (LatencyRun, error) {
	if cfg.Stall <= 0 {
		cfg.Stall = 2 * time.Minute
	}
	st, err := e.StartStack(ctx)
	if err != nil {
		return LatencyRun{}, err
	}
	defer func() {
		if err := st.Close(); err != nil {
			e.Logf("warning: devstack: %v", err)
		}
	}()
	topic := fmt.Sprintf("bench-latency-%d-%d", cfg.Rate, rep)
	if err := e.CreateTopic(ctx, st, topic); err != nil {
		return LatencyRun{}, err
	}
	w, err := e.StartWriter(ctx, st, topic, fmt.Sprintf("bench-latency-%d-%d", cfg.Rate, rep), cfg.Writer)
	if err != nil {
		return LatencyRun{}, err
	}
	run, err := e.latency(ctx, st, w, topic, cfg)
	run.Samples = w.Samples()
	stopped := w.Stop(context.WithoutCancel(ctx))
	run.WriterRSS, run.ExitErr = stopped.PeakRSS, stopped.ExitErr
	return run, err
}

func (e *Env) latency(ctx context.Context, st *Stack, w *Writer, topic string, cfg LatencyConfig) (LatencyRun, error) {
	run := LatencyRun{Rate: cfg.Rate}
	if err := w.WaitAssigned(ctx, e.Partitions, time.Minute); err != nil {
		return run, err
	}
	before, err := w.Scrape(ctx)
	if err != nil {
		return run, fmt.Errorf("scrape writer: %w", err)
	}
	h0, err := before.Histogram(mLatency)
	if err != nil {
		return run, fmt.Errorf("writer metrics: %w", err)
	}
	c0, err := before.Histogram(mCommit)
	if err != nil {
		return run, fmt.Errorf("writer metrics: %w", err)
	}

	run.Start = time.Now()
	run.Producer, err = e.Produce(ctx, st, topic, cfg.Seed, cfg.Duration+2*time.Minute,
		"--rate", strconv.Itoa(cfg.Rate), "--duration", cfg.Duration.String())
	if err != nil {
		return run, err
	}
	if run.Producer.Produced == 0 {
		return run, fmt.Errorf("producer acknowledged no records at --rate %d", cfg.Rate)
	}
	if _, err := w.WaitRows(ctx, int64(before.Sum(mRows))+run.Producer.Produced, cfg.Stall); err != nil {
		return run, err
	}

	after, err := w.Scrape(ctx)
	if err != nil {
		return run, fmt.Errorf("scrape writer: %w", err)
	}
	h1, err := after.Histogram(mLatency)
	if err != nil {
		return run, fmt.Errorf("writer metrics: %w", err)
	}
	if run.Histogram, err = h1.Sub(h0); err != nil {
		return run, fmt.Errorf("latency histogram: %w", err)
	}
	c1, err := after.Histogram(mCommit)
	if err != nil {
		return run, fmt.Errorf("writer metrics: %w", err)
	}
	run.DBErrors = after.Sum(mDBErrors) - before.Sum(mDBErrors)
	if run.Commit, err = c1.Sub(c0); err != nil {
		return run, fmt.Errorf("commit histogram: %w", err)
	}
	for _, q := range Quantiles {
		est, err := run.Histogram.Quantile(q)
		if err != nil {
			return run, fmt.Errorf("latency p%g: %w", q*100, err)
		}
		run.Estimates = append(run.Estimates, est)
	}

	err = w.Query(ctx, func(c *pgx.Conn) error {
		return c.QueryRow(ctx, `SELECT percentile_cont($1::float8[]) WITHIN GROUP
			(ORDER BY extract(epoch FROM ingested_at - event_time)) FROM raw_transactions`, Quantiles).Scan(&run.DBQuantiles)
	})
	if err != nil {
		return run, fmt.Errorf("latency from the table: %w", err)
	}
	e.Logf("  latency at %d/s: %d events, histogram p50 %.1f ms p95 %.1f ms p99 %.1f ms; table p99 %.1f ms",
		cfg.Rate, run.Producer.Produced, run.Estimates[0].Value*1000, run.Estimates[1].Value*1000, run.Estimates[2].Value*1000, run.DBQuantiles[2]*1000)
	return run, nil
}
