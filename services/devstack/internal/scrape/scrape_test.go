package scrape_test

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/finflow/finflow/services/devstack/internal/scrape"
	"github.com/finflow/finflow/services/kit/telemetry"
)

// Scrape a real telemetry endpoint (the one the services serve) with the
// metric shapes the demo reads.
func TestFetchFromTelemetryEndpoint(t *testing.T) {
	reg := telemetry.NewRegistry()
	rows := prometheus.NewCounterVec(prometheus.CounterOpts{Name: "finflow_writer_rows_written_total", Help: "rows"}, []string{"topic"})
	dead := prometheus.NewCounterVec(prometheus.CounterOpts{Name: "finflow_writer_dead_letters_total", Help: "dead"}, []string{"reason"})
	lag := prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "finflow_writer_consumer_lag_records", Help: "lag"}, []string{"topic", "partition"})
	age := prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "finflow_writer_checkpoint_age_seconds", Help: "age"}, []string{"topic", "partition"})
	reg.MustRegister(rows, dead, lag, age)
	rows.WithLabelValues("transactions").Add(1234)
	dead.WithLabelValues("bad_framing").Add(2)
	dead.WithLabelValues("undecodable").Add(3)
	lag.WithLabelValues("transactions", "0").Set(10)
	lag.WithLabelValues("transactions", "1").Set(5)
	age.WithLabelValues("transactions", "0").Set(0.25)
	age.WithLabelValues("transactions", "1").Set(1.5)

	srv, err := telemetry.Listen("127.0.0.1:0", reg, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Shutdown(context.Background())

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	f, err := scrape.Fetch(ctx, http.DefaultClient, "http://"+srv.Addr()+"/metrics")
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name string
		got  func(string) (float64, bool)
		want float64
	}{
		{"finflow_writer_rows_written_total", f.Sum, 1234},
		{"finflow_writer_dead_letters_total", f.Sum, 5},
		{"finflow_writer_consumer_lag_records", f.Sum, 15},
		{"finflow_writer_checkpoint_age_seconds", f.Max, 1.5},
	} {
		if v, ok := c.got(c.name); !ok || v != c.want {
			t.Errorf("%s = %v (present %v), want %v", c.name, v, ok, c.want)
		}
	}
	if _, ok := f.Sum("finflow_producer_records_total"); ok {
		t.Error("an absent family reported present")
	}
	if _, ok := f.Sum("go_goroutines"); !ok {
		t.Error("runtime metrics missing from the scrape")
	}
}

func TestFetchErrors(t *testing.T) {
	ctx := context.Background()
	srv, err := telemetry.Listen("127.0.0.1:0", telemetry.NewRegistry(), nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	addr := srv.Addr()
	if _, err := scrape.Fetch(ctx, http.DefaultClient, "http://"+addr+"/nope"); err == nil {
		t.Error("404 accepted")
	}
	srv.Shutdown(ctx)
	if _, err := scrape.Fetch(ctx, http.DefaultClient, "http://"+addr+"/metrics"); err == nil {
		t.Error("scrape of a closed endpoint succeeded")
	}
}
