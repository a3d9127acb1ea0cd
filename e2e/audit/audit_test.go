package audit

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/sr"
	"google.golang.org/protobuf/proto"

	"github.com/finflow/finflow/e2e/poison"
	"github.com/finflow/finflow/services/kit/pgtest"
)

const (
	topic = "tx"
	group = "g"
)

// fixture produces valid and poison records to a kfake topic, reads it back,
// and stores it as a correct writer would.
func fixture(t *testing.T) (context.Context, *pgx.Conn, *Topic) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	t.Cleanup(cancel)
	cluster, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(3, topic))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cluster.Close)
	brokers := cluster.ListenAddrs()
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...), kgo.RecordPartitioner(kgo.ManualPartitioner()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()

	ids := poison.IDs{Transaction: 1, Other: 2}
	var recs []*kgo.Record
	var h sr.ConfluentHeader
	for i := range 30 {
		tx := poison.Valid(i)
		tx.AmountMinor = int64(100 + i)
		if i%5 == 0 { // revision-2 fields on some records
			tx.OriginalAmountMinor, tx.OriginalCurrency, tx.MerchantId = 999, "EUR", "MID-1"
		}
		b, _ := h.AppendEncode(nil, ids.Transaction, []int{0})
		payload, err := proto.Marshal(tx)
		if err != nil {
			t.Fatal(err)
		}
		recs = append(recs, &kgo.Record{Topic: topic, Value: append(b, payload...)})
	}
	for i, k := range poison.Kinds {
		r, err := poison.Record(k, topic, ids, 1000+i)
		if err != nil {
			t.Fatal(err)
		}
		recs = append(recs, r)
	}
	for i, r := range recs {
		r.Partition = int32(i % 3)
	}
	if err := cl.ProduceSync(ctx, recs...).FirstErr(); err != nil {
		t.Fatal(err)
	}

	read, err := ReadTopic(ctx, brokers, topic)
	if err != nil {
		t.Fatal(err)
	}
	if len(read.Valid) != 30 || len(read.Poison) != len(poison.Kinds) || len(read.Broken) != 0 {
		t.Fatalf("read back %d valid, %d poison, broken %v", len(read.Valid), len(read.Poison), read.Broken)
	}

	conn, err := pgx.Connect(ctx, pgtest.New(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close(context.Background()) })
	for c, row := range read.Valid {
		insertRow(t, ctx, conn, c, row)
	}
	for c, k := range read.Poison {
		if _, err := conn.Exec(ctx, `INSERT INTO dead_letters (kafka_topic, kafka_partition, kafka_offset, reason, error, consumer_group)
		    VALUES ($1, $2, $3, $4, 'bad', $5)`, topic, c.Partition, c.Offset, k.Reason(), group); err != nil {
			t.Fatal(err)
		}
	}
	for p, end := range read.Ends {
		if _, err := conn.Exec(ctx, `INSERT INTO writer_checkpoints (consumer_group, topic, kafka_partition, next_offset, owner)
		    VALUES ($1, $2, $3, $4, 'test')`, group, topic, p, end); err != nil {
			t.Fatal(err)
		}
	}
	return ctx, conn, read
}

// execer is *pgx.Conn or pgx.Tx.
type execer interface {
	Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error)
}

// insertRow stores row the way the writer must: amount as numeric major
// units, revision-2 columns NULL when unset.
func insertRow(t *testing.T, ctx context.Context, db execer, c Coord, row Row) {
	t.Helper()
	null := func(s string) any {
		if s == "" {
			return nil
		}
		return s
	}
	var orig any
	if row.OriginalAmountMinor != 0 {
		orig = row.OriginalAmountMinor
	}
	if _, err := db.Exec(ctx, `INSERT INTO raw_transactions (transaction_id, event_time, user_id, account_id,
	    merchant, category, mcc, amount, currency, location, country, status, channel,
	    original_amount, original_currency, merchant_id, kafka_topic, kafka_partition, kafka_offset, schema_id)
	    VALUES ($1, $2, $3, $4, $5, $6, $7, round($8::bigint / 100.0, 2), $9, $10, $11, $12, $13,
	    round($14::bigint / 100.0, 2), $15, $16, $17, $18, $19, $20)`,
		row.TransactionID, row.EventTime, row.UserID, row.AccountID, row.Merchant, row.Category, row.MCC,
		row.AmountMinor, row.Currency, row.Location, row.Country, row.Status, row.Channel,
		orig, null(row.OriginalCurrency), null(row.MerchantID), topic, c.Partition, c.Offset, row.SchemaID); err != nil {
		t.Fatal(err)
	}
}

func TestComparePassesACorrectDatabase(t *testing.T) {
	ctx, conn, read := fixture(t)
	rep, err := Compare(ctx, conn, read, group)
	if err != nil {
		t.Fatal(err)
	}
	if !rep.OK() {
		t.Fatalf("a correct database failed the audit:\n%s", rep)
	}
	if rep.Rows != 30 || rep.TopicAmount != rep.RowsAmount || rep.DeadLetters["invalid_value"] != 4 {
		t.Fatalf("report: %s", rep)
	}
}

