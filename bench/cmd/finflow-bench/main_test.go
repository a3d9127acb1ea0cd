package main

import (
	"io"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/finflow/finflow/bench/machine"
	"github.com/finflow/finflow/bench/metrics"
	"github.com/finflow/finflow/bench/report"
	"github.com/finflow/finflow/bench/scenario"
)

func TestParseConfigSmokeDefaults(t *testing.T) {
	dir := t.TempDir()
	c, err := parseConfig([]string{"--smoke", "--bin-dir", dir, "--reps", "2"}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if c.records != smokeRecords || c.latencyDuration != smokeLatencyDur || len(c.batchSizes) != 2 {
		t.Errorf("smoke defaults not applied: %+v", c)
	}
	if c.reps != 2 {
		t.Errorf("an explicit --reps was overridden by the smoke default: %d", c.reps)
	}
	full, err := parseConfig([]string{"--bin-dir", dir}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if full.records != 1_000_000 || full.reps != 3 || full.latencyDuration != 30*time.Second ||
		len(full.batchSizes) != 5 || len(full.rates) != 2 || full.rates[1] != 10000 {
		t.Errorf("full defaults: %+v", full)
	}
}

func TestParseConfigRejectsBadSettings(t *testing.T) {
	dir := t.TempDir()
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--records", "10"}, "RECORDS"},
		{[]string{"--reps", "0"}, "REPS"},
		{[]string{"--rates", "1000,-5"}, "RATES"},
		{[]string{"--rates", "fast"}, "RATES"},
		{[]string{"--batch-sizes", ""}, "BATCH_SIZES"},
		{[]string{"--latency-duration", "10ms"}, "LATENCY_DURATION"},
		{[]string{"--bin-dir", dir + "/missing"}, "BIN_DIR"},
		{[]string{"extra"}, "unexpected"},
	} {
		args := append([]string{"--bin-dir", dir}, tc.args...)
		_, err := parseConfig(args, io.Discard)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%q: err = %v, want one naming %s", tc.args, err, tc.want)
		}
	}
}

