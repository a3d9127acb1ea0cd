package stack_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/sr"

	contract "github.com/finflow/finflow/proto"
	"github.com/finflow/finflow/services/devstack/stack"
)

func start(t *testing.T, cfg stack.Config) *stack.Stack {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	st, err := stack.Start(ctx, cfg)
	if err != nil {
		t.Fatalf("start: %v", err)
	}
	t.Cleanup(func() {
		if err := st.Close(); err != nil {
			t.Errorf("close: %v", err)
		}
	})
	return st
}

func TestProduceConsumeOverTCP(t *testing.T) {
	st := start(t, stack.Config{})
	if !strings.HasPrefix(st.KafkaAddr(), "127.0.0.1:") {
		t.Fatalf("kafka addr %q is not on 127.0.0.1", st.KafkaAddr())
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	// Created without a partition count: the stack's default of 6 applies.
	admCl, err := kgo.NewClient(kgo.SeedBrokers(st.KafkaAddr()))
	if err != nil {
		t.Fatal(err)
	}
	defer admCl.Close()
	adm := kadm.NewClient(admCl)
	ct, err := adm.CreateTopic(ctx, -1, -1, nil, "payments")
	if err != nil {
		t.Fatalf("create topic: %v", err)
	}
	if ct.NumPartitions != 6 {
		t.Fatalf("payments created with %d partitions, want the default 6", ct.NumPartitions)
	}
	details, err := adm.ListTopics(ctx, "payments")
	if err != nil {
		t.Fatal(err)
	}
	if d := details["payments"]; d.Err != nil || len(d.Partitions) != 6 {
		t.Fatalf("metadata: payments has %d partitions (err %v), want 6", len(d.Partitions), d.Err)
	}

	// A consumer made after the topic exists: kgo caches metadata, and a
	// client that looked before would still believe the topic missing.
	cl, err := kgo.NewClient(kgo.SeedBrokers(st.KafkaAddr()), kgo.ConsumeTopics("payments"),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()

	const n = 50
	for i := range n {
		r := &kgo.Record{Topic: "payments", Key: []byte(strconv.Itoa(i % 7)), Value: []byte(fmt.Sprintf("v%d", i))}
		if err := cl.ProduceSync(ctx, r).FirstErr(); err != nil {
			t.Fatalf("produce %d: %v", i, err)
		}
	}
	got := map[string]bool{}
	for len(got) < n {
		fs := cl.PollFetches(ctx)
		if err := fs.Err0(); err != nil {
			t.Fatalf("poll after %d records: %v", len(got), err)
		}
		fs.EachRecord(func(r *kgo.Record) { got[string(r.Value)] = true })
	}
	for i := range n {
		if !got[fmt.Sprintf("v%d", i)] {
			t.Errorf("record v%d not consumed", i)
		}
	}
}

func TestRegistryOverHTTP(t *testing.T) {
	st := start(t, stack.Config{})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	rcl, err := sr.NewClient(sr.URLs(st.RegistryURL()))
	if err != nil {
		t.Fatal(err)
	}
	created, err := rcl.CreateSchema(ctx, "transactions-value", sr.Schema{Schema: contract.TransactionProto, Type: sr.TypeProtobuf})
	if err != nil {
		t.Fatalf("register: %v", err)
	}
	if created.ID < 1 {
		t.Fatalf("schema id %d", created.ID)
	}
	got, err := rcl.SchemaByID(ctx, created.ID)
	if err != nil {
		t.Fatalf("fetch by id: %v", err)
	}
	if got.Type != sr.TypeProtobuf || got.Schema != contract.TransactionProto {
		t.Fatalf("fetched schema type %v differs from the registered one", got.Type)
	}
	// Registering the same schema again is idempotent: same id.
	again, err := rcl.CreateSchema(ctx, "transactions-value", sr.Schema{Schema: contract.TransactionProto, Type: sr.TypeProtobuf})
	if err != nil {
		t.Fatal(err)
	}
	if again.ID != created.ID || again.Version != created.Version {
		t.Fatalf("re-registration gave id %d version %d, want %d %d", again.ID, again.Version, created.ID, created.Version)
	}
}

func TestPortInUse(t *testing.T) {
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	port := busy.Addr().(*net.TCPAddr).Port

	for _, tc := range []struct {
		name    string
		cfg     stack.Config
		setting string
	}{
		{"kafka", stack.Config{KafkaPort: port}, "kafka-port"},
		{"registry", stack.Config{RegistryPort: port}, "registry-port"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			st, err := stack.Start(context.Background(), tc.cfg)
			if err == nil {
				st.Close()
				t.Fatal("started on a port in use")
			}
			var pe *stack.PortInUseError
			if !errors.As(err, &pe) {
				t.Fatalf("error %v (%T) is not a PortInUseError", err, err)
			}
			if pe.Port != port || pe.Setting != tc.setting || pe.Service != tc.name {
				t.Fatalf("PortInUseError %+v, want port %d setting %s", pe, port, tc.setting)
			}
			msg := err.Error()
			for _, want := range []string{strconv.Itoa(port), "--" + tc.setting, strings.ToUpper(strings.ReplaceAll(tc.setting, "-", "_"))} {
				if !strings.Contains(msg, want) {
					t.Errorf("message %q does not mention %q", msg, want)
				}
			}
		})
	}
}

// After a failed start the other port must be free again, or a retry on a
// different port for the busy service would fail on the one that was fine.
func TestPortInUseReleasesTheOtherPort(t *testing.T) {
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	free := freePort(t)
	if _, err := stack.Start(context.Background(), stack.Config{KafkaPort: free, RegistryPort: busy.Addr().(*net.TCPAddr).Port}); err == nil {
		t.Fatal("started on a port in use")
	}
	ln, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(free)))
	if err != nil {
		t.Fatalf("kafka port %d still held after the failed start: %v", free, err)
	}
	ln.Close()
}

