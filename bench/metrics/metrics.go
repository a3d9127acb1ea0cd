// Package metrics reads what a finflow service exports on /metrics: it scrapes
// the Prometheus text format into a Snapshot, sums counters and gauges across
// their label sets, and turns classic histograms into quantiles the way
// PromQL's histogram_quantile does, so the benchmark reports the same numbers
// a dashboard would show.
package metrics

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"sort"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// Snapshot is one scrape: metric families by name, and when it was taken.
type Snapshot struct {
	At       time.Time
	Families map[string]*dto.MetricFamily
}

// Parse reads the Prometheus text exposition format.
func Parse(r io.Reader, at time.Time) (Snapshot, error) {
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(r)
	if err != nil {
		return Snapshot{}, fmt.Errorf("parse metrics: %w", err)
	}
	return Snapshot{At: at, Families: fams}, nil
}

// Scrape fetches url (a /metrics endpoint) in the plain text format.
func Scrape(ctx context.Context, c *http.Client, url string) (Snapshot, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return Snapshot{}, fmt.Errorf("scrape %s: %w", url, err)
	}
	// Ask for the classic text format explicitly: the services can also speak
	// OpenMetrics, which this parser does not read.
	req.Header.Set("Accept", "text/plain;version=0.0.4")
	at := time.Now()
	resp, err := c.Do(req)
	if err != nil {
		return Snapshot{}, fmt.Errorf("scrape %s: %w", url, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return Snapshot{}, fmt.Errorf("scrape %s: status %s", url, resp.Status)
	}
	s, err := Parse(resp.Body, at)
	if err != nil {
		return Snapshot{}, fmt.Errorf("scrape %s: %w", url, err)
	}
	return s, nil
}

// Has reports whether the scrape contains the family.
func (s Snapshot) Has(name string) bool {
	_, ok := s.Families[name]
	return ok
}

// Sum adds the values of a counter, gauge or untyped family across all its
// label sets; a family that is absent sums to 0 (a labelled counter has no
// series until its first increment).
func (s Snapshot) Sum(name string) float64 {
	f, ok := s.Families[name]
	if !ok {
		return 0
	}
	var total float64
	for _, m := range f.GetMetric() {
		switch {
		case m.GetCounter() != nil:
			total += m.GetCounter().GetValue()
		case m.GetGauge() != nil:
			total += m.GetGauge().GetValue()
		case m.GetUntyped() != nil:
			total += m.GetUntyped().GetValue()
		}
	}
	return total
}

// Histogram merges every series of a histogram family into one (buckets are
// cumulative counts, so series with the same bounds add up).
func (s Snapshot) Histogram(name string) (Histogram, error) {
	f, ok := s.Families[name]
	if !ok {
		return Histogram{}, fmt.Errorf("histogram %s: %w", name, ErrNotFound)
	}
	if f.GetType() != dto.MetricType_HISTOGRAM {
		return Histogram{}, fmt.Errorf("histogram %s: family is a %s", name, f.GetType())
	}
	var out Histogram
	for i, m := range f.GetMetric() {
		h, err := fromDTO(m.GetHistogram())
		if err != nil {
			return Histogram{}, fmt.Errorf("histogram %s: %w", name, err)
		}
		if i == 0 {
			out = h
			continue
		}
		if out, err = out.add(h); err != nil {
			return Histogram{}, fmt.Errorf("histogram %s: %w", name, err)
		}
	}
	return out, nil
}

// ErrNotFound means the scrape has no family of that name.
var ErrNotFound = errors.New("metric not found")

// Bucket is one classic histogram bucket: Count observations were ≤ UpperBound
// (cumulative).
type Bucket struct {
	UpperBound float64
	Count      float64
}

// Histogram is a classic (bucketed) Prometheus histogram. Buckets are sorted
// by bound and always end with the +Inf bucket, whose count is Count.
type Histogram struct {
	Buckets []Bucket
	Count   float64
	Sum     float64
}

func fromDTO(h *dto.Histogram) (Histogram, error) {
	if h == nil {
		return Histogram{}, errors.New("series carries no histogram")
	}
	count := float64(h.GetSampleCount())
	if h.SampleCountFloat != nil {
		count = h.GetSampleCountFloat()
	}
	out := Histogram{Count: count, Sum: h.GetSampleSum()}
	for _, b := range h.GetBucket() {
		c := float64(b.GetCumulativeCount())
		if b.CumulativeCountFloat != nil {
			c = b.GetCumulativeCountFloat()
		}
		out.Buckets = append(out.Buckets, Bucket{UpperBound: b.GetUpperBound(), Count: c})
	}
	return out.normalise()
}

// New builds a histogram from cumulative buckets (as exported) and the total
// count; the +Inf bucket is added when missing.
func New(buckets []Bucket, count, sum float64) (Histogram, error) {
	return Histogram{Buckets: append([]Bucket(nil), buckets...), Count: count, Sum: sum}.normalise()
}

