package generator

import (
	"testing"
	"time"

	finflowv1 "github.com/finflow/finflow/gen/finflow/v1"
)

// BenchmarkNext measures generation alone (run with -cpu 1 -benchmem).
func BenchmarkNext(b *testing.B) {
	g := mustNew(b, Config{Seed: 1})
	var tx finflowv1.Transaction
	b.ReportAllocs()
	start := time.Now()
	for b.Loop() {
		g.Next(&tx)
	}
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "events/s")
}
