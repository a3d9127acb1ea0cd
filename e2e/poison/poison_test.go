package poison

import (
	"errors"
	"regexp"
	"testing"

	"github.com/twmb/franz-go/pkg/sr"
	"google.golang.org/protobuf/proto"

	finflowv1 "github.com/finflow/finflow/gen/finflow/v1"
)

var (
	uuidRE     = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$`)
	currencyRE = regexp.MustCompile(`^[A-Z]{3}$`)
)

// classify is a reference reading of a record value, written from the README's
// reason list, independent of the writer's code.
func classify(value []byte, ids IDs) string {
	var h sr.ConfluentHeader
	id, rest, err := h.DecodeID(value)
	if err != nil {
		return "bad_framing"
	}
	switch id {
	case ids.Transaction:
	case ids.Other:
		return "schema_mismatch"
	default:
		return "unknown_schema"
	}
	index, payload, err := h.DecodeIndex(rest, 1)
	if err != nil || len(index) != 1 || index[0] != 0 {
		return "bad_framing"
	}
	var tx finflowv1.Transaction
	if err := proto.Unmarshal(payload, &tx); err != nil {
		return "undecodable"
	}
	if !uuidRE.MatchString(tx.GetTransactionId()) || tx.GetAmountMinor() <= 0 ||
		!currencyRE.MatchString(tx.GetCurrency()) || tx.GetStatus() == finflowv1.Status_STATUS_UNSPECIFIED ||
		tx.GetCategory() == finflowv1.Category_CATEGORY_UNSPECIFIED || tx.GetChannel() == finflowv1.Channel_CHANNEL_UNSPECIFIED ||
		tx.GetEventTime() == nil {
		return "invalid_value"
	}
	return "ok"
}

func TestEachKindFailsForItsReason(t *testing.T) {
	ids := IDs{Transaction: 7, Other: 8}
	for i, k := range Kinds {
		r, err := Record(k, "t", ids, i)
		if err != nil {
			t.Fatal(err)
		}
		if got := classify(r.Value, ids); got != k.Reason() {
			t.Errorf("%s: classified %q, want %q", k, got, k.Reason())
		}
		if KindOf(r.Headers) != k {
			t.Errorf("%s: header names %q", k, KindOf(r.Headers))
		}
		if r.Topic != "t" || len(r.Key) == 0 {
			t.Errorf("%s: topic %q key %q", k, r.Topic, r.Key)
		}
	}
}

func TestReasonsAreTheDeadLetterCheckSet(t *testing.T) {
	allowed := map[string]bool{"bad_framing": true, "unknown_schema": true, "schema_mismatch": true,
		"undecodable": true, "invalid_value": true, "constraint_violation": true}
	for _, k := range Kinds {
		if !allowed[k.Reason()] {
			t.Errorf("%s: reason %q is not in dead_letters' CHECK set", k, k.Reason())
		}
	}
	if Kind("nope").Reason() != "" {
		t.Error("an unknown kind has a reason")
	}
	if _, err := Record("nope", "t", IDs{}, 0); err == nil {
		t.Error("Record accepted an unknown kind")
	}
}

func TestValidIsAccepted(t *testing.T) {
	ids := IDs{Transaction: 7, Other: 8}
	var h sr.ConfluentHeader
	b, _ := h.AppendEncode(nil, ids.Transaction, []int{0})
	payload, err := proto.Marshal(Valid(1))
	if err != nil {
		t.Fatal(err)
	}
	if got := classify(append(b, payload...), ids); got != "ok" {
		t.Fatalf("the valid base record classified %q", got)
	}
	if a, b := Valid(1).GetTransactionId(), Valid(1).GetTransactionId(); a == b {
		t.Fatal("two Valid records share a transaction id")
	}
}

func TestTruncatedPayloadDoesNotParse(t *testing.T) {
	ids := IDs{Transaction: 3}
	r, _ := Record(Truncated, "t", ids, 0)
	var h sr.ConfluentHeader
	_, rest, _ := h.DecodeID(r.Value)
	_, payload, _ := h.DecodeIndex(rest, 1)
	var tx finflowv1.Transaction
	if err := proto.Unmarshal(payload, &tx); err == nil {
		t.Fatal("truncated payload parsed")
	} else if errors.Is(err, sr.ErrBadHeader) {
		t.Fatalf("unexpected header error: %v", err)
	}
}
