// Package sink writes batches of validated rows, dead letters and
// checkpoints into PostgreSQL, exactly once: one transaction per batch that
// first compare-and-sets the checkpoint of every partition in the batch (so
// a zombie writer is fenced before it writes anything), then binary-COPYs the
// rows, inserts the dead letters and commits. It knows nothing of Kafka
// clients or protobuf.
package sink

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/finflow/finflow/services/writer/internal/failpoint"
)

// Config names whose checkpoints the sink advances.
type Config struct {
	// Group is the consumer group, the first key of writer_checkpoints.
	// Required.
	Group string
	// Topic is the Kafka topic of every checkpoint. Required.
	Topic string
	// Owner is written to writer_checkpoints.owner (host/pid). Required.
	Owner string
	// OnDBError, if set, is called for every failed database operation with
	// a short operation name (the db_errors_total{op} label).
	OnDBError func(op string, err error)
}

func (c Config) validate() error {
	switch {
	case c.Group == "":
		return errors.New("sink: consumer group is empty")
	case c.Topic == "":
		return errors.New("sink: topic is empty")
	case c.Owner == "":
		return errors.New("sink: owner is empty")
	}
	return nil
}

// Sink writes batches through a connection pool. It is safe for concurrent
// use, though one writer uses it from one goroutine.
type Sink struct {
	pool *pgxpool.Pool
	cfg  Config
}

// New returns a Sink writing through pool.
func New(pool *pgxpool.Pool, cfg Config) (*Sink, error) {
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	if cfg.OnDBError == nil {
		cfg.OnDBError = func(string, error) {}
	}
	return &Sink{pool: pool, cfg: cfg}, nil
}

// Database operation names, the values of db_errors_total{op}.
const (
	OpBegin           = "begin"
	OpCheckpoint      = "checkpoint"
	OpCopy            = "copy"
	OpStagedCopy      = "staged_copy"
	OpDeadLetters     = "dead_letters"
	OpCommit          = "commit"
	OpLoadCheckpoints = "load_checkpoints"
	OpPing            = "ping"
)

// errCareful makes Write redo the batch on the careful path.
var errCareful = errors.New("batch needs the careful path")

// Write stores b in one transaction and returns what it wrote. Errors:
// a *FencedError (errors.Is ErrFenced) when any checkpoint compare-and-set
// fails, a *RetryableError when the database had a transient failure, any
// other error for a failure that retrying is unlikely to fix. On every error
// nothing of the batch is stored.
//
// Rows normally go in with one binary COPY. If that COPY hits a duplicate
// transaction_id the batch is redone through a staging table with
// INSERT ... ON CONFLICT DO NOTHING; if it hits a row the table's
// constraints reject, the batch is redone bisecting to that row, which is
// dead-lettered as constraint_violation. Either way checkpoints, rows and
// dead letters still commit together.
func (s *Sink) Write(ctx context.Context, b *Batch) (Result, error) {
	if err := b.check(s.cfg.Topic); err != nil {
		return Result{}, err
	}
	res, err := s.write(ctx, b, false, false)
	if errors.Is(err, errCareful) {
		res, err = s.write(ctx, b, true, isDuplicateRow(errors.Unwrap(err)))
	}
	return res, err
}

// check enforces what exactly-once rests on: every row and dead letter is
// of the sink's topic and lies inside its partition's checkpoint step
// [Expected, Next), so the compare-and-set covers it. A violation is a bug
// in the caller, reported before anything is written.
func (b *Batch) check(topic string) error {
	if len(b.Checkpoints) == 0 {
		return errors.New("sink: batch has no checkpoints")
	}
	cps := make(map[int32]Checkpoint, len(b.Checkpoints))
	for _, c := range b.Checkpoints {
		if _, dup := cps[c.Partition]; dup {
			return fmt.Errorf("sink: partition %d has two checkpoints in one batch", c.Partition)
		}
		cps[c.Partition] = c
	}
	in := func(s *Source) error {
		c, ok := cps[s.Partition]
		switch {
		case s.Topic != topic:
			return fmt.Errorf("sink: record %s/%d/%d is not of topic %s", s.Topic, s.Partition, s.Offset, topic)
		case !ok:
			return fmt.Errorf("sink: record %d/%d has no checkpoint in the batch", s.Partition, s.Offset)
		case s.Offset >= c.Next || (c.Expected >= 0 && s.Offset < c.Expected):
			return fmt.Errorf("sink: record %d/%d is outside its checkpoint step %d..%d", s.Partition, s.Offset, c.Expected, c.Next)
		}
		return nil
	}
	for i := range b.Rows {
		if err := in(&b.Rows[i].Src); err != nil {
			return err
		}
	}
	for i := range b.DeadLetters {
		if err := in(&b.DeadLetters[i].Src); err != nil {
			return err
		}
	}
	return nil
}

