package audit

import (
	"context"
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
)

// Report is the outcome of Compare: what was found, and every way it differs
// from exactly-once.
type Report struct {
	TopicRecords  int
	ValidRecords  int
	PoisonRecords int
	Rows          int
	DistinctIDs   int
	RowsAmount    int64 // sum(amount) in minor units
	TopicAmount   int64
	DeadLetters   map[string]int // per reason
	CheckpointSum int64
	EndOffsetSum  int64
	// FieldDiffs counts the differing rows per column.
	FieldDiffs     map[string]int
	problems       map[string][]string
	problemCount   map[string]int
	problemOrdered []string
}

// examplesPerProblem bounds how many instances of one kind of problem are
// listed; the count is always exact.
const examplesPerProblem = 10

func (r *Report) add(kind, format string, args ...any) {
	if r.problems == nil {
		r.problems, r.problemCount = map[string][]string{}, map[string]int{}
	}
	if r.problemCount[kind] == 0 {
		r.problemOrdered = append(r.problemOrdered, kind)
	}
	r.problemCount[kind]++
	if len(r.problems[kind]) < examplesPerProblem {
		r.problems[kind] = append(r.problems[kind], fmt.Sprintf(format, args...))
	}
}

// OK reports whether no problem was found.
func (r *Report) OK() bool { return len(r.problemOrdered) == 0 }

// Problems lists the problem kinds found, in the order found.
func (r *Report) Problems() []string { return slices.Clone(r.problemOrdered) }

// Count is how many times problem kind was found.
func (r *Report) Count(kind string) int { return r.problemCount[kind] }

// String describes every problem with its count and first examples.
func (r *Report) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "topic: %d records (%d valid, %d poison), amount %d; database: %d rows (%d distinct ids), amount %d, dead letters %v; checkpoints sum %d, end offsets sum %d\n",
		r.TopicRecords, r.ValidRecords, r.PoisonRecords, r.TopicAmount, r.Rows, r.DistinctIDs, r.RowsAmount, r.DeadLetters, r.CheckpointSum, r.EndOffsetSum)
	for _, k := range r.problemOrdered {
		fmt.Fprintf(&b, "PROBLEM %s (%d):\n", k, r.problemCount[k])
		if k == ProblemRowDiffers {
			fmt.Fprintf(&b, "    rows differing per column: %v\n", r.FieldDiffs)
		}
		for _, e := range r.problems[k] {
			fmt.Fprintf(&b, "    %s\n", e)
		}
	}
	return b.String()
}

// Problem kinds.
const (
	ProblemBrokenRecord      = "producer record the contract cannot decode"
	ProblemDuplicateIDOnLog  = "transaction_id on the topic twice"
	ProblemRowNotOnTopic     = "row whose coordinates are not a valid record"
	ProblemRowTwice          = "coordinates written twice"
	ProblemRowDiffers        = "row differs from its record"
	ProblemRowMissing        = "valid record without a row"
	ProblemTotals            = "row count or amount differs"
	ProblemOtherTopic        = "rows or dead letters of another topic"
	ProblemDeadLetterWrong   = "dead letter for a record that is not poison"
	ProblemDeadLetterTwice   = "dead letter written twice"
	ProblemDeadLetterReason  = "dead letter with the wrong reason"
	ProblemDeadLetterMissing = "poison record without a dead letter"
	ProblemGap               = "offsets not contiguous"
	ProblemCheckpoint        = "checkpoint differs from the end offset"
)

// Compare checks the database behind conn against the topic read back: rows
// == valid records (field by field), dead letters == poison records (with
// their reasons), rows ∪ dead letters covering every offset of every
// partition exactly once, and group's checkpoints at the end offsets.
func Compare(ctx context.Context, conn *pgx.Conn, t *Topic, group string) (*Report, error) {
	r := &Report{TopicRecords: t.Records(), ValidRecords: len(t.Valid), PoisonRecords: len(t.Poison),
		TopicAmount: t.AmountMinor, DeadLetters: map[string]int{}, FieldDiffs: map[string]int{}}
	for _, b := range t.Broken {
		r.add(ProblemBrokenRecord, "%s", b)
	}
	ids := make(map[string]Coord, len(t.Valid))
	for c, row := range t.Valid {
		if prev, dup := ids[row.TransactionID]; dup {
			r.add(ProblemDuplicateIDOnLog, "%s at %s and %s", row.TransactionID, prev, c)
		}
		ids[row.TransactionID] = c
	}

	covered := map[int32][]int64{} // offsets stored as rows or dead letters
	if err := compareRows(ctx, conn, t, r, covered); err != nil {
		return nil, err
	}
	if err := compareDeadLetters(ctx, conn, t, r, covered); err != nil {
		return nil, err
	}
	for p, end := range t.Ends {
		offs := covered[p]
		slices.Sort(offs)
		want := t.Starts[p]
		for _, o := range offs {
			if o != want {
				r.add(ProblemGap, "partition %d: offset %d follows %d (log %d..%d)", p, o, want-1, t.Starts[p], end)
				want = o
			}
			want++
		}
		if want != end {
			r.add(ProblemGap, "partition %d: stored offsets end at %d, log ends at %d", p, want, end)
		}
	}
	if err := compareCheckpoints(ctx, conn, t, group, r); err != nil {
		return nil, err
	}
	return r, nil
}

