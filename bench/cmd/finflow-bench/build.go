package main

import (
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/finflow/finflow/bench/chart"
	"github.com/finflow/finflow/bench/metrics"
	"github.com/finflow/finflow/bench/report"
	"github.com/finflow/finflow/bench/scenario"
)

// Targets (issue 8). Informational: a miss is reported, never an error.
const (
	targetProducer    = 200_000   // events/s
	targetWriter      = 150_000   // rows/s
	targetRatio       = 0.8       // writer drain ÷ COPY ceiling at the writer's connections
	targetP99         = 0.250     // seconds, at targetP99Rate
	targetP99Rate     = 10_000    // events/s
	targetWriterBytes = 256 << 20 // peak RSS
)

func atLeast(v float64) *report.Target { return &report.Target{AtLeast: true, Value: v} }
func atMost(v float64) *report.Target  { return &report.Target{Value: v} }

// defaultRuns are the drains with the writer's own defaults (variant 0).
func defaultRuns(r results) []scenario.DrainRun {
	var out []scenario.DrainRun
	for _, d := range r.Drains {
		if len(d.Runs) > 0 {
			out = append(out, d.Runs[0])
		}
	}
	return out
}

// writerConns is how many connections the writer wrote with at once during
// its default drains — the most COPY statements seen running together —
// clamped to the ceiling's 1 and 2, and how many it had open.
func writerConns(r results) (copying, open, compare int) {
	for _, d := range defaultRuns(r) {
		copying = max(copying, d.Conns.MaxCopying)
		open = max(open, d.Conns.MaxOpen)
	}
	return copying, open, min(max(copying, 1), 2)
}

