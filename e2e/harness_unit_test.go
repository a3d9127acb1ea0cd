//go:build e2e

package e2e

import (
	"strings"
	"testing"
	"time"

	contract "github.com/finflow/finflow/proto"
)

func TestParseTotals(t *testing.T) {
	got, err := parseTotals("totals produced=300000 failed=2 bytes=61234567 elapsed=12.5s\n")
	if err != nil {
		t.Fatal(err)
	}
	if got != (totals{produced: 300000, failed: 2, bytes: 61234567, elapsed: 12500 * time.Millisecond}) {
		t.Fatalf("parsed %+v", got)
	}
	for _, bad := range []string{"", "produced=1 failed=0 bytes=1 elapsed=1s", "totals produced=1 failed=0 bytes=1 elapsed=soon"} {
		if _, err := parseTotals(bad); err == nil {
			t.Errorf("parseTotals(%q) accepted", bad)
		}
	}
}

func TestAddFieldUsesTheNextNumberInsideTransaction(t *testing.T) {
	out, err := addField(contract.TransactionProto)
	if err != nil {
		t.Fatal(err)
	}
	i := strings.Index(out, "string e2e_note = ")
	if i < 0 {
		t.Fatal("no field added")
	}
	if next := strings.Index(out[i:], "\n}\n"); next < 0 || strings.Contains(out[i:i+next], "enum ") {
		t.Fatal("field added outside message Transaction")
	}
	// The new number is one past the largest in the message, so never reused.
	for _, m := range fieldNumRE.FindAllStringSubmatch(contract.TransactionProto[:strings.Index(contract.TransactionProto, "enum ")], -1) {
		if strings.Contains(out[i:i+30], "= "+m[1]+";") {
			t.Fatalf("reused field number %s", m[1])
		}
	}
	if _, err := addField("syntax = \"proto3\";"); err == nil {
		t.Fatal("addField accepted a file without message Transaction")
	}
}
