package metrics

import (
	"context"
	"math"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

const exposition = `# HELP finflow_writer_rows_written_total rows committed
# TYPE finflow_writer_rows_written_total counter
finflow_writer_rows_written_total{topic="transactions"} 1500
# HELP finflow_writer_consumer_lag_records lag
# TYPE finflow_writer_consumer_lag_records gauge
finflow_writer_consumer_lag_records{partition="0",topic="transactions"} 10
finflow_writer_consumer_lag_records{partition="1",topic="transactions"} 32
# HELP finflow_writer_end_to_end_latency_seconds latency
# TYPE finflow_writer_end_to_end_latency_seconds histogram
finflow_writer_end_to_end_latency_seconds_bucket{le="0.01"} 10
finflow_writer_end_to_end_latency_seconds_bucket{le="0.1"} 60
finflow_writer_end_to_end_latency_seconds_bucket{le="1"} 100
finflow_writer_end_to_end_latency_seconds_bucket{le="+Inf"} 100
finflow_writer_end_to_end_latency_seconds_sum 12.5
finflow_writer_end_to_end_latency_seconds_count 100
`

func TestParseSumsAcrossLabels(t *testing.T) {
	s, err := Parse(strings.NewReader(exposition), time.Unix(0, 0))
	if err != nil {
		t.Fatal(err)
	}
	if got := s.Sum("finflow_writer_rows_written_total"); got != 1500 {
		t.Errorf("rows written = %v, want 1500", got)
	}
	if got := s.Sum("finflow_writer_consumer_lag_records"); got != 42 {
		t.Errorf("lag = %v, want 42 (10+32)", got)
	}
	if got := s.Sum("finflow_writer_dead_letters_total"); got != 0 {
		t.Errorf("absent family sums to %v, want 0", got)
	}
	if !s.Has("finflow_writer_rows_written_total") || s.Has("nope") {
		t.Error("Has is wrong")
	}
	h, err := s.Histogram("finflow_writer_end_to_end_latency_seconds")
	if err != nil {
		t.Fatal(err)
	}
	if h.Count != 100 || h.Sum != 12.5 || len(h.Buckets) != 4 {
		t.Fatalf("histogram = %+v", h)
	}
	if _, err := s.Histogram("finflow_writer_rows_written_total"); err == nil {
		t.Error("a counter read as a histogram: want an error")
	}
	if _, err := s.Histogram("absent"); err == nil {
		t.Error("absent histogram: want an error")
	}
}

func TestHistogramMergesSeries(t *testing.T) {
	text := `# TYPE h histogram
h_bucket{op="a",le="1"} 1
h_bucket{op="a",le="+Inf"} 2
h_sum{op="a"} 3
h_count{op="a"} 2
h_bucket{op="b",le="1"} 4
h_bucket{op="b",le="+Inf"} 4
h_sum{op="b"} 2
h_count{op="b"} 4
`
	s, err := Parse(strings.NewReader(text), time.Now())
	if err != nil {
		t.Fatal(err)
	}
	h, err := s.Histogram("h")
	if err != nil {
		t.Fatal(err)
	}
	if h.Count != 6 || h.Sum != 5 || h.Buckets[0].Count != 5 || h.Buckets[1].Count != 6 {
		t.Errorf("merged = %+v", h)
	}
}

func TestQuantileInterpolatesLikePromQL(t *testing.T) {
	// 10 observations ≤ 10ms, 50 in (10ms, 100ms], 40 in (100ms, 1s].
	h, err := New([]Bucket{{0.01, 10}, {0.1, 60}, {1, 100}}, 100, 0)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		q, want, lower, upper float64
	}{
		{0.05, 0.005, 0, 0.01},               // rank 5 of 10 in the first bucket, which starts at 0
		{0.10, 0.01, 0, 0.01},                // exactly the first bound
		{0.50, 0.01 + 0.09*40/50, 0.01, 0.1}, // rank 50: 40 of the 50 in (0.01, 0.1]
		{0.95, 0.1 + 0.9*35/40, 0.1, 1},      // rank 95: 35 of the 40 in (0.1, 1]
		{0.99, 0.1 + 0.9*39/40, 0.1, 1},
		{1, 1, 0.1, 1},
	} {
		e, err := h.Quantile(tc.q)
		if err != nil {
			t.Fatalf("q=%v: %v", tc.q, err)
		}
		if math.Abs(e.Value-tc.want) > 1e-12 || e.Lower != tc.lower || e.Upper != tc.upper {
			t.Errorf("q=%v: got %v in (%v, %v], want %v in (%v, %v]", tc.q, e.Value, e.Lower, e.Upper, tc.want, tc.lower, tc.upper)
		}
	}
}

