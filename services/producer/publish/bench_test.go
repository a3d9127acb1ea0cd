package publish

import (
	"context"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
)

// BenchmarkProduce is the producer end to end: generate, encode, and produce
// to an in-process kfake broker over TCP (idempotent, acks=all, zstd,
// unpaced) until the broker has acknowledged every record. The broker
// discards record bytes (BlackholeProduce) so its storage does not count.
func BenchmarkProduce(b *testing.B) {
	for _, compression := range []string{"zstd", "none"} {
		b.Run(compression, func(b *testing.B) {
			c := cluster(b, kfake.BlackholeProduce())
			p := newPublisher(b, Config{Brokers: c.ListenAddrs(), Topic: topic, Compression: compression, Count: int64(b.N)})
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
			defer cancel()
			if err := p.Connect(ctx); err != nil {
				b.Fatal(err)
			}
			src := newSource(b, 1)
			b.ReportAllocs()
			b.ResetTimer()
			totals, err := p.Run(ctx, src)
			b.StopTimer()
			if err != nil || totals.Produced != int64(b.N) {
				b.Fatalf("totals %v, %v", totals, err)
			}
			b.ReportMetric(float64(b.N)/totals.Elapsed.Seconds(), "events/s")
			b.ReportMetric(float64(totals.Bytes)/float64(b.N), "B/event")
		})
	}
}
