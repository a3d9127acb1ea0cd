// Package consume is the writer's loop: it consumes the topic as a member of
// a consumer group, gathers records into batches under a Policy, decodes
// them and hands them to the sink, which stores rows, dead letters and the
// partitions' checkpoints in one transaction per chunk. Start offsets come
// from the database's checkpoints, never from Kafka's group offsets; those
// are only mirrored for lag tools after each commit.
//
// Rebalances are blocked while a batch is held (BlockRebalanceOnPoll), so a
// batch is written by the member that owns its partitions; the checkpoint
// compare-and-set fences the member if that ever stops being true. A batch
// is split by partition into lanes written concurrently (PostgreSQL runs one
// COPY per backend, on one core), each lane a sequence of transactions of
// at most Policy.MaxRecords records.
package consume

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/finflow/finflow/services/writer/internal/decode"
	"github.com/finflow/finflow/services/writer/internal/failpoint"
	"github.com/finflow/finflow/services/writer/internal/metrics"
	"github.com/finflow/finflow/services/writer/internal/sink"
)

// Consumer is one writer: a group member writing its partitions into
// PostgreSQL.
type Consumer struct {
	cfg         Config
	cl          *kgo.Client
	sink        *sink.Sink
	dec         *decode.Decoder
	m           *metrics.Writer
	unknownOnce sync.Once // the newer-producer warning is logged once
	log         *slog.Logger
	parts       *partitions
	commits     *committer
	acc         *accumulator

	// Per-batch scratch, reused (loop goroutine only).
	first  map[int32]int64       // first offset of each partition in the batch
	count  map[int32]int         // records of each partition in the batch
	last   map[int32]*kgo.Record // last record of each partition in the batch
	byPart map[int32][]*kgo.Record
	lanes  []*lane
}

// lane writes the records of a group of partitions, as a sequence of
// transactions (chunks) of at most Policy.MaxRecords records and
// Policy.MaxBytes bytes. The lanes of a batch run concurrently, one
// PostgreSQL backend (one core) each. Exactly-once holds per partition: all
// of a partition's records are in one lane, its chunks commit in offset
// order, and each chunk's compare-and-set expects what the previous one
// stored.
type lane struct {
	parts   []int32
	records int
	chunks  []*chunk
	spare   []*chunk // chunks of earlier batches, reused
	// Filled by runLane: the partitions whose records were not written (to
	// be rewound), and the error that stopped the lane, if any.
	unwritten []int32
	err       error
}

// chunk is one transaction of a lane.
type chunk struct {
	batch   sink.Batch
	parts   []int32 // in ascending order: one lock order for every writer
	nexts   []int64 // per part: one past its last offset in the chunk
	records int
	bytes   int
}

// newChunk starts the lane's next chunk, reusing an earlier one's memory.
func (l *lane) newChunk() *chunk {
	var ch *chunk
	if n := len(l.chunks); n < len(l.spare) {
		ch = l.spare[n]
	} else {
		ch = &chunk{}
		l.spare = append(l.spare, ch)
	}
	b := &ch.batch
	b.Rows, b.DeadLetters, b.Checkpoints = b.Rows[:0], b.DeadLetters[:0], b.Checkpoints[:0]
	ch.parts, ch.nexts, ch.records, ch.bytes = ch.parts[:0], ch.nexts[:0], 0, 0
	l.chunks = append(l.chunks, ch)
	return ch
}

