package decode_test

import (
	"context"
	"errors"
	"net/http"
	"reflect"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/sr"
	"github.com/twmb/franz-go/pkg/sr/srfake"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	finflowv1 "github.com/finflow/finflow/gen/finflow/v1"
	"github.com/finflow/finflow/services/writer/internal/decode"
	"github.com/finflow/finflow/services/writer/internal/fixture"
	"github.com/finflow/finflow/services/writer/internal/sink"
)

// registry is an srfake registry holding the contract (txID), a protobuf
// schema whose first message is something else (otherID) and an Avro schema
// (avroID).
type registry struct {
	fake                  *srfake.Registry
	client                *sr.Client
	txID, otherID, avroID int
	requests              atomic.Int64
}

const otherProto = `syntax = "proto3";
// A schema that is not the contract: its first message is Refund.
package finflow.v1;
import "google/protobuf/timestamp.proto";
message Refund { string refund_id = 1; }
message Transaction { string transaction_id = 1; }
`

func newRegistry(t testing.TB) *registry {
	t.Helper()
	r := &registry{fake: srfake.New()}
	t.Cleanup(r.fake.Close)
	r.fake.Intercept(func(http.ResponseWriter, *http.Request) bool { r.requests.Add(1); return false })
	var err error
	if r.client, err = sr.NewClient(sr.URLs(r.fake.URL())); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if _, r.txID, err = fixture.Register(ctx, r.client, "transactions"); err != nil {
		t.Fatal(err)
	}
	ss, err := r.client.CreateSchema(ctx, "refunds-value", sr.Schema{Schema: otherProto, Type: sr.TypeProtobuf})
	if err != nil {
		t.Fatal(err)
	}
	r.otherID = ss.ID
	ss, err = r.client.CreateSchema(ctx, "audit-value", sr.Schema{Schema: `{"type":"record","name":"Transaction","namespace":"finflow.v1","fields":[]}`, Type: sr.TypeAvro})
	if err != nil {
		t.Fatal(err)
	}
	r.avroID = ss.ID
	return r
}

func frame(id int, m proto.Message) []byte { return fixture.Frame(id, m) }

func TestDecodeValid(t *testing.T) {
	r := newRegistry(t)
	d := decode.New(r.client)
	before := r.requests.Load()
	var row sink.Row
	for i := range 50 {
		if err := d.Decode(context.Background(), frame(r.txID, fixture.Transaction(i)), &row); err != nil {
			t.Fatalf("transaction %d: %v", i, err)
		}
		want := fixture.Row("", 0, 0, int32(r.txID), i)
		row.Src, want.Src = sink.Source{}, sink.Source{}
		if !reflect.DeepEqual(row, want) {
			t.Fatalf("transaction %d decoded to\n%+v\nwant\n%+v", i, row, want)
		}
	}
	// One registry request for the id, however many records carry it.
	if n := r.requests.Load() - before; n != 1 {
		t.Errorf("%d registry requests for one schema id, want 1 (the id must be cached)", n)
	}
}