func (h Histogram) normalise() (Histogram, error) {
	sort.Slice(h.Buckets, func(i, j int) bool { return h.Buckets[i].UpperBound < h.Buckets[j].UpperBound })
	if n := len(h.Buckets); n == 0 || !math.IsInf(h.Buckets[n-1].UpperBound, +1) {
		h.Buckets = append(h.Buckets, Bucket{UpperBound: math.Inf(+1), Count: h.Count})
	}
	for i := 1; i < len(h.Buckets); i++ {
		if h.Buckets[i].UpperBound == h.Buckets[i-1].UpperBound {
			return Histogram{}, fmt.Errorf("duplicate bucket bound %g", h.Buckets[i].UpperBound)
		}
		if h.Buckets[i].Count < h.Buckets[i-1].Count {
			return Histogram{}, fmt.Errorf("bucket le=%g has fewer observations than le=%g: not cumulative",
				h.Buckets[i].UpperBound, h.Buckets[i-1].UpperBound)
		}
	}
	return h, nil
}

func (h Histogram) add(o Histogram) (Histogram, error) {
	if err := sameBounds(h, o); err != nil {
		return Histogram{}, err
	}
	out := Histogram{Count: h.Count + o.Count, Sum: h.Sum + o.Sum, Buckets: make([]Bucket, len(h.Buckets))}
	for i := range h.Buckets {
		out.Buckets[i] = Bucket{UpperBound: h.Buckets[i].UpperBound, Count: h.Buckets[i].Count + o.Buckets[i].Count}
	}
	return out, nil
}

// Sub returns the observations made between an earlier scrape (before) and
// h: the histogram of just that interval. It fails when the bounds differ or
// a count went down (the process restarted in between).
func (h Histogram) Sub(before Histogram) (Histogram, error) {
	if err := sameBounds(h, before); err != nil {
		return Histogram{}, err
	}
	out := Histogram{Count: h.Count - before.Count, Sum: h.Sum - before.Sum, Buckets: make([]Bucket, len(h.Buckets))}
	for i := range h.Buckets {
		c := h.Buckets[i].Count - before.Buckets[i].Count
		if c < 0 {
			return Histogram{}, fmt.Errorf("bucket le=%g went down from %g to %g: counter reset",
				h.Buckets[i].UpperBound, before.Buckets[i].Count, h.Buckets[i].Count)
		}
		out.Buckets[i] = Bucket{UpperBound: h.Buckets[i].UpperBound, Count: c}
	}
	return out, nil
}

func sameBounds(a, b Histogram) error {
	if len(a.Buckets) != len(b.Buckets) {
		return fmt.Errorf("histograms have %d and %d buckets", len(a.Buckets), len(b.Buckets))
	}
	for i := range a.Buckets {
		if a.Buckets[i].UpperBound != b.Buckets[i].UpperBound {
			return fmt.Errorf("bucket %d bounds differ: %g and %g", i, a.Buckets[i].UpperBound, b.Buckets[i].UpperBound)
		}
	}
	return nil
}

// Estimate is a quantile interpolated from buckets, with the bucket it fell
// in: the true value is somewhere in (Lower, Upper], which is the resolution
// of the estimate.
type Estimate struct {
	Q     float64
	Value float64
	Lower float64
	Upper float64
}

// Quantile estimates the q-quantile (0 ≤ q ≤ 1) like PromQL's
// histogram_quantile: find the bucket holding the rank q·Count and
// interpolate linearly inside it, assuming observations are spread evenly
// there. The first bucket starts at 0 (latencies are never negative). A rank
// in the +Inf bucket returns the highest finite bound, the best a bucketed
// histogram can say. It fails on an empty histogram.
func (h Histogram) Quantile(q float64) (Estimate, error) {
	if q < 0 || q > 1 || math.IsNaN(q) {
		return Estimate{}, fmt.Errorf("quantile %g is not in [0, 1]", q)
	}
	if h.Count <= 0 || len(h.Buckets) == 0 {
		return Estimate{}, errors.New("quantile of an empty histogram")
	}
	rank := q * h.Count
	i := sort.Search(len(h.Buckets), func(i int) bool { return h.Buckets[i].Count >= rank })
	if i == len(h.Buckets) { // only when counts are inconsistent with Count
		i = len(h.Buckets) - 1
	}
	b := h.Buckets[i]
	if math.IsInf(b.UpperBound, +1) {
		if i == 0 {
			return Estimate{}, errors.New("histogram has only the +Inf bucket")
		}
		top := h.Buckets[i-1].UpperBound
		return Estimate{Q: q, Value: top, Lower: top, Upper: math.Inf(+1)}, nil
	}
	lower, below := 0.0, 0.0
	if i > 0 {
		lower, below = h.Buckets[i-1].UpperBound, h.Buckets[i-1].Count
	} else if b.UpperBound <= 0 {
		return Estimate{Q: q, Value: b.UpperBound, Lower: math.Inf(-1), Upper: b.UpperBound}, nil
	}
	inBucket := b.Count - below
	if inBucket <= 0 {
		return Estimate{Q: q, Value: b.UpperBound, Lower: lower, Upper: b.UpperBound}, nil
	}
	v := lower + (b.UpperBound-lower)*(rank-below)/inBucket
	return Estimate{Q: q, Value: v, Lower: lower, Upper: b.UpperBound}, nil
}

// Bounds lists the finite bucket bounds, for stating the resolution.
func (h Histogram) Bounds() []float64 {
	var out []float64
	for _, b := range h.Buckets {
		if !math.IsInf(b.UpperBound, +1) {
			out = append(out, b.UpperBound)
		}
	}
	return out
}
