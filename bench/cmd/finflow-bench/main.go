// Command finflow-bench measures finflow on this machine in one run — the
// COPY ceiling of PostgreSQL, the writer draining a pre-filled topic (and its
// batch-size curve), the producer's rate, end-to-end latency at fixed rates,
// and peak memory — and writes a Markdown report with charts under the
// results directory (also printed on stdout).
//
//	finflow-bench [--smoke] [--out results] [--bin-dir bin] [--records N] [--reps N] ...
//
// Targets missed are reported, never a failure: it exits non-zero only when
// it cannot measure (bad settings: 2; a component does not start, crashes or
// stalls: 1).
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/finflow/finflow/bench/ceiling"
	"github.com/finflow/finflow/bench/machine"
	"github.com/finflow/finflow/bench/report"
	"github.com/finflow/finflow/bench/scenario"
	"github.com/finflow/finflow/bench/scratchdb"
	finflowv1 "github.com/finflow/finflow/gen/finflow/v1"
	"github.com/finflow/finflow/services/producer/generator"
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func run(args []string, stdout, stderr io.Writer) int {
	c, err := parseConfig(args, stderr)
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	if err != nil {
		fmt.Fprintf(stderr, "finflow-bench: %v\n", err)
		return 2
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	go func() {
		<-ctx.Done()
		stop() // a second signal now kills the harness the default way; its children die with it (Pdeathsig)
	}()

	b := &bench{cfg: c, stderr: stderr, started: time.Now()}
	if err := b.run(ctx, stdout); err != nil {
		fmt.Fprintf(stderr, "finflow-bench: cannot measure: %v\n", err)
		return 1
	}
	return 0
}

type bench struct {
	cfg     cfg
	stderr  io.Writer
	started time.Time
	dir     string
	env     *scenario.Env

	results results
	retries []string // measurements repeated after PostgreSQL went away
}

// results is every measurement of the run.
type results struct {
	Mode       string
	Machine    machine.Info
	PostgreSQL string
	// Ceiling rows/s by connections: via pgx CopyFrom, and pre-encoded.
	Ceiling        map[int][]float64
	CeilingEncoded map[int][]float64
	Drains         []scenario.DrainRep
	Latency        map[int][]scenario.LatencyRun
	// LatencyWait are the latency runs at --latency-max-wait.
	LatencyWait map[int][]scenario.LatencyRun
}

func (b *bench) logf(format string, args ...any) {
	fmt.Fprintf(b.stderr, "%s %s\n", time.Now().Format("15:04:05"), fmt.Sprintf(format, args...))
}

func (b *bench) run(ctx context.Context, stdout io.Writer) error {
	c := b.cfg
	b.dir = filepath.Join(c.out, b.started.UTC().Format("20060102T150405Z")+"-"+c.mode())
	b.env = &scenario.Env{
		Bin:      scenario.Binaries{Producer: c.bin("producer"), Writer: c.bin("writer"), Devstack: c.bin("devstack")},
		AdminURL: c.databaseURL,
		LogDir:   filepath.Join(b.dir, "logs"),
		Logf:     b.logf,
	}
	if err := b.env.Defaults(); err != nil {
		return err
	}
	b.logf("finflow-bench %s run: %d records, %d reps, results in %s", c.mode(), c.records, c.reps, b.dir)

	b.results = results{Mode: c.mode(), Machine: machine.Describe(),
		Ceiling: map[int][]float64{}, CeilingEncoded: map[int][]float64{}, Latency: map[int][]scenario.LatencyRun{}, LatencyWait: map[int][]scenario.LatencyRun{}}
	pg, err := scratchdb.ServerVersion(ctx, c.databaseURL)
	if err != nil {
		return fmt.Errorf("PostgreSQL (start it with make postgres): %w", err)
	}
	b.results.PostgreSQL = pg
	// The settings that most move COPY and commit speed, for context.
	names := []string{"shared_buffers", "max_wal_size", "synchronous_commit", "fsync", "wal_compression"}
	if vals, err := scratchdb.Settings(ctx, c.databaseURL, names...); err == nil {
		for i, n := range names {
			b.results.PostgreSQL += fmt.Sprintf(", %s=%s", n, vals[i])
		}
	}

	if err := b.ceiling(ctx); err != nil {
		return fmt.Errorf("ceiling: %w", err)
	}
	if err := b.drains(ctx); err != nil {
		return fmt.Errorf("drain: %w", err)
	}
	if err := b.latency(ctx); err != nil {
		return fmt.Errorf("latency: %w", err)
	}
	return b.write(stdout)
}

// ceiling copies the same generated rows into fresh databases with 1 and 2
// connections, via pgx (client encodes) and as pre-encoded bytes.
func (b *bench) ceiling(ctx context.Context) error {
	c := b.cfg
	b.logf("ceiling: generating %d transactions (seed %d) and mapping them to rows", c.records, c.seed)
	rows, err := generateRows(c.records, c.seed, b.env.Partitions)
	if err != nil {
		return err
	}
	encoded := map[int]ceiling.Encoded{}
	for _, conns := range []int{1, 2} {
		if encoded[conns], err = ceiling.Encode(rows, conns); err != nil {
			return err
		}
	}
	for rep := range c.reps {
		for _, conns := range []int{1, 2} {
			for _, pre := range []bool{false, true} {
				how := "pgx CopyFrom"
				if pre {
					how = "pre-encoded"
				}
				var res ceiling.Result
				err := b.retryRestart(ctx, fmt.Sprintf("ceiling rep %d, %d conn, %s", rep+1, conns, how), func() error {
					db, err := scratchdb.Create(ctx, c.databaseURL, "finflow_bench")
					if err != nil {
						return err
					}
					if pre {
						res, err = ceiling.CopyEncoded(ctx, db.URL, encoded[conns])
					} else {
						res, err = ceiling.Copy(ctx, db.URL, rows, conns)
					}
					if derr := db.Drop(context.WithoutCancel(ctx)); derr != nil {
						b.logf("warning: %v", derr)
					}
					return err
				})
				if err != nil {
					return err
				}
				if pre {
					b.results.CeilingEncoded[conns] = append(b.results.CeilingEncoded[conns], res.RowsPerSecond())
				} else {
					b.results.Ceiling[conns] = append(b.results.Ceiling[conns], res.RowsPerSecond())
				}
				b.logf("ceiling rep %d, %d conn, %s: %d rows in %s = %.0f rows/s", rep+1, conns, how, res.Rows, res.Elapsed.Round(time.Millisecond), res.RowsPerSecond())
			}
		}
	}
	return nil
}

// retryRestart runs a measurement again (up to twice) when it failed because
// PostgreSQL was stopped or restarted under it — on a shared development
// machine other suites restart it — and records that in the report. Any
// other error, or a third loss, fails the run.
func (b *bench) retryRestart(ctx context.Context, what string, fn func() error) error {
	for attempt := 1; ; attempt++ {
		err := fn()
		if err == nil || !scratchdb.IsServerGone(err) || attempt == 3 || ctx.Err() != nil {
			return err
		}
		b.logf("warning: %s: PostgreSQL went away (%v); measuring again", what, err)
		b.retries = append(b.retries, fmt.Sprintf("%s was measured again: PostgreSQL went away during it (%v).", what, err))
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(2 * time.Second):
		}
	}
}