func TestDecodeRejects(t *testing.T) {
	r := newRegistry(t)
	valid := func(mut func(*finflowv1.Transaction)) []byte {
		m := fixture.Transaction(7)
		mut(m)
		return frame(r.txID, m)
	}
	goodBody, _ := proto.Marshal(fixture.Transaction(1))
	cases := []struct {
		name   string
		value  []byte
		reason sink.Reason
		msg    string
	}{
		{"nil value (tombstone)", nil, sink.ReasonBadFraming, "no value"},
		{"bad magic byte", append([]byte{1, 0, 0, 0, 1, 0}, goodBody...), sink.ReasonBadFraming, "magic byte"},
		{"too short", []byte{0, 0, 0}, sink.ReasonBadFraming, "too short"},
		{"header without index", []byte{0, 0, 0, 0, byte(r.txID)}, sink.ReasonBadFraming, "message-index"},
		{"unknown schema id", frame(9999, fixture.Transaction(1)), sink.ReasonUnknownSchema, "9999"},
		{"different message", frame(r.otherID, fixture.Transaction(1)), sink.ReasonSchemaMismatch, "finflow.v1.Refund"},
		{"avro schema", frame(r.avroID, fixture.Transaction(1)), sink.ReasonSchemaMismatch, "AVRO"},
		{"message index [1]", append([]byte{0, 0, 0, 0, byte(r.txID), 2, 2}, goodBody...), sink.ReasonSchemaMismatch, "index [1]"},
		{"truncated protobuf", frame(r.txID, fixture.Transaction(1))[:40], sink.ReasonUndecodable, "protobuf"},
		{"invalid utf-8", append(frame(r.txID, fixture.Transaction(1)), protowire.AppendTag(nil, 5, protowire.BytesType)[0], 1, 0xff), sink.ReasonUndecodable, "UTF-8"},
		{"lower-case currency", valid(func(m *finflowv1.Transaction) { m.Currency = "gbp" }), sink.ReasonInvalidValue, "currency"},
		{"yen (no minor unit)", valid(func(m *finflowv1.Transaction) { m.Currency = "JPY" }), sink.ReasonInvalidValue, "JPY"},
		{"zero amount", valid(func(m *finflowv1.Transaction) { m.AmountMinor = 0 }), sink.ReasonInvalidValue, "amount_minor"},
		{"negative amount", valid(func(m *finflowv1.Transaction) { m.AmountMinor = -5 }), sink.ReasonInvalidValue, "amount_minor"},
		{"amount too large", valid(func(m *finflowv1.Transaction) { m.AmountMinor = 100_000_000_000_000 }), sink.ReasonInvalidValue, "amount_minor"},
		{"unspecified status", valid(func(m *finflowv1.Transaction) { m.Status = finflowv1.Status_STATUS_UNSPECIFIED }), sink.ReasonInvalidValue, "status"},
		{"unknown channel", valid(func(m *finflowv1.Transaction) { m.Channel = 42 }), sink.ReasonInvalidValue, "channel"},
		{"original amount without currency", valid(func(m *finflowv1.Transaction) { m.OriginalAmountMinor = 500 }), sink.ReasonInvalidValue, "original_currency"},
		{"original currency without amount", valid(func(m *finflowv1.Transaction) { m.OriginalCurrency = "EUR" }), sink.ReasonInvalidValue, "original_amount_minor"},
		{"negative original amount", valid(func(m *finflowv1.Transaction) { m.OriginalAmountMinor, m.OriginalCurrency = -5, "EUR" }), sink.ReasonInvalidValue, "original_amount_minor"},
		{"lower-case original currency", valid(func(m *finflowv1.Transaction) { m.OriginalAmountMinor, m.OriginalCurrency = 500, "eur" }), sink.ReasonInvalidValue, "original_currency"},
		{"three-decimal original currency", valid(func(m *finflowv1.Transaction) { m.OriginalAmountMinor, m.OriginalCurrency = 500, "KWD" }), sink.ReasonInvalidValue, "original_currency"},
		{"merchant id too long", valid(func(m *finflowv1.Transaction) { m.MerchantId = strings.Repeat("M", 65) }), sink.ReasonInvalidValue, "merchant_id"},
		{"unspecified category", valid(func(m *finflowv1.Transaction) { m.Category = 0 }), sink.ReasonInvalidValue, "category"},
		{"bad uuid", valid(func(m *finflowv1.Transaction) { m.TransactionId = "not-a-uuid" }), sink.ReasonInvalidValue, "transaction_id"},
		{"uuid without dashes", valid(func(m *finflowv1.Transaction) { m.TransactionId = strings.ReplaceAll(m.TransactionId, "-", "") }), sink.ReasonInvalidValue, "transaction_id"},
		{"no event time", valid(func(m *finflowv1.Transaction) { m.EventTime = nil }), sink.ReasonInvalidValue, "event_time"},
		{"event time out of range", valid(func(m *finflowv1.Transaction) { m.EventTime = &timestamppb.Timestamp{Seconds: 1 << 40} }), sink.ReasonInvalidValue, "event_time"},
		{"empty user", valid(func(m *finflowv1.Transaction) { m.UserId = "" }), sink.ReasonInvalidValue, "user_id"},
		{"long account", valid(func(m *finflowv1.Transaction) { m.AccountId = strings.Repeat("x", 65) }), sink.ReasonInvalidValue, "account_id"},
		{"long merchant", valid(func(m *finflowv1.Transaction) { m.Merchant = strings.Repeat("é", 129) }), sink.ReasonInvalidValue, "merchant"},
		{"NUL in merchant", valid(func(m *finflowv1.Transaction) { m.Merchant = "Tes\x00co" }), sink.ReasonInvalidValue, "NUL"},
		{"long location", valid(func(m *finflowv1.Transaction) { m.Location = strings.Repeat("a", 129) }), sink.ReasonInvalidValue, "location"},
		{"mcc too large", valid(func(m *finflowv1.Transaction) { m.Mcc = 10000 }), sink.ReasonInvalidValue, "mcc"},
		{"country of three letters", valid(func(m *finflowv1.Transaction) { m.Country = "GBR" }), sink.ReasonInvalidValue, "country"},
	}
	d := decode.New(r.client)
	for _, c := range cases {
		var row sink.Row
		err := d.Decode(context.Background(), c.value, &row)
		var rej *decode.Rejected
		if !errors.As(err, &rej) {
			t.Errorf("%s: got %v, want a rejection", c.name, err)
			continue
		}
		if rej.Reason != c.reason || !strings.Contains(rej.Err, c.msg) {
			t.Errorf("%s: got %s %q, want %s mentioning %q", c.name, rej.Reason, rej.Err, c.reason, c.msg)
		}
	}
	// Multi-byte characters count as one, as PostgreSQL's length() counts.
	var row sink.Row
	if err := d.Decode(context.Background(), valid(func(m *finflowv1.Transaction) { m.Merchant = strings.Repeat("é", 128) }), &row); err != nil {
		t.Errorf("128 two-byte characters: %v", err)
	}
}

