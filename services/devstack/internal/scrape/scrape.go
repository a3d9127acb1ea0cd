// Package scrape reads a service's Prometheus /metrics endpoint, the way
// Prometheus does, so the demo shows the same numbers the dashboards do.
package scrape

import (
	"context"
	"fmt"
	"io"
	"math"
	"net/http"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// Families is one scrape: metric family name → family.
type Families map[string]*dto.MetricFamily

// Fetch scrapes url (e.g. http://127.0.0.1:9102/metrics) in the classic
// text format.
func Fetch(ctx context.Context, hc *http.Client, url string) (Families, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, err
	}
	// Ask for the text format explicitly: the services also speak
	// OpenMetrics, which names counter families without the _total suffix.
	req.Header.Set("Accept", "text/plain;version=0.0.4")
	resp, err := hc.Do(req)
	if err != nil {
		return nil, fmt.Errorf("scrape %s: %w", url, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		_, _ = io.Copy(io.Discard, resp.Body)
		return nil, fmt.Errorf("scrape %s: %s", url, resp.Status)
	}
	return Parse(resp.Body)
}

// Parse reads the Prometheus text exposition format.
func Parse(r io.Reader) (Families, error) {
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(r)
	if err != nil {
		return nil, fmt.Errorf("parse metrics: %w", err)
	}
	return Families(fams), nil
}

// Sum adds the values of every series of a counter, gauge or untyped
// family; ok is false when the family is absent.
func (f Families) Sum(name string) (sum float64, ok bool) {
	fam, ok := f[name]
	if !ok {
		return 0, false
	}
	for _, m := range fam.GetMetric() {
		sum += value(m)
	}
	return sum, true
}

// Max is the largest value among the family's series; ok is false when the
// family is absent or has no series.
func (f Families) Max(name string) (maxV float64, ok bool) {
	fam, found := f[name]
	if !found || len(fam.GetMetric()) == 0 {
		return 0, false
	}
	maxV = math.Inf(-1)
	for _, m := range fam.GetMetric() {
		maxV = math.Max(maxV, value(m))
	}
	return maxV, true
}

func value(m *dto.Metric) float64 {
	switch {
	case m.Counter != nil:
		return m.GetCounter().GetValue()
	case m.Gauge != nil:
		return m.GetGauge().GetValue()
	case m.Untyped != nil:
		return m.GetUntyped().GetValue()
	}
	return 0
}
