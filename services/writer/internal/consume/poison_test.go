package consume_test

import (
	"bytes"
	"context"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/sr"

	finflowv1 "github.com/finflow/finflow/gen/finflow/v1"
	"github.com/finflow/finflow/services/writer/internal/fixture"
)

// Every kind of poison record lands in dead_letters with the right reason,
// its raw bytes and coordinates, while the good records around it are
// written and the checkpoints advance past all of them.
func TestPoisonRecords(t *testing.T) {
	e := newEnv(t, 3)
	ctx := context.Background()
	// A schema that is not the contract, registered like any other.
	other, err := e.sr.CreateSchema(ctx, "refunds-value", sr.Schema{Type: sr.TypeProtobuf,
		Schema: "syntax = \"proto3\";\npackage finflow.v1;\nmessage Refund { string id = 1; }\n"})
	if err != nil {
		t.Fatal(err)
	}
	// A rule the database enforces but the writer's validation does not
	// know: the row passes validation and is refused by PostgreSQL.
	if _, err := e.pool.Exec(ctx, `ALTER TABLE raw_transactions ADD CONSTRAINT test_sanctioned_merchant CHECK (merchant <> 'Evil Corp')`); err != nil {
		t.Fatal(err)
	}

	id := e.schemaID
	mutate := func(i int, f func(*finflowv1.Transaction)) []byte {
		m := fixture.Transaction(i)
		f(m)
		return fixture.Frame(id, m)
	}
	type poison struct {
		name   string
		value  []byte
		reason string
	}
	poisons := []poison{
		{"bad magic byte", append([]byte{7}, fixture.Frame(id, fixture.Transaction(1000))[1:]...), "bad_framing"},
		{"too short", []byte{0, 0, 1}, "bad_framing"},
		{"empty value", []byte{}, "bad_framing"},
		{"unknown schema id", fixture.Frame(4242, fixture.Transaction(1001)), "unknown_schema"},
		{"other schema", fixture.Frame(other.ID, fixture.Transaction(1002)), "schema_mismatch"},
		{"truncated protobuf", fixture.Frame(id, fixture.Transaction(1003))[:25], "undecodable"},
		{"lower-case currency", mutate(1004, func(m *finflowv1.Transaction) { m.Currency = "gbp" }), "invalid_value"},
		{"zero amount", mutate(1005, func(m *finflowv1.Transaction) { m.AmountMinor = 0 }), "invalid_value"},
		{"unspecified status", mutate(1006, func(m *finflowv1.Transaction) { m.Status = finflowv1.Status_STATUS_UNSPECIFIED }), "invalid_value"},
		{"bad uuid", mutate(1007, func(m *finflowv1.Transaction) { m.TransactionId = "1234" }), "invalid_value"},
		{"refused by the database", mutate(1008, func(m *finflowv1.Transaction) { m.Merchant = "Evil Corp" }), "constraint_violation"},
	}

	// Good records, then the poisons spread over the partitions with good
	// records between them, then more good records.
	var goodSum int64
	good := 0
	produceGood := func(p int32, n int) {
		for range n {
			m := fixture.Transaction(good)
			goodSum += m.AmountMinor
			e.producer.Raw(t, p, []byte(m.AccountId), fixture.Frame(id, m))
			good++
		}
	}
	type coord struct {
		p   int32
		off int64
	}
	where := map[coord]poison{}
	for i, ps := range poisons {
		p := int32(i % 3)
		produceGood(p, 2)
		hdr := kgo.RecordHeader{Key: "trace-id", Value: []byte{byte(i)}}
		off := e.producer.Raw(t, p, []byte("key-"+ps.name), ps.value, hdr)
		where[coord{p, off}] = ps
	}
	// A nil value (a tombstone) has no bytes at all.
	produceGood(1, 1)
	tombstone := e.producer.Raw(t, 1, []byte("tomb"), nil)
	where[coord{1, tombstone}] = poison{"tombstone", nil, "bad_framing"}
	// A record from a newer producer: written, and counted.
	e.producer.Raw(t, 2, []byte("new"), fixture.Unknown(id, good))
	goodSum += fixture.AmountMinor(good)
	good++
	produceGood(0, 3)

	w := e.start(t, nil)
	ends := fixture.EndOffsets(t, e.brokers, topic)
	fixture.WaitCaughtUp(t, e.dbURL, group, topic, ends, 60*time.Second)

	byReason := map[string]int64{}
	for _, ps := range where {
		byReason[ps.reason]++
	}
	fixture.Check(t, e.dbURL, fixture.Expect{Group: group, Topic: topic, Rows: int64(good), SumPence: goodSum,
		Ends: ends, DeadLetters: byReason})

	for c, ps := range where {
		var (
			reason, msg, group string
			key, value         []byte
			headers            string
		)
		err := e.pool.QueryRow(ctx, `SELECT reason, error, record_key, record_value, headers::text, consumer_group
			FROM dead_letters WHERE kafka_topic = $1 AND kafka_partition = $2 AND kafka_offset = $3`, topic, c.p, c.off).
			Scan(&reason, &msg, &key, &value, &headers, &group)
		if err != nil {
			t.Errorf("%s at %d/%d: %v", ps.name, c.p, c.off, err)
			continue
		}
		if reason != ps.reason || !bytes.Equal(value, ps.value) || (ps.value == nil) != (value == nil) || msg == "" || group != "finflow-writer" {
			t.Errorf("%s at %d/%d: stored reason %s, error %q, %d value bytes; want %s and the raw %d bytes",
				ps.name, c.p, c.off, reason, msg, len(value), ps.reason, len(ps.value))
		}
		if ps.name != "tombstone" && (string(key) != "key-"+ps.name || headers == "[]") {
			t.Errorf("%s: key %q headers %s", ps.name, key, headers)
		}
	}

	for reason, n := range byReason {
		if got := testutil.ToFloat64(w.m.DeadLetters.WithLabelValues(reason)); got != float64(n) {
			t.Errorf("finflow_writer_dead_letters_total{reason=%q} = %v, want %d", reason, got, n)
		}
	}
	if got := testutil.ToFloat64(w.m.RowsWritten.WithLabelValues(topic)); got != float64(good) {
		t.Errorf("rows written metric %v, want %d", got, good)
	}
	if got := testutil.ToFloat64(w.m.UnknownFields.WithLabelValues(topic)); got != 1 {
		t.Errorf("unknown fields metric %v, want 1", got)
	}
	var total int64
	for _, end := range ends {
		total += end
	}
	if got := testutil.ToFloat64(w.m.RecordsConsumed.WithLabelValues(topic)); got < float64(total) {
		t.Errorf("records consumed metric %v, want at least %d", got, total)
	}
}