// A message from a newer producer, with a field this contract does not
// know, is still a row, flagged so the writer can count it.
func TestDecodeUnknownFields(t *testing.T) {
	r := newRegistry(t)
	d := decode.New(r.client)
	v := frame(r.txID, fixture.Transaction(3))
	v = protowire.AppendTag(v, 99, protowire.BytesType)
	v = protowire.AppendString(v, "loyalty-scheme")
	var row sink.Row
	if err := d.Decode(context.Background(), v, &row); err != nil {
		t.Fatal(err)
	}
	if !row.UnknownFields {
		t.Error("unknown field not flagged")
	}
	if err := d.Decode(context.Background(), frame(r.txID, fixture.Transaction(3)), &row); err != nil || row.UnknownFields {
		t.Errorf("flag must be reset for the next record: %v %v", err, row.UnknownFields)
	}
}

// When the registry fails, records with known ids keep decoding; a new id
// is a retryable error, not a dead letter; once the registry is back the
// same record decodes.
func TestRegistryOutage(t *testing.T) {
	r := newRegistry(t)
	d := decode.New(r.client)
	var row sink.Row
	if err := d.Decode(context.Background(), frame(r.txID, fixture.Transaction(1)), &row); err != nil {
		t.Fatal(err)
	}
	var down atomic.Bool
	down.Store(true)
	r.fake.Intercept(func(w http.ResponseWriter, _ *http.Request) bool {
		if down.Load() {
			http.Error(w, `{"error_code":50001,"message":"store error"}`, http.StatusInternalServerError)
			return true
		}
		return false
	})
	if err := d.Decode(context.Background(), frame(r.txID, fixture.Transaction(2)), &row); err != nil {
		t.Fatalf("cached id during outage: %v", err)
	}
	err := d.Decode(context.Background(), frame(r.otherID, fixture.Transaction(2)), &row)
	if !decode.IsUnavailable(err) {
		t.Fatalf("new id during outage: got %v, want UnavailableError", err)
	}
	down.Store(false)
	var rej *decode.Rejected
	if err := d.Decode(context.Background(), frame(r.otherID, fixture.Transaction(2)), &row); !errors.As(err, &rej) || rej.Reason != sink.ReasonSchemaMismatch {
		t.Fatalf("after the outage: got %v, want schema_mismatch", err)
	}
}

