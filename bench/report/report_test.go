package report

import (
	"math"
	"strings"
	"testing"
	"time"
)

func TestSummarise(t *testing.T) {
	for _, tc := range []struct {
		in            []float64
		med, min, max float64
	}{
		{[]float64{3, 1, 2}, 2, 1, 3},
		{[]float64{10, 40, 20, 30}, 25, 10, 40},
		{[]float64{7}, 7, 7, 7},
	} {
		s := Summarise(tc.in)
		if s.Median != tc.med || s.Min != tc.min || s.Max != tc.max || s.N != len(tc.in) {
			t.Errorf("Summarise(%v) = %+v", tc.in, s)
		}
	}
	in := []float64{3, 1, 2}
	Summarise(in)
	if in[0] != 3 {
		t.Error("Summarise sorted its input in place")
	}
	if s := Summarise(nil); s.N != 0 || !math.IsNaN(s.Median) {
		t.Errorf("Summarise(nil) = %+v", s)
	}
}

func TestMedianIndex(t *testing.T) {
	if i := MedianIndex([]float64{30, 10, 20}); i != 2 {
		t.Errorf("MedianIndex = %d, want 2 (the 20)", i)
	}
	if i := MedianIndex([]float64{5, 1, 4, 2}); i != 3 {
		t.Errorf("MedianIndex = %d, want 3 (the lower middle, 2)", i)
	}
	if i := MedianIndex(nil); i != -1 {
		t.Errorf("MedianIndex(nil) = %d", i)
	}
}

func TestFormat(t *testing.T) {
	for _, tc := range []struct {
		k    Kind
		unit string
		v    float64
		want string
	}{
		{Rate, "rows/s", 152340.4, "152,340 rows/s"},
		{Rate, "", 999, "999"},
		{Rate, "", 1000, "1,000"},
		{Rate, "", -1234567, "-1,234,567"},
		{Seconds, "", 0.0042, "4.20 ms"},
		{Seconds, "", 0.0421, "42.1 ms"},
		{Seconds, "", 0.25, "250 ms"},
		{Seconds, "", 12.5, "12,500 ms"},
		{Seconds, "", math.Inf(1), "+Inf"},
		{Bytes, "", 256 << 20, "256.0 MiB"},
		{Ratio, "", 0.8123, "0.81×"},
		{Rate, "", math.NaN(), "n/a"},
	} {
		if got := Format(tc.k, tc.unit, tc.v); got != tc.want {
			t.Errorf("Format(%v, %q, %v) = %q, want %q", tc.k, tc.unit, tc.v, got, tc.want)
		}
	}
}

func TestVerdict(t *testing.T) {
	atLeast := &Target{AtLeast: true, Value: 100}
	atMost := &Target{Value: 0.25}
	for _, tc := range []struct {
		f    Figure
		want string
	}{
		{Figure{Values: []float64{90, 120, 110}, Target: atLeast}, "MET"}, // median 110
		{Figure{Values: []float64{90, 120, 95}, Target: atLeast}, "NOT MET"},
		{Figure{Values: []float64{100}, Target: atLeast}, "MET"}, // the bound itself meets it
		{Figure{Values: []float64{0.3}, Target: atMost}, "NOT MET"},
		{Figure{Values: []float64{0.25}, Target: atMost}, "MET"},
		{Figure{Values: []float64{1}}, "—"},
		{Figure{Target: atLeast}, "not measured"},
	} {
		if got := tc.f.Verdict(); got != tc.want {
			t.Errorf("%+v: verdict %q, want %q", tc.f, got, tc.want)
		}
	}
}

func TestRender(t *testing.T) {
	r := Report{
		Title:    "finflow benchmark",
		Started:  time.Date(2026, 11, 25, 4, 0, 0, 0, time.UTC),
		Elapsed:  95 * time.Second,
		Command:  "finflow-bench --smoke",
		Machine:  []Fact{{"CPU", "Some CPU | 2 cores"}},
		Settings: []Fact{{"records", "50,000"}},
		Figures: []Figure{
			{Name: "Producer", Kind: Rate, Unit: "events/s", Values: []float64{210000, 190000, 250000},
				Target: &Target{AtLeast: true, Value: 200000}, Note: "from the totals line"},
			{Name: "p99 at 10k/s", Kind: Seconds, Values: []float64{0.3}, Target: &Target{Value: 0.25}},
			{Name: "Writer RSS", Kind: Bytes, Err: "writer did not start"},
		},
		Tables: []Table{{Title: "Scaling", Intro: "rows/s by batch size", Header: []string{"batch", "rows/s"},
			Rows: [][]string{{"1000", "12,000"}, {"5000"}}}},
		Charts: []string{"drain.png"},
		Notes:  []string{"noisy machine"},
	}
	var b strings.Builder
	if err := Render(&b, r); err != nil {
		t.Fatal(err)
	}
	out := b.String()
	for _, want := range []string{
		"# finflow benchmark\n",
		"Run 2026-11-25T04:00:00Z, took 1m35s, with `finflow-bench --smoke`.",
		"| CPU | Some CPU \\| 2 cores |", // a pipe in a value must not split the cell
		"| Producer | 210,000 events/s | 190,000 events/s – 250,000 events/s | 3 | ≥ 200,000 events/s | **MET** |",
		"| p99 at 10k/s | 300 ms | 300 ms – 300 ms | 1 | ≤ 250 ms | **NOT MET** |",
		"| Writer RSS | — | — | 0 | — | not measured |",
		"- **Producer**: from the totals line",
		"- **Writer RSS** not measured: writer did not start",
		"## Scaling\n\nrows/s by batch size\n\n| batch | rows/s |\n|---|---|\n| 1000 | 12,000 |\n| 5000 |  |\n",
		"![drain.png](drain.png)",
		"## Notes\n\n- noisy machine\n",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("report lacks %q\n--- report ---\n%s", want, out)
		}
	}
	// Every table row must have as many cells as its header.
	for _, line := range strings.Split(out, "\n") {
		if strings.HasPrefix(line, "| Producer") && strings.Count(strings.ReplaceAll(line, `\|`, ""), "|") != 7 {
			t.Errorf("row has the wrong number of cells: %q", line)
		}
	}
}
