package scenario

import (
	"context"
	"fmt"
	"github.com/finflow/finflow/services/producer/publish"
	"strconv"
	"time"
)

// Totals is the producer's last stdout line:
// "totals produced=<N> failed=<M> bytes=<B> elapsed=<duration>".
type Totals struct {
	Produced, Failed, Bytes int64
	Elapsed                 time.Duration
}

// EventsPerSecond is acknowledged events per second of the producer's own
// elapsed time.
func (t Totals) EventsPerSecond() float64 {
	if t.Elapsed <= 0 {
		return 0
	}
	return float64(t.Produced) / t.Elapsed.Seconds()
}

// ParseTotals parses the totals line (the producer's own parser).
func ParseTotals(line string) (Totals, error) {
	t, err := publish.ParseTotals(line)
	return Totals{Produced: t.Produced, Failed: t.Failed, Bytes: t.Bytes, Elapsed: t.Elapsed}, err
}

// Produced is one producer run.
type Produced struct {
	Totals
	PeakRSS int64
}

// Produce runs the producer to completion against the stack with extra
// arguments (--rate, --count, --duration) and returns its totals. A producer
// that fails, or reports failed records, is an error.
func (e *Env) Produce(ctx context.Context, s *Stack, topic string, seed uint64, timeout time.Duration, extra ...string) (Produced, error) {
	addr, err := freeAddr()
	if err != nil {
		return Produced{}, err
	}
	args := append([]string{
		"--kafka-brokers", s.Brokers,
		"--schema-registry-url", s.Registry,
		"--kafka-topic", topic,
		"--metrics-addr", addr,
		"--partitions", strconv.Itoa(e.Partitions),
		"--seed", strconv.FormatUint(seed, 10),
	}, extra...)
	p, err := e.start("producer", e.Bin.Producer, args...)
	if err != nil {
		return Produced{}, err
	}
	wctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	if err := p.Wait(wctx); err != nil {
		_ = p.Stop(5 * time.Second)
		return Produced{}, failed(p, err)
	}
	lines := p.Lines()
	if len(lines) == 0 {
		return Produced{}, failed(p, fmt.Errorf("producer printed nothing on stdout, want a totals line"))
	}
	t, err := ParseTotals(lines[len(lines)-1])
	if err != nil {
		return Produced{}, failed(p, fmt.Errorf("producer: %w", err))
	}
	if t.Failed > 0 {
		return Produced{}, failed(p, fmt.Errorf("producer: %d records failed to produce", t.Failed))
	}
	return Produced{Totals: t, PeakRSS: p.PeakRSS()}, nil
}