// anyValid returns the coordinates of some valid record (the lowest).
func anyValid(read *Topic) (Coord, Row) {
	var cs []Coord
	for c := range read.Valid {
		cs = append(cs, c)
	}
	slices.SortFunc(cs, func(a, b Coord) int {
		if a.Partition != b.Partition {
			return int(a.Partition - b.Partition)
		}
		return int(a.Offset - b.Offset)
	})
	return cs[0], read.Valid[cs[0]]
}

func anyPoison(read *Topic, k poison.Kind) Coord {
	for c, kind := range read.Poison {
		if kind == k {
			return c
		}
	}
	panic("no poison record of kind " + k)
}

// Every way the database can betray exactly-once must be reported. Each case
// spoils the correct database inside a transaction that is rolled back.
func TestCompareFindsEveryDeviation(t *testing.T) {
	ctx, conn, read := fixture(t)
	c, row := anyValid(read)
	pc := anyPoison(read, poison.Truncated)
	cases := []struct {
		name  string
		spoil string
		args  []any
		want  []string
	}{
		{"row lost", `DELETE FROM raw_transactions WHERE kafka_partition = $1 AND kafka_offset = $2`,
			[]any{c.Partition, c.Offset}, []string{ProblemTotals, ProblemRowMissing, ProblemGap}},
		{"amount off by a penny", `UPDATE raw_transactions SET amount = amount + 0.01 WHERE transaction_id = $1`,
			[]any{row.TransactionID}, []string{ProblemTotals, ProblemRowDiffers}},
		{"event time off by a millisecond", `UPDATE raw_transactions SET event_time = event_time + interval '1 millisecond' WHERE transaction_id = $1`,
			[]any{row.TransactionID}, []string{ProblemRowDiffers}},
		{"status mapped wrong", `UPDATE raw_transactions SET status = 'pending' WHERE transaction_id = $1`,
			[]any{row.TransactionID}, []string{ProblemRowDiffers}},
		{"revision-2 column dropped", `UPDATE raw_transactions SET merchant_id = NULL WHERE merchant_id IS NOT NULL`,
			nil, []string{ProblemRowDiffers}},
		{"record written twice", `INSERT INTO raw_transactions SELECT gen_random_uuid(), event_time, user_id, account_id, merchant,
		    category, mcc, amount, currency, location, country, status, channel, kafka_topic, kafka_partition, kafka_offset,
		    schema_id, ingested_at, original_amount, original_currency, merchant_id
		    FROM raw_transactions WHERE transaction_id = $1`,
			[]any{row.TransactionID}, []string{ProblemTotals, ProblemRowTwice, ProblemGap}},
		{"dead letter with the wrong reason", `UPDATE dead_letters SET reason = 'invalid_value' WHERE kafka_partition = $1 AND kafka_offset = $2`,
			[]any{pc.Partition, pc.Offset}, []string{ProblemDeadLetterReason}},
		{"dead letter lost", `DELETE FROM dead_letters WHERE kafka_partition = $1 AND kafka_offset = $2`,
			[]any{pc.Partition, pc.Offset}, []string{ProblemDeadLetterMissing, ProblemGap}},
		{"valid record dead-lettered as well", `INSERT INTO dead_letters (kafka_topic, kafka_partition, kafka_offset, reason, error, consumer_group)
		    VALUES ('tx', $1, $2, 'invalid_value', 'x', 'g')`,
			[]any{c.Partition, c.Offset}, []string{ProblemDeadLetterWrong, ProblemGap}},
		{"checkpoint one short", `UPDATE writer_checkpoints SET next_offset = next_offset - 1 WHERE kafka_partition = $1`,
			[]any{c.Partition}, []string{ProblemCheckpoint}},
		{"checkpoint missing", `DELETE FROM writer_checkpoints WHERE kafka_partition = $1`,
			[]any{c.Partition}, []string{ProblemCheckpoint}},
		{"checkpoint of another group only", `UPDATE writer_checkpoints SET consumer_group = 'other'`,
			nil, []string{ProblemCheckpoint}},
		{"rows of another topic", `UPDATE raw_transactions SET kafka_topic = 'elsewhere' WHERE transaction_id = $1`,
			[]any{row.TransactionID}, []string{ProblemOtherTopic, ProblemTotals, ProblemRowMissing, ProblemGap}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			tx, err := conn.Begin(ctx)
			if err != nil {
				t.Fatal(err)
			}
			defer func() { _ = tx.Rollback(ctx) }()
			tag, err := tx.Exec(ctx, tc.spoil, tc.args...)
			if err != nil {
				t.Fatal(err)
			}
			if tag.RowsAffected() == 0 {
				t.Fatal("the spoiling statement changed nothing")
			}
			rep, err := Compare(ctx, conn, read, group)
			if err != nil {
				t.Fatal(err)
			}
			got := rep.Problems()
			slices.Sort(got)
			want := slices.Clone(tc.want)
			slices.Sort(want)
			if !slices.Equal(got, want) {
				t.Fatalf("problems %q, want %q\n%s", got, want, rep)
			}
			if slices.Contains(want, ProblemRowDiffers) && len(rep.FieldDiffs) != 1 {
				t.Fatalf("one column spoiled, differing columns reported: %v", rep.FieldDiffs)
			}
		})
	}
}