// New creates the Kafka client and joins nothing yet; Run does.
func New(cfg Config, snk *sink.Sink, dec *decode.Decoder, m *metrics.Writer) (*Consumer, error) {
	cfg.setDefaults()
	if err := cfg.validate(); err != nil {
		return nil, fmt.Errorf("consumer config: %w", err)
	}
	c := &Consumer{
		cfg:    cfg,
		sink:   snk,
		dec:    dec,
		m:      m,
		log:    cfg.Logger,
		parts:  newPartitions(cfg.Topic, m),
		acc:    newAccumulator(cfg.Policy, cfg.Parallelism),
		first:  map[int32]int64{},
		count:  map[int32]int{},
		last:   map[int32]*kgo.Record{},
		byPart: map[int32][]*kgo.Record{},
	}
	for range cfg.Parallelism {
		c.lanes = append(c.lanes, &lane{})
	}
	m.Topic(cfg.Topic)
	opts := []kgo.Opt{
		kgo.SeedBrokers(cfg.Brokers...),
		kgo.ClientID("finflow-writer"),
		kgo.ConsumerGroup(cfg.Group),
		kgo.ConsumeTopics(cfg.Topic),
		kgo.Balancers(kgo.CooperativeStickyBalancer()),
		kgo.DisableAutoCommit(),
		kgo.BlockRebalanceOnPoll(),
		kgo.AdjustFetchOffsetsFn(c.adjust),
		kgo.OnPartitionsAssigned(c.assigned),
		kgo.OnPartitionsRevoked(c.revoked),
		kgo.OnPartitionsLost(c.lost),
		kgo.SessionTimeout(cfg.SessionTimeout),
		kgo.RebalanceTimeout(cfg.RebalanceTimeout),
		kgo.HeartbeatInterval(min(3*time.Second, cfg.SessionTimeout/3)),
		// Records of aborted producer transactions must never become rows.
		kgo.FetchIsolationLevel(kgo.ReadCommitted()),
		// What the client buffers ahead of the loop is about one batch, so
		// memory stays bounded while the database is slow or down. Small
		// per-partition slices make every fetch, and so every batch, carry
		// several partitions, which the lanes then write in parallel.
		kgo.FetchMaxBytes(int32(cfg.Policy.MaxBytes)),
		// A fetch response must fit the client's read limit (100 MiB by
		// default), or large --batch-max-bytes values are refused at start.
		kgo.BrokerMaxReadBytes(int32(max(100<<20, cfg.Policy.MaxBytes+1<<20))),
		kgo.FetchMaxPartitionBytes(int32(max(64<<10, cfg.Policy.MaxBytes/16))),
		kgo.WithLogger(kgoLogger{cfg.Logger}),
	}
	cl, err := kgo.NewClient(append(opts, cfg.KafkaOpts...)...)
	if err != nil {
		return nil, fmt.Errorf("kafka client: %w", err)
	}
	c.cl = cl
	c.commits = newCommitter(cl, cfg.Topic, cfg.Logger)
	return c, nil
}

// leaveTimeout bounds leaving the group at shutdown. franz-go's Close waits
// for the leave, which can stall behind a join round that waits out a killed
// member's session timeout; exiting without a clean leave is safe because
// the database checkpoints, not the group, decide what was written.
const leaveTimeout = 10 * time.Second

// close leaves the group and closes the client, giving up after limit.
func (c *Consumer) close(limit time.Duration) {
	done := make(chan struct{})
	go func() {
		c.cl.CloseAllowingRebalance()
		close(done)
	}()
	select {
	case <-done:
		c.log.Info("left the consumer group", "group", c.cfg.Group)
	case <-time.After(limit):
		c.log.Warn("leaving the consumer group did not finish in time; exiting anyway: the broker expires this member "+
			"after the session timeout, and the database checkpoints keep the data exact", "group", c.cfg.Group, "waited", limit)
	}
}

// Ping checks that a broker answers (readiness).
func (c *Consumer) Ping(ctx context.Context) error { return c.cl.Ping(ctx) }

// Run consumes until ctx ends. Then it finishes the batch in flight
// (commits it, or gives it back if the database stays down past the hold
// limit), mirrors the last offsets to Kafka, leaves the group and closes the
// client. It returns nil on a clean stop.
func (c *Consumer) Run(ctx context.Context) error {
	bg, stop := context.WithCancel(context.WithoutCancel(ctx))
	var wg sync.WaitGroup
	wg.Add(2)
	go func() { defer wg.Done(); c.commits.run(bg) }()
	go func() { defer wg.Done(); c.tick(bg) }()
	defer func() {
		stop()
		wg.Wait()
		c.commits.flush(5 * time.Second)
		c.close(leaveTimeout)
	}()
	for {
		c.fill(ctx)
		if !c.acc.empty() {
			c.flush(ctx)
		}
		c.cl.AllowRebalance()
		if ctx.Err() != nil {
			return nil
		}
	}
}

