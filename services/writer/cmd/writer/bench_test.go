package main

import (
	"context"
	"os"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/finflow/finflow/services/writer/internal/fixture"
)

// BenchmarkDrain: 1,000,000 records waiting in Kafka (6 partitions), drained
// by one writer process as shipped (default batch policy). Reported:
// rows/s from process start to the last checkpoint (start-up and group
// join included), steady rows/s between the first and the last committed
// batch, and the process's peak RSS. WRITER_DRAIN_RECORDS changes the count.
//
//	go test -run '^$' -bench Drain -benchtime 1x -timeout 30m ./cmd/writer
func BenchmarkDrain(b *testing.B) {
	n := 1_000_000
	if v, err := strconv.Atoi(os.Getenv("WRITER_DRAIN_RECORDS")); err == nil && v > 0 {
		n = v
	}
	for range b.N {
		b.StopTimer()
		s := newStack(b, 6)
		sum := s.producer.Transactions(b, 0, n)
		ends := fixture.EndOffsets(b, s.brokers, topic)
		b.StartTimer()

		t0 := time.Now()
		p := start(b, "drain", releaseBin, s.env(append([]string{"LOG_LEVEL=warn", "BATCH_MAX_WAIT=250ms"}, drainEnv()...)...))
		peak := watchPeakRSS(p)
		fixture.WaitCaughtUp(b, s.dbURL, group, topic, ends, 20*time.Minute)
		wall := time.Since(t0)
		b.StopTimer()
		p.stop(30 * time.Second)

		var steady float64
		if err := s.db.QueryRow(context.Background(),
			`SELECT extract(epoch FROM max(ingested_at) - min(ingested_at)) FROM raw_transactions`).Scan(&steady); err != nil {
			b.Fatal(err)
		}
		ru, _ := p.cmd.ProcessState.SysUsage().(*syscall.Rusage)
		b.ReportMetric(float64(n)/wall.Seconds(), "rows/s")
		if steady > 0 {
			b.ReportMetric(float64(n)/steady, "steady_rows/s")
		}
		b.ReportMetric(float64(<-peak)/1024, "peak_rss_MB")
		if ru != nil {
			b.ReportMetric(float64(ru.Utime.Nano()+ru.Stime.Nano())/1e9/wall.Seconds(), "writer_cpus")
		}
		b.ReportMetric(0, "ns/op")
		fixture.Check(b, s.dbURL, fixture.Expect{Group: group, Topic: topic, Rows: int64(n), SumPence: sum, Ends: ends,
			DeadLetters: map[string]int64{}})
		b.StartTimer()
	}
}

// drainEnv passes WRITER_DRAIN_ENV (space-separated NAME=value) to the
// drained writer, to try settings: WRITER_DRAIN_ENV="WRITE_PARALLELISM=1".
func drainEnv() []string { return strings.Fields(os.Getenv("WRITER_DRAIN_ENV")) }

// watchPeakRSS reports the process's peak resident set (VmHWM, KiB) as it
// was last seen before the process ended. (The rusage of a child is no good
// here: Linux carries the parent's RSS at fork into the child's ru_maxrss,
// and the parent is this test, holding a million records in kfake.)
func watchPeakRSS(p *proc) <-chan int64 {
	out := make(chan int64, 1)
	go func() {
		var peak int64
		path := "/proc/" + strconv.Itoa(p.cmd.Process.Pid) + "/status"
		for {
			if st, err := os.ReadFile(path); err == nil {
				for _, l := range strings.Split(string(st), "\n") {
					if v, ok := strings.CutPrefix(l, "VmHWM:"); ok {
						if kb, err := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64); err == nil {
							peak = max(peak, kb)
						}
					}
				}
			}
			select {
			case <-p.done:
				out <- peak
				return
			case <-time.After(20 * time.Millisecond):
			}
		}
	}()
	return out
}
