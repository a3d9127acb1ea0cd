package scenario

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/finflow/finflow/bench/child"
	"github.com/finflow/finflow/bench/metrics"
	"github.com/finflow/finflow/bench/scratchdb"
)

// Writer metric names (README: Metrics reference).
const (
	mRows     = "finflow_writer_rows_written_total"
	mLag      = "finflow_writer_consumer_lag_records"
	mLatency  = "finflow_writer_end_to_end_latency_seconds"
	mCommit   = "finflow_writer_commit_duration_seconds"
	mAssigned = "finflow_writer_assigned_partitions"
	mDBErrors = "finflow_writer_db_errors_total"
)

// Sample is one reading of the writer's metrics.
type Sample struct {
	At   time.Time
	Rows float64 // finflow_writer_rows_written_total
	Lag  float64 // finflow_writer_consumer_lag_records, summed over partitions
}

// WriterOptions are the writer flags a scenario varies.
type WriterOptions struct {
	BatchMaxRecords int           // 0: the writer's default
	BatchMaxBytes   int           // 0: the writer's default
	BatchMaxWait    time.Duration // 0: the writer's default
}

func (o WriterOptions) args() []string {
	var a []string
	if o.BatchMaxRecords > 0 {
		a = append(a, "--batch-max-records", strconv.Itoa(o.BatchMaxRecords))
	}
	if o.BatchMaxBytes > 0 {
		a = append(a, "--batch-max-bytes", strconv.Itoa(o.BatchMaxBytes))
	}
	if o.BatchMaxWait > 0 {
		a = append(a, "--batch-max-wait", o.BatchMaxWait.String())
	}
	return a
}

// Writer is a running writer with its scratch database, sampled in the
// background.
type Writer struct {
	proc       *child.Process
	db         *scratchdb.DB
	metricsURL string
	env        *Env
	Started    time.Time

	stop   context.CancelFunc
	wg     sync.WaitGroup
	mu     sync.Mutex
	sample []Sample
	conns  ConnStats
}

// ConnStats is what pg_stat_activity showed of the writer's connections to
// its database, sampled: at most MaxOpen open, MaxActive running a statement
// and MaxCopying running a COPY at the same moment.
type ConnStats struct {
	MaxOpen, MaxActive, MaxCopying int
}

// StartWriter creates a fresh migrated database, starts `writer run` on it
// and waits until the writer serves its metrics.
func (e *Env) StartWriter(ctx context.Context, s *Stack, topic, group string, o WriterOptions) (*Writer, error) {
	db, err := scratchdb.Create(ctx, e.AdminURL, "finflow_bench")
	if err != nil {
		return nil, err
	}
	addr, err := freeAddr()
	if err != nil {
		_ = db.Drop(context.WithoutCancel(ctx))
		return nil, err
	}
	args := append([]string{"run",
		"--kafka-brokers", s.Brokers,
		"--schema-registry-url", s.Registry,
		"--kafka-topic", topic,
		"--metrics-addr", addr,
		"--consumer-group", group,
	}, o.args()...)
	// The database URL (with its password) goes in the environment, where
	// the writer reads DATABASE_URL, so it is not in the logs or ps.
	p, err := e.startEnv("writer", e.Bin.Writer, []string{"DATABASE_URL=" + db.URL}, args...)
	if err != nil {
		_ = db.Drop(context.WithoutCancel(ctx))
		return nil, err
	}
	w := &Writer{proc: p, db: db, metricsURL: "http://" + addr + "/metrics", env: e, Started: time.Now()}

	// Up when /metrics answers; a writer that exits first did not start.
	deadline := time.Now().Add(30 * time.Second)
	for {
		if _, err := metrics.Scrape(ctx, e.http, w.metricsURL); err == nil {
			break
		}
		select {
		case <-p.Exited():
			err := p.Stop(0)
			_ = db.Drop(context.WithoutCancel(ctx))
			return nil, failed(p, fmt.Errorf("writer exited at start-up: %v", err))
		case <-ctx.Done():
			w.Stop(context.WithoutCancel(ctx))
			return nil, ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			w.Stop(context.WithoutCancel(ctx))
			return nil, failed(p, fmt.Errorf("writer did not serve %s within 30s", w.metricsURL))
		}
	}

	sctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	w.stop = cancel
	w.wg.Add(2)
	go func() { defer w.wg.Done(); w.sampleMetrics(sctx) }()
	go func() { defer w.wg.Done(); w.sampleConns(sctx) }()
	return w, nil
}

