package encoding

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/sr"
	"github.com/twmb/franz-go/pkg/sr/srfake"
	"google.golang.org/protobuf/proto"

	finflowv1 "github.com/finflow/finflow/gen/finflow/v1"
	"github.com/finflow/finflow/services/producer/generator"
)

func registry(t testing.TB) (*srfake.Registry, *sr.Client) {
	t.Helper()
	reg := srfake.New()
	t.Cleanup(reg.Close)
	cl, err := sr.NewClient(sr.URLs(reg.URL()))
	if err != nil {
		t.Fatal(err)
	}
	return reg, cl
}

func ctx(t testing.TB) context.Context {
	c, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	t.Cleanup(cancel)
	return c
}

func TestRegisterCreatesOnceAndSetsCompatibility(t *testing.T) {
	_, cl := registry(t)
	subject := Subject("transactions")
	if subject != "transactions-value" {
		t.Fatalf("subject %q", subject)
	}
	first, err := Register(ctx(t), cl, subject, RegisterOptions{Create: true, Compatibility: "backward"})
	if err != nil {
		t.Fatal(err)
	}
	if first.ID <= 0 || first.Subject != subject || first.Type != sr.TypeProtobuf || first.Schema.Schema != Schema().Schema {
		t.Fatalf("registered %+v", first)
	}
	again, err := Register(ctx(t), cl, subject, RegisterOptions{Create: true, Compatibility: "BACKWARD"})
	if err != nil || again.ID != first.ID || again.Version != first.Version {
		t.Fatalf("re-registering gave %+v, %v; want the same id and version as %+v", again, err, first)
	}
	compat := cl.Compatibility(ctx(t), subject)
	if compat[0].Err != nil || compat[0].Level != sr.CompatBackward {
		t.Fatalf("subject compatibility %+v, want BACKWARD", compat[0])
	}
	// Looking up (no --register-schema) finds the same id.
	looked, err := Register(ctx(t), cl, subject, RegisterOptions{})
	if err != nil || looked.ID != first.ID {
		t.Fatalf("lookup gave %+v, %v; want id %d", looked, err, first.ID)
	}
}

func TestRegisterLeavesCompatibilityAloneWhenEmpty(t *testing.T) {
	reg, cl := registry(t)
	if err := reg.SetCompat("t-value", sr.CompatFull); err != nil {
		t.Fatal(err)
	}
	if _, err := Register(ctx(t), cl, "t-value", RegisterOptions{Create: true}); err != nil {
		t.Fatal(err)
	}
	if got := cl.Compatibility(ctx(t), "t-value")[0]; got.Level != sr.CompatFull {
		t.Fatalf("compatibility changed to %v", got.Level)
	}
}

func TestLookupFailsClearlyWhenNotRegistered(t *testing.T) {
	reg, cl := registry(t)
	_, err := Register(ctx(t), cl, "transactions-value", RegisterOptions{})
	if !errors.Is(err, ErrNotRegistered) || !strings.Contains(err.Error(), "--register-schema") {
		t.Fatalf("empty registry: %v; want ErrNotRegistered naming --register-schema", err)
	}
	// A different schema under the subject is not "ours" either.
	reg.SeedSchema("transactions-value", 1, 1, sr.Schema{Schema: `syntax = "proto3"; message Other {}`, Type: sr.TypeProtobuf})
	if _, err := Register(ctx(t), cl, "transactions-value", RegisterOptions{}); !errors.Is(err, ErrNotRegistered) {
		t.Fatalf("other schema registered: %v; want ErrNotRegistered", err)
	}
	if subjects, _ := cl.Subjects(ctx(t)); len(subjects) != 1 {
		t.Fatalf("lookup changed the registry: subjects %v", subjects)
	}
}

func TestIncompatibleSchemaIsRefusedWithTheRegistrysMessage(t *testing.T) {
	reg, cl := registry(t)
	const msg = "Schema being registered is incompatible with an earlier schema for subject \"transactions-value\""
	reg.Intercept(func(w http.ResponseWriter, r *http.Request) bool {
		if r.Method != http.MethodPost || !strings.HasSuffix(r.URL.Path, "/versions") {
			return false
		}
		w.Header().Set("Content-Type", "application/vnd.schemaregistry.v1+json")
		w.WriteHeader(http.StatusConflict)
		_ = json.NewEncoder(w).Encode(map[string]any{"error_code": 409, "message": msg})
		return true
	})
	_, err := Register(ctx(t), cl, "transactions-value", RegisterOptions{Create: true, Compatibility: "BACKWARD"})
	if !errors.Is(err, ErrIncompatible) || !strings.Contains(err.Error(), msg) {
		t.Fatalf("got %v; want ErrIncompatible carrying the registry's message", err)
	}
}

