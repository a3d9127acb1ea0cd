package decode

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/twmb/franz-go/pkg/sr"

	contract "github.com/finflow/finflow/proto"
	"github.com/finflow/finflow/services/writer/internal/sink"
)

// Registry is the schema registry lookup the decoder needs; *sr.Client is
// one.
type Registry interface {
	SchemaByID(ctx context.Context, id int) (sr.Schema, error)
}

// UnavailableError says the registry could not be asked about a schema id
// (unreachable, 5xx, refused our credentials, answered something that is not
// a registry). It is transient from the record's point of view: the record
// is fine and must wait, not be dead-lettered.
type UnavailableError struct {
	SchemaID int
	Err      error
}

func (e *UnavailableError) Error() string {
	return fmt.Sprintf("schema registry: look up schema id %d: %v", e.SchemaID, e.Err)
}

func (e *UnavailableError) Unwrap() error { return e.Err }

// verdict is what the decoder concluded about a schema id. An empty reason
// means records with this id are Transactions.
type verdict struct {
	reason sink.Reason
	err    string
}

// maxNegative bounds the cache of ids that are not Transactions, so a stream
// of garbage ids cannot grow it without limit.
const maxNegative = 4096

// schemas caches one verdict per schema id: an id is fetched once. Not safe
// for concurrent use; each Decoder has its own.
type schemas struct {
	reg      Registry
	verdicts map[int]verdict
	negative int
}

func (s *schemas) lookup(ctx context.Context, id int) (verdict, error) {
	if v, ok := s.verdicts[id]; ok {
		return v, nil
	}
	sch, err := s.reg.SchemaByID(ctx, id)
	var v verdict
	switch {
	case err == nil:
		v = judge(id, sch)
	case isSchemaNotFound(err):
		v = verdict{sink.ReasonUnknownSchema, fmt.Sprintf("schema id %d is not in the registry: %v", id, err)}
	default:
		return verdict{}, &UnavailableError{SchemaID: id, Err: err}
	}
	if v.reason != "" {
		if s.negative >= maxNegative {
			for k, old := range s.verdicts {
				if old.reason != "" {
					delete(s.verdicts, k)
				}
			}
			s.negative = 0
		}
		s.negative++
	}
	s.verdicts[id] = v
	return v, nil
}

// isSchemaNotFound is the registry's own "no such schema" (HTTP 404 with
// error code 40403). A bare 404 is not enough: a wrong URL answers that for
// every id, and that must not dead-letter the whole stream.
func isSchemaNotFound(err error) bool {
	var re *sr.ResponseError
	return errors.As(err, &re) && re.StatusCode == http.StatusNotFound && re.ErrorCode == sr.ErrSchemaNotFound.Code
}

// judge accepts a schema whose first message (index [0], which the framing
// names) is finflow.v1.Transaction. Same package and message name is the
// contract here: field-level compatibility is the registry's and buf's job.
func judge(id int, sch sr.Schema) verdict {
	if sch.Type != sr.TypeProtobuf {
		return verdict{sink.ReasonSchemaMismatch, fmt.Sprintf("schema id %d is %s, want PROTOBUF %s", id, sch.Type, contract.TransactionMessage)}
	}
	first, err := firstMessage(sch.Schema)
	if err != nil {
		return verdict{sink.ReasonSchemaMismatch, fmt.Sprintf("schema id %d: %v", id, err)}
	}
	if first != contract.TransactionMessage {
		return verdict{sink.ReasonSchemaMismatch, fmt.Sprintf("schema id %d defines %s as message [0], want %s", id, first, contract.TransactionMessage)}
	}
	return verdict{}
}

// firstMessage returns the fully-qualified name of the first top-level
// message in a .proto source: the message that index [0] of the Confluent
// framing refers to. It reads just enough of the language for that:
// comments, string literals, braces, and the package and message keywords
// at the top level.
func firstMessage(src string) (string, error) {
	var (
		pkg, first string
		depth      int
		prev       string // previous top-level token
		inPackage  bool
	)
	for i := 0; i < len(src); {
		c := src[i]
		switch {
		case c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v':
			i++
		case strings.HasPrefix(src[i:], "//"):
			for i < len(src) && src[i] != '\n' {
				i++
			}
		case strings.HasPrefix(src[i:], "/*"):
			end := strings.Index(src[i+2:], "*/")
			if end < 0 {
				return "", errors.New("unterminated comment in schema")
			}
			i += 2 + end + 2
		case c == '"' || c == '\'':
			j := i + 1
			for j < len(src) && src[j] != c {
				if src[j] == '\\' {
					j++
				}
				j++
			}
			if j >= len(src) {
				return "", errors.New("unterminated string in schema")
			}
			i = j + 1
			prev = "string"
		case c == '{':
			depth++
			i++
		case c == '}':
			depth--
			if depth < 0 {
				return "", errors.New("unbalanced braces in schema")
			}
			i++
		case c == '_' || c == '.' || isLetter(c) || isDigit(c):
			j := i
			for j < len(src) && (src[j] == '_' || src[j] == '.' || isLetter(src[j]) || isDigit(src[j])) {
				j++
			}
			tok := src[i:j]
			i = j
			if depth != 0 {
				continue
			}
			switch {
			case inPackage:
				pkg += tok
			case prev == "message" && first == "":
				first = tok
			case tok == "package" && prev != "message":
				inPackage = true
			}
			prev = tok
		default:
			if c == ';' {
				inPackage = false
			}
			if depth == 0 {
				prev = string(c)
			}
			i++
		}
	}
	if depth != 0 {
		return "", errors.New("unbalanced braces in schema")
	}
	if first == "" {
		return "", errors.New("schema defines no message")
	}
	if pkg == "" {
		return first, nil
	}
	return pkg + "." + first, nil
}

func isLetter(c byte) bool { return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' }
func isDigit(c byte) bool  { return c >= '0' && c <= '9' }