func (c *Consumer) tick(ctx context.Context) {
	t := time.NewTicker(time.Second)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case now := <-t.C:
			c.parts.update(now)
		}
	}
}

// fill polls until the batch is full, due, or ctx ends. An empty batch
// waits for records as long as it takes.
func (c *Consumer) fill(ctx context.Context) {
	skipped := 0
	defer func() {
		if skipped > 0 {
			c.log.Warn("skipped records below the stored checkpoint (already written)", "records", skipped)
		}
	}()
	for {
		pollCtx, cancel := ctx, context.CancelFunc(func() {})
		if c.acc.empty() {
			// Holding nothing, nothing to protect: a poll that returned only
			// errors (a failed join, say) still counts as a poll that blocks
			// rebalances, and the group could never assign us anything.
			c.cl.AllowRebalance()
		} else {
			pollCtx, cancel = context.WithDeadline(ctx, c.acc.due())
		}
		fetches := c.cl.PollRecords(pollCtx, c.acc.room())
		cancel()
		if fetches.IsClientClosed() {
			return
		}
		now := time.Now()
		fetches.EachError(func(topic string, p int32, err error) {
			if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
				return
			}
			c.log.Warn("fetch error", "topic", topic, "partition", p, "err", err)
		})
		consumed := 0
		fetches.EachPartition(func(fp kgo.FetchTopicPartition) {
			if fp.Topic != c.cfg.Topic {
				return
			}
			consumed += len(fp.Records)
			c.parts.fetched(fp.Partition, fp.HighWatermark, fp.LogStartOffset)
			exp, owned := c.parts.expected(fp.Partition)
			if !owned {
				return // revoked meanwhile: its records are someone else's now
			}
			for _, r := range fp.Records {
				if exp >= 0 && r.Offset < exp {
					skipped++
					continue
				}
				if _, seen := c.first[r.Partition]; !seen {
					c.first[r.Partition] = r.Offset
					c.parts.pending(r.Partition, r.Timestamp)
				}
				c.count[r.Partition]++
				c.acc.add(r, now)
			}
		})
		if consumed > 0 {
			c.m.RecordsConsumed.WithLabelValues(c.cfg.Topic).Add(float64(consumed))
		}
		if c.acc.full() || ctx.Err() != nil || (!c.acc.empty() && !now.Before(c.acc.due())) {
			return
		}
	}
}

// flush decodes and writes the batch: its lanes concurrently, the chunks
// of a lane one after the other, each retried on transient failures with
// capped exponential backoff. It never holds the batch (and so the group's
// rebalances) past half the rebalance timeout: then what is not written is
// given back (its partitions rewound to the stored checkpoints), the group
// may rebalance, and the writer waits for the failed dependency before it
// polls again.
func (c *Consumer) flush(ctx context.Context) {
	defer c.resetBatch()
	// The batch in flight is finished even when we are asked to stop.
	wctx := context.WithoutCancel(ctx)
	holdUntil := c.acc.started.Add(c.cfg.RebalanceTimeout / 2)

	lanes, err := c.build(wctx)
	for backoff := c.cfg.BackoffMin; err != nil; backoff = min(2*backoff, c.cfg.BackoffMax) {
		// Only the registry can fail here; cached schema ids never do.
		if time.Now().Add(backoff).After(holdUntil) {
			c.log.Warn("batch not decoded; giving it back and pausing consumption", "err", err)
			c.rewind(slices.Collect(maps.Keys(c.first)))
			c.cl.AllowRebalance()
			c.waitFor(ctx, err)
			return
		}
		c.log.Warn("batch not decoded; retrying", "backoff", backoff, "err", err)
		time.Sleep(backoff)
		lanes, err = c.build(wctx)
	}

	if len(lanes) == 1 {
		c.runLane(wctx, lanes[0], holdUntil)
	} else {
		var wg sync.WaitGroup
		for _, l := range lanes {
			wg.Go(func() { c.runLane(wctx, l, holdUntil) })
		}
		wg.Wait()
	}

	var failed error
	for _, l := range lanes {
		if len(l.unwritten) > 0 {
			c.rewind(l.unwritten)
		}
		if l.err != nil && !errors.Is(l.err, sink.ErrFenced) {
			failed = l.err
		}
	}
	if failed != nil {
		c.log.Log(wctx, errLevel(failed), "batch not written; gave it back and paused consumption", "err", failed)
		c.cl.AllowRebalance()
		c.waitFor(ctx, failed)
	}
}

