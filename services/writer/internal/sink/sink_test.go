package sink_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/finflow/finflow/services/kit/pgtest"
	"github.com/finflow/finflow/services/writer/internal/fixture"
	"github.com/finflow/finflow/services/writer/internal/sink"
)

const (
	topic = "transactions"
	group = "finflow-writer"
)

func newPool(t testing.TB) *pgxpool.Pool {
	t.Helper()
	pool, err := pgxpool.New(context.Background(), pgtest.New(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	return pool
}

func newSink(t testing.TB, pool *pgxpool.Pool, owner string) *sink.Sink {
	t.Helper()
	s, err := sink.New(pool, sink.Config{Group: group, Topic: topic, Owner: owner})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// rows returns transactions first..first+n-1 at offsets off.. of partition p.
func rows(p int32, off int64, first, n int) []sink.Row {
	out := make([]sink.Row, n)
	for i := range out {
		out[i] = fixture.Row(topic, p, off+int64(i), 1, first+i)
	}
	return out
}

type tableState struct {
	rows       int64
	distinct   int64
	sumPence   int64
	deadByWhy  map[string]int64
	checkpoint map[int32]int64
}

func state(t testing.TB, pool *pgxpool.Pool) tableState {
	t.Helper()
	ctx := context.Background()
	var s tableState
	if err := pool.QueryRow(ctx, `SELECT count(*), count(DISTINCT transaction_id), coalesce(sum(amount*100), 0)::bigint
		FROM raw_transactions`).Scan(&s.rows, &s.distinct, &s.sumPence); err != nil {
		t.Fatal(err)
	}
	s.deadByWhy = map[string]int64{}
	r, _ := pool.Query(ctx, `SELECT reason, count(*) FROM dead_letters GROUP BY reason`)
	var why string
	var n int64
	if _, err := pgx.ForEachRow(r, []any{&why, &n}, func() error { s.deadByWhy[why] = n; return nil }); err != nil {
		t.Fatal(err)
	}
	s.checkpoint = map[int32]int64{}
	r, _ = pool.Query(ctx, `SELECT kafka_partition, next_offset FROM writer_checkpoints WHERE consumer_group = $1 AND topic = $2`, group, topic)
	var p int32
	if _, err := pgx.ForEachRow(r, []any{&p, &n}, func() error { s.checkpoint[p] = n; return nil }); err != nil {
		t.Fatal(err)
	}
	return s
}

func sumPence(rs []sink.Row) (s int64) {
	for _, r := range rs {
		s += r.AmountMinor
	}
	return s
}

func TestWriteAdvancesCheckpointsWithRows(t *testing.T) {
	ctx := context.Background()
	pool := newPool(t)
	s := newSink(t, pool, "host-a/1")

	b1 := &sink.Batch{
		Rows: append(rows(0, 0, 0, 100), rows(1, 0, 100, 50)...),
		Checkpoints: []sink.Checkpoint{
			{Partition: 0, Expected: sink.NoCheckpoint, Next: 100},
			{Partition: 1, Expected: sink.NoCheckpoint, Next: 50},
		},
	}
	res, err := s.Write(ctx, b1)
	if err != nil {
		t.Fatal(err)
	}
	if res.Inserted != 150 || res.Duplicates != 0 {
		t.Fatalf("result %+v, want 150 inserted", res)
	}
	b2 := &sink.Batch{
		Rows:        rows(0, 100, 150, 10),
		Checkpoints: []sink.Checkpoint{{Partition: 0, Expected: 100, Next: 110}},
	}
	if _, err := s.Write(ctx, b2); err != nil {
		t.Fatal(err)
	}
	st := state(t, pool)
	if st.rows != 160 || st.distinct != 160 || st.sumPence != sumPence(b1.Rows)+sumPence(b2.Rows) {
		t.Fatalf("table %+v", st)
	}
	if st.checkpoint[0] != 110 || st.checkpoint[1] != 50 {
		t.Fatalf("checkpoints %v, want 0→110 1→50", st.checkpoint)
	}
	// The amount is exact: pence/100 with two decimals, never a float.
	var amount, eventTime string
	if err := pool.QueryRow(ctx, `SELECT amount::text, to_char(event_time AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS')
		FROM raw_transactions WHERE kafka_partition = 0 AND kafka_offset = 7`).Scan(&amount, &eventTime); err != nil {
		t.Fatal(err)
	}
	want := fixture.AmountMinor(7)
	if amount != fmt.Sprintf("%d.%02d", want/100, want%100) {
		t.Errorf("amount %s, want %d pence", amount, want)
	}
	if eventTime != "2026-11-25T08:00:00.007" {
		t.Errorf("event_time %s", eventTime)
	}
	got, err := s.LoadCheckpoints(ctx, []int32{0, 1, 2})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || got[0].Next != 110 || got[1].Next != 50 || got[0].Owner != "host-a/1" {
		t.Fatalf("LoadCheckpoints = %+v", got)
	}
}

// The amounts at the edges of the column's range go in exactly.
func TestAmountsAreExact(t *testing.T) {
	ctx := context.Background()
	pool := newPool(t)
	s := newSink(t, pool, "a")
	amounts := []int64{1, 9, 10, 99, 100, 101, 1000, 9999, 10000, 10001, 123456789, 99999999999999}
	rs := rows(0, 0, 0, len(amounts))
	for i := range rs {
		rs[i].AmountMinor = amounts[i]
	}
	if _, err := s.Write(ctx, &sink.Batch{Rows: rs, Checkpoints: []sink.Checkpoint{{Partition: 0, Expected: sink.NoCheckpoint, Next: int64(len(rs))}}}); err != nil {
		t.Fatal(err)
	}
	for i, a := range amounts {
		var got string
		if err := pool.QueryRow(ctx, `SELECT amount::text FROM raw_transactions WHERE kafka_offset = $1`, i).Scan(&got); err != nil {
			t.Fatal(err)
		}
		if want := fmt.Sprintf("%d.%02d", a/100, a%100); got != want {
			t.Errorf("%d pence stored as %s, want %s", a, got, want)
		}
	}
}

// Zombie fencing: writer A holds a batch for partition 0 expecting offset X;
// writer B commits X→Y first. A's commit fails with ErrFenced and stores
// nothing. A writes while B's transaction is still open, so this also shows
// that the checkpoint row lock makes A wait for B rather than race it.
func TestZombieIsFenced(t *testing.T) {
	ctx := context.Background()
	pool := newPool(t)
	a := newSink(t, pool, "host-a/1")

	const x, y = 100, 150
	if _, err := a.Write(ctx, &sink.Batch{Rows: rows(0, 0, 0, x),
		Checkpoints: []sink.Checkpoint{{Partition: 0, Expected: sink.NoCheckpoint, Next: x}}}); err != nil {
		t.Fatal(err)
	}

	// B, the new owner, is mid-transaction: it has advanced the checkpoint
	// X→Y and written rows X..Y-1, but not committed yet.
	bTx, err := pool.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer bTx.Rollback(ctx)
	if _, err := bTx.Exec(ctx, `UPDATE writer_checkpoints SET next_offset = $1, owner = 'host-b/2'
		WHERE consumer_group = $2 AND topic = $3 AND kafka_partition = 0 AND next_offset = $4`, y, group, topic, x); err != nil {
		t.Fatal(err)
	}
	bRows := rows(0, x, x, y-x)
	if _, err := bTx.CopyFrom(ctx, pgx.Identifier{"raw_transactions"}, []string{"transaction_id", "event_time", "user_id",
		"account_id", "merchant", "category", "mcc", "amount", "currency", "location", "country", "status", "channel",
		"kafka_topic", "kafka_partition", "kafka_offset", "schema_id"}, pgx.CopyFromSlice(len(bRows), func(i int) ([]any, error) {
		r := bRows[i]
		return []any{r.ID, r.EventTime, r.UserID, r.AccountID, r.Merchant, r.Category, r.MCC,
			fmt.Sprintf("%d.%02d", r.AmountMinor/100, r.AmountMinor%100), r.Currency, r.Location, r.Country,
			r.Status, r.Channel, r.Src.Topic, r.Src.Partition, r.Src.Offset, r.SchemaID}, nil
	})); err != nil {
		t.Fatal(err)
	}

	// A, the zombie, tries to commit its stale batch for X..X+29 (the same
	// records B wrote, plus a dead letter).
	zombie := &sink.Batch{
		Rows: rows(0, x, x, 30),
		DeadLetters: []sink.DeadLetter{{Src: sink.Source{Topic: topic, Partition: 0, Offset: x + 30, Value: []byte{1}},
			Reason: sink.ReasonBadFraming, Err: "no magic byte"}},
		Checkpoints: []sink.Checkpoint{{Partition: 0, Expected: x, Next: x + 31}},
	}
	var wg sync.WaitGroup
	var aErr error
	wg.Add(1)
	go func() {
		defer wg.Done()
		_, aErr = a.Write(ctx, zombie)
	}()
	waitForLockWait(t, pool)
	if err := bTx.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	wg.Wait()

	var fenced *sink.FencedError
	if !errors.Is(aErr, sink.ErrFenced) || !errors.As(aErr, &fenced) || len(fenced.Partitions) != 1 || fenced.Partitions[0] != 0 {
		t.Fatalf("zombie write: got %v, want ErrFenced for partition 0", aErr)
	}
	if sink.IsRetryable(aErr) {
		t.Error("a fenced batch must not be retried as is")
	}
	st := state(t, pool)
	if st.rows != y || st.distinct != y || len(st.deadByWhy) != 0 || st.checkpoint[0] != y {
		t.Fatalf("after fencing: %+v; want %d distinct rows, no dead letters, checkpoint %d", st, y, y)
	}
	var owner string
	if err := pool.QueryRow(ctx, `SELECT owner FROM writer_checkpoints WHERE kafka_partition = 0`).Scan(&owner); err != nil || owner != "host-b/2" {
		t.Fatalf("owner %q (%v), want host-b/2", owner, err)
	}
}

// A writer that believes a partition has no checkpoint yet is fenced when
// one exists, and only the fenced partitions are reported.
func TestFencedWhenCheckpointAppeared(t *testing.T) {
	ctx := context.Background()
	pool := newPool(t)
	a, b := newSink(t, pool, "a"), newSink(t, pool, "b")
	if _, err := b.Write(ctx, &sink.Batch{Rows: rows(3, 0, 0, 5),
		Checkpoints: []sink.Checkpoint{{Partition: 3, Expected: sink.NoCheckpoint, Next: 5}}}); err != nil {
		t.Fatal(err)
	}
	_, err := a.Write(ctx, &sink.Batch{Rows: append(rows(2, 0, 100, 5), rows(3, 0, 0, 5)...),
		Checkpoints: []sink.Checkpoint{
			{Partition: 2, Expected: sink.NoCheckpoint, Next: 5},
			{Partition: 3, Expected: sink.NoCheckpoint, Next: 5},
		}})
	var fenced *sink.FencedError
	if !errors.As(err, &fenced) || fmt.Sprint(fenced.Partitions) != "[3]" {
		t.Fatalf("got %v, want partitions [3] fenced", err)
	}
	if st := state(t, pool); st.rows != 5 || len(st.checkpoint) != 1 {
		t.Fatalf("partition 2 must not have been written either: %+v", st)
	}
}

func waitForLockWait(t *testing.T, pool *pgxpool.Pool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		var n int
		if err := pool.QueryRow(context.Background(), `SELECT count(*) FROM pg_stat_activity
			WHERE datname = current_database() AND wait_event_type = 'Lock'`).Scan(&n); err != nil {
			t.Fatal(err)
		}
		if n > 0 {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatal("the zombie's write never waited for the new owner's row lock")
}

// The staged-upsert path: rows already stored are skipped and counted, the
// rest inserted, the checkpoint advanced, no error.
func TestDuplicatesTakeTheStagedPath(t *testing.T) {
	ctx := context.Background()
	pool := newPool(t)
	s := newSink(t, pool, "a")
	// Pre-insert transactions 10..19 as if another pipeline (or an earlier
	// run under another consumer group) stored them.
	other, err := sink.New(pool, sink.Config{Group: "other-group", Topic: topic, Owner: "x"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := other.Write(ctx, &sink.Batch{Rows: rows(0, 0, 10, 10),
		Checkpoints: []sink.Checkpoint{{Partition: 0, Expected: sink.NoCheckpoint, Next: 10}}}); err != nil {
		t.Fatal(err)
	}
	// The batch holds transactions 0..29, so 10..19 are duplicates, and
	// transaction 25 appears twice (a redelivered event at offset 30).
	b := rows(5, 0, 0, 30)
	dup := fixture.Row(topic, 5, 30, 1, 25)
	b = append(b, dup)
	res, err := s.Write(ctx, &sink.Batch{Rows: b,
		DeadLetters: []sink.DeadLetter{{Src: sink.Source{Topic: topic, Partition: 5, Offset: 31}, Reason: sink.ReasonUndecodable, Err: "x"}},
		Checkpoints: []sink.Checkpoint{{Partition: 5, Expected: sink.NoCheckpoint, Next: 32}}})
	if err != nil {
		t.Fatal(err)
	}
	if res.Inserted != 20 || res.Duplicates != 11 || res.DeadLettersInserted != 1 {
		t.Fatalf("result %+v, want 20 inserted, 11 duplicates, 1 dead letter", res)
	}
	st := state(t, pool)
	if st.rows != 30 || st.distinct != 30 || st.checkpoint[5] != 32 {
		t.Fatalf("table %+v", st)
	}
	// The first occurrence (lowest offset) of transaction 25 is the one kept.
	var off int64
	if err := pool.QueryRow(ctx, `SELECT kafka_offset FROM raw_transactions WHERE transaction_id = $1`, fixture.ID(25)).Scan(&off); err != nil || off != 25 {
		t.Fatalf("transaction 25 stored from offset %d (%v), want 25", off, err)
	}
}

// Rows the database rejects although validation passed them are isolated,
// dead-lettered as constraint_violation with the server's error, and the
// rest of the batch commits with the checkpoint.
func TestConstraintViolationsAreBisectedOut(t *testing.T) {
	ctx := context.Background()
	pool := newPool(t)
	// A rule stricter than the writer's validation.
	if _, err := pool.Exec(ctx, `ALTER TABLE raw_transactions ADD CONSTRAINT test_no_boots CHECK (merchant <> 'Boots')`); err != nil {
		t.Fatal(err)
	}
	s := newSink(t, pool, "a")
	b := rows(0, 0, 0, 1000)
	var bad []int64
	for i := range b {
		if b[i].Merchant == "Boots" {
			bad = append(bad, b[i].Src.Offset)
			b[i].Src.Key = []byte("key")
			b[i].Src.Value = []byte{0, 0, 0, 0, 1, 0, 42}
			b[i].Src.Headers = []sink.Header{{Key: "trace\x00id", Value: []byte{0xff}}}
		}
	}
	// Also a duplicate after the bad rows, so both fallbacks meet.
	b = append(b, fixture.Row(topic, 0, 1000, 1, 3))
	res, err := s.Write(ctx, &sink.Batch{Rows: b, Checkpoints: []sink.Checkpoint{{Partition: 0, Expected: sink.NoCheckpoint, Next: 1001}}})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Rejected) != len(bad) || res.Inserted != int64(1000-len(bad)) || res.Duplicates != 1 {
		t.Fatalf("result: inserted %d, duplicates %d, rejected %d; want %d, 1, %d", res.Inserted, res.Duplicates, len(res.Rejected), 1000-len(bad), len(bad))
	}
	st := state(t, pool)
	if st.rows != int64(1000-len(bad)) || st.deadByWhy["constraint_violation"] != int64(len(bad)) || st.checkpoint[0] != 1001 {
		t.Fatalf("table %+v", st)
	}
	var (
		reason, msg, headers string
		key, value           []byte
		sid                  *int32
	)
	if err := pool.QueryRow(ctx, `SELECT reason, error, record_key, record_value, headers::text, schema_id FROM dead_letters
		WHERE kafka_partition = 0 AND kafka_offset = $1`, bad[0]).Scan(&reason, &msg, &key, &value, &headers, &sid); err != nil {
		t.Fatal(err)
	}
	if reason != "constraint_violation" || string(key) != "key" || len(value) != 7 || sid == nil || *sid != 1 {
		t.Fatalf("dead letter: %s %q %q %v", reason, key, value, sid)
	}
	if want := "23514"; !strings.Contains(msg, "test_no_boots") || !strings.Contains(msg, want) {
		t.Errorf("error text %q should name the constraint and SQLSTATE", msg)
	}
	if headers != `[{"key": "trace�id", "value": "/w=="}]` {
		t.Errorf("headers %s", headers)
	}
}

func TestDeadLettersOnly(t *testing.T) {
	ctx := context.Background()
	pool := newPool(t)
	s := newSink(t, pool, "a")
	when := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	res, err := s.Write(ctx, &sink.Batch{
		DeadLetters: []sink.DeadLetter{
			{Src: sink.Source{Topic: topic, Partition: 1, Offset: 0, Timestamp: when}, Reason: sink.ReasonBadFraming, Err: "empty value"},
			{Src: sink.Source{Topic: topic, Partition: 1, Offset: 1, Value: []byte("\x00\x00\x00\x00\x09\x00")}, SchemaID: 9, HasSchemaID: true,
				Reason: sink.ReasonUnknownSchema, Err: "bad \xff utf8 \x00 nul"},
		},
		Checkpoints: []sink.Checkpoint{{Partition: 1, Expected: sink.NoCheckpoint, Next: 2}},
	})
	if err != nil {
		t.Fatal(err)
	}
	if res.DeadLettersInserted != 2 {
		t.Fatalf("%+v", res)
	}
	var rt *time.Time
	var sid *int32
	var v []byte
	if err := pool.QueryRow(ctx, `SELECT record_time, schema_id, record_value FROM dead_letters WHERE kafka_offset = 0`).Scan(&rt, &sid, &v); err != nil {
		t.Fatal(err)
	}
	if rt == nil || !rt.Equal(when) || sid != nil || v != nil {
		t.Fatalf("record_time %v schema_id %v value %v", rt, sid, v)
	}
}

func TestRetryClassification(t *testing.T) {
	pg := func(code string) error { return &pgconn.PgError{Code: code, Message: "x"} }
	cases := []struct {
		name string
		err  error
		want bool
	}{
		{"admin shutdown (pg_terminate_backend)", pg("57P01"), true},
		{"cannot connect now", pg("57P03"), true},
		{"connection failure", pg("08006"), true},
		{"serialization failure", pg("40001"), true},
		{"deadlock", pg("40P01"), true},
		{"too many connections", pg("53300"), true},
		{"unexpected EOF", fmt.Errorf("read: %w", io.ErrUnexpectedEOF), true},
		{"network", &net.OpError{Op: "dial", Err: errors.New("connection refused")}, true},
		{"deadline", context.DeadlineExceeded, true},
		{"check violation", pg("23514"), false},
		{"permission denied", pg("42501"), false},
		{"undefined table", pg("42P01"), false},
		{"canceled", context.Canceled, false},
	}
	for _, c := range cases {
		if got := sink.IsRetryable(sink.Classify("op", c.err)); got != c.want {
			t.Errorf("%s: retryable %v, want %v", c.name, got, c.want)
		}
	}
	if sink.Classify("op", nil) != nil {
		t.Error("nil must stay nil")
	}
}

// A batch whose checkpoints do not cover its records is refused before
// anything is written: that would break exactly-once.
func TestBatchMustBeCoveredByItsCheckpoints(t *testing.T) {
	ctx := context.Background()
	pool := newPool(t)
	s := newSink(t, pool, "a")
	cases := map[string]*sink.Batch{
		"no checkpoints":         {Rows: rows(0, 0, 0, 3)},
		"row beyond next":        {Rows: rows(0, 0, 0, 3), Checkpoints: []sink.Checkpoint{{Partition: 0, Expected: sink.NoCheckpoint, Next: 2}}},
		"row before expected":    {Rows: rows(0, 5, 0, 3), Checkpoints: []sink.Checkpoint{{Partition: 0, Expected: 6, Next: 8}}},
		"partition without one":  {Rows: rows(1, 0, 0, 3), Checkpoints: []sink.Checkpoint{{Partition: 0, Expected: sink.NoCheckpoint, Next: 3}}},
		"two for one partition":  {Rows: rows(0, 0, 0, 1), Checkpoints: []sink.Checkpoint{{Partition: 0, Expected: sink.NoCheckpoint, Next: 1}, {Partition: 0, Expected: 0, Next: 1}}},
		"dead letter outside":    {DeadLetters: []sink.DeadLetter{{Src: sink.Source{Topic: topic, Offset: 9}, Reason: sink.ReasonBadFraming, Err: "x"}}, Checkpoints: []sink.Checkpoint{{Partition: 0, Expected: sink.NoCheckpoint, Next: 3}}},
		"another topic's record": {Rows: []sink.Row{fixture.Row("other", 0, 0, 1, 0)}, Checkpoints: []sink.Checkpoint{{Partition: 0, Expected: sink.NoCheckpoint, Next: 1}}},
	}
	for name, b := range cases {
		if _, err := s.Write(ctx, b); err == nil || sink.IsRetryable(err) {
			t.Errorf("%s: got %v, want a refusal", name, err)
		}
	}
	if st := state(t, pool); st.rows != 0 || len(st.checkpoint) != 0 {
		t.Fatalf("something was written: %+v", st)
	}
}
