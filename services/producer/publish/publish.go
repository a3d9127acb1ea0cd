// Package publish sends records to a Kafka topic with franz-go: an
// idempotent, compressed producer that creates its topic when it is missing,
// paces itself with a token bucket, drains what it buffered on shutdown and
// reports Prometheus metrics. It knows nothing of what the records contain.
package publish

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
	"github.com/twmb/franz-go/plugin/kprom"
	"golang.org/x/time/rate"
)

// Config configures a Publisher. Brokers and Topic are required.
type Config struct {
	// Brokers are the seed brokers, host:port. Required.
	Brokers []string
	// Topic receives every record. Required.
	Topic string
	// Partitions is the partition count used when the topic has to be
	// created. Default 6.
	Partitions int32
	// ReplicationFactor is used when the topic has to be created.
	// Default 1.
	ReplicationFactor int16
	// Compression is the batch codec: zstd, lz4, snappy, gzip or none.
	// Default zstd.
	Compression string
	// Rate is the target number of records per second; 0 means as fast as
	// the broker takes them. Default 0.
	Rate float64
	// Count stops Run after this many records; 0 means no limit. Default 0.
	Count int64
	// Duration stops Run after this long; 0 means no limit. Default 0.
	Duration time.Duration
	// Intensity, when set, scales Rate by Intensity(now), re-evaluated
	// every second (a daily curve). Default nil: a flat rate.
	Intensity func(time.Time) float64
	// ConnectTimeout bounds Connect: reaching a broker and making sure the
	// topic exists. Default 10s.
	ConnectTimeout time.Duration
	// FlushTimeout bounds the drain after generation stops; records still
	// unacknowledged then are failed. Default 10s.
	FlushTimeout time.Duration
	// Registry receives the finflow_producer_* and finflow_kafka_* metrics.
	// Default: a private registry nobody reads.
	Registry *prometheus.Registry
	// Logger receives start-up, shutdown and error logs. Default: discard.
	Logger *slog.Logger
}

