package observability

import (
	"bufio"
	"fmt"
	"os"
	"strings"
	"testing"
)

// metricsReference parses the table under the README's "## Metrics
// reference" heading into metric name → type (counter, gauge, histogram).
// The README is the contract the dashboards and rules are held to.
func metricsReference(path string) (map[string]string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("open README: %w", err)
	}
	defer f.Close()
	out := map[string]string{}
	in := false
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if strings.HasPrefix(line, "#") {
			if in {
				break // the next section
			}
			in = strings.EqualFold(strings.TrimLeft(line, "# "), "Metrics reference")
			continue
		}
		if !in || !strings.HasPrefix(line, "|") {
			continue
		}
		cells := strings.Split(strings.Trim(line, "|"), "|")
		if len(cells) < 2 {
			continue
		}
		name := strings.TrimSpace(cells[0])
		if !strings.HasPrefix(name, "`") { // header and separator rows
			continue
		}
		name = strings.Trim(name, "` ")
		typ := strings.TrimSpace(cells[1])
		if _, dup := out[name]; dup {
			return nil, fmt.Errorf("README metrics reference lists %s twice", name)
		}
		out[name] = typ
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("read README: %w", err)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("no metrics table found under '## Metrics reference' in %s", path)
	}
	return out, nil
}

// knownMetric says whether name is a series the services export: a metric
// of the reference, a histogram's _bucket/_sum/_count series, or one of the
// families the README names by prefix (Go runtime, process, kprom client)
// plus Prometheus' own `up`.
func knownMetric(ref map[string]string, name string) bool {
	if _, ok := ref[name]; ok {
		return true
	}
	for _, suffix := range []string{"_bucket", "_sum", "_count"} {
		if base, ok := strings.CutSuffix(name, suffix); ok {
			if t := ref[base]; t == "histogram" || t == "summary" {
				return true
			}
		}
	}
	if name == "up" {
		return true
	}
	for _, p := range []string{"go_", "process_", "finflow_kafka_"} {
		if strings.HasPrefix(name, p) {
			return true
		}
	}
	return false
}

func loadReference(t *testing.T) map[string]string {
	t.Helper()
	ref, err := metricsReference(repoPath("README.md"))
	if err != nil {
		t.Fatal(err)
	}
	return ref
}

func TestMetricsReferenceParses(t *testing.T) {
	ref := loadReference(t)
	// A few rows the dashboards depend on, with their types: if the table's
	// layout changes so that parsing silently drops rows, this fails.
	for name, typ := range map[string]string{
		"finflow_producer_records_total":            "counter",
		"finflow_writer_consumer_lag_records":       "gauge",
		"finflow_writer_commit_duration_seconds":    "histogram",
		"finflow_writer_end_to_end_latency_seconds": "histogram",
		"finflow_writer_assigned_partitions":        "gauge",
	} {
		if got := ref[name]; got != typ {
			t.Errorf("README reference: %s has type %q, want %q", name, got, typ)
		}
	}
	for name := range ref {
		if !strings.HasPrefix(name, "finflow_") {
			t.Errorf("README reference: %s does not start with finflow_", name)
		}
	}
}

func TestKnownMetric(t *testing.T) {
	ref := map[string]string{"finflow_a_total": "counter", "finflow_b_seconds": "histogram"}
	for name, want := range map[string]bool{
		"finflow_a_total":              true,
		"finflow_b_seconds_bucket":     true,
		"finflow_b_seconds_count":      true,
		"finflow_a_total_count":        false, // a counter has no _count series
		"finflow_c_total":              false,
		"go_goroutines":                true,
		"process_cpu_seconds_total":    true,
		"finflow_kafka_connects_total": true,
		"up":                           true,
		"node_cpu_seconds_total":       false,
	} {
		if got := knownMetric(ref, name); got != want {
			t.Errorf("knownMetric(%s) = %v, want %v", name, got, want)
		}
	}
}
