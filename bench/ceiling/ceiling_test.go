package ceiling

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"google.golang.org/protobuf/types/known/timestamppb"

	finflowv1 "github.com/finflow/finflow/gen/finflow/v1"
	"github.com/finflow/finflow/services/kit/pgtest"
)

var when = time.Date(2026, 3, 1, 12, 30, 0, 123456000, time.UTC)

func tx(i int) *finflowv1.Transaction {
	return &finflowv1.Transaction{
		TransactionId: fmt.Sprintf("00000000-0000-4000-8000-%012d", i),
		EventTime:     timestamppb.New(when.Add(time.Duration(i) * time.Second)),
		UserId:        "USR-000123",
		AccountId:     "20-00-00 12345678",
		Merchant:      "Tesco",
		Category:      finflowv1.Category_CATEGORY_GROCERIES,
		Mcc:           5411,
		AmountMinor:   1234 + int64(i),
		Currency:      "GBP",
		Location:      "Manchester",
		Country:       "GB",
		Status:        finflowv1.Status_STATUS_COMPLETED,
		Channel:       finflowv1.Channel_CHANNEL_CHIP_AND_PIN,
	}
}

func rows(t testing.TB, n int) []Row {
	t.Helper()
	out := make([]Row, n)
	for i := range out {
		r, err := FromTransaction(tx(i), Coordinates{Topic: "transactions", Partition: int32(i % 6), Offset: int64(i / 6), SchemaID: 1})
		if err != nil {
			t.Fatal(err)
		}
		out[i] = r
	}
	return out
}

func TestFromTransactionRejectsInvalidValues(t *testing.T) {
	for name, mutate := range map[string]func(*finflowv1.Transaction){
		"bad uuid":         func(x *finflowv1.Transaction) { x.TransactionId = "nope" },
		"no event time":    func(x *finflowv1.Transaction) { x.EventTime = nil },
		"unset category":   func(x *finflowv1.Transaction) { x.Category = 0 },
		"unknown status":   func(x *finflowv1.Transaction) { x.Status = 99 },
		"unset channel":    func(x *finflowv1.Transaction) { x.Channel = 0 },
		"mcc out of range": func(x *finflowv1.Transaction) { x.Mcc = 10000 },
	} {
		x := tx(1)
		mutate(x)
		if _, err := FromTransaction(x, Coordinates{}); err == nil {
			t.Errorf("%s: want an error", name)
		}
	}
}

func TestSplit(t *testing.T) {
	parts := Split([]int{1, 2, 3, 4, 5}, 2)
	if len(parts) != 2 || len(parts[0]) != 2 || len(parts[1]) != 3 || parts[1][0] != 3 {
		t.Errorf("Split = %v", parts)
	}
}

// checkTable asserts the table holds rows 0..n-1 exactly as mapped: the copy
// paths must store what the writer would, not just the right count.
func checkTable(t *testing.T, url string, n int) {
	t.Helper()
	ctx := context.Background()
	c, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close(ctx)
	var count int
	var minAmount, maxAmount, category, channel, status, currency string
	var minTime time.Time
	err = c.QueryRow(ctx, `SELECT count(*), min(amount)::text, max(amount)::text, min(category), min(channel), min(status),
		min(currency), min(event_time) FROM raw_transactions`).Scan(&count, &minAmount, &maxAmount, &category, &channel, &status, &currency, &minTime)
	if err != nil {
		t.Fatal(err)
	}
	if count != n || minAmount != "12.34" || maxAmount != fmt.Sprintf("%.2f", float64(1234+n-1)/100) ||
		category != "groceries" || channel != "chip_and_pin" || status != "completed" || currency != "GBP" || !minTime.Equal(when) {
		t.Errorf("table: count=%d amounts %s..%s %s %s %s %s %v", count, minAmount, maxAmount, category, channel, status, currency, minTime)
	}
	var id string
	if err := c.QueryRow(ctx, "SELECT transaction_id::text FROM raw_transactions WHERE kafka_partition = 1 AND kafka_offset = 0").Scan(&id); err != nil {
		t.Fatal(err)
	}
	if id != "00000000-0000-4000-8000-000000000001" {
		t.Errorf("row at partition 1 offset 0 has id %s", id)
	}
}

func TestCopy(t *testing.T) {
	rs := rows(t, 1001)
	for _, conns := range []int{1, 2} {
		url := pgtest.New(t)
		res, err := Copy(context.Background(), url, rs, conns)
		if err != nil {
			t.Fatalf("%d conns: %v", conns, err)
		}
		if res.Rows != 1001 || res.Conns != conns || res.Elapsed <= 0 || res.RowsPerSecond() <= 0 {
			t.Errorf("%d conns: result %+v", conns, res)
		}
		checkTable(t, url, 1001)
	}
}

func TestCopyEncoded(t *testing.T) {
	rs := rows(t, 1001)
	for _, conns := range []int{1, 2} {
		enc, err := Encode(rs, conns)
		if err != nil {
			t.Fatal(err)
		}
		url := pgtest.New(t)
		if _, err := CopyEncoded(context.Background(), url, enc); err != nil {
			t.Fatalf("%d conns: %v", conns, err)
		}
		checkTable(t, url, 1001)
	}
}

func TestCopyHitsTheRealConstraints(t *testing.T) {
	rs := rows(t, 2)
	rs[1].TransactionID = rs[0].TransactionID // the primary key must reject it
	url := pgtest.New(t)
	if _, err := Copy(context.Background(), url, rs, 1); err == nil {
		t.Error("duplicate transaction_id: want a unique violation")
	}
	if _, err := Copy(context.Background(), url, rows(t, 1), 0); err == nil {
		t.Error("0 connections: want an error")
	}
}

func BenchmarkCopy(b *testing.B) {
	rs := rows(b, 10000)
	for b.Loop() {
		b.StopTimer()
		url := pgtest.New(b)
		b.StartTimer()
		if _, err := Copy(context.Background(), url, rs, 1); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(len(rs)*b.N)/b.Elapsed().Seconds(), "rows/s")
}