// careful wraps the error that made the fast path give up.
type careful struct{ err error }

func (c careful) Error() string { return c.err.Error() }
func (c careful) Unwrap() error { return c.err }
func (c careful) Is(t error) bool {
	return t == errCareful
}

func (s *Sink) write(ctx context.Context, b *Batch, carefully, staged bool) (res Result, err error) {
	tx, err := s.pool.Begin(ctx)
	if err != nil {
		return res, s.fail(OpBegin, err)
	}
	defer func() {
		if err != nil {
			// The error that matters is err; a failed rollback only means
			// the connection is gone, which also ends the transaction.
			_ = tx.Rollback(context.WithoutCancel(ctx))
		}
	}()

	if err := s.advance(ctx, tx, b.Checkpoints); err != nil {
		return res, err
	}
	failpoint.Inject("after-checkpoint-before-copy")

	if !carefully {
		n, err := tx.CopyFrom(ctx, pgx.Identifier{"raw_transactions"}, rowColumns, newRowSource(b.Rows))
		if err != nil {
			if isDuplicateRow(err) || isDataError(err) {
				return res, careful{err}
			}
			return res, s.fail(OpCopy, err)
		}
		res.Inserted = n
	} else {
		w := &carefulWriter{s: s, tx: tx, staged: staged}
		if err := w.insert(ctx, b.Rows); err != nil {
			return res, err
		}
		res.Inserted, res.Duplicates, res.Rejected = w.inserted, w.duplicates, w.rejected
	}

	n, err := s.insertDeadLetters(ctx, tx, b.DeadLetters, res.Rejected)
	if err != nil {
		return res, err
	}
	res.DeadLettersInserted = n
	failpoint.Inject("after-copy-before-commit")

	if err := tx.Commit(ctx); err != nil {
		return res, s.fail(OpCommit, err)
	}
	return res, nil
}

func (s *Sink) fail(op string, err error) error {
	s.cfg.OnDBError(op, err)
	return classify(op, err)
}

// advanceSQL compare-and-sets every partition's checkpoint in one statement
// and returns the partitions it advanced. An existing row advances only if
// it still holds the expected offset; the UPDATE takes its row lock, so a
// concurrent writer of the same partition waits here, then sees the new
// offset and matches nothing. A missing row is created, unless someone
// created it meanwhile.
const advanceSQL = `
WITH want AS (
	SELECT * FROM unnest($3::int[], $4::bigint[], $5::bigint[]) AS w(kafka_partition, expected, next_offset)
), advanced AS (
	UPDATE writer_checkpoints c
	   SET next_offset = w.next_offset, owner = $6, updated_at = now()
	  FROM want w
	 WHERE c.consumer_group = $1 AND c.topic = $2 AND c.kafka_partition = w.kafka_partition
	   AND w.expected >= 0 AND c.next_offset = w.expected
	RETURNING c.kafka_partition
), created AS (
	INSERT INTO writer_checkpoints (consumer_group, topic, kafka_partition, next_offset, owner)
	SELECT $1, $2, w.kafka_partition, w.next_offset, $6 FROM want w WHERE w.expected < 0
	ON CONFLICT (consumer_group, topic, kafka_partition) DO NOTHING
	RETURNING kafka_partition
)
SELECT kafka_partition FROM advanced UNION ALL SELECT kafka_partition FROM created`

func (s *Sink) advance(ctx context.Context, tx pgx.Tx, cps []Checkpoint) error {
	parts := make([]int32, len(cps))
	expected := make([]int64, len(cps))
	next := make([]int64, len(cps))
	for i, c := range cps {
		if c.Next < 0 || (c.Expected >= 0 && c.Next < c.Expected) {
			return fmt.Errorf("sink: checkpoint of partition %d would move from %d back to %d", c.Partition, c.Expected, c.Next)
		}
		parts[i], expected[i], next[i] = c.Partition, c.Expected, c.Next
	}
	rows, err := tx.Query(ctx, advanceSQL, s.cfg.Group, s.cfg.Topic, parts, expected, next, s.cfg.Owner)
	if err != nil {
		return s.fail(OpCheckpoint, err)
	}
	done, err := pgx.CollectRows(rows, pgx.RowTo[int32])
	if err != nil {
		return s.fail(OpCheckpoint, err)
	}
	if len(done) == len(parts) {
		return nil
	}
	var fenced []int32
	for _, p := range parts {
		if !slices.Contains(done, p) {
			fenced = append(fenced, p)
		}
	}
	return &FencedError{Topic: s.cfg.Topic, Partitions: fenced}
}

