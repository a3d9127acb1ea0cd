package contract_test

import (
	"os"
	"regexp"
	"strconv"
	"testing"

	"google.golang.org/protobuf/reflect/protoreflect"

	finflowv1 "github.com/finflow/finflow/gen/finflow/v1"
	contract "github.com/finflow/finflow/proto"
)

// The text registered in the schema registry and the generated Go types must
// describe the same message: same file, same fields, numbers and kinds.
func TestEmbeddedTextMatchesGeneratedDescriptor(t *testing.T) {
	onDisk, err := os.ReadFile(contract.TransactionFile)
	if err != nil {
		t.Fatal(err)
	}
	if string(onDisk) != contract.TransactionProto {
		t.Fatal("embedded TransactionProto differs from the file on disk")
	}

	fd := finflowv1.File_finflow_v1_transaction_proto
	if fd.Path() != contract.TransactionFile {
		t.Fatalf("generated from %q, want %q", fd.Path(), contract.TransactionFile)
	}
	md := fd.Messages().Get(0)
	if string(md.FullName()) != contract.TransactionMessage {
		t.Fatalf("first message is %s, want %s (the wire format's message index [0])", md.FullName(), contract.TransactionMessage)
	}

	// Every field declared in the text: "<type> <name> = <number>;".
	decl := regexp.MustCompile(`(?m)^\s+([\w.]+)\s+(\w+)\s*=\s*(\d+);`)
	inText := map[string]string{}
	for _, m := range decl.FindAllStringSubmatch(contract.TransactionProto, -1) {
		inText[m[2]] = m[3]
	}
	fields := md.Fields()
	if fields.Len() == 0 {
		t.Fatal("generated message has no fields")
	}
	for i := 0; i < fields.Len(); i++ {
		f := fields.Get(i)
		num, ok := inText[string(f.Name())]
		if !ok {
			t.Errorf("field %s is generated but not in the embedded text", f.Name())
			continue
		}
		if want := protoreflect.FieldNumber(mustAtoi(t, num)); f.Number() != want {
			t.Errorf("field %s: generated number %d, text says %d", f.Name(), f.Number(), want)
		}
	}
}

func mustAtoi(t *testing.T, s string) int {
	n, err := strconv.Atoi(s)
	if err != nil {
		t.Fatal(err)
	}
	return n
}