// runLane commits the lane's chunks in order. It runs beside the other
// lanes of the batch: it only touches the lane, the shared partition state
// and the metrics, which are safe for that.
func (c *Consumer) runLane(ctx context.Context, l *lane, holdUntil time.Time) {
	for i, ch := range l.chunks {
		backoff := c.cfg.BackoffMin
		for attempt := 1; ; attempt++ {
			c.setExpected(ch)
			start := time.Now()
			// A database that hangs must not hold the batch much past the
			// limit either. If the deadline cuts a COMMIT whose outcome is
			// then unknown, the compare-and-set sorts it out: a retry of a
			// batch that did commit is fenced, and the checkpoint reloaded.
			actx, cancel := context.WithDeadline(ctx, holdUntil.Add(c.cfg.RebalanceTimeout/4))
			res, err := c.sink.Write(actx, &ch.batch)
			cancel()
			if err == nil {
				c.committed(ch, res, time.Since(start))
				break
			}
			if errors.Is(err, sink.ErrFenced) {
				c.fenced(ctx, err, holdUntil)
				l.stop(i, err)
				return
			}
			c.m.CheckpointFailures.WithLabelValues(metrics.FailureError).Inc()
			if time.Now().Add(backoff).After(holdUntil) {
				l.stop(i, err)
				return
			}
			c.log.Log(ctx, errLevel(err), "batch not written; retrying", "attempt", attempt, "partitions", ch.parts,
				"backoff", backoff, "err", err)
			time.Sleep(backoff)
			backoff = min(2*backoff, c.cfg.BackoffMax)
		}
	}
}

// stop records that chunks i.. of the lane are not written.
func (l *lane) stop(i int, err error) {
	l.err = err
	seen := map[int32]bool{}
	for _, ch := range l.chunks[i:] {
		for _, p := range ch.parts {
			if !seen[p] {
				seen[p] = true
				l.unwritten = append(l.unwritten, p)
			}
		}
	}
}

// setExpected fills each checkpoint's compare-and-set value from what this
// writer last read or wrote: for a partition's second chunk, what its first
// chunk stored.
func (c *Consumer) setExpected(ch *chunk) {
	for i := range ch.batch.Checkpoints {
		cp := &ch.batch.Checkpoints[i]
		if exp, ok := c.parts.expected(cp.Partition); ok {
			cp.Expected = exp
		}
	}
}

func errLevel(err error) slog.Level {
	if sink.IsRetryable(err) || decode.IsUnavailable(err) {
		return slog.LevelWarn
	}
	// Retried all the same: the data must not be lost, and an operator
	// can fix what is wrong (a revoked grant, a missing table).
	return slog.LevelError
}