func TestParseConfigReadsTheEnvironment(t *testing.T) {
	t.Setenv("RECORDS", "2000")
	c, err := parseConfig([]string{"--smoke", "--bin-dir", t.TempDir()}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if c.records != 2000 {
		t.Errorf("records = %d, want RECORDS=2000 to win over the smoke default", c.records)
	}
}

func TestSeries(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	var s []scenario.Sample
	// Polled every 50 ms: 2,000 rows per poll = 40,000 rows/s, lag falling.
	for i := range 21 {
		s = append(s, scenario.Sample{At: t0.Add(time.Duration(i) * 50 * time.Millisecond), Rows: float64(2000 * i), Lag: float64(40000 - 2000*i)})
	}
	tp, lag := series(s, t0, 250*time.Millisecond, 500*time.Millisecond)
	if len(lag) != 5 || len(tp) != 4 {
		t.Fatalf("got %d lag and %d throughput points, want 5 and 4 (one per 250 ms over 1 s)", len(lag), len(tp))
	}
	for _, p := range tp {
		if math.Abs(p.Y-40000) > 1e-6 {
			t.Errorf("throughput at %v = %v, want 40,000", p.X, p.Y)
		}
	}
	if lag[4].X != 1 || lag[4].Y != 0 {
		t.Errorf("last lag point = %+v, want (1, 0)", lag[4])
	}

	// Bursts: 5,000 rows committed every 250 ms. Over a 1 s window the
	// rate is steady at 20,000/s once the window is full.
	s = s[:0]
	for i := range 41 {
		s = append(s, scenario.Sample{At: t0.Add(time.Duration(i) * 50 * time.Millisecond), Rows: float64(5000 * (i / 5))})
	}
	tp, _ = series(s, t0, 250*time.Millisecond, time.Second)
	for _, p := range tp {
		if p.X >= 1 && math.Abs(p.Y-20000) > 1e-6 {
			t.Errorf("windowed rate at %vs = %v, want 20,000", p.X, p.Y)
		}
	}
	if len(tp) != 8 {
		t.Errorf("got %d throughput points over 2 s, want 8", len(tp))
	}
}

func hist(t *testing.T, b []metrics.Bucket, count float64) metrics.Histogram {
	t.Helper()
	h, err := metrics.New(b, count, 0)
	if err != nil {
		t.Fatal(err)
	}
	return h
}

func TestBuildReport(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	drain := func(rps float64, rss int64) scenario.DrainRun {
		return scenario.DrainRun{Rows: 1_000_000, Started: t0, FirstRow: t0.Add(time.Second),
			Done: t0.Add(time.Second + time.Duration(1e6/rps*float64(time.Second))), PeakRSS: rss,
			Conns: scenario.ConnStats{MaxOpen: 4, MaxActive: 2, MaxCopying: 1}}
	}
	rep := func(producer float64, drains ...scenario.DrainRun) scenario.DrainRep {
		return scenario.DrainRep{Prefill: scenario.Produced{Totals: scenario.Totals{Produced: 1_000_000,
			Elapsed: time.Duration(1e6 / producer * float64(time.Second))}, PeakRSS: 50 << 20}, Runs: drains}
	}
	// p99 in (0.1, 0.25]: 90 ≤ 0.1 s, 10 more ≤ 0.25 s.
	lat := func() scenario.LatencyRun {
		h := hist(t, []metrics.Bucket{{UpperBound: 0.1, Count: 90}, {UpperBound: 0.25, Count: 100}}, 100)
		var est []metrics.Estimate
		for _, q := range scenario.Quantiles {
			e, err := h.Quantile(q)
			if err != nil {
				t.Fatal(err)
			}
			est = append(est, e)
		}
		return scenario.LatencyRun{Rate: 10000, Histogram: h, Estimates: est, Commit: h, DBQuantiles: []float64{0.01, 0.02, 0.03},
			Producer: scenario.Produced{Totals: scenario.Totals{Produced: 300000, Elapsed: 30 * time.Second}}, WriterRSS: 100 << 20}
	}
	r := results{
		Mode:           "full",
		Machine:        machine.Info{CPUModel: "Test CPU", CPUs: 2, MemTotal: 8 << 30, Kernel: "Linux 6.1", LoadAvg: "1.00 1.00 1.00", Go: "go1.26"},
		PostgreSQL:     "17.6",
		Ceiling:        map[int][]float64{1: {200000, 210000, 190000}, 2: {300000, 310000, 290000}},
		CeilingEncoded: map[int][]float64{1: {250000}, 2: {350000}},
		Drains: []scenario.DrainRep{
			rep(250000, drain(170000, 200<<20), drain(100000, 150<<20)),
			rep(150000, drain(160000, 300<<20), drain(120000, 150<<20)),
			rep(220000, drain(180000, 210<<20), drain(110000, 150<<20)),
		},
		Latency: map[int][]scenario.LatencyRun{10000: {lat(), lat(), lat()}},
	}
	c := cfg{records: 1_000_000, reps: 3, rates: []int{10000}, latencyDuration: 30 * time.Second, batchSizes: []int{1000}}
	got := buildReport(c, r, time.Minute, t0)

	byName := map[string]report.Figure{}
	for _, f := range got.Figures {
		byName[f.Name] = f
	}
	for name, want := range map[string]struct {
		median  float64
		verdict string
	}{
		"Writer drain (writer defaults)":             {170000, "MET"},
		"Writer drain ÷ COPY ceiling (1 connection)": {170000.0 / 200000, "MET"}, // 0.85 ≥ 0.8
		"Producer (--rate 0)":                        {220000, "MET"},
		"End-to-end p99 at 10,000 events/s":          {0.1 + 0.15*9/10, "MET"}, // 0.235 ≤ 0.25
		"Writer peak RSS (drain, writer defaults)":   {210 << 20, "MET"},
		"COPY ceiling, 2 connections":                {300000, "—"},
	} {
		f, ok := byName[name]
		if !ok {
			t.Errorf("no figure %q", name)
			continue
		}
		if m := report.Summarise(f.Values).Median; math.Abs(m-want.median) > 1e-6*want.median {
			t.Errorf("%s: median %v, want %v", name, m, want.median)
		}
		if v := f.Verdict(); v != want.verdict {
			t.Errorf("%s: verdict %s, want %s", name, v, want.verdict)
		}
	}
	if f := byName["End-to-end p50 at 10,000 events/s"]; f.Target != nil {
		t.Error("p50 carries a target; only p99 at 10,000/s does")
	}

	var md strings.Builder
	if err := report.Render(&md, got); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"| CPU | Test CPU, 2 logical CPUs |",
		"| PostgreSQL | 17.6 |",
		"| 1,000 | 110,000 | 100,000 – 120,000 | 150.0 MiB | 4 / 1 |", // the curve row for --batch-max-records 1000
		"235 ms in (100, 250] ms",                                     // p99 with its bucket
		"Bucket bounds (s): 0.1, 0.25.",
		"| 10,000 | 10,000/s | 300,000 | 55.6 ms in (0, 100] ms |",
		"10.0 ms / 20.0 ms / 30.0 ms",
	} {
		if !strings.Contains(md.String(), want) {
			t.Errorf("report lacks %q\n%s", want, md.String())
		}
	}
}