func buildReport(c cfg, r results, elapsed time.Duration, started time.Time) report.Report {
	title := "finflow benchmark"
	if c.smoke {
		title += " (smoke run: small and quick, figures not meaningful)"
	}
	m := r.Machine
	rep := report.Report{
		Title:   title,
		Started: started,
		Elapsed: elapsed,
		Machine: []report.Fact{
			{Name: "CPU", Value: fmt.Sprintf("%s, %d logical CPUs", m.CPUModel, m.CPUs)},
			{Name: "memory", Value: fmt.Sprintf("%.1f GiB", float64(m.MemTotal)/(1<<30))},
			{Name: "kernel", Value: m.Kernel},
			{Name: "load average at start (1, 5, 15 min)", Value: m.LoadAvg},
			{Name: "PostgreSQL", Value: r.PostgreSQL},
			{Name: "Go", Value: m.Go},
		},
		Settings: []report.Fact{
			{Name: "mode", Value: r.Mode},
			{Name: "records (drain topic, ceiling rows)", Value: report.Thousands(float64(c.records))},
			{Name: "repetitions", Value: strconv.Itoa(c.reps)},
			{Name: "latency runs", Value: fmt.Sprintf("%s events/s, %s each", joinInts(c.rates), c.latencyDuration)},
			{Name: "scaling curve --batch-max-records", Value: joinInts(c.batchSizes) + curveBytes(c)},
			{Name: "broker, registry", Value: "devstack (franz-go kfake + srfake, in one process), 6 partitions, fresh per repetition"},
			{Name: "seed", Value: strconv.FormatUint(c.seed, 10) + " (+ repetition)"},
		},
	}

	// Ceiling.
	copying, open, conns := writerConns(r)
	for _, n := range []int{1, 2} {
		rep.Figures = append(rep.Figures, report.Figure{
			Name: fmt.Sprintf("COPY ceiling, %d connection%s", n, plural(n)), Kind: report.Rate, Unit: "rows/s",
			Values: r.Ceiling[n],
		})
	}

	// Writer drain.
	runs := defaultRuns(r)
	var drain, ratio, wRSS, pRate, pRSS []float64
	ceil := report.Summarise(r.Ceiling[conns]).Median
	for _, d := range runs {
		drain = append(drain, d.RowsPerSecond())
		wRSS = append(wRSS, float64(d.PeakRSS))
		if ceil > 0 {
			ratio = append(ratio, d.RowsPerSecond()/ceil)
		}
	}
	for _, d := range r.Drains {
		pRate = append(pRate, d.Prefill.EventsPerSecond())
		pRSS = append(pRSS, float64(d.Prefill.PeakRSS))
	}
	rep.Figures = append(rep.Figures,
		report.Figure{Name: "Writer drain (writer defaults)", Kind: report.Rate, Unit: "rows/s", Values: drain,
			Target: atLeast(targetWriter),
			Note: fmt.Sprintf("%s records pre-filled, drained into a fresh database; rows ÷ (first metrics sample showing every row written − min(ingested_at), "+
				"i.e. the first batch's transaction start); metrics polled every %s, so the end is late by at most that", report.Thousands(float64(c.records)), pollEvery)},
		report.Figure{Name: fmt.Sprintf("Writer drain ÷ COPY ceiling (%d connection%s)", conns, plural(conns)), Kind: report.Ratio, Values: ratio,
			Target: atLeast(targetRatio),
			Note: fmt.Sprintf("each drain ÷ the median ceiling with as many connections as the writer wrote with at once: at most %d COPY running "+
				"together on its database (pg_stat_activity every %s; it had up to %d connections open)", copying, sampleEvery, open)},
		report.Figure{Name: "Producer (--rate 0)", Kind: report.Rate, Unit: "events/s", Values: pRate,
			Target: atLeast(targetProducer),
			Note:   "generated, encoded (Confluent framing) and acknowledged by the embedded broker; produced ÷ elapsed from the producer's totals line, during the pre-fills"},
	)

	// Latency.
	var rates []int
	for rate := range r.Latency {
		rates = append(rates, rate)
	}
	slices.Sort(rates)
	for _, rate := range rates {
		for qi, q := range scenario.Quantiles {
			var vals []float64
			for _, l := range r.Latency[rate] {
				if qi < len(l.Estimates) {
					vals = append(vals, l.Estimates[qi].Value)
				}
			}
			f := report.Figure{Name: fmt.Sprintf("End-to-end p%g at %s events/s", q*100, report.Thousands(float64(rate))), Kind: report.Seconds, Values: vals}
			if q == 0.99 && rate == targetP99Rate {
				f.Target = atMost(targetP99)
				f.Note = "event time → row committed, from the writer's finflow_writer_end_to_end_latency_seconds histogram (see Latency)"
			}
			rep.Figures = append(rep.Figures, f)
		}
	}

	// Memory.
	rep.Figures = append(rep.Figures,
		report.Figure{Name: "Writer peak RSS (drain, writer defaults)", Kind: report.Bytes, Values: wRSS, Target: atMost(targetWriterBytes),
			Note: "VmHWM (the kernel's peak resident set) read from /proc/<pid>/status every 100 ms and just before SIGTERM"},
		report.Figure{Name: "Producer peak RSS (--rate 0 pre-fill)", Kind: report.Bytes, Values: pRSS},
	)

	rep.Tables = append(rep.Tables, ceilingTable(r), curveTable(c, r), latencyTable(r.Latency, rates, "Latency", latencyIntro))
	if len(r.LatencyWait) > 0 {
		rep.Tables = append(rep.Tables, latencyTable(r.LatencyWait, rates, fmt.Sprintf("Latency with the writer at --batch-max-wait %s", c.latencyMaxWait),
			"As above, with the writer's --batch-max-wait set instead of its default: how much of the latency is the wait for a batch to fill."))
	}
	rep.Tables = append(rep.Tables, memoryTable(r, rates))
	rep.Notes = notes(c, r, rates)
	return rep
}

const (
	pollEvery   = "50 ms"
	sampleEvery = "250 ms"
)

func ceilingTable(r results) report.Table {
	t := report.Table{
		Title: "COPY ceiling",
		Intro: "The same generated rows, mapped to raw_transactions' columns once up front, binary-COPYed into the real (migrated) table " +
			"with its primary key, two indexes and CHECK constraints, in a fresh database per copy; each connection copies its share in one COPY. " +
			"*pgx CopyFrom* encodes on the client during the copy, as a writer must; *pre-encoded* sends bytes encoded beforehand (the server's share alone).",
		Header: []string{"connections", "pgx CopyFrom rows/s (median)", "spread", "pre-encoded rows/s (median)", "spread"},
	}
	for _, n := range []int{1, 2} {
		a, b := report.Summarise(r.Ceiling[n]), report.Summarise(r.CeilingEncoded[n])
		t.Rows = append(t.Rows, []string{strconv.Itoa(n), rate(a.Median), spread(a, rate), rate(b.Median), spread(b, rate)})
	}
	return t
}

