// Package encoding turns transactions into Kafka record values in the
// Confluent wire format (magic byte 0, 4-byte big-endian schema id, message
// index, protobuf bytes) and makes sure the schema those values name is the
// one in the schema registry.
package encoding

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/twmb/franz-go/pkg/sr"
	"google.golang.org/protobuf/proto"

	finflowv1 "github.com/finflow/finflow/gen/finflow/v1"
	contract "github.com/finflow/finflow/proto"
)

// Subject is the registry subject of a topic's values (TopicNameStrategy).
func Subject(topic string) string { return topic + "-value" }

// Schema is the contract as registered: the text of transaction.proto, type
// PROTOBUF, no references (it imports only well-known types).
func Schema() sr.Schema {
	return sr.Schema{Schema: contract.TransactionProto, Type: sr.TypeProtobuf}
}

var (
	// ErrNotRegistered means the subject does not hold this exact schema
	// and we were told not to register it.
	ErrNotRegistered = errors.New("schema not registered")
	// ErrIncompatible means the registry refused the schema under the
	// subject's compatibility rules (HTTP 409).
	ErrIncompatible = errors.New("schema incompatible")
)

// RegisterOptions says how Register treats the registry.
type RegisterOptions struct {
	// Create registers the schema when the subject does not hold it yet.
	// When false, the subject must already hold exactly this schema text,
	// and nothing in the registry is changed. Default false (the
	// producer's --register-schema defaults to true).
	Create bool
	// Compatibility, when Create is set and it is not empty, is set on the
	// subject before registering: BACKWARD, BACKWARD_TRANSITIVE, FORWARD,
	// FORWARD_TRANSITIVE, FULL, FULL_TRANSITIVE or NONE. Empty leaves the
	// subject's (or the global) setting alone. Default "".
	Compatibility string
}

// ParseCompatibility checks a compatibility level name; "" is valid and
// means "leave it alone".
func ParseCompatibility(s string) (sr.CompatibilityLevel, error) {
	if s == "" {
		return 0, nil
	}
	var l sr.CompatibilityLevel
	if err := l.UnmarshalText([]byte(strings.ToUpper(s))); err != nil {
		return 0, fmt.Errorf("%q is not a compatibility level (BACKWARD, BACKWARD_TRANSITIVE, FORWARD, FORWARD_TRANSITIVE, FULL, FULL_TRANSITIVE, NONE, or empty)", s)
	}
	return l, nil
}

// Register makes sure subject holds the contract and returns it with its
// schema id. With opts.Create it sets the compatibility level and registers
// the schema (a no-op returning the existing id when it is already there);
// without, it only looks the schema up.
func Register(ctx context.Context, cl *sr.Client, subject string, opts RegisterOptions) (sr.SubjectSchema, error) {
	s := Schema()
	if !opts.Create {
		ss, err := cl.LookupSchema(ctx, subject, s)
		if err != nil {
			if notFound(err) {
				return sr.SubjectSchema{}, fmt.Errorf("subject %s does not hold %s (%v); register it or run with --register-schema=true: %w",
					subject, contract.TransactionFile, err, ErrNotRegistered)
			}
			return sr.SubjectSchema{}, fmt.Errorf("look up schema under %s: %w", subject, err)
		}
		return ss, nil
	}

	level, err := ParseCompatibility(opts.Compatibility)
	if err != nil {
		return sr.SubjectSchema{}, err
	}
	if level != 0 {
		res := cl.SetCompatibility(ctx, sr.SetCompatibility{Level: level}, subject)
		if err := res[0].Err; err != nil {
			return sr.SubjectSchema{}, fmt.Errorf("set compatibility %s on %s: %w", level, subject, err)
		}
	}
	ss, err := cl.CreateSchema(ctx, subject, s)
	if err != nil {
		var re *sr.ResponseError
		if errors.As(err, &re) && re.StatusCode == http.StatusConflict {
			return sr.SubjectSchema{}, fmt.Errorf("registry refused %s under %s: %s: %w", contract.TransactionFile, subject, re.Error(), ErrIncompatible)
		}
		return sr.SubjectSchema{}, fmt.Errorf("register schema under %s: %w", subject, err)
	}
	return ss, nil
}

func notFound(err error) bool {
	var re *sr.ResponseError
	return errors.As(err, &re) && (re.StatusCode == http.StatusNotFound || sr.IsNotFoundError(re.ErrorCode))
}

// Encoder frames transactions for one schema id. It is safe for concurrent
// use.
type Encoder struct {
	id    int
	serde sr.Serde
}

// NewEncoder returns an Encoder for values of the registered schema id.
// Transaction is the first message of the file, hence message index [0]
// (encoded as the single byte 0).
func NewEncoder(schemaID int) *Encoder {
	e := &Encoder{id: schemaID}
	e.serde.Register(schemaID, &finflowv1.Transaction{},
		sr.EncodeFn(func(v any) ([]byte, error) { return proto.Marshal(v.(*finflowv1.Transaction)) }),
		// Preferred by Serde over EncodeFn: appends to the caller's buffer.
		sr.AppendEncodeFn(func(b []byte, v any) ([]byte, error) {
			return proto.MarshalOptions{}.MarshalAppend(b, v.(*finflowv1.Transaction))
		}),
		sr.DecodeFn(func(b []byte, v any) error { return proto.Unmarshal(b, v.(*finflowv1.Transaction)) }),
		sr.Index(0),
	)
	return e
}

// SchemaID is the id every value names.
func (e *Encoder) SchemaID() int { return e.id }

// AppendEncode appends tx's framed encoding to b: with a b of enough
// capacity it does not allocate.
func (e *Encoder) AppendEncode(b []byte, tx *finflowv1.Transaction) ([]byte, error) {
	out, err := e.serde.AppendEncode(b, tx)
	if err != nil {
		return b, fmt.Errorf("encode transaction: %w", err)
	}
	return out, nil
}

// Decode parses a framed value into tx; it fails on a value that does not
// name this Encoder's schema id and message index.
func (e *Encoder) Decode(b []byte, tx *finflowv1.Transaction) error {
	if err := e.serde.Decode(b, tx); err != nil {
		return fmt.Errorf("decode transaction: %w", err)
	}
	return nil
}
