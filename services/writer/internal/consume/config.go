package consume

import (
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

// Config configures a Consumer. Zero values take the defaults written next
// to each field; validate rejects the rest.
type Config struct {
	// Brokers are the seed brokers, host:port. Required.
	Brokers []string
	// Topic is the topic to consume. Required. It need not exist yet: the
	// writer waits for it.
	Topic string
	// Group is the consumer group, also the first key of the checkpoints.
	// Default "finflow-writer".
	Group string
	// Owner names this writer in writer_checkpoints.owner. Default
	// "<hostname>/<pid>", set by the caller.
	Owner string

	// Policy bounds a batch.
	Policy Policy
	// Parallelism is how many database transactions write one batch at
	// once, each for a group of its partitions. One PostgreSQL backend
	// runs one COPY on one core; more lanes use more cores. Default 2.
	Parallelism int

	// SessionTimeout is the group session timeout. Default 45s.
	SessionTimeout time.Duration
	// RebalanceTimeout is the group rebalance timeout. A batch is never held
	// (rebalances blocked) for longer than half of it. Default 60s.
	RebalanceTimeout time.Duration
	// BackoffMin and BackoffMax bound the exponential backoff between
	// retries of a batch. Defaults 100ms and 5s.
	BackoffMin, BackoffMax time.Duration

	// Logger receives the writer's and the Kafka client's logs. Default
	// slog.Default().
	Logger *slog.Logger
	// KafkaOpts are appended to the client options (hooks such as kprom).
	KafkaOpts []kgo.Opt
}

// Defaults of Config.
const (
	DefaultGroup       = "finflow-writer"
	DefaultParallelism = 2
)

func (c *Config) setDefaults() {
	if c.Group == "" {
		c.Group = DefaultGroup
	}
	c.Policy.setDefaults()
	if c.Parallelism == 0 {
		c.Parallelism = DefaultParallelism
	}
	if c.SessionTimeout == 0 {
		c.SessionTimeout = 45 * time.Second
	}
	if c.RebalanceTimeout == 0 {
		c.RebalanceTimeout = 60 * time.Second
	}
	if c.BackoffMin == 0 {
		c.BackoffMin = 100 * time.Millisecond
	}
	if c.BackoffMax == 0 {
		c.BackoffMax = 5 * time.Second
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
}

func (c *Config) validate() error {
	var errs []error
	if len(c.Brokers) == 0 {
		errs = append(errs, errors.New("no Kafka brokers"))
	}
	if c.Topic == "" {
		errs = append(errs, errors.New("no topic"))
	}
	if c.Owner == "" {
		errs = append(errs, errors.New("no owner"))
	}
	if err := c.Policy.validate(); err != nil {
		errs = append(errs, err)
	}
	if c.Parallelism < 1 || c.Parallelism > 64 {
		errs = append(errs, fmt.Errorf("parallelism %d is not between 1 and 64", c.Parallelism))
	}
	if c.SessionTimeout < time.Second {
		errs = append(errs, fmt.Errorf("session timeout %v is under 1s", c.SessionTimeout))
	}
	if c.RebalanceTimeout < 2*time.Second {
		errs = append(errs, fmt.Errorf("rebalance timeout %v is under 2s", c.RebalanceTimeout))
	}
	if c.BackoffMin <= 0 || c.BackoffMax < c.BackoffMin {
		errs = append(errs, fmt.Errorf("backoff %v..%v is not a range", c.BackoffMin, c.BackoffMax))
	}
	return errors.Join(errs...)
}

// Policy bounds a batch in the spirit of Benthos' BatchPolicy: a batch (one
// database transaction) holds at most MaxRecords records and MaxBytes bytes,
// and is written at the latest MaxWait after its first record arrived. The
// writer fetches for Config.Parallelism batches at once.
type Policy struct {
	// MaxRecords per batch. Default 10,000.
	MaxRecords int
	// MaxBytes of record keys and values per batch. A batch can exceed it by
	// the records of the one poll that crossed it. Default 16 MiB.
	MaxBytes int
	// MaxWait from a batch's first record to its write. Default 50ms: it
	// bounds end-to-end latency (p99 ≈ 2 × MaxWait at steady rates, measured
	// by make bench), while under a backlog batches fill by MaxRecords first.
	MaxWait time.Duration
}

// Policy defaults.
const (
	DefaultMaxRecords = 10_000
	DefaultMaxBytes   = 16 << 20
	DefaultMaxWait    = 50 * time.Millisecond
)

func (p *Policy) setDefaults() {
	if p.MaxRecords == 0 {
		p.MaxRecords = DefaultMaxRecords
	}
	if p.MaxBytes == 0 {
		p.MaxBytes = DefaultMaxBytes
	}
	if p.MaxWait == 0 {
		p.MaxWait = DefaultMaxWait
	}
}

func (p Policy) validate() error {
	switch {
	case p.MaxRecords < 1 || p.MaxRecords > 1_000_000:
		return fmt.Errorf("batch max records %d is not between 1 and 1,000,000", p.MaxRecords)
	case p.MaxBytes < 1024 || p.MaxBytes > 1<<30:
		return fmt.Errorf("batch max bytes %d is not between 1 KiB and 1 GiB", p.MaxBytes)
	case p.MaxWait < time.Millisecond || p.MaxWait > time.Minute:
		return fmt.Errorf("batch max wait %v is not between 1ms and 1m", p.MaxWait)
	}
	return nil
}

// accumulator gathers what the writer holds at once: records for up to
// lanes transactions of a Policy each.
type accumulator struct {
	policy     Policy
	maxRecords int
	maxBytes   int
	recs       []*kgo.Record
	bytes      int
	started    time.Time // when the first record arrived
}

func newAccumulator(p Policy, lanes int) *accumulator {
	return &accumulator{policy: p, maxRecords: p.MaxRecords * lanes, maxBytes: p.MaxBytes * lanes,
		recs: make([]*kgo.Record, 0, p.MaxRecords*lanes)}
}

func (a *accumulator) add(r *kgo.Record, now time.Time) {
	if len(a.recs) == 0 {
		a.started = now
	}
	a.recs = append(a.recs, r)
	a.bytes += recordBytes(r)
}

// full reports whether a count or size bound is reached.
func (a *accumulator) full() bool {
	return len(a.recs) >= a.maxRecords || a.bytes >= a.maxBytes
}

// room is how many more records the batch takes.
func (a *accumulator) room() int { return max(a.maxRecords-len(a.recs), 0) }

// due is when the batch must be written, given it has records.
func (a *accumulator) due() time.Time { return a.started.Add(a.policy.MaxWait) }

func (a *accumulator) empty() bool { return len(a.recs) == 0 }

func (a *accumulator) reset() {
	clear(a.recs) // let the records go
	a.recs = a.recs[:0]
	a.bytes = 0
	a.started = time.Time{}
}

func recordBytes(r *kgo.Record) int {
	n := len(r.Key) + len(r.Value)
	for _, h := range r.Headers {
		n += len(h.Key) + len(h.Value)
	}
	return n
}