func TestQuantileInInfBucketReturnsHighestBound(t *testing.T) {
	h, err := New([]Bucket{{0.25, 90}, {math.Inf(1), 100}}, 100, 0)
	if err != nil {
		t.Fatal(err)
	}
	e, err := h.Quantile(0.99)
	if err != nil {
		t.Fatal(err)
	}
	if e.Value != 0.25 || !math.IsInf(e.Upper, 1) {
		t.Errorf("p99 beyond the last bound = %+v, want 0.25 with upper +Inf", e)
	}
}

func TestQuantileErrors(t *testing.T) {
	empty, err := New([]Bucket{{1, 0}}, 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := empty.Quantile(0.5); err == nil {
		t.Error("empty histogram: want an error")
	}
	h, _ := New([]Bucket{{1, 1}}, 1, 0)
	for _, q := range []float64{-0.1, 1.1, math.NaN()} {
		if _, err := h.Quantile(q); err == nil {
			t.Errorf("q=%v: want an error", q)
		}
	}
	if _, err := New([]Bucket{{1, 5}, {2, 3}}, 5, 0); err == nil {
		t.Error("non-cumulative buckets: want an error")
	}
}

func TestSubGivesTheInterval(t *testing.T) {
	before, _ := New([]Bucket{{0.1, 100}, {1, 100}}, 100, 5)
	after, _ := New([]Bucket{{0.1, 110}, {1, 200}}, 200, 60)
	d, err := after.Sub(before)
	if err != nil {
		t.Fatal(err)
	}
	if d.Count != 100 || d.Sum != 55 || d.Buckets[0].Count != 10 || d.Buckets[1].Count != 100 {
		t.Fatalf("delta = %+v", d)
	}
	// All old observations were fast; the interval's median is slow.
	e, _ := d.Quantile(0.5)
	if e.Lower != 0.1 || e.Upper != 1 {
		t.Errorf("interval p50 in (%v, %v], want (0.1, 1]", e.Lower, e.Upper)
	}
	if _, err := before.Sub(after); err == nil {
		t.Error("counts going down (a restart): want an error")
	}
	other, _ := New([]Bucket{{0.5, 1}}, 1, 0)
	if _, err := after.Sub(other); err == nil {
		t.Error("different bounds: want an error")
	}
	if got := after.Bounds(); len(got) != 2 || got[0] != 0.1 || got[1] != 1 {
		t.Errorf("bounds = %v", got)
	}
}

func TestScrape(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/metrics" {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Type", "text/plain; version=0.0.4")
		_, _ = w.Write([]byte(exposition))
	}))
	defer srv.Close()
	ctx := context.Background()
	s, err := Scrape(ctx, srv.Client(), srv.URL+"/metrics")
	if err != nil {
		t.Fatal(err)
	}
	if s.Sum("finflow_writer_rows_written_total") != 1500 || s.At.IsZero() {
		t.Errorf("scrape = %+v", s)
	}
	if _, err := Scrape(ctx, srv.Client(), srv.URL+"/nope"); err == nil {
		t.Error("404: want an error")
	}
}
