package decode_test

import (
	"context"
	"errors"
	"slices"
	"testing"

	"google.golang.org/protobuf/encoding/protowire"

	finflowv1 "github.com/finflow/finflow/gen/finflow/v1"
	"github.com/finflow/finflow/services/writer/internal/decode"
	"github.com/finflow/finflow/services/writer/internal/fixture"
	"github.com/finflow/finflow/services/writer/internal/sink"
)

// FuzzDecode: decode+validate never panics, and every input becomes exactly
// one of a valid row or a dead letter with a reason the table accepts (the
// registry is up, so "try again later" is not an answer). The seeds, valid
// frames and every poison kind, run in plain `go test`; explore with
//
//	go test -run '^$' -fuzz FuzzDecode -fuzztime 60s ./internal/decode
func FuzzDecode(f *testing.F) {
	r := newRegistry(f)
	for i := range 4 {
		f.Add(frame(r.txID, fixture.Transaction(i)))
	}
	m := fixture.Transaction(5)
	m.Currency = "gbp"
	f.Add(frame(r.txID, m))
	m = fixture.Transaction(6)
	m.Status = finflowv1.Status_STATUS_UNSPECIFIED
	m.AmountMinor = 0
	f.Add(frame(r.txID, m))
	withUnknown := protowire.AppendString(protowire.AppendTag(frame(r.txID, fixture.Transaction(7)), 99, protowire.BytesType), "x")
	f.Add(withUnknown)
	f.Add([]byte{})
	f.Add([]byte{1, 2, 3, 4, 5, 6})
	f.Add([]byte{0, 0, 0})
	f.Add([]byte{0, 0, 0, 0, byte(r.txID)})
	f.Add([]byte{0, 0, 0, 0, byte(r.txID), 4, 2, 0})
	f.Add(frame(9999, fixture.Transaction(1)))
	f.Add(frame(r.otherID, fixture.Transaction(1)))
	f.Add(frame(r.avroID, fixture.Transaction(1)))
	f.Add(frame(r.txID, fixture.Transaction(1))[:30])

	d := decode.New(r.client)
	f.Fuzz(func(t *testing.T, value []byte) {
		var row sink.Row
		err := d.Decode(context.Background(), value, &row)
		if err == nil {
			// A row: the table's rules hold.
			if len(row.Currency) != 3 || len(row.Country) != 2 || row.AmountMinor <= 0 ||
				row.Category == "" || row.Status == "" || row.Channel == "" || row.UserID == "" ||
				row.MCC < 0 || row.MCC > 9999 || row.EventTime.IsZero() {
				t.Fatalf("invalid row accepted: %+v", row)
			}
			return
		}
		var rej *decode.Rejected
		if !errors.As(err, &rej) {
			t.Fatalf("neither row nor dead letter: %v", err)
		}
		if !slices.Contains(sink.Reasons, rej.Reason) || rej.Reason == sink.ReasonConstraintViolation || rej.Err == "" {
			t.Fatalf("bad rejection %+v", rej)
		}
	})
}

// BenchmarkDecode is decode+validate of one valid record, schema id cached.
func BenchmarkDecode(b *testing.B) {
	r := newRegistry(b)
	d := decode.New(r.client)
	values := make([][]byte, 1024)
	for i := range values {
		values[i] = frame(r.txID, fixture.Transaction(i))
	}
	var row sink.Row
	b.ReportAllocs()
	b.ResetTimer()
	for i := range b.N {
		if err := d.Decode(context.Background(), values[i%len(values)], &row); err != nil {
			b.Fatal(err)
		}
	}
}