func (c *Config) setDefaults() {
	if c.Partitions == 0 {
		c.Partitions = 6
	}
	if c.ReplicationFactor == 0 {
		c.ReplicationFactor = 1
	}
	if c.Compression == "" {
		c.Compression = "zstd"
	}
	if c.ConnectTimeout == 0 {
		c.ConnectTimeout = 10 * time.Second
	}
	if c.FlushTimeout == 0 {
		c.FlushTimeout = 10 * time.Second
	}
	if c.Registry == nil {
		c.Registry = prometheus.NewRegistry()
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
}

// Validate reports every invalid setting, as New would, without building a
// client.
func (c Config) Validate() error {
	c.setDefaults()
	return c.validate()
}

// Setting names in errors are the environment variables of the producer's
// flags (README: Configuration), so a message says what to fix.
func (c *Config) validate() error {
	var errs []error
	if len(c.Brokers) == 0 {
		errs = append(errs, errors.New("KAFKA_BROKERS: no broker given"))
	}
	if c.Topic == "" {
		errs = append(errs, errors.New("KAFKA_TOPIC: empty"))
	}
	if c.Partitions < 1 {
		errs = append(errs, fmt.Errorf("PARTITIONS: must be at least 1, got %d", c.Partitions))
	}
	if c.ReplicationFactor < 1 {
		errs = append(errs, fmt.Errorf("REPLICATION_FACTOR: must be at least 1, got %d", c.ReplicationFactor))
	}
	if _, err := codec(c.Compression); err != nil {
		errs = append(errs, err)
	}
	if c.Rate < 0 || math.IsNaN(c.Rate) || math.IsInf(c.Rate, 0) {
		errs = append(errs, fmt.Errorf("RATE: must be a number >= 0 events/s (0 = as fast as possible), got %v", c.Rate))
	}
	if c.Count < 0 {
		errs = append(errs, fmt.Errorf("COUNT: must be >= 0 (0 = unlimited), got %d", c.Count))
	}
	if c.Duration < 0 {
		errs = append(errs, fmt.Errorf("DURATION: must be >= 0 (0 = unlimited), got %v", c.Duration))
	}
	if c.ConnectTimeout < 0 {
		errs = append(errs, fmt.Errorf("CONNECT_TIMEOUT: must be > 0, got %v", c.ConnectTimeout))
	}
	if c.FlushTimeout < 0 {
		errs = append(errs, fmt.Errorf("FLUSH_TIMEOUT: must be > 0, got %v", c.FlushTimeout))
	}
	return errors.Join(errs...)
}

func codec(name string) (kgo.CompressionCodec, error) {
	switch strings.ToLower(name) {
	case "zstd":
		return kgo.ZstdCompression(), nil
	case "lz4":
		return kgo.Lz4Compression(), nil
	case "snappy":
		return kgo.SnappyCompression(), nil
	case "gzip":
		return kgo.GzipCompression(), nil
	case "none":
		return kgo.NoCompression(), nil
	}
	return kgo.CompressionCodec{}, fmt.Errorf("COMPRESSION: %q is not one of zstd, lz4, snappy, gzip, none", name)
}

// linger is how long a partition waits for more records before a batch goes
// out. At high or unlimited rates a few milliseconds fill large batches that
// compress well and cost the broker fewer requests; at low rates each record
// would otherwise wait for company that is not coming, so it goes at once.
func linger(ratePerSec float64) time.Duration {
	switch {
	case ratePerSec == 0 || ratePerSec >= 10_000:
		return 10 * time.Millisecond
	case ratePerSec >= 500:
		return 2 * time.Millisecond
	default:
		return 0
	}
}

// Source makes the records Run publishes.
type Source interface {
	// Next appends the next record's value to buf and returns the record's
	// key and value. Both must stay unmodified until the record is
	// acknowledged; value may be buf grown. An error stops Run.
	Next(buf []byte) (key, value []byte, err error)
}

// Totals summarise a Run.
type Totals struct {
	Produced int64         // records acknowledged by the broker
	Failed   int64         // records that failed or were abandoned
	Bytes    int64         // key + value bytes of acknowledged records
	Elapsed  time.Duration // from Run's start to the end of the drain
}

// String is the producer's final stdout line, which `make demo` parses.
func (t Totals) String() string {
	return fmt.Sprintf("totals produced=%d failed=%d bytes=%d elapsed=%s",
		t.Produced, t.Failed, t.Bytes, t.Elapsed.Round(time.Millisecond))
}

// ParseTotals reads the line String writes; the demo, the benchmarks and the
// end-to-end suite use it on the producer's last stdout line. Unknown
// key=value fields are skipped, so a newer producer may say more.
func ParseTotals(line string) (Totals, error) {
	rest, ok := strings.CutPrefix(strings.TrimSpace(line), "totals ")
	if !ok {
		return Totals{}, fmt.Errorf("not a totals line: %q", line)
	}
	var t Totals
	seen := map[string]bool{}
	for _, f := range strings.Fields(rest) {
		k, v, ok := strings.Cut(f, "=")
		if !ok {
			return Totals{}, fmt.Errorf("totals line %q: field %q is not key=value", line, f)
		}
		var err error
		switch k {
		case "produced":
			t.Produced, err = strconv.ParseInt(v, 10, 64)
		case "failed":
			t.Failed, err = strconv.ParseInt(v, 10, 64)
		case "bytes":
			t.Bytes, err = strconv.ParseInt(v, 10, 64)
		case "elapsed":
			t.Elapsed, err = time.ParseDuration(v)
		default:
			continue
		}
		if err != nil {
			return Totals{}, fmt.Errorf("totals line %q: %s: %w", line, k, err)
		}
		seen[k] = true
	}
	for _, k := range []string{"produced", "failed", "bytes", "elapsed"} {
		if !seen[k] {
			return Totals{}, fmt.Errorf("totals line %q lacks %s=", line, k)
		}
	}
	return t, nil
}

// Publisher owns one franz-go client. Run it once.
type Publisher struct {
	cfg  Config
	cl   *kgo.Client
	adm  *kadm.Client
	m    *metrics
	dial *dialHook

	pool      sync.Pool // *kgo.Record, values' buffers kept for reuse
	closeOnce sync.Once

	attempted, produced, failed, bytes atomic.Int64
	connected                          atomic.Bool
	errLog                             rate.Sometimes
}

// New validates cfg and builds the client; it does not touch the network
// (see Connect).
func New(cfg Config) (*Publisher, error) {
	cfg.setDefaults()
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	c, _ := codec(cfg.Compression)
	p := &Publisher{
		cfg:    cfg,
		dial:   &dialHook{},
		errLog: rate.Sometimes{First: 3, Interval: 10 * time.Second},
	}
	m, err := newMetrics(cfg.Registry, cfg.Topic, cfg.Rate, func() float64 {
		if p.cl == nil {
			return 0
		}
		return float64(p.cl.BufferedProduceRecords())
	})
	if err != nil {
		return nil, err
	}
	p.m = m
	p.pool.New = func() any { return &kgo.Record{Value: make([]byte, 0, 256)} }

	// Client metrics (connections, bytes, batches) as finflow_kafka_*.
	kp := kprom.NewMetrics("finflow", kprom.Subsystem("kafka"), kprom.Registry(cfg.Registry))
	p.cl, err = kgo.NewClient(
		kgo.SeedBrokers(cfg.Brokers...),
		kgo.ClientID("finflow-producer"),
		kgo.DefaultProduceTopic(cfg.Topic),
		// Idempotent writes are franz-go's default and imply acks=all;
		// stated so nobody "optimises" them away.
		kgo.RequiredAcks(kgo.AllISRAcks()),
		kgo.ProducerBatchCompression(c, kgo.NoCompression()),
		kgo.ProducerLinger(linger(cfg.Rate)),
		// A record still unacknowledged after this counts as failed
		// (when that is safe for the idempotent sequence numbers).
		kgo.RecordDeliveryTimeout(2*time.Minute),
		kgo.WithHooks(kp, p.dial),
		kgo.WithLogger(slogAdapter{cfg.Logger}),
	)
	if err != nil {
		return nil, fmt.Errorf("kafka client: %w", err)
	}
	p.adm = kadm.NewClient(p.cl)
	return p, nil
}

// Close releases the client; buffered records still unacknowledged fail.
// Calling it again does nothing.
func (p *Publisher) Close() { p.closeOnce.Do(p.cl.Close) }

// Connect reaches a broker and makes sure the topic exists, creating it with
// the configured partitions and replication factor when it is missing. It
// gives up after ConnectTimeout with an error naming what to fix.
func (p *Publisher) Connect(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, p.cfg.ConnectTimeout)
	defer cancel()
	// Retry until the timeout: a broker that is still starting (make demo
	// starts everything at once) should not fail the producer.
	for {
		_, err := p.adm.BrokerMetadata(ctx)
		if err == nil {
			break
		}
		if ctx.Err() == nil {
			select {
			case <-ctx.Done():
			case <-time.After(250 * time.Millisecond):
				continue
			}
		}
		if dialErr := p.dial.last(); dialErr != nil {
			err = dialErr // "connection refused" says more than "deadline exceeded"
		}
		return fmt.Errorf("KAFKA_BROKERS: no broker at %s answered within %s: %w",
			strings.Join(p.cfg.Brokers, ","), p.cfg.ConnectTimeout, err)
	}
	if err := p.ensureTopic(ctx); err != nil {
		return err
	}
	p.connected.Store(true)
	return nil
}

