// Package decode turns a Kafka record value in the Confluent wire format
// into a validated sink row, or says why it cannot be one (a dead-letter
// reason). It owns the schema-id cache backed by the schema registry.
package decode

import (
	"context"
	"errors"
	"fmt"

	"github.com/twmb/franz-go/pkg/sr"
	"google.golang.org/protobuf/proto"

	finflowv1 "github.com/finflow/finflow/gen/finflow/v1"
	"github.com/finflow/finflow/services/writer/internal/sink"
)

// Rejected says why a record cannot become a row; it becomes a dead letter.
type Rejected struct {
	Reason      sink.Reason
	SchemaID    int32
	HasSchemaID bool
	Err         string
}

func (r *Rejected) Error() string { return string(r.Reason) + ": " + r.Err }

// Decoder decodes and validates records. It reuses one message between
// calls, so it is not safe for concurrent use.
type Decoder struct {
	schemas schemas
	header  sr.ConfluentHeader
	msg     finflowv1.Transaction
	unmarsh proto.UnmarshalOptions
}

// New returns a Decoder that looks schema ids up in reg.
func New(reg Registry) *Decoder {
	return &Decoder{schemas: schemas{reg: reg, verdicts: map[int]verdict{}}}
}

// Decode fills row's columns (everything but Src) from a Confluent-framed
// value. It returns nil for a valid row, a *Rejected for a record that must
// be dead-lettered, or an *UnavailableError when the registry could not be
// asked about a new schema id; the record should then be decoded again
// later. Cached schema ids never touch the registry.
func (d *Decoder) Decode(ctx context.Context, value []byte, row *sink.Row) error {
	id, rest, err := d.header.DecodeID(value)
	if err != nil {
		return &Rejected{Reason: sink.ReasonBadFraming, Err: framingError(value)}
	}
	// The message-index array: a single 0 byte is the common case, [0].
	index0 := len(rest) > 0 && rest[0] == 0
	var index []int
	if index0 {
		rest = rest[1:]
	} else {
		index, rest, err = d.header.DecodeIndex(rest, 8)
		if err != nil {
			return &Rejected{Reason: sink.ReasonBadFraming, SchemaID: int32(id), HasSchemaID: true,
				Err: fmt.Sprintf("schema id %d: unreadable message-index array", id)}
		}
		index0 = len(index) == 1 && index[0] == 0
	}
	v, err := d.schemas.lookup(ctx, id)
	if err != nil {
		return err
	}
	if v.reason != "" {
		return &Rejected{Reason: v.reason, SchemaID: int32(id), HasSchemaID: true, Err: v.err}
	}
	if !index0 {
		return &Rejected{Reason: sink.ReasonSchemaMismatch, SchemaID: int32(id), HasSchemaID: true,
			Err: fmt.Sprintf("message index %v of schema id %d is not %s (index [0])", index, id, "finflow.v1.Transaction")}
	}
	if err := d.unmarsh.Unmarshal(rest, &d.msg); err != nil {
		return &Rejected{Reason: sink.ReasonUndecodable, SchemaID: int32(id), HasSchemaID: true,
			Err: "protobuf: " + err.Error()}
	}
	if msg := validate(&d.msg, row); msg != "" {
		return &Rejected{Reason: sink.ReasonInvalidValue, SchemaID: int32(id), HasSchemaID: true, Err: msg}
	}
	row.SchemaID = int32(id)
	row.UnknownFields = len(d.msg.ProtoReflect().GetUnknown()) > 0
	return nil
}

func framingError(value []byte) string {
	switch {
	case value == nil:
		return "record has no value"
	case len(value) > 0 && value[0] != 0:
		return fmt.Sprintf("first byte is 0x%02x, not the Confluent magic byte 0x00", value[0])
	default:
		return fmt.Sprintf("%d bytes is too short for a Confluent header (magic byte + 4-byte schema id)", len(value))
	}
}

// IsUnavailable reports whether err is a transient registry failure.
func IsUnavailable(err error) bool {
	var u *UnavailableError
	return errors.As(err, &u)
}

// Lookup asks the registry about schema id, unless its verdict is cached.
// It returns an *UnavailableError while the registry cannot answer.
func (d *Decoder) Lookup(ctx context.Context, id int) error {
	_, err := d.schemas.lookup(ctx, id)
	return err
}