func curveTable(c cfg, r results) report.Table {
	t := report.Table{
		Title: "Writer drain by batch size (scaling curve)",
		Intro: "The same pre-filled topic drained again by a fresh writer, consumer group and database per row, " +
			"with --batch-max-records as shown and --batch-max-bytes" + curveBytes(c) + ". " + recordSize(r) + "Chart: scaling.png.",
		Header: []string{"--batch-max-records", "rows/s (median)", "spread", "writer peak RSS (median)", "connections open / copying (max)", "writer start → first row"},
	}
	for i := range variantCount(r) {
		var rps, rss, first []float64
		open, copying := 0, 0
		for _, d := range r.Drains {
			if i < len(d.Runs) {
				run := d.Runs[i]
				rps = append(rps, run.RowsPerSecond())
				rss = append(rss, float64(run.PeakRSS))
				first = append(first, run.FirstRow.Sub(run.Started).Seconds())
				open = max(open, run.Conns.MaxOpen)
				copying = max(copying, run.Conns.MaxCopying)
			}
		}
		label := "writer default"
		if i > 0 && i-1 < len(c.batchSizes) {
			label = report.Thousands(float64(c.batchSizes[i-1]))
		}
		s := report.Summarise(rps)
		t.Rows = append(t.Rows, []string{label, rate(s.Median), spread(s, rate),
			report.Format(report.Bytes, "", report.Summarise(rss).Median), fmt.Sprintf("%d / %d", open, copying),
			report.Format(report.Seconds, "", report.Summarise(first).Median)})
	}
	return t
}

func curveBytes(c cfg) string {
	if c.curveMaxBytes == 0 {
		return " at the writer's default"
	}
	return fmt.Sprintf(" %s", report.Format(report.Bytes, "", float64(c.curveMaxBytes)))
}

// recordSize says how big the records were, so the reader can see which
// batch sizes the byte bound cuts short.
func recordSize(r results) string {
	var bytes, n int64
	for _, d := range r.Drains {
		bytes += d.Prefill.Bytes
		n += d.Prefill.Produced
	}
	if n == 0 {
		return ""
	}
	avg := float64(bytes) / float64(n)
	return fmt.Sprintf("Records average %.0f bytes of key + value (producer totals), so 16 MiB (the writer's default --batch-max-bytes "+
		"when this harness was written) holds about %s of them; larger --batch-max-records are cut short by bytes. ", avg, report.Thousands(16<<20/avg))
}

func variantCount(r results) int {
	n := 0
	for _, d := range r.Drains {
		n = max(n, len(d.Runs))
	}
	return n
}

const latencyIntro = "The writer runs first and owns its partitions; then the producer runs at a fixed rate. **Histogram**: the writer's " +
	"finflow_writer_end_to_end_latency_seconds (event time → row committed), scraped before and after, difference taken, " +
	"quantile interpolated linearly inside its bucket like PromQL's histogram_quantile; the bucket it fell in is shown, " +
	"which is the resolution. Bucket bounds (s): %s. A target on a bucket bound (250 ms is one) is judged exactly. " +
	"**Table**: exact percentile_cont of ingested_at − event_time over the stored rows; ingested_at is now() of the batch's " +
	"transaction, i.e. when it *began*, so this misses the COPY and commit and is a lower bound — the histogram is preferred. " +
	"Commit p99: the writer's commit-duration histogram over the run. Medians over repetitions."