func compareRows(ctx context.Context, conn *pgx.Conn, t *Topic, r *Report, covered map[int32][]int64) error {
	var other int
	if err := conn.QueryRow(ctx, `SELECT
	    (SELECT count(*) FROM raw_transactions WHERE kafka_topic <> $1) +
	    (SELECT count(*) FROM dead_letters WHERE kafka_topic <> $1)`, t.Name).Scan(&other); err != nil {
		return fmt.Errorf("count other topics: %w", err)
	}
	if other > 0 {
		r.add(ProblemOtherTopic, "%d rows and dead letters are not from %s", other, t.Name)
	}
	if err := conn.QueryRow(ctx, `SELECT count(*), count(DISTINCT transaction_id), coalesce((sum(amount) * 100)::bigint, 0)
	    FROM raw_transactions WHERE kafka_topic = $1`, t.Name).Scan(&r.Rows, &r.DistinctIDs, &r.RowsAmount); err != nil {
		return fmt.Errorf("sum rows: %w", err)
	}
	if r.Rows != len(t.Valid) || r.DistinctIDs != len(t.Valid) || r.RowsAmount != t.AmountMinor {
		r.add(ProblemTotals, "database %d rows, %d distinct ids, amount %d; topic %d valid records, amount %d",
			r.Rows, r.DistinctIDs, r.RowsAmount, len(t.Valid), t.AmountMinor)
	}

	rows, err := conn.Query(ctx, `SELECT transaction_id::text, event_time, user_id, account_id, merchant,
	    category, mcc, (amount * 100)::bigint, currency, location, country, status, channel,
	    coalesce((original_amount * 100)::bigint, 0), coalesce(original_currency, ''), coalesce(merchant_id, ''),
	    schema_id, kafka_partition, kafka_offset
	    FROM raw_transactions WHERE kafka_topic = $1`, t.Name)
	if err != nil {
		return fmt.Errorf("read rows: %w", err)
	}
	defer rows.Close()
	seen := make(map[Coord]bool, len(t.Valid))
	var got Row
	var c Coord
	for rows.Next() {
		if err := rows.Scan(&got.TransactionID, &got.EventTime, &got.UserID, &got.AccountID, &got.Merchant,
			&got.Category, &got.MCC, &got.AmountMinor, &got.Currency, &got.Location, &got.Country, &got.Status,
			&got.Channel, &got.OriginalAmountMinor, &got.OriginalCurrency, &got.MerchantID,
			&got.SchemaID, &c.Partition, &c.Offset); err != nil {
			return fmt.Errorf("scan row: %w", err)
		}
		covered[c.Partition] = append(covered[c.Partition], c.Offset)
		if seen[c] {
			r.add(ProblemRowTwice, "row %s (%s)", c, got.TransactionID)
			continue
		}
		seen[c] = true
		want, ok := t.Valid[c]
		if !ok {
			what := "nothing"
			if k, isPoison := t.Poison[c]; isPoison {
				what = "poison " + string(k)
			}
			r.add(ProblemRowNotOnTopic, "row %s (%s): the topic has %s there", c, got.TransactionID, what)
			continue
		}
		if fields, d := diff(want, got); len(fields) > 0 {
			r.add(ProblemRowDiffers, "%s %s: %s", c, want.TransactionID, d)
			for _, f := range fields {
				r.FieldDiffs[f]++
			}
		}
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("read rows: %w", err)
	}
	for c, want := range t.Valid {
		if !seen[c] {
			r.add(ProblemRowMissing, "%s %s", c, want.TransactionID)
		}
	}
	return nil
}