func (p *Publisher) ensureTopic(ctx context.Context) error {
	topic := p.cfg.Topic
	details, err := p.adm.ListTopics(ctx, topic)
	if err != nil {
		return fmt.Errorf("KAFKA_TOPIC: describe %s: %w", topic, err)
	}
	td, ok := details[topic]
	switch {
	case ok && td.Err == nil:
		p.cfg.Logger.Info("topic exists", "topic", topic, "partitions", len(td.Partitions))
		return nil
	case ok && !errors.Is(td.Err, kerr.UnknownTopicOrPartition):
		return fmt.Errorf("KAFKA_TOPIC: describe %s: %w", topic, td.Err)
	}

	resp, err := p.adm.CreateTopic(ctx, p.cfg.Partitions, p.cfg.ReplicationFactor, nil, topic)
	switch {
	case err == nil:
		p.cfg.Logger.Info("created topic", "topic", topic, "partitions", resp.NumPartitions, "replication_factor", resp.ReplicationFactor)
	case errors.Is(err, kerr.TopicAlreadyExists): // created concurrently: fine
	case errors.Is(err, kerr.TopicAuthorizationFailed), errors.Is(err, kerr.ClusterAuthorizationFailed):
		return fmt.Errorf("KAFKA_TOPIC: topic %s does not exist and this client is not allowed to create it (%v); create it or grant CREATE", topic, err)
	case errors.Is(err, kerr.InvalidReplicationFactor):
		return fmt.Errorf("REPLICATION_FACTOR: cannot create %s with replication factor %d: %v", topic, p.cfg.ReplicationFactor, err)
	default:
		msg := err.Error()
		if resp.ErrMessage != "" {
			msg += ": " + resp.ErrMessage
		}
		return fmt.Errorf("KAFKA_TOPIC: create %s: %s", topic, msg)
	}

	// Wait until every partition has a leader, so the first records do not
	// bounce off "unknown topic" while the creation propagates. The request
	// bypasses the client's metadata cache, which would keep answering
	// "unknown topic" for a few seconds.
	for {
		req := kmsg.NewPtrMetadataRequest()
		rt := kmsg.NewMetadataRequestTopic()
		rt.Topic = kmsg.StringPtr(topic)
		req.Topics = append(req.Topics, rt)
		if resp, err := req.RequestWith(ctx, p.cl); err == nil && len(resp.Topics) == 1 && allLed(resp.Topics[0]) {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("KAFKA_TOPIC: %s created but its partitions have no leaders yet: %w", topic, ctx.Err())
		case <-time.After(50 * time.Millisecond):
		}
	}
}