func latencyTable(runs map[int][]scenario.LatencyRun, rates []int, title, intro string) report.Table {
	bounds := "unknown"
	for _, rate := range rates {
		if ls := runs[rate]; len(ls) > 0 {
			bounds = formatBounds(ls[0].Histogram.Bounds())
		}
	}
	if strings.Contains(intro, "%s") {
		intro = fmt.Sprintf(intro, bounds)
	}
	t := report.Table{
		Title: title,
		Intro: intro,
		Header: []string{"rate (events/s)", "achieved", "events", "p50 (histogram)", "p95 (histogram)", "p99 (histogram)",
			"p50 / p95 / p99 (table, lower bound)", "commit p99"},
	}
	for _, rate := range rates {
		ls := runs[rate]
		if len(ls) == 0 {
			continue
		}
		var achieved, events, commit []float64
		tableQ := make([][]float64, len(scenario.Quantiles))
		for _, l := range ls {
			achieved = append(achieved, l.Producer.EventsPerSecond())
			events = append(events, float64(l.Producer.Produced))
			if e, err := l.Commit.Quantile(0.99); err == nil {
				commit = append(commit, e.Value)
			}
			for i := range tableQ {
				if i < len(l.DBQuantiles) {
					tableQ[i] = append(tableQ[i], l.DBQuantiles[i])
				}
			}
		}
		row := []string{report.Thousands(float64(rate)), rate2(report.Summarise(achieved).Median), report.Thousands(report.Summarise(events).Median)}
		mid := ls[report.MedianIndex(p99s(ls))]
		for qi := range scenario.Quantiles {
			var vals []float64
			for _, l := range ls {
				vals = append(vals, l.Estimates[qi].Value)
			}
			row = append(row, fmt.Sprintf("%s in %s", ms(report.Summarise(vals).Median), bucket(mid.Estimates[qi])))
		}
		var tq []string
		for _, v := range tableQ {
			tq = append(tq, ms(report.Summarise(v).Median))
		}
		row = append(row, strings.Join(tq, " / "), ms(report.Summarise(commit).Median))
		t.Rows = append(t.Rows, row)
	}
	return t
}

func p99s(ls []scenario.LatencyRun) []float64 {
	out := make([]float64, len(ls))
	for i, l := range ls {
		out[i] = l.Estimates[len(l.Estimates)-1].Value
	}
	return out
}

func memoryTable(r results, rates []int) report.Table {
	t := report.Table{
		Title: "Peak memory",
		Intro: "Peak resident set size of the child processes: VmHWM, the kernel's high-water mark, read from /proc/<pid>/status every 100 ms " +
			"and just before SIGTERM (a peak in the last 100 ms before a process exits by itself could be missed). Not the rusage maxrss " +
			"at exit: Linux carries the parent's high-water mark across fork and exec into it, so it would report this harness's memory.",
		Header: []string{"process, run", "median", "spread (min–max)"},
	}
	add := func(name string, vals []float64) {
		if len(vals) == 0 {
			return
		}
		s := report.Summarise(vals)
		t.Rows = append(t.Rows, []string{name, report.Format(report.Bytes, "", s.Median), spread(s, func(v float64) string { return report.Format(report.Bytes, "", v) })})
	}
	var p, all []float64
	for _, d := range r.Drains {
		p = append(p, float64(d.Prefill.PeakRSS))
		for _, run := range d.Runs {
			all = append(all, float64(run.PeakRSS))
		}
	}
	add("producer, --rate 0 pre-fill", p)
	var w []float64
	for _, d := range defaultRuns(r) {
		w = append(w, float64(d.PeakRSS))
	}
	add("writer, drain with its defaults", w)
	add("writer, every drain incl. the scaling curve", all)
	for _, rate := range rates {
		var lw, lp []float64
		for _, l := range r.Latency[rate] {
			lw = append(lw, float64(l.WriterRSS))
			lp = append(lp, float64(l.Producer.PeakRSS))
		}
		add(fmt.Sprintf("writer, latency run at %s/s", report.Thousands(float64(rate))), lw)
		add(fmt.Sprintf("producer, latency run at %s/s", report.Thousands(float64(rate))), lp)
	}
	return t
}