// A URL that is not a registry answers 404 without the registry's error
// code to everything; that must not dead-letter records as unknown_schema.
func TestBare404IsUnavailable(t *testing.T) {
	srv := srfake.New()
	defer srv.Close()
	srv.Intercept(func(w http.ResponseWriter, _ *http.Request) bool {
		http.NotFound(w, nil)
		return true
	})
	cl, err := sr.NewClient(sr.URLs(srv.URL()))
	if err != nil {
		t.Fatal(err)
	}
	var row sink.Row
	if err := decode.New(cl).Decode(context.Background(), frame(1, fixture.Transaction(1)), &row); !decode.IsUnavailable(err) {
		t.Fatalf("got %v, want UnavailableError", err)
	}
}

func TestFirstMessage(t *testing.T) {
	cases := map[string]string{
		`syntax = "proto3"; package a.b; message X {} message Y {}`:                                    "a.b.X",
		"// message Fake {}\n/* message Fake2 {} */ package p; option x = \"message Q\"; message R {}": "p.R",
		`syntax = "proto3"; message Top { message Inner {} } message Second {}`:                        "Top",
		`package p; enum E { A = 0; } service S { rpc M (R) returns (R); } message R {}`:               "p.R",
		`package p; option (my.opt) = { message: "x" }; message M {}`:                                  "p.M",
	}
	for src, want := range cases {
		if got, err := decode.FirstMessage(src); err != nil || got != want {
			t.Errorf("%s: got %q, %v; want %q", src, got, err, want)
		}
	}
	for _, bad := range []string{"", "package p;", "message {", "/* open", `package p; message M { "open }`} {
		if got, err := decode.FirstMessage(bad); err == nil {
			t.Errorf("%q: got %q, want an error", bad, got)
		}
	}
}

// The enum tables hold the lower-case enum suffix of every value the
// contract defines, so a new enum value cannot silently map to "".
func TestEnumTablesCoverTheContract(t *testing.T) {
	r := newRegistry(t)
	d := decode.New(r.client)
	check := func(kind string, names map[int32]string, set func(*finflowv1.Transaction, int32), get func(sink.Row) string) {
		for v, name := range names {
			if v == 0 {
				continue
			}
			m := fixture.Transaction(1)
			set(m, v)
			var row sink.Row
			if err := d.Decode(context.Background(), frame(r.txID, m), &row); err != nil {
				t.Errorf("%s %s: %v", kind, name, err)
				continue
			}
			if want := strings.ToLower(strings.TrimPrefix(name, kind+"_")); get(row) != want {
				t.Errorf("%s %s maps to %q, want %q", kind, name, get(row), want)
			}
		}
	}
	check("CATEGORY", finflowv1.Category_name, func(m *finflowv1.Transaction, v int32) { m.Category = finflowv1.Category(v) }, func(r sink.Row) string { return r.Category })
	check("STATUS", finflowv1.Status_name, func(m *finflowv1.Transaction, v int32) { m.Status = finflowv1.Status(v) }, func(r sink.Row) string { return r.Status })
	check("CHANNEL", finflowv1.Channel_name, func(m *finflowv1.Transaction, v int32) { m.Channel = finflowv1.Channel(v) }, func(r sink.Row) string { return r.Channel })
}

func TestEventTimeIsUTC(t *testing.T) {
	r := newRegistry(t)
	d := decode.New(r.client)
	m := fixture.Transaction(1)
	when := time.Date(2026, 3, 29, 1, 30, 0, 123456789, time.FixedZone("BST", 3600))
	m.EventTime = timestamppb.New(when)
	var row sink.Row
	if err := d.Decode(context.Background(), frame(r.txID, m), &row); err != nil {
		t.Fatal(err)
	}
	if !row.EventTime.Equal(when) || row.EventTime.Location() != time.UTC {
		t.Fatalf("event time %v, want %v in UTC", row.EventTime, when)
	}
}