func allLed(t kmsg.MetadataResponseTopic) bool {
	if t.ErrorCode != 0 || len(t.Partitions) == 0 {
		return false
	}
	for _, p := range t.Partitions {
		if p.ErrorCode != 0 || p.Leader < 0 {
			return false
		}
	}
	return true
}

// Buffered is the number of records handed to the client and not yet
// acknowledged or failed.
func (p *Publisher) Buffered() int64 { return p.cl.BufferedProduceRecords() }

// Ready reports whether Connect succeeded and a broker still answers.
func (p *Publisher) Ready(ctx context.Context) error {
	if !p.connected.Load() {
		return errors.New("not connected to kafka yet")
	}
	return p.cl.Ping(ctx)
}

// Run publishes records from src until ctx ends, Count records have been
// produced or Duration has passed; then it drains: it waits up to
// FlushTimeout for the broker to acknowledge what is buffered and fails the
// rest. Records are produced with a context of their own, so cancelling ctx
// stops generation without cancelling records already handed to the
// client. The error is non-nil only when src failed.
func (p *Publisher) Run(ctx context.Context, src Source) (Totals, error) {
	start := time.Now()
	genCtx := ctx
	if p.cfg.Duration > 0 {
		var cancel context.CancelFunc
		genCtx, cancel = context.WithTimeout(ctx, p.cfg.Duration)
		defer cancel()
	}
	// Buffered records are cancelled only when the drain times out.
	produceCtx, abort := context.WithCancel(context.WithoutCancel(ctx))
	defer abort()
	genDone, drained := make(chan struct{}), make(chan struct{})
	go func() {
		select {
		case <-genCtx.Done(): // also covers a Produce blocked on a full buffer
		case <-genDone:
		}
		t := time.NewTimer(p.cfg.FlushTimeout)
		defer t.Stop()
		select {
		case <-t.C:
			abort()
		case <-drained:
		}
	}()
	stopRate := p.trackRate()
	defer stopRate()

	srcErr := p.generate(genCtx, produceCtx, src)
	close(genDone)

	p.cfg.Logger.Info("draining", "buffered", p.cl.BufferedProduceRecords(), "flush_timeout", p.cfg.FlushTimeout)
	if err := p.cl.Flush(produceCtx); err != nil {
		p.cfg.Logger.Warn("flush timed out: failing unacknowledged records", "buffered", p.cl.BufferedProduceRecords(), "flush_timeout", p.cfg.FlushTimeout)
		// Bounded: records in flight to a broker that never answers cannot
		// be failed safely; Close fails them.
		actx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		_ = p.cl.AbortBufferedRecords(actx)
		cancel()
	}
	close(drained)
	return p.Totals(time.Since(start)), srcErr
}