func notes(c cfg, r results, rates []int) []string {
	var n []string
	if c.smoke {
		n = append(n, "Smoke run: a small topic, one repetition and short latency runs, to keep the harness working in CI. Do not quote these figures.")
	} else if c.reps < 3 {
		n = append(n, fmt.Sprintf("Only %d repetition(s): the spread says little.", c.reps))
	}
	n = append(n,
		"Everything (PostgreSQL, broker, producer, writer and this harness) shares one machine; with "+strconv.Itoa(r.Machine.CPUs)+
			" CPUs the processes compete, and anything else running at the same time makes the figures noisy — see the load average.",
		"The broker is franz-go's kfake (in memory, in the devstack process), not Apache Kafka: its throughput and CPU use differ from a real broker's.",
		"Ceiling and writer write into the same migrated raw_transactions definition (primary key, two indexes, CHECK constraints), each run in a fresh database.",
	)
	for i, d := range r.Drains {
		for _, run := range d.Runs {
			if run.ExitErr != nil {
				n = append(n, fmt.Sprintf("Drain repetition %d: a writer did not shut down cleanly on SIGTERM: %v.", i+1, run.ExitErr))
			}
			if run.DBErrors > 0 {
				n = append(n, fmt.Sprintf("Drain repetition %d (--batch-max-records %s): the writer counted %.0f PostgreSQL errors (finflow_writer_db_errors_total) and retried; that run is slower for it.",
					i+1, batchName(run.Options.BatchMaxRecords), run.DBErrors))
			}
		}
	}
	for _, set := range []struct {
		what string
		runs map[int][]scenario.LatencyRun
	}{{"", r.Latency}, {fmt.Sprintf(" (--batch-max-wait %s)", c.latencyMaxWait), r.LatencyWait}} {
		for _, rate := range rates {
			for i, l := range set.runs[rate] {
				where := fmt.Sprintf("Latency at %d/s%s, repetition %d", rate, set.what, i+1)
				if l.ExitErr != nil {
					n = append(n, fmt.Sprintf("%s: the writer did not shut down cleanly on SIGTERM: %v.", where, l.ExitErr))
				}
				if l.DBErrors > 0 {
					n = append(n, fmt.Sprintf("%s: the writer counted %.0f PostgreSQL errors (finflow_writer_db_errors_total) and retried; its latency includes the retries.", where, l.DBErrors))
				}
				if len(l.Estimates) > 0 && math.IsInf(l.Estimates[len(l.Estimates)-1].Upper, 1) {
					n = append(n, fmt.Sprintf("%s: p99 is beyond the histogram's last bound; the figure shown is that bound.", where))
				}
			}
		}
	}
	return n
}

// --- charts -------------------------------------------------------------------

// series turns writer samples into rows/s and lag over seconds since t0,
// one point per spacing (the samples come faster, to time the end). The
// rate is over the trailing window: the writer commits a batch every few
// hundred milliseconds, so a rate between neighbouring points would swing
// between zero and the batch burst.
func series(samples []scenario.Sample, t0 time.Time, spacing, window time.Duration) (throughput, lag []chart.Point) {
	var last *scenario.Sample
	from := 0 // first sample inside the window of the current one
	for i := range samples {
		s := &samples[i]
		for from < i && s.At.Sub(samples[from].At) > window {
			from++
		}
		if last != nil && s.At.Sub(last.At) < spacing*9/10 {
			continue
		}
		x := s.At.Sub(t0).Seconds()
		lag = append(lag, chart.Point{X: x, Y: s.Lag})
		if from < i {
			w := &samples[from]
			throughput = append(throughput, chart.Point{X: x, Y: (s.Rows - w.Rows) / s.At.Sub(w.At).Seconds()})
		}
		last = s
	}
	return throughput, lag
}

// --- formatting -----------------------------------------------------------------

func rate(v float64) string  { return report.Format(report.Rate, "", v) }
func rate2(v float64) string { return report.Thousands(v) + "/s" }
func ms(v float64) string    { return report.Format(report.Seconds, "", v) }

func spread(s report.Summary, f func(float64) string) string {
	if s.N == 0 {
		return "—"
	}
	return f(s.Min) + " – " + f(s.Max)
}

// bucket shows the bucket an estimate fell in, in milliseconds: "(100, 250] ms".
func bucket(e metrics.Estimate) string {
	f := func(s float64) string {
		if math.IsInf(s, 0) {
			return strconv.FormatFloat(s, 'f', -1, 64)
		}
		return strconv.FormatFloat(s*1000, 'f', -1, 64)
	}
	return "(" + f(e.Lower) + ", " + f(e.Upper) + "] ms"
}

func formatBounds(b []float64) string {
	s := make([]string, len(b))
	for i, v := range b {
		s[i] = strconv.FormatFloat(v, 'g', -1, 64)
	}
	return strings.Join(s, ", ")
}

func joinInts(v []int) string {
	s := make([]string, len(v))
	for i, n := range v {
		s[i] = report.Thousands(float64(n))
	}
	return strings.Join(s, ", ")
}

func batchName(n int) string {
	if n == 0 {
		return "default"
	}
	return report.Thousands(float64(n))
}

func plural(n int) string {
	if n == 1 {
		return ""
	}
	return "s"
}