// carefulWriter inserts rows one savepoint per attempt, so a failed attempt
// undoes only itself. It bisects a chunk the table rejects down to the
// offending rows, and switches to the staged upsert once a duplicate
// transaction_id shows up.
type carefulWriter struct {
	s          *Sink
	tx         pgx.Tx
	staged     bool
	haveStage  bool
	inserted   int64
	duplicates int64
	rejected   []DeadLetter
}

func (w *carefulWriter) insert(ctx context.Context, rows []Row) error {
	if len(rows) == 0 {
		return nil
	}
	if w.staged && !w.haveStage {
		// The staging table has the columns, types and NOT NULLs of the real
		// one but not its CHECKs and key: rows that break those fail in the
		// INSERT ... SELECT, inside the same savepoint.
		if _, err := w.tx.Exec(ctx, `CREATE TEMP TABLE raw_transactions_stage
			(LIKE raw_transactions INCLUDING DEFAULTS) ON COMMIT DROP`); err != nil {
			return w.s.fail(OpStagedCopy, err)
		}
		w.haveStage = true
	}
	sp, err := w.tx.Begin(ctx) // a savepoint
	if err != nil {
		return w.s.fail(OpBegin, err)
	}
	inserted, err := w.attempt(ctx, sp, rows)
	if err == nil {
		if err := sp.Commit(ctx); err != nil { // RELEASE SAVEPOINT
			return w.s.fail(OpCommit, err)
		}
		w.inserted += inserted
		if w.staged {
			w.duplicates += int64(len(rows)) - inserted
		}
		return nil
	}
	if rbErr := sp.Rollback(ctx); rbErr != nil { // ROLLBACK TO SAVEPOINT
		return w.s.fail(OpCopy, errors.Join(err, rbErr))
	}
	switch {
	case isDuplicateRow(err) && !w.staged:
		w.staged = true
		return w.insert(ctx, rows)
	case isDataError(err):
		if len(rows) == 1 {
			w.rejected = append(w.rejected, DeadLetter{
				Src:         rows[0].Src,
				SchemaID:    rows[0].SchemaID,
				HasSchemaID: true,
				Reason:      ReasonConstraintViolation,
				Err:         err.Error(),
			})
			return nil
		}
		mid := len(rows) / 2
		if err := w.insert(ctx, rows[:mid]); err != nil {
			return err
		}
		return w.insert(ctx, rows[mid:])
	default:
		op := OpCopy
		if w.staged {
			op = OpStagedCopy
		}
		return w.s.fail(op, err)
	}
}

// stagedInsertSQL keeps the first occurrence (lowest offset) of a
// transaction_id that appears twice in one batch.
var stagedInsertSQL = `INSERT INTO raw_transactions (` + strings.Join(rowColumns, ", ") + `)
	SELECT ` + strings.Join(rowColumns, ", ") + ` FROM raw_transactions_stage
	ORDER BY kafka_partition, kafka_offset
	ON CONFLICT (transaction_id) DO NOTHING`

func (w *carefulWriter) attempt(ctx context.Context, tx pgx.Tx, rows []Row) (int64, error) {
	if !w.staged {
		return tx.CopyFrom(ctx, pgx.Identifier{"raw_transactions"}, rowColumns, newRowSource(rows))
	}
	if _, err := tx.CopyFrom(ctx, pgx.Identifier{"raw_transactions_stage"}, rowColumns, newRowSource(rows)); err != nil {
		return 0, err
	}
	tag, err := tx.Exec(ctx, stagedInsertSQL)
	if err != nil {
		return 0, err
	}
	if _, err := tx.Exec(ctx, `TRUNCATE raw_transactions_stage`); err != nil {
		return 0, err
	}
	return tag.RowsAffected(), nil
}

const deadLettersSQL = `INSERT INTO dead_letters (kafka_topic, kafka_partition, kafka_offset,
	record_key, record_value, headers, record_time, schema_id, reason, error, consumer_group)
SELECT d.topic, d.part, d.off, d.k, d.v, d.h::jsonb, d.t, d.sid, d.reason, d.err, $1
  FROM unnest($2::text[], $3::int[], $4::bigint[], $5::bytea[], $6::bytea[], $7::text[],
              $8::timestamptz[], $9::int[], $10::text[], $11::text[])
       AS d(topic, part, off, k, v, h, t, sid, reason, err)
ON CONFLICT (kafka_topic, kafka_partition, kafka_offset) DO NOTHING`

