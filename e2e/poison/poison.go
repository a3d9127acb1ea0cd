// Package poison builds the malformed records the end-to-end suite injects
// into the live topic next to the producer's traffic, one kind per way a
// record can fail in the writer, each with the dead-letter reason the writer
// must record for it (README: Dead-letter reasons).
//
// Every poison record carries the header Header = its Kind, so reading the
// topic back tells poison from producer records without trusting produce
// acknowledgements (which a broker restart can make ambiguous).
package poison

import (
	"crypto/rand"
	"fmt"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/sr"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	finflowv1 "github.com/finflow/finflow/gen/finflow/v1"
)

// Header is the record header naming a poison record's Kind.
const Header = "finflow-e2e-poison"

// UnknownSchemaID frames the unknown_schema records. Apicurio's ids are
// content ids counted from 1, so a test registry never reaches it; the suite
// still checks that the registry answers 404 for it before injecting.
const UnknownSchemaID = 999999

// Kind is one way of being malformed.
type Kind string

// The kinds, with what the writer sees.
const (
	BadMagic          Kind = "bad_magic"           // first byte 0xff instead of 0x00
	TooShort          Kind = "too_short"           // 3 bytes: no room for a schema id
	UnknownSchema     Kind = "unknown_schema"      // framed correctly with UnknownSchemaID
	SchemaMismatch    Kind = "schema_mismatch"     // framed with the id of a registered schema that is not finflow.v1.Transaction
	Truncated         Kind = "truncated"           // valid header, protobuf cut inside transaction_id
	LowerCaseCurrency Kind = "lower_case_currency" // currency "gbp"
	ZeroAmount        Kind = "zero_amount"         // amount_minor 0
	UnspecifiedStatus Kind = "unspecified_status"  // STATUS_UNSPECIFIED
	BadUUID           Kind = "bad_uuid"            // transaction_id is not a UUID
)

// Reason is the dead-letter reason the writer must record for k.
func (k Kind) Reason() string {
	switch k {
	case BadMagic, TooShort:
		return "bad_framing"
	case UnknownSchema:
		return "unknown_schema"
	case SchemaMismatch:
		return "schema_mismatch"
	case Truncated:
		return "undecodable"
	case LowerCaseCurrency, ZeroAmount, UnspecifiedStatus, BadUUID:
		return "invalid_value"
	}
	return ""
}

// Kinds lists every kind, in a fixed order.
var Kinds = []Kind{
	BadMagic, TooShort, UnknownSchema, SchemaMismatch, Truncated,
	LowerCaseCurrency, ZeroAmount, UnspecifiedStatus, BadUUID,
}

// IDs are the registry ids the builders frame records with.
type IDs struct {
	// Transaction is the id of the contract under <topic>-value.
	Transaction int
	// Other is the id of a registered schema whose first message is not
	// finflow.v1.Transaction (for SchemaMismatch).
	Other int
}

// OtherSchema is the schema the suite registers to get IDs.Other: valid
// proto3, a different message.
const OtherSchema = `syntax = "proto3";

package finflow.e2e.v1;

// Probe is not a Transaction: records framed with its id are schema_mismatch.
message Probe {
  string note = 1;
}
`

// Record builds one poison record of kind k for topic. seq makes keys and
// transaction ids distinct across calls.
func Record(k Kind, topic string, ids IDs, seq int) (*kgo.Record, error) {
	tx := Valid(seq)
	var h sr.ConfluentHeader
	frame := func(id int, payload []byte) []byte {
		b, _ := h.AppendEncode(nil, id, []int{0}) // never fails
		return append(b, payload...)
	}
	marshal := func(m proto.Message) []byte {
		b, err := proto.Marshal(m)
		if err != nil {
			panic(err) // a message built in this file always marshals
		}
		return b
	}
	var value []byte
	switch k {
	case BadMagic:
		value = frame(ids.Transaction, marshal(tx))
		// Not 0x01 either: Confluent's newer clients read magic byte 1 as a
		// schema-GUID header, and the Python cross-check would decode it.
		value[0] = 0xff
	case TooShort:
		value = []byte{0x00, 0x00, 0x01}
	case UnknownSchema:
		value = frame(UnknownSchemaID, marshal(tx))
	case SchemaMismatch:
		value = frame(ids.Other, marshal(tx))
	case Truncated:
		// Field 1 (tag 0x0a, length 36) cut after 10 bytes: no parser can
		// accept a length-delimited field that runs past the end.
		value = frame(ids.Transaction, marshal(tx)[:10])
	case LowerCaseCurrency:
		tx.Currency = "gbp"
		value = frame(ids.Transaction, marshal(tx))
	case ZeroAmount:
		tx.AmountMinor = 0
		value = frame(ids.Transaction, marshal(tx))
	case UnspecifiedStatus:
		tx.Status = finflowv1.Status_STATUS_UNSPECIFIED
		value = frame(ids.Transaction, marshal(tx))
	case BadUUID:
		tx.TransactionId = fmt.Sprintf("not-a-uuid-%d", seq)
		value = frame(ids.Transaction, marshal(tx))
	default:
		return nil, fmt.Errorf("poison: unknown kind %q", k)
	}
	return &kgo.Record{
		Topic:   topic,
		Key:     []byte(tx.AccountId),
		Value:   value,
		Headers: []kgo.RecordHeader{{Key: Header, Value: []byte(k)}},
	}, nil
}

// Valid is a transaction the writer accepts; the poison kinds spoil one
// thing of it each.
func Valid(seq int) *finflowv1.Transaction {
	return &finflowv1.Transaction{
		TransactionId: NewUUID(),
		EventTime:     timestamppb.New(time.Now().UTC().Truncate(time.Microsecond)),
		UserId:        fmt.Sprintf("USR-E2E-%06d", seq),
		AccountId:     fmt.Sprintf("99-00-00 %08d", seq),
		Merchant:      "Tesco",
		Category:      finflowv1.Category_CATEGORY_GROCERIES,
		Mcc:           5411,
		AmountMinor:   1234,
		Currency:      "GBP",
		Location:      "Leeds",
		Country:       "GB",
		Status:        finflowv1.Status_STATUS_COMPLETED,
		Channel:       finflowv1.Channel_CHANNEL_CONTACTLESS,
	}
}

// NewUUID is a random (version 4) UUID in canonical lower-case form.
func NewUUID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}

// KindOf returns the poison kind named in r's headers, or "" for a record
// that is not poison.
func KindOf(headers []kgo.RecordHeader) Kind {
	for _, h := range headers {
		if h.Key == Header {
			return Kind(h.Value)
		}
	}
	return ""
}