// build splits the batch into lanes and chunks and decodes every record
// into its chunk's rows or dead letters. Partitions go to lanes largest
// first, each to the lane with the fewest records. It fails only when the
// schema registry cannot be asked about a new schema id.
func (c *Consumer) build(ctx context.Context) ([]*lane, error) {
	clear(c.last)
	for p := range c.byPart {
		c.byPart[p] = c.byPart[p][:0]
	}
	parts := make([]int32, 0, len(c.first))
	for p := range c.first {
		if _, owned := c.parts.expected(p); owned {
			parts = append(parts, p)
		}
	}
	for _, r := range c.acc.recs {
		if _, ok := c.first[r.Partition]; ok {
			c.byPart[r.Partition] = append(c.byPart[r.Partition], r)
		}
	}
	slices.SortFunc(parts, func(a, b int32) int { return cmp.Or(c.count[b]-c.count[a], int(a-b)) })
	n := min(c.cfg.Parallelism, len(parts))
	for len(c.lanes) < n {
		c.lanes = append(c.lanes, &lane{})
	}
	lanes := c.lanes[:n]
	for _, l := range lanes {
		l.parts, l.records, l.chunks, l.unwritten, l.err = l.parts[:0], 0, l.chunks[:0], nil, nil
	}
	for _, p := range parts {
		l := slices.MinFunc(lanes, func(a, b *lane) int { return a.records - b.records })
		l.parts = append(l.parts, p)
		l.records += c.count[p]
	}
	for _, l := range lanes {
		slices.Sort(l.parts)
		// Even chunks: 12,000 records go as 6,000 + 6,000, not 10,000 + 2,000.
		size := c.cfg.Policy.MaxRecords
		if chunks := (l.records + size - 1) / size; chunks > 1 {
			size = (l.records + chunks - 1) / chunks
		}
		var ch *chunk
		for _, p := range l.parts {
			for _, r := range c.byPart[p] {
				n := recordBytes(r)
				if ch == nil || ch.records >= size || (ch.records > 0 && ch.bytes+n > c.cfg.Policy.MaxBytes) {
					ch = l.newChunk()
				}
				if err := c.add(ctx, ch, r, n); err != nil {
					return nil, err
				}
			}
		}
		for _, ch := range l.chunks {
			for i, p := range ch.parts {
				ch.batch.Checkpoints = append(ch.batch.Checkpoints, sink.Checkpoint{Partition: p, Next: ch.nexts[i]})
			}
		}
	}
	return lanes, nil
}

// add decodes r into the chunk.
func (c *Consumer) add(ctx context.Context, ch *chunk, r *kgo.Record, n int) error {
	if len(ch.parts) == 0 || ch.parts[len(ch.parts)-1] != r.Partition {
		ch.parts = append(ch.parts, r.Partition)
		ch.nexts = append(ch.nexts, 0)
	}
	ch.nexts[len(ch.nexts)-1] = r.Offset + 1
	ch.records++
	ch.bytes += n
	c.last[r.Partition] = r
	b := &ch.batch
	b.Rows = append(b.Rows, sink.Row{})
	row := &b.Rows[len(b.Rows)-1]
	err := c.dec.Decode(ctx, r.Value, row)
	if err == nil {
		row.Src = source(r)
		return nil
	}
	b.Rows = b.Rows[:len(b.Rows)-1]
	var rej *decode.Rejected
	if !errors.As(err, &rej) {
		return err
	}
	b.DeadLetters = append(b.DeadLetters, sink.DeadLetter{Src: source(r), SchemaID: rej.SchemaID, HasSchemaID: rej.HasSchemaID,
		Reason: rej.Reason, Err: rej.Err})
	return nil
}

func source(r *kgo.Record) sink.Source {
	s := sink.Source{Topic: r.Topic, Partition: r.Partition, Offset: r.Offset, Key: r.Key, Value: r.Value, Timestamp: r.Timestamp}
	if len(r.Headers) > 0 {
		s.Headers = make([]sink.Header, len(r.Headers))
		for i, h := range r.Headers {
			s.Headers[i] = sink.Header{Key: h.Key, Value: h.Value}
		}
	}
	return s
}