// diff names the columns that differ and describes them ("column stored !=
// wanted"). The database keeps microseconds, so an event time within a
// microsecond is equal.
func diff(want, got Row) (fields []string, detail string) {
	var d []string
	f := func(name string, w, g any) {
		if w != g {
			fields = append(fields, name)
			d = append(d, fmt.Sprintf("%s %q != %q", name, fmt.Sprint(g), fmt.Sprint(w)))
		}
	}
	f("transaction_id", want.TransactionID, got.TransactionID)
	if dt := got.EventTime.Sub(want.EventTime); dt <= -time.Microsecond || dt >= time.Microsecond {
		fields = append(fields, "event_time")
		d = append(d, fmt.Sprintf("event_time %s != %s", got.EventTime.UTC().Format(time.RFC3339Nano), want.EventTime.UTC().Format(time.RFC3339Nano)))
	}
	f("user_id", want.UserID, got.UserID)
	f("account_id", want.AccountID, got.AccountID)
	f("merchant", want.Merchant, got.Merchant)
	f("category", want.Category, got.Category)
	f("mcc", want.MCC, got.MCC)
	f("amount_minor", want.AmountMinor, got.AmountMinor)
	f("currency", want.Currency, got.Currency)
	f("location", want.Location, got.Location)
	f("country", want.Country, got.Country)
	f("status", want.Status, got.Status)
	f("channel", want.Channel, got.Channel)
	f("original_amount_minor", want.OriginalAmountMinor, got.OriginalAmountMinor)
	f("original_currency", want.OriginalCurrency, got.OriginalCurrency)
	f("merchant_id", want.MerchantID, got.MerchantID)
	f("schema_id", want.SchemaID, got.SchemaID)
	return fields, strings.Join(d, "; ")
}

func compareDeadLetters(ctx context.Context, conn *pgx.Conn, t *Topic, r *Report, covered map[int32][]int64) error {
	rows, err := conn.Query(ctx, `SELECT kafka_partition, kafka_offset, reason, error
	    FROM dead_letters WHERE kafka_topic = $1`, t.Name)
	if err != nil {
		return fmt.Errorf("read dead letters: %w", err)
	}
	defer rows.Close()
	seen := map[Coord]bool{}
	for rows.Next() {
		var c Coord
		var reason, msg string
		if err := rows.Scan(&c.Partition, &c.Offset, &reason, &msg); err != nil {
			return fmt.Errorf("scan dead letter: %w", err)
		}
		r.DeadLetters[reason]++
		covered[c.Partition] = append(covered[c.Partition], c.Offset)
		if seen[c] {
			r.add(ProblemDeadLetterTwice, "%s", c)
			continue
		}
		seen[c] = true
		k, ok := t.Poison[c]
		if !ok {
			r.add(ProblemDeadLetterWrong, "%s %s: %s", c, reason, msg)
			continue
		}
		if reason != k.Reason() {
			r.add(ProblemDeadLetterReason, "%s %s: reason %s, want %s (error: %s)", c, k, reason, k.Reason(), msg)
		}
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("read dead letters: %w", err)
	}
	var missing []Coord
	for c := range t.Poison {
		if !seen[c] {
			missing = append(missing, c)
		}
	}
	sort.Slice(missing, func(i, j int) bool {
		return missing[i].Partition < missing[j].Partition ||
			missing[i].Partition == missing[j].Partition && missing[i].Offset < missing[j].Offset
	})
	for _, c := range missing {
		r.add(ProblemDeadLetterMissing, "%s %s", c, t.Poison[c])
	}
	return nil
}

func compareCheckpoints(ctx context.Context, conn *pgx.Conn, t *Topic, group string, r *Report) error {
	got, err := Checkpoints(ctx, conn, group, t.Name)
	if err != nil {
		return err
	}
	for p, end := range t.Ends {
		r.EndOffsetSum += end
		cp, ok := got[p]
		r.CheckpointSum += cp
		if ok && cp != end || !ok && end > t.Starts[p] {
			r.add(ProblemCheckpoint, "partition %d: checkpoint %d (present %v), end offset %d", p, cp, ok, end)
		}
	}
	for p, cp := range got {
		if _, ok := t.Ends[p]; !ok {
			r.add(ProblemCheckpoint, "partition %d: checkpoint %d for a partition the topic does not have", p, cp)
		}
	}
	return nil
}

// Checkpoints reads group's next_offset per partition of topic.
func Checkpoints(ctx context.Context, conn *pgx.Conn, group, topic string) (map[int32]int64, error) {
	rows, err := conn.Query(ctx, `SELECT kafka_partition, next_offset FROM writer_checkpoints
	    WHERE consumer_group = $1 AND topic = $2`, group, topic)
	if err != nil {
		return nil, fmt.Errorf("read checkpoints: %w", err)
	}
	out := map[int32]int64{}
	var p int32
	var next int64
	_, err = pgx.ForEachRow(rows, []any{&p, &next}, func() error {
		out[p] = next
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("read checkpoints: %w", err)
	}
	return out, nil
}