func (w *Writer) sampleMetrics(ctx context.Context) {
	t := time.NewTicker(w.env.Poll)
	defer t.Stop()
	for {
		if s, err := metrics.Scrape(ctx, w.env.http, w.metricsURL); err == nil {
			w.mu.Lock()
			w.sample = append(w.sample, Sample{At: s.At, Rows: s.Sum(mRows), Lag: s.Sum(mLag)})
			w.mu.Unlock()
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// sampleConns watches pg_stat_activity for the writer's connections, from
// the admin database so the watcher's own connection is not counted.
func (w *Writer) sampleConns(ctx context.Context) {
	var conn *pgx.Conn
	defer func() {
		if conn != nil {
			conn.Close(context.WithoutCancel(ctx))
		}
	}()
	t := time.NewTicker(w.env.Sample)
	defer t.Stop()
	for {
		if conn == nil {
			// Reconnects after a server restart; a miss only loses samples.
			conn, _ = pgx.Connect(ctx, w.env.AdminURL)
		}
		if conn != nil {
			var open, active, copying int
			err := conn.QueryRow(ctx, `SELECT count(*), count(*) FILTER (WHERE state = 'active'),
				count(*) FILTER (WHERE state = 'active' AND query ILIKE 'copy %')
				FROM pg_stat_activity WHERE datname = $1 AND application_name <> $2`,
				w.db.Name, scratchdb.ApplicationName).Scan(&open, &active, &copying)
			if err == nil {
				w.mu.Lock()
				w.conns.MaxOpen = max(w.conns.MaxOpen, open)
				w.conns.MaxActive = max(w.conns.MaxActive, active)
				w.conns.MaxCopying = max(w.conns.MaxCopying, copying)
				w.mu.Unlock()
			} else if conn.IsClosed() {
				conn = nil
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// Samples returns the samples so far.
func (w *Writer) Samples() []Sample {
	w.mu.Lock()
	defer w.mu.Unlock()
	return append([]Sample(nil), w.sample...)
}

// Conns returns the connection counts seen so far.
func (w *Writer) Conns() ConnStats {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.conns
}

func (w *Writer) latest() (Sample, bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if len(w.sample) == 0 {
		return Sample{}, false
	}
	return w.sample[len(w.sample)-1], true
}

// ErrStalled means the writer made no progress for too long.
var ErrStalled = errors.New("writer stalled")

// WaitRows waits until the writer reports at least n rows written and
// returns the time of the first sample that showed it. It fails when the
// writer exits, or writes nothing for stall.
func (w *Writer) WaitRows(ctx context.Context, n int64, stall time.Duration) (time.Time, error) {
	t := time.NewTicker(w.env.Poll / 2)
	defer t.Stop()
	lastRows, lastMove := -1.0, time.Now()
	for {
		if s, ok := w.latest(); ok {
			if s.Rows >= float64(n) {
				return s.At, nil
			}
			if s.Rows != lastRows {
				lastRows, lastMove = s.Rows, time.Now()
			}
		}
		if time.Since(lastMove) > stall {
			return time.Time{}, failed(w.proc, fmt.Errorf("%w: %.0f of %d rows written, none for %s", ErrStalled, max(lastRows, 0), n, stall))
		}
		select {
		case <-w.proc.Exited():
			return time.Time{}, failed(w.proc, fmt.Errorf("writer exited (%v) after %.0f of %d rows", w.proc.Stop(0), max(lastRows, 0), n))
		case <-ctx.Done():
			return time.Time{}, ctx.Err()
		case <-t.C:
		}
	}
}

// WaitAssigned waits until the writer owns n partitions, so a run does not
// time the group join.
func (w *Writer) WaitAssigned(ctx context.Context, n int, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for {
		s, err := w.Scrape(ctx)
		if err == nil && s.Sum(mAssigned) >= float64(n) {
			return nil
		}
		if time.Now().After(deadline) {
			return failed(w.proc, fmt.Errorf("writer did not get its %d partitions within %s (last scrape: %v)", n, timeout, err))
		}
		select {
		case <-w.proc.Exited():
			return failed(w.proc, fmt.Errorf("writer exited (%v) before its partitions were assigned", w.proc.Stop(0)))
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// Scrape reads the writer's metrics now.
func (w *Writer) Scrape(ctx context.Context) (metrics.Snapshot, error) {
	return metrics.Scrape(ctx, w.env.http, w.metricsURL)
}

// Query runs fn on a connection to the writer's database.
func (w *Writer) Query(ctx context.Context, fn func(*pgx.Conn) error) error {
	c, err := scratchdb.Connect(ctx, w.db.URL)
	if err != nil {
		return fmt.Errorf("connect to the writer's database: %w", err)
	}
	defer c.Close(context.WithoutCancel(ctx))
	return fn(c)
}

// Stopped is what a writer leaves when stopped.
type Stopped struct {
	PeakRSS int64
	ExitErr error // the writer did not shut down cleanly
}

// Stop stops sampling, asks the writer to shut down, and drops its
// database.
func (w *Writer) Stop(ctx context.Context) Stopped {
	if w.stop != nil {
		w.stop()
		w.wg.Wait()
	}
	err := w.proc.Stop(30 * time.Second)
	if derr := w.db.Drop(ctx); derr != nil {
		w.env.Logf("warning: %v", derr)
	}
	return Stopped{PeakRSS: w.proc.PeakRSS(), ExitErr: err}
}