// committed runs after a chunk's database commit: it advances the
// expected offsets, reports, and mirrors the offsets to Kafka.
func (c *Consumer) committed(ch *chunk, res sink.Result, took time.Duration) {
	b := &ch.batch
	now := time.Now()
	offsets := make(map[int32]kgo.EpochOffset, len(b.Checkpoints))
	for _, cp := range b.Checkpoints {
		c.parts.committed(cp.Partition, cp.Next, now)
		offsets[cp.Partition] = kgo.EpochOffset{Epoch: c.last[cp.Partition].LeaderEpoch, Offset: cp.Next}
	}
	topic := c.cfg.Topic
	c.m.CommitDuration.Observe(took.Seconds())
	c.m.BatchRecords.Observe(float64(ch.records))
	c.m.BatchBytes.Observe(float64(ch.bytes))
	c.m.RowsWritten.WithLabelValues(topic).Add(float64(res.Inserted))
	if res.Duplicates > 0 {
		c.m.DuplicatesSkipped.WithLabelValues(topic).Add(float64(res.Duplicates))
	}
	for _, d := range b.DeadLetters {
		c.m.DeadLetters.WithLabelValues(string(d.Reason)).Inc()
	}
	for _, d := range res.Rejected {
		c.m.DeadLetters.WithLabelValues(string(d.Reason)).Inc()
	}
	unknown := 0
	for i := range b.Rows {
		r := &b.Rows[i]
		if r.UnknownFields {
			unknown++
		}
		c.m.EndToEndLatency.Observe(now.Sub(r.EventTime).Seconds())
	}
	if unknown > 0 {
		c.m.UnknownFields.WithLabelValues(topic).Add(float64(unknown))
		c.unknownOnce.Do(func() {
			c.log.Warn("records carry fields this writer's contract does not know: a newer producer is running; "+
				"rows are stored without them until this writer is upgraded (counted in finflow_writer_unknown_fields_total)",
				"topic", topic)
		})
	}
	if len(res.Rejected) > 0 {
		c.log.Warn("rows rejected by the database were dead-lettered", "rows", len(res.Rejected), "first_error", res.Rejected[0].Err)
	}
	c.log.Debug("batch committed", "partitions", ch.parts, "records", ch.records, "rows", res.Inserted,
		"dead_letters", res.DeadLettersInserted, "duplicates", res.Duplicates, "took", took)
	failpoint.Inject("after-commit-before-kafka-commit")
	c.commits.offer(offsets)
}

// fenced handles a chunk whose compare-and-set failed: another writer
// advanced those partitions. Nothing of the chunk was stored. Reload their
// checkpoints; the caller rewinds the lane's unwritten partitions to them.
// If the partitions were taken over, the group will revoke them.
func (c *Consumer) fenced(ctx context.Context, err error, holdUntil time.Time) {
	c.m.CheckpointFailures.WithLabelValues(metrics.FailureFenced).Inc()
	var fe *sink.FencedError
	errors.As(err, &fe)
	stored, lerr := c.load(ctx, fe.Partitions, holdUntil)
	if lerr != nil {
		c.log.Error("batch fenced and its checkpoints could not be reloaded", "partitions", fe.Partitions, "err", lerr)
	} else {
		for _, p := range fe.Partitions {
			next := sink.NoCheckpoint
			if st, ok := stored[p]; ok {
				next = st.Next
			}
			c.parts.setExpected(p, next)
		}
		c.log.Warn("batch fenced: another writer advanced these partitions; discarded it and rewound to the stored checkpoints",
			"partitions", fe.Partitions, "stored", stored)
	}
}

// rewind points partitions of the current batch back at their stored
// checkpoints (or the batch's first offset when there is none yet): their
// records will be fetched again. SetOffsets skips partitions no longer
// owned and drops what the client buffered for the others.
func (c *Consumer) rewind(parts []int32) {
	to := make(map[int32]kgo.EpochOffset, len(parts))
	for _, p := range parts {
		first := c.first[p]
		exp, owned := c.parts.expected(p)
		if !owned {
			continue
		}
		at := first
		if exp >= 0 {
			at = exp
		}
		to[p] = kgo.EpochOffset{Epoch: -1, Offset: at}
	}
	if len(to) > 0 {
		c.cl.SetOffsets(map[string]map[int32]kgo.EpochOffset{c.cfg.Topic: to})
	}
}

// waitFor blocks, without polling, until the dependency behind err answers
// again or ctx ends.
func (c *Consumer) waitFor(ctx context.Context, err error) {
	what, check := "database", c.sink.Ping
	var unavailable *decode.UnavailableError
	if errors.As(err, &unavailable) {
		what = "schema registry"
		check = func(ctx context.Context) error { return c.dec.Lookup(ctx, unavailable.SchemaID) }
	}
	backoff := c.cfg.BackoffMin
	for ctx.Err() == nil {
		if cerr := check(ctx); cerr == nil {
			c.log.Info(what + " answers again; resuming consumption")
			return
		} else if ctx.Err() == nil {
			c.log.Warn(what+" still unavailable; consumption paused", "retry_in", backoff, "err", cerr)
		}
		select {
		case <-ctx.Done():
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, c.cfg.BackoffMax)
	}
}

