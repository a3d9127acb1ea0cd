package consume_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/twmb/franz-go/pkg/sr"
	"google.golang.org/protobuf/encoding/protowire"

	contract "github.com/finflow/finflow/proto"
	"github.com/finflow/finflow/services/writer/internal/fixture"
)

// contractV1 is the contract as it was before revision 2: the current text
// without the fields added by it.
func contractV1(t *testing.T) string {
	t.Helper()
	s := contract.TransactionProto
	start := strings.Index(s, "  // Fields below were added in contract revision 2")
	end := strings.Index(s, "string merchant_id = 16;")
	if start < 0 || end < 0 {
		t.Fatal("cannot find the revision 2 block in the contract")
	}
	return s[:start] + s[end+len("string merchant_id = 16;"):]
}

// Schema evolution: v1 and v2 messages (two registered versions of the
// subject) interleaved in ONE partition, plus messages from a producer newer
// than this writer (a field it does not know). Every record becomes a row in
// the same batches; the revision-2 columns are filled only for v2 messages;
// the newer-producer records are counted, not dead-lettered.
func TestMixedContractVersionsInOnePartition(t *testing.T) {
	e := newEnv(t, 1)
	ctx := context.Background()
	v1, err := e.sr.CreateSchema(ctx, topic+"-value", sr.Schema{Type: sr.TypeProtobuf, Schema: contractV1(t)})
	if err != nil {
		t.Fatal(err)
	}
	if v1.ID == e.schemaID {
		t.Fatal("v1 and v2 got the same schema id: the test would not mix versions")
	}

	const n = 300
	var sum int64
	want := map[string]struct {
		amount   int64
		currency string
		merchant string
	}{}
	newer := 0
	for i := range n {
		m := fixture.Transaction(i)
		sum += m.AmountMinor
		var value []byte
		switch i % 3 {
		case 0: // an old producer: v1 schema id, no revision-2 fields
			value = fixture.Frame(v1.ID, m)
		case 1: // a current producer: v2 with the new fields set
			m.OriginalAmountMinor = m.AmountMinor*117/100 + 1
			m.OriginalCurrency = "EUR"
			m.MerchantId = "MID-TEST-" + m.TransactionId[:8]
			want[m.TransactionId] = struct {
				amount   int64
				currency string
				merchant string
			}{m.OriginalAmountMinor, m.OriginalCurrency, m.MerchantId}
			value = fixture.Frame(e.schemaID, m)
		case 2: // a producer newer than this writer: field 99 is unknown here
			value = protowire.AppendString(protowire.AppendTag(fixture.Frame(e.schemaID, m), 99, protowire.BytesType), "loyalty-tier-gold")
			newer++
		}
		e.producer.Raw(t, 0, []byte(m.AccountId), value)
	}

	w := e.start(t, nil)
	ends := fixture.EndOffsets(t, e.brokers, topic)
	fixture.WaitCaughtUp(t, e.dbURL, group, topic, ends, 60*time.Second)
	fixture.Check(t, e.dbURL, fixture.Expect{Group: group, Topic: topic, Rows: n, SumPence: sum, Ends: ends,
		DeadLetters: map[string]int64{}})

	rows, err := e.pool.Query(ctx, `SELECT transaction_id::text, schema_id, (original_amount * 100)::bigint,
		original_currency, merchant_id FROM raw_transactions`)
	if err != nil {
		t.Fatal(err)
	}
	type got struct {
		id       string
		schemaID int
		amount   *int64
		currency *string
		merchant *string
	}
	all, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (got, error) {
		var g got
		err := r.Scan(&g.id, &g.schemaID, &g.amount, &g.currency, &g.merchant)
		return g, err
	})
	if err != nil {
		t.Fatal(err)
	}
	filled, perSchema := 0, map[int]int{}
	for _, g := range all {
		perSchema[g.schemaID]++
		w, isV2 := want[g.id]
		switch {
		case isV2:
			if g.amount == nil || *g.amount != w.amount || g.currency == nil || *g.currency != w.currency ||
				g.merchant == nil || *g.merchant != w.merchant {
				t.Errorf("v2 row %s: original_amount/currency/merchant_id not stored as sent", g.id)
			}
			filled++
		case g.amount != nil || g.currency != nil || g.merchant != nil:
			t.Errorf("row %s without revision-2 fields has non-NULL revision-2 columns", g.id)
		}
	}
	if filled != len(want) {
		t.Errorf("%d v2 rows with the new columns, want %d", filled, len(want))
	}
	if perSchema[v1.ID] != n/3 || perSchema[e.schemaID] != n-n/3 {
		t.Errorf("rows per schema id %v, want %d with v1 id %d and %d with v2 id %d", perSchema, n/3, v1.ID, n-n/3, e.schemaID)
	}
	if got := testutil.ToFloat64(w.m.UnknownFields.WithLabelValues(topic)); got != float64(newer) {
		t.Errorf("finflow_writer_unknown_fields_total = %v, want %d (records from the newer producer)", got, newer)
	}
}
