package main

import (
	"fmt"
	"path/filepath"
	"slices"
	"time"

	"gonum.org/v1/plot/vg"

	"github.com/finflow/finflow/bench/chart"
	"github.com/finflow/finflow/bench/report"
	"github.com/finflow/finflow/bench/scenario"
)

// chartSpacing is the spacing of chart points: every 250 ms (the writer is
// polled faster, to time the end), closer for runs too short to show at that
// resolution, down to the polling interval. window is the span rows/s is
// averaged over: 1 s, or a tenth of a shorter run.
func chartSpacing(samples []scenario.Sample) (spacing, window time.Duration) {
	if len(samples) < 2 {
		return 250 * time.Millisecond, time.Second
	}
	d := samples[len(samples)-1].At.Sub(samples[0].At)
	return min(max(d/40, 50*time.Millisecond), 250*time.Millisecond), min(max(d/10, 50*time.Millisecond), time.Second)
}

// timeline is series with the spacing and window for the samples.
func timeline(samples []scenario.Sample, t0 time.Time) (throughput, lag []chart.Point) {
	spacing, window := chartSpacing(samples)
	return series(samples, t0, spacing, window)
}

// writeCharts draws timeline.png (throughput and lag over time in the median
// drain and latency runs) and scaling.png (rows/s by batch size) into dir and
// returns their names.
func writeCharts(dir string, c cfg, r results) ([]string, error) {
	var panels []chart.Panel
	if runs := defaultRuns(r); len(runs) > 0 {
		var rps []float64
		for _, d := range runs {
			rps = append(rps, d.RowsPerSecond())
		}
		d := runs[report.MedianIndex(rps)]
		tp, lag := timeline(d.Samples, d.Started)
		panels = append(panels,
			chart.Panel{Title: fmt.Sprintf("drain of %s records: rows written/s", report.Thousands(float64(d.Rows))),
				XLabel: "seconds since writer start", YLabel: "rows/s (1 s window)", Series: []chart.Series{{Points: tp}}},
			chart.Panel{Title: "drain: consumer lag", XLabel: "seconds since writer start", YLabel: "records", Series: []chart.Series{{Points: lag}}})
	}
	var rates []int
	for rate := range r.Latency {
		rates = append(rates, rate)
	}
	slices.Sort(rates)
	for _, rate := range rates {
		ls := r.Latency[rate]
		if len(ls) == 0 {
			continue
		}
		l := ls[report.MedianIndex(p99s(ls))]
		tp, lag := timeline(l.Samples, l.Start)
		label := report.Thousands(float64(rate)) + " events/s"
		panels = append(panels,
			chart.Panel{Title: "at " + label + ": rows written/s", XLabel: "seconds since producer start", YLabel: "rows/s (1 s window)", Series: []chart.Series{{Points: tp}}},
			chart.Panel{Title: "at " + label + ": consumer lag", XLabel: "seconds since producer start", YLabel: "records", Series: []chart.Series{{Points: lag}}})
	}
	var names []string
	if len(panels) > 0 {
		if err := chart.WritePNG(filepath.Join(dir, "timeline.png"), 2, 5*vg.Inch, 3*vg.Inch, panels); err != nil {
			return names, err
		}
		names = append(names, "timeline.png")
	}

	if n := variantCount(r); n > 1 {
		var med, lo, hi []chart.Point
		for i := 1; i < n && i-1 < len(c.batchSizes); i++ {
			var rps []float64
			for _, d := range r.Drains {
				if i < len(d.Runs) {
					rps = append(rps, d.Runs[i].RowsPerSecond())
				}
			}
			s := report.Summarise(rps)
			x := float64(c.batchSizes[i-1])
			med = append(med, chart.Point{X: x, Y: s.Median})
			lo = append(lo, chart.Point{X: x, Y: s.Min})
			hi = append(hi, chart.Point{X: x, Y: s.Max})
		}
		series := []chart.Series{{Name: "median", Points: med}}
		if len(r.Drains) > 1 {
			series = append(series, chart.Series{Name: "min", Points: lo}, chart.Series{Name: "max", Points: hi})
		}
		p := chart.Panel{Title: "writer drain rows/s by --batch-max-records", XLabel: "--batch-max-records", YLabel: "rows/s", Series: series, Dots: true}
		if err := chart.WritePNG(filepath.Join(dir, "scaling.png"), 1, 6*vg.Inch, 4*vg.Inch, []chart.Panel{p}); err != nil {
			return names, err
		}
		names = append(names, "scaling.png")
	}
	return names, nil
}