func (c *Consumer) resetBatch() {
	c.acc.reset()
	clear(c.first)
	clear(c.count)
	clear(c.last)
	// Drop the references into the records just written.
	for p, rs := range c.byPart {
		clear(rs)
		c.byPart[p] = rs[:0]
	}
	for _, l := range c.lanes {
		for _, ch := range l.chunks {
			clear(ch.batch.Rows)
			clear(ch.batch.DeadLetters)
		}
		l.chunks = l.chunks[:0]
	}
}

// load reads stored checkpoints, retrying transient failures until until
// (zero: until ctx ends).
func (c *Consumer) load(ctx context.Context, parts []int32, until time.Time) (map[int32]sink.Stored, error) {
	backoff := c.cfg.BackoffMin
	for {
		stored, err := c.sink.LoadCheckpoints(ctx, parts)
		if err == nil {
			return stored, nil
		}
		if ctx.Err() != nil || (!until.IsZero() && time.Now().Add(backoff).After(until)) {
			return nil, err
		}
		c.log.Warn("cannot read checkpoints; retrying", "partitions", parts, "retry_in", backoff, "err", err)
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, c.cfg.BackoffMax)
	}
}

// adjust replaces the start offsets of newly assigned partitions with the
// database's checkpoints: next_offset where one exists, the start of the
// partition where none does. Kafka's committed offsets are ignored.
func (c *Consumer) adjust(ctx context.Context, offsets map[string]map[int32]kgo.Offset) (map[string]map[int32]kgo.Offset, error) {
	assigned := offsets[c.cfg.Topic]
	if len(assigned) == 0 {
		return offsets, nil
	}
	parts := make([]int32, 0, len(assigned))
	for p := range assigned {
		parts = append(parts, p)
	}
	slices.Sort(parts)
	// Until the checkpoints are read the partitions cannot start; the
	// context ends if the group moves on meanwhile.
	stored, err := c.load(ctx, parts, time.Time{})
	if err != nil {
		return nil, fmt.Errorf("load checkpoints: %w", err)
	}
	now := time.Now()
	start := make(map[int32]string, len(parts))
	for _, p := range parts {
		st, ok := stored[p]
		c.parts.assign(p, st, ok, now)
		if ok {
			assigned[p] = kgo.NewOffset().At(st.Next).WithEpoch(-1)
			start[p] = fmt.Sprint(st.Next)
		} else {
			assigned[p] = kgo.NewOffset().AtStart()
			start[p] = "start"
		}
	}
	c.log.Info("partitions assigned; starting from the database checkpoints", "topic", c.cfg.Topic, "from", start)
	return offsets, nil
}

func (c *Consumer) assigned(_ context.Context, _ *kgo.Client, m map[string][]int32) {
	if len(m[c.cfg.Topic]) > 0 {
		c.m.Rebalances.WithLabelValues(metrics.EventAssigned).Inc()
	}
}

func (c *Consumer) revoked(ctx context.Context, cl *kgo.Client, m map[string][]int32) {
	c.drop(metrics.EventRevoked, m[c.cfg.Topic])
}

func (c *Consumer) lost(_ context.Context, _ *kgo.Client, m map[string][]int32) {
	c.drop(metrics.EventLost, m[c.cfg.Topic])
}

// drop forgets partitions that were revoked or lost. No batch is held at
// this point (rebalances wait for AllowRebalance), and a record of theirs
// that is still buffered is dropped by fill and build, which only take
// records of partitions in the state.
func (c *Consumer) drop(event string, ps []int32) {
	if len(ps) == 0 {
		return
	}
	c.m.Rebalances.WithLabelValues(event).Inc()
	for _, p := range ps {
		c.parts.forget(p)
		c.commits.forget(p)
	}
	c.log.Info("partitions "+event, "topic", c.cfg.Topic, "partitions", ps)
}