// generateRows makes n transactions with the producer's generator and maps
// them to raw_transactions rows, spread over the partitions as offsets.
func generateRows(n int, seed uint64, partitions int) ([]ceiling.Row, error) {
	g, err := generator.New(generator.Config{Seed: seed})
	if err != nil {
		return nil, fmt.Errorf("generator: %w", err)
	}
	rows := make([]ceiling.Row, n)
	var tx finflowv1.Transaction
	for i := range rows {
		g.Next(&tx)
		p := i % partitions
		rows[i], err = ceiling.FromTransaction(&tx, ceiling.Coordinates{
			Topic: "transactions", Partition: int32(p), Offset: int64(i / partitions), SchemaID: 1,
		})
		if err != nil {
			return nil, fmt.Errorf("generated transaction %d: %w", i, err)
		}
	}
	return rows, nil
}

// drains pre-fills a topic per repetition (the producer measurement) and
// drains it with the writer's defaults and at every curve batch size.
func (b *bench) drains(ctx context.Context) error {
	c := b.cfg
	variants := []scenario.WriterOptions{{}} // the writer's defaults first
	for _, n := range c.batchSizes {
		variants = append(variants, scenario.WriterOptions{BatchMaxRecords: n, BatchMaxBytes: c.curveMaxBytes})
	}
	for rep := range c.reps {
		b.logf("drain rep %d/%d: %d records, %d writer runs", rep+1, c.reps, c.records, len(variants))
		var r scenario.DrainRep
		err := b.retryRestart(ctx, fmt.Sprintf("drain rep %d", rep+1), func() (err error) {
			r, err = b.env.Drain(ctx, scenario.DrainConfig{Records: c.records, Seed: c.seed + uint64(rep), Variants: variants}, rep)
			return err
		})
		if err != nil {
			return err
		}
		b.results.Drains = append(b.results.Drains, r)
	}
	return nil
}