func TestParseCompatibility(t *testing.T) {
	for _, ok := range []string{"", "BACKWARD", "full_transitive", "NONE"} {
		if _, err := ParseCompatibility(ok); err != nil {
			t.Errorf("%q: %v", ok, err)
		}
	}
	if _, err := ParseCompatibility("SIDEWAYS"); err == nil {
		t.Error("SIDEWAYS accepted")
	}
	_, cl := registry(t)
	if _, err := Register(ctx(t), cl, "x-value", RegisterOptions{Create: true, Compatibility: "SIDEWAYS"}); err == nil {
		t.Error("Register accepted compatibility SIDEWAYS")
	}
}

func TestFramingRoundTrip(t *testing.T) {
	reg, cl := registry(t)
	// A multi-byte id shows the byte order: 70,000 = 0x00011170.
	const id = 70_000
	reg.SeedSchema("transactions-value", 1, id, Schema())
	ss, err := Register(ctx(t), cl, "transactions-value", RegisterOptions{})
	if err != nil || ss.ID != id {
		t.Fatalf("lookup %+v, %v", ss, err)
	}
	enc := NewEncoder(ss.ID)

	g, err := generator.New(generator.Config{Seed: 1, Users: 100})
	if err != nil {
		t.Fatal(err)
	}
	var tx, back finflowv1.Transaction
	var buf []byte
	for range 1_000 {
		g.Next(&tx)
		buf, err = enc.AppendEncode(buf[:0], &tx)
		if err != nil {
			t.Fatal(err)
		}
		if buf[0] != 0 || binary.BigEndian.Uint32(buf[1:5]) != id || buf[5] != 0 {
			t.Fatalf("header % x, want 00 %08x 00", buf[:6], id)
		}
		plain, _ := proto.Marshal(&tx)
		if string(buf[6:]) != string(plain) {
			t.Fatal("payload after the header is not the protobuf encoding")
		}
		if err := enc.Decode(buf, &back); err != nil {
			t.Fatal(err)
		}
		if !proto.Equal(&tx, &back) {
			t.Fatalf("round trip changed the transaction:\n%v\n%v", &tx, &back)
		}
		// An independent Serde, as a consumer would build it, reads it too.
		var s sr.Serde
		s.Register(id, &finflowv1.Transaction{}, sr.DecodeFn(func(b []byte, v any) error {
			return proto.Unmarshal(b, v.(*finflowv1.Transaction))
		}), sr.Index(0))
		if err := s.Decode(buf, &back); err != nil || !proto.Equal(&tx, &back) {
			t.Fatalf("independent decode: %v", err)
		}
	}
	if err := NewEncoder(id+1).Decode(buf, &back); err == nil {
		t.Fatal("decoding a value of another schema id succeeded")
	}
	if allocs := testing.AllocsPerRun(1_000, func() { buf, _ = enc.AppendEncode(buf[:0], &tx) }); allocs > 0 {
		t.Fatalf("AppendEncode into a large enough buffer allocates %.1f times", allocs)
	}
}

// BenchmarkGenerateEncode is the producer's per-event CPU work: generate a
// transaction and frame it (run with -cpu 1 -benchmem).
func BenchmarkGenerateEncode(b *testing.B) {
	g, err := generator.New(generator.Config{Seed: 1})
	if err != nil {
		b.Fatal(err)
	}
	enc := NewEncoder(1)
	var tx finflowv1.Transaction
	buf := make([]byte, 0, 512)
	var bytes int64
	b.ReportAllocs()
	start := time.Now()
	for b.Loop() {
		g.Next(&tx)
		buf, err = enc.AppendEncode(buf[:0], &tx)
		if err != nil {
			b.Fatal(err)
		}
		bytes += int64(len(buf))
	}
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "events/s")
	b.ReportMetric(float64(bytes)/float64(b.N), "B/event")
}