func (s *Sink) insertDeadLetters(ctx context.Context, tx pgx.Tx, lists ...[]DeadLetter) (int64, error) {
	n := 0
	for _, l := range lists {
		n += len(l)
	}
	if n == 0 {
		return 0, nil
	}
	var (
		topics  = make([]string, 0, n)
		parts   = make([]int32, 0, n)
		offsets = make([]int64, 0, n)
		keys    = make([][]byte, 0, n)
		values  = make([][]byte, 0, n)
		headers = make([]string, 0, n)
		times   = make([]*time.Time, 0, n)
		ids     = make([]*int32, 0, n)
		reasons = make([]string, 0, n)
		errs    = make([]string, 0, n)
	)
	for _, l := range lists {
		for i := range l {
			d := &l[i]
			topics = append(topics, d.Src.Topic)
			parts = append(parts, d.Src.Partition)
			offsets = append(offsets, d.Src.Offset)
			keys = append(keys, d.Src.Key)
			values = append(values, d.Src.Value)
			headers = append(headers, headersJSON(d.Src.Headers))
			times = append(times, recordTime(d.Src.Timestamp))
			if d.HasSchemaID {
				ids = append(ids, &d.SchemaID)
			} else {
				ids = append(ids, nil)
			}
			reasons = append(reasons, string(d.Reason))
			errs = append(errs, cleanText(d.Err))
		}
	}
	tag, err := tx.Exec(ctx, deadLettersSQL, s.cfg.Group, topics, parts, offsets, keys, values, headers, times, ids, reasons, errs)
	if err != nil {
		return 0, s.fail(OpDeadLetters, err)
	}
	return tag.RowsAffected(), nil
}

// headersJSON renders headers as the column's documented shape,
// [{"key": text, "value": base64}]. Header keys are arbitrary bytes on the
// wire; jsonb takes neither invalid UTF-8 nor NUL, so those are replaced.
func headersJSON(hs []Header) string {
	if len(hs) == 0 {
		return "[]"
	}
	type h struct {
		Key   string `json:"key"`
		Value []byte `json:"value"`
	}
	out := make([]h, len(hs))
	for i, x := range hs {
		out[i] = h{Key: cleanText(x.Key), Value: x.Value}
	}
	b, err := json.Marshal(out)
	if err != nil { // cannot happen for strings and byte slices
		return "[]"
	}
	return string(b)
}

// cleanText makes s storable in a text column: valid UTF-8 without NUL.
func cleanText(s string) string {
	if utf8.ValidString(s) && !strings.ContainsRune(s, 0) {
		return s
	}
	return strings.ReplaceAll(strings.ToValidUTF8(s, "\uFFFD"), "\x00", "\uFFFD")
}

// recordTime is a Kafka record timestamp as a timestamptz, or NULL when the
// record has none (-1) or one PostgreSQL cannot hold.
func recordTime(t time.Time) *time.Time {
	if t.IsZero() || t.UnixMilli() < 0 || t.Year() > 9999 {
		return nil
	}
	u := t.UTC()
	return &u
}

// Stored is a checkpoint as the database holds it.
type Stored struct {
	Next      int64
	UpdatedAt time.Time
	Owner     string
}

// LoadCheckpoints returns the stored checkpoints of the given partitions;
// a partition without one is absent from the map.
func (s *Sink) LoadCheckpoints(ctx context.Context, partitions []int32) (map[int32]Stored, error) {
	rows, err := s.pool.Query(ctx, `SELECT kafka_partition, next_offset, updated_at, owner
		FROM writer_checkpoints
		WHERE consumer_group = $1 AND topic = $2 AND kafka_partition = ANY($3::int[])`,
		s.cfg.Group, s.cfg.Topic, partitions)
	if err != nil {
		return nil, s.fail(OpLoadCheckpoints, err)
	}
	out := make(map[int32]Stored, len(partitions))
	var (
		p  int32
		st Stored
	)
	_, err = pgx.ForEachRow(rows, []any{&p, &st.Next, &st.UpdatedAt, &st.Owner}, func() error {
		out[p] = st
		return nil
	})
	if err != nil {
		return nil, s.fail(OpLoadCheckpoints, err)
	}
	return out, nil
}

// Ping checks that the database answers.
func (s *Sink) Ping(ctx context.Context) error {
	if err := s.pool.Ping(ctx); err != nil {
		return s.fail(OpPing, err)
	}
	return nil
}

// CheckSchema reports an error naming what is missing when the tables the
// writer needs do not exist (migrations not applied yet).
func (s *Sink) CheckSchema(ctx context.Context) error {
	var missing []string
	err := s.pool.QueryRow(ctx, `SELECT coalesce(array_agg(t), '{}') FROM unnest($1::text[]) AS t
		WHERE to_regclass(t) IS NULL`, []string{"raw_transactions", "writer_checkpoints", "dead_letters"}).Scan(&missing)
	if err != nil {
		return s.fail(OpPing, err)
	}
	if len(missing) > 0 {
		return fmt.Errorf("tables %v do not exist: run `writer migrate` (make migrate)", missing)
	}
	return nil
}
