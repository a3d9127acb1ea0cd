package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/finflow/finflow/services/kit/config"
	"github.com/finflow/finflow/services/kit/pgtest"
)

// cfg is the harness's configuration. Defaults are the full run's; --smoke
// swaps in the smoke defaults for every setting not given explicitly.
type cfg struct {
	smoke           bool
	out             string        // results directory
	binDir          string        // producer, writer, devstack binaries
	records         int           // drain topic size and ceiling rows
	reps            int           // repetitions of every measurement
	rates           []int         // latency runs, events/s
	latencyDuration time.Duration // producer time per latency run
	latencyMaxWait  time.Duration // extra latency runs with this --batch-max-wait; 0: none
	batchSizes      []int         // scaling curve, --batch-max-records
	curveMaxBytes   int           // --batch-max-bytes for the curve; 0: the writer's default
	seed            uint64
	databaseURL     string
}

// Full-run defaults, and the smoke run's (small and quick: CI runs it so the
// harness keeps working, not to measure).
const (
	defRecords    = 1_000_000
	defReps       = 3
	defLatencyDur = 30 * time.Second
	defRates      = "1000,10000"
	defBatchSizes = "1000,5000,10000,20000,50000"

	smokeRecords    = 50_000
	smokeReps       = 1
	smokeLatencyDur = 4 * time.Second
	smokeBatchSizes = "1000,10000"
)

func parseConfig(args []string, stderr io.Writer) (cfg, error) {
	fs := flag.NewFlagSet("finflow-bench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintf(stderr, "usage: finflow-bench [flags]\n\nMeasures the COPY ceiling, the writer's drain rate and batch-size curve, the producer's\n"+
			"rate, end-to-end latency at fixed rates and peak memory; writes a Markdown report and charts.\n\n")
		fs.PrintDefaults()
	}
	var c cfg
	var rates, sizes string
	fs.BoolVar(&c.smoke, "smoke", false, "quick run with small defaults (CI: keeps the harness working; figures are not meaningful)")
	fs.StringVar(&c.out, "out", "results", "results directory; each run writes <out>/<time>-<mode>/ and points <out>/latest at it")
	fs.StringVar(&c.binDir, "bin-dir", "bin", "directory holding the producer, writer and devstack binaries (make build)")
	fs.IntVar(&c.records, "records", defRecords, fmt.Sprintf("records in the drained topic and rows in the COPY ceiling (smoke: %d)", smokeRecords))
	fs.IntVar(&c.reps, "reps", defReps, fmt.Sprintf("repetitions of every measurement; figures are their median (smoke: %d)", smokeReps))
	fs.StringVar(&rates, "rates", defRates, "comma-separated fixed rates (events/s) for the latency runs")
	fs.DurationVar(&c.latencyDuration, "latency-duration", defLatencyDur, fmt.Sprintf("how long the producer runs at each fixed rate (smoke: %s)", smokeLatencyDur))
	fs.DurationVar(&c.latencyMaxWait, "latency-max-wait", 0, "also run every latency run with the writer at this --batch-max-wait, reported separately (0 = only the writer's default)")
	fs.StringVar(&sizes, "batch-sizes", defBatchSizes, fmt.Sprintf("comma-separated --batch-max-records values for the scaling curve (smoke: %s)", smokeBatchSizes))
	fs.IntVar(&c.curveMaxBytes, "curve-batch-max-bytes", 0, "--batch-max-bytes for the scaling curve's writers (0 = the writer's default); must hold the largest batch size's records")
	fs.Uint64Var(&c.seed, "seed", 1, "generator seed for the producer and the ceiling's rows")
	fs.StringVar(&c.databaseURL, "database-url", pgtest.DefaultURL, "PostgreSQL server to create (and drop) scratch databases on")
	if err := config.Parse(fs, args); err != nil {
		return cfg{}, err
	}
	if fs.NArg() > 0 {
		return cfg{}, fmt.Errorf("unexpected arguments: %q", fs.Args())
	}
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	// config.Parse applies the environment too; treat those as given.
	fs.VisitAll(func(f *flag.Flag) {
		if _, ok := os.LookupEnv(config.EnvName(f.Name)); ok {
			set[f.Name] = true
		}
	})
	if c.smoke {
		if !set["records"] {
			c.records = smokeRecords
		}
		if !set["reps"] {
			c.reps = smokeReps
		}
		if !set["latency-duration"] {
			c.latencyDuration = smokeLatencyDur
		}
		if !set["batch-sizes"] {
			sizes = smokeBatchSizes
		}
	}
	var err error
	if c.rates, err = intList(rates); err != nil {
		return cfg{}, fmt.Errorf("RATES: %w", err)
	}
	if c.batchSizes, err = intList(sizes); err != nil {
		return cfg{}, fmt.Errorf("BATCH_SIZES: %w", err)
	}
	return c, c.validate()
}

// validate names the setting to fix in one line.
func (c *cfg) validate() error {
	switch {
	case c.records < 1000:
		return fmt.Errorf("RECORDS: %d is too few to time (at least 1000)", c.records)
	case c.reps < 1:
		return fmt.Errorf("REPS: %d, want at least 1", c.reps)
	case c.latencyDuration < time.Second:
		return fmt.Errorf("LATENCY_DURATION: %s is too short (at least 1s)", c.latencyDuration)
	case c.latencyMaxWait < 0:
		return fmt.Errorf("LATENCY_MAX_WAIT: %s is negative", c.latencyMaxWait)
	case c.curveMaxBytes != 0 && c.curveMaxBytes < 1<<20:
		return fmt.Errorf("CURVE_BATCH_MAX_BYTES: %d is under 1 MiB (0 = the writer's default)", c.curveMaxBytes)
	case c.out == "":
		return errors.New("OUT: empty results directory")
	}
	for _, r := range c.rates {
		if r <= 0 {
			return fmt.Errorf("RATES: %d is not a fixed rate (events/s > 0)", r)
		}
	}
	for _, b := range c.batchSizes {
		if b <= 0 {
			return fmt.Errorf("BATCH_SIZES: %d is not a batch size", b)
		}
	}
	if st, err := os.Stat(c.binDir); err != nil || !st.IsDir() {
		return fmt.Errorf("BIN_DIR: %q is not a directory with the producer, writer and devstack binaries (make build)", c.binDir)
	}
	return nil
}

func (c *cfg) mode() string {
	if c.smoke {
		return "smoke"
	}
	return "full"
}

func (c *cfg) bin(name string) string { return filepath.Join(c.binDir, name) }

func intList(s string) ([]int, error) {
	var out []int
	for _, f := range strings.Split(s, ",") {
		f = strings.TrimSpace(strings.ReplaceAll(f, "_", ""))
		if f == "" {
			continue
		}
		n, err := strconv.Atoi(f)
		if err != nil {
			return nil, fmt.Errorf("%q is not a whole number", f)
		}
		out = append(out, n)
	}
	if len(out) == 0 {
		return nil, errors.New("empty list")
	}
	return out, nil
}
