package scenario

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/jackc/pgx/v5"
)

// DrainConfig is one repetition of the drain measurement.
type DrainConfig struct {
	Records int    // pre-filled into the topic
	Seed    uint64 // the producer's --seed
	// Variants are the writer settings to drain the same topic with, each
	// into its own fresh database under its own consumer group.
	Variants []WriterOptions
	// Stall is how long the writer may go without writing a row before
	// the run is declared broken. Default 2 minutes.
	Stall time.Duration
}

// DrainRep is one repetition: the pre-fill (which measures the producer)
// and one drain per variant.
type DrainRep struct {
	Prefill Produced
	Runs    []DrainRun
}

// DrainRun is the writer draining the pre-filled topic.
type DrainRun struct {
	Options  WriterOptions
	Rows     int64
	Started  time.Time // writer process started
	FirstRow time.Time // the first batch's transaction began (min(ingested_at))
	Done     time.Time // first metrics sample showing every row written
	PeakRSS  int64
	Conns    ConnStats
	Samples  []Sample
	DBErrors float64 // finflow_writer_db_errors_total at the end: retried errors slow a run
	ExitErr  error   // the writer did not shut down cleanly (reported, not fatal)
}

// RowsPerSecond is rows over first row → last commit.
func (r DrainRun) RowsPerSecond() float64 {
	d := r.Done.Sub(r.FirstRow)
	if d <= 0 {
		return 0
	}
	return float64(r.Rows) / d.Seconds()
}

// Drain pre-fills a topic on a fresh devstack with the producer at full
// speed, then drains it once per variant.
func (e *Env) Drain(ctx context.Context, cfg DrainConfig, rep int) (DrainRep, error) {
	if cfg.Stall <= 0 {
		cfg.Stall = 2 * time.Minute
	}
	st, err := e.StartStack(ctx)
	if err != nil {
		return DrainRep{}, err
	}
	defer func() {
		if err := st.Close(); err != nil {
			e.Logf("warning: devstack: %v", err)
		}
	}()
	topic := fmt.Sprintf("bench-drain-%d", rep)
	if err := e.CreateTopic(ctx, st, topic); err != nil {
		return DrainRep{}, err
	}

	e.Logf("  pre-fill: producer --rate 0 --count %d", cfg.Records)
	// Generous: even 20k events/s would do a million in under a minute.
	timeout := 2*time.Minute + time.Duration(cfg.Records)*50*time.Microsecond
	pre, err := e.Produce(ctx, st, topic, cfg.Seed, timeout, "--rate", "0", "--count", strconv.Itoa(cfg.Records))
	if err != nil {
		return DrainRep{}, err
	}
	if pre.Produced != int64(cfg.Records) {
		return DrainRep{}, fmt.Errorf("producer acknowledged %d records, want %d", pre.Produced, cfg.Records)
	}
	e.Logf("  pre-fill: %d events in %s = %.0f events/s", pre.Produced, pre.Elapsed, pre.EventsPerSecond())
	out := DrainRep{Prefill: pre}

	for i, v := range cfg.Variants {
		run, err := e.drainOnce(ctx, st, topic, fmt.Sprintf("bench-%d-%d", rep, i), int64(cfg.Records), v, cfg.Stall)
		if err != nil {
			return DrainRep{}, err
		}
		e.Logf("  drain (batch-max-records %s): %d rows in %s = %.0f rows/s, writer peak RSS %.0f MiB",
			batchLabel(v.BatchMaxRecords), run.Rows, run.Done.Sub(run.FirstRow).Round(time.Millisecond), run.RowsPerSecond(), float64(run.PeakRSS)/(1<<20))
		out.Runs = append(out.Runs, run)
	}
	return out, nil
}

func batchLabel(n int) string {
	if n == 0 {
		return "default"
	}
	return strconv.Itoa(n)
}

func (e *Env) drainOnce(ctx context.Context, st *Stack, topic, group string, n int64, o WriterOptions, stall time.Duration) (DrainRun, error) {
	w, err := e.StartWriter(ctx, st, topic, group, o)
	if err != nil {
		return DrainRun{}, err
	}
	run := DrainRun{Options: o, Started: w.Started}
	done, err := w.WaitRows(ctx, n, stall)
	if err != nil {
		w.Stop(context.WithoutCancel(ctx))
		return DrainRun{}, err
	}
	run.Done = done
	if s, err := w.Scrape(ctx); err == nil {
		run.DBErrors = s.Sum(mDBErrors)
	}
	run.Samples, run.Conns = w.Samples(), w.Conns()
	var count, dead int64
	err = w.Query(ctx, func(c *pgx.Conn) error {
		return c.QueryRow(ctx, `SELECT (SELECT count(*) FROM raw_transactions), (SELECT min(ingested_at) FROM raw_transactions),
			(SELECT count(*) FROM dead_letters)`).Scan(&count, &run.FirstRow, &dead)
	})
	stopped := w.Stop(context.WithoutCancel(ctx))
	run.PeakRSS, run.ExitErr = stopped.PeakRSS, stopped.ExitErr
	if err != nil {
		return DrainRun{}, fmt.Errorf("check the drained table: %w", err)
	}
	// Exactly once: every record is one row, none dead-lettered (the
	// producer only makes valid transactions).
	if count != n || dead != 0 {
		return DrainRun{}, fmt.Errorf("writer stored %d rows and %d dead letters for %d records: the drain is not exactly once", count, dead, n)
	}
	run.Rows = count
	return run, nil
}