// generate hands records to the client until genCtx ends, Count is reached
// or src fails. With a rate, it reserves tokens for about 10 ms of records
// at a time: pacing stays smooth without a timer per record, and because
// the token bucket accounts for every token, the long-run rate does not
// drift however late a wake-up is.
func (p *Publisher) generate(genCtx, produceCtx context.Context, src Source) error {
	var lim *rate.Limiter
	var nextCurve time.Time
	stop := genCtx.Done()
	if p.cfg.Rate > 0 {
		lim = rate.NewLimiter(rate.Limit(p.cfg.Rate), burst(p.cfg.Rate))
	}
	for genCtx.Err() == nil {
		n := 1_000 // unpaced: records between context checks
		if lim != nil {
			if p.cfg.Intensity != nil {
				if now := time.Now(); !now.Before(nextCurve) {
					r := max(p.cfg.Rate*p.cfg.Intensity(now), 1e-3)
					lim.SetLimitAt(now, rate.Limit(r))
					lim.SetBurstAt(now, burst(r))
					nextCurve = now.Add(time.Second)
				}
			}
			n = lim.Burst()
		}
		if p.cfg.Count > 0 {
			n = int(min(int64(n), p.cfg.Count-p.attempted.Load()))
			if n <= 0 {
				return nil
			}
		}
		if lim != nil {
			if err := lim.WaitN(genCtx, n); err != nil {
				return nil // ctx ended, or would before the tokens are due
			}
		}
		for range n {
			select {
			case <-stop: // do not start records after a stop, even mid-burst
				return nil
			default:
			}
			rec := p.pool.Get().(*kgo.Record)
			key, value, err := src.Next(rec.Value[:0])
			if err != nil {
				p.pool.Put(rec)
				return fmt.Errorf("next record: %w", err)
			}
			rec.Key, rec.Value = key, value
			p.attempted.Add(1)
			p.cl.Produce(produceCtx, rec, p.promise)
		}
	}
	return nil
}

// burst is the token bucket size: about 10 ms of records, at least one.
func burst(ratePerSec float64) int {
	return max(1, int(math.Ceil(ratePerSec/100)))
}

// promise runs, serially, once per record when the broker acknowledges it
// or it fails. It must be quick: it blocks the client's promise loop.
func (p *Publisher) promise(r *kgo.Record, err error) {
	p.m.latency.Observe(time.Since(r.Timestamp).Seconds())
	if err != nil {
		p.failed.Add(1)
		p.m.errors.Inc()
		p.errLog.Do(func() {
			p.cfg.Logger.Error("record failed", "topic", r.Topic, "partition", r.Partition, "err", err, "failed_so_far", p.failed.Load())
		})
	} else {
		n := int64(len(r.Key) + len(r.Value))
		p.produced.Add(1)
		p.bytes.Add(n)
		p.m.records.Inc()
		p.m.bytes.Add(float64(n))
	}
	// The client is done with the record: keep its value buffer.
	*r = kgo.Record{Value: r.Value[:0]}
	p.pool.Put(r)
}

// Totals are the counts so far, with elapsed as given. Records handed to the
// client whose fate is not known yet count as failed, which is what they are
// when the process exits now.
func (p *Publisher) Totals(elapsed time.Duration) Totals {
	t := Totals{Produced: p.produced.Load(), Failed: p.failed.Load(), Bytes: p.bytes.Load(), Elapsed: elapsed}
	if lost := p.attempted.Load() - t.Produced - t.Failed; lost > 0 {
		t.Failed += lost
	}
	return t
}

// trackRate keeps finflow_producer_actual_rate at the acknowledged rate over
// the last five seconds.
func (p *Publisher) trackRate() (stop func()) {
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		type sample struct {
			at time.Time
			n  int64
		}
		window := []sample{{time.Now(), p.produced.Load()}}
		tick := time.NewTicker(time.Second)
		defer tick.Stop()
		for {
			select {
			case <-done:
				return
			case now := <-tick.C:
				window = append(window, sample{now, p.produced.Load()})
				if len(window) > 6 {
					window = window[1:]
				}
				first, last := window[0], window[len(window)-1]
				if dt := last.at.Sub(first.at).Seconds(); dt > 0 {
					p.m.actual.Set(float64(last.n-first.n) / dt)
				}
			}
		}
	}()
	return func() { close(done); wg.Wait() }
}