func TestFixedPorts(t *testing.T) {
	kp, rp := freePort(t), freePort(t)
	for kp == rp {
		rp = freePort(t)
	}
	st := start(t, stack.Config{KafkaPort: kp, RegistryPort: rp})
	if want := "127.0.0.1:" + strconv.Itoa(kp); st.KafkaAddr() != want {
		t.Errorf("kafka %s, want %s", st.KafkaAddr(), want)
	}
	if want := "http://127.0.0.1:" + strconv.Itoa(rp); st.RegistryURL() != want {
		t.Errorf("registry %s, want %s", st.RegistryURL(), want)
	}
}

func TestBadConfig(t *testing.T) {
	for _, cfg := range []stack.Config{
		{KafkaPort: -1},
		{RegistryPort: 70000},
		{KafkaPort: 9999, RegistryPort: 9999},
		{Partitions: -2},
	} {
		if st, err := stack.Start(context.Background(), cfg); err == nil {
			st.Close()
			t.Errorf("Start(%+v) accepted a bad config", cfg)
		}
	}
}

func TestPersistenceRoundTrip(t *testing.T) {
	dir := t.TempDir()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()

	st1, err := stack.Start(ctx, stack.Config{DataDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	rcl1, err := sr.NewClient(sr.URLs(st1.RegistryURL()))
	if err != nil {
		t.Fatal(err)
	}
	other := `syntax = "proto3"; package x.v1; message Other { string a = 1; }`
	first, err := rcl1.CreateSchema(ctx, "other-value", sr.Schema{Schema: other, Type: sr.TypeProtobuf})
	if err != nil {
		t.Fatal(err)
	}
	txn, err := rcl1.CreateSchema(ctx, "transactions-value", sr.Schema{Schema: contract.TransactionProto, Type: sr.TypeProtobuf})
	if err != nil {
		t.Fatal(err)
	}
	// The same schema under a second subject shares its id.
	shared, err := rcl1.CreateSchema(ctx, "mirror-value", sr.Schema{Schema: contract.TransactionProto, Type: sr.TypeProtobuf})
	if err != nil {
		t.Fatal(err)
	}
	if shared.ID != txn.ID {
		t.Fatalf("shared schema id %d, want %d", shared.ID, txn.ID)
	}
	if err := rcl1.DeleteSchema(ctx, "other-value", first.Version, sr.SoftDelete); err != nil {
		t.Fatal(err)
	}

	kcl, err := kgo.NewClient(kgo.SeedBrokers(st1.KafkaAddr()), kgo.DefaultProduceTopic("transactions"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := kadm.NewClient(kcl).CreateTopic(ctx, 3, -1, nil, "transactions"); err != nil {
		t.Fatal(err)
	}
	for i := range 10 {
		if err := kcl.ProduceSync(ctx, &kgo.Record{Value: []byte(strconv.Itoa(i))}).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}
	kcl.Close()
	if err := st1.Close(); err != nil {
		t.Fatal(err)
	}

	// Restart on the same directory.
	st2 := start(t, stack.Config{DataDir: dir})
	rcl2, err := sr.NewClient(sr.URLs(st2.RegistryURL()))
	if err != nil {
		t.Fatal(err)
	}
	got, err := rcl2.SchemaByVersion(ctx, "transactions-value", txn.Version)
	if err != nil {
		t.Fatalf("after restart: %v", err)
	}
	if got.ID != txn.ID || got.Schema.Schema != contract.TransactionProto {
		t.Fatalf("after restart transactions-value v%d has id %d, want %d", txn.Version, got.ID, txn.ID)
	}
	if m, err := rcl2.SchemaByVersion(ctx, "mirror-value", shared.Version); err != nil || m.ID != txn.ID {
		t.Fatalf("after restart mirror-value: id %d err %v, want id %d", m.ID, err, txn.ID)
	}
	if _, err := rcl2.SchemaByVersion(ctx, "other-value", first.Version); err == nil {
		t.Fatal("soft-deleted other-value came back live after restart")
	}
	if _, err := rcl2.SchemaByVersion(sr.WithParams(ctx, sr.ShowDeleted), "other-value", first.Version); err != nil {
		t.Fatalf("soft-deleted other-value lost after restart: %v", err)
	}
	// New registrations continue after the highest id, never reusing one.
	next, err := rcl2.CreateSchema(ctx, "new-value", sr.Schema{Schema: `syntax = "proto3"; package y.v1; message New { int64 b = 1; }`, Type: sr.TypeProtobuf})
	if err != nil {
		t.Fatal(err)
	}
	if next.ID <= txn.ID || next.ID <= first.ID {
		t.Fatalf("new schema got id %d, reusing one of %d, %d", next.ID, first.ID, txn.ID)
	}

	// And the records are still there.
	kcl2, err := kgo.NewClient(kgo.SeedBrokers(st2.KafkaAddr()), kgo.ConsumeTopics("transactions"),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	if err != nil {
		t.Fatal(err)
	}
	defer kcl2.Close()
	n := 0
	for n < 10 {
		fs := kcl2.PollFetches(ctx)
		if err := fs.Err0(); err != nil {
			t.Fatalf("consume after restart, %d of 10 records: %v", n, err)
		}
		n += fs.NumRecords()
	}
}

func freePort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}