// latency runs each fixed rate per repetition, rates interleaved so drift
// on a shared machine hits them alike.
func (b *bench) latency(ctx context.Context) error {
	c := b.cfg
	for rep := range c.reps {
		for _, rate := range c.rates {
			b.logf("latency rep %d/%d: %d events/s for %s", rep+1, c.reps, rate, c.latencyDuration)
			lc := scenario.LatencyConfig{Rate: rate, Duration: c.latencyDuration, Seed: c.seed + uint64(rep)}
			var r scenario.LatencyRun
			err := b.retryRestart(ctx, fmt.Sprintf("latency rep %d at %d/s", rep+1, rate), func() (err error) {
				r, err = b.env.Latency(ctx, lc, rep)
				return err
			})
			if err != nil {
				return err
			}
			b.results.Latency[rate] = append(b.results.Latency[rate], r)
			if c.latencyMaxWait > 0 {
				b.logf("latency rep %d/%d: %d events/s for %s, writer --batch-max-wait %s", rep+1, c.reps, rate, c.latencyDuration, c.latencyMaxWait)
				lc.Writer.BatchMaxWait = c.latencyMaxWait
				err := b.retryRestart(ctx, fmt.Sprintf("latency rep %d at %d/s with --batch-max-wait %s", rep+1, rate, c.latencyMaxWait), func() (err error) {
					r, err = b.env.Latency(ctx, lc, rep)
					return err
				})
				if err != nil {
					return err
				}
				b.results.LatencyWait[rate] = append(b.results.LatencyWait[rate], r)
			}
		}
	}
	return nil
}

// write renders the report and charts into the run's directory and stdout.
func (b *bench) write(stdout io.Writer) error {
	rep := buildReport(b.cfg, b.results, time.Since(b.started), b.started)
	rep.Command = "finflow-bench " + strings.Join(os.Args[1:], " ")
	rep.Notes = append(rep.Notes, b.retries...)
	charts, err := writeCharts(b.dir, b.cfg, b.results)
	if err != nil {
		// A chart is a view of the figures, not a figure: say so, go on.
		b.logf("warning: charts: %v", err)
		rep.Notes = append(rep.Notes, "Charts could not be drawn: "+err.Error())
	}
	rep.Charts = charts

	var md strings.Builder
	if err := report.Render(&md, rep); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(b.dir, "report.md"), []byte(md.String()), 0o644); err != nil {
		return fmt.Errorf("write report: %w", err)
	}
	raw, err := json.MarshalIndent(rep, "", "  ")
	if err != nil {
		return fmt.Errorf("encode results.json: %w", err)
	}
	if err := os.WriteFile(filepath.Join(b.dir, "results.json"), raw, 0o644); err != nil {
		return fmt.Errorf("write results.json: %w", err)
	}
	latest := filepath.Join(b.cfg.out, "latest")
	_ = os.Remove(latest)
	if err := os.Symlink(filepath.Base(b.dir), latest); err != nil {
		b.logf("warning: %v", err)
	}
	b.logf("report: %s", filepath.Join(b.dir, "report.md"))
	_, err = io.WriteString(stdout, md.String())
	return err
}
