package publish

import (
	"context"
	"errors"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
	"google.golang.org/protobuf/proto"

	finflowv1 "github.com/finflow/finflow/gen/finflow/v1"
	"github.com/finflow/finflow/services/producer/encoding"
	"github.com/finflow/finflow/services/producer/generator"
)

const topic = "transactions"

// txSource is what the producer binary publishes: generated transactions,
// framed for schema id 1.
type txSource struct {
	g   *generator.Generator
	enc *encoding.Encoder
	tx  finflowv1.Transaction
}

func newSource(t testing.TB, seed uint64) *txSource {
	t.Helper()
	// A fixed clock, so the same seed regenerates identical records.
	at := time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)
	g, err := generator.New(generator.Config{Seed: seed, Users: 1_000, Clock: func() time.Time { return at }})
	if err != nil {
		t.Fatal(err)
	}
	return &txSource{g: g, enc: encoding.NewEncoder(1)}
}

func (s *txSource) Next(buf []byte) ([]byte, []byte, error) {
	key := s.g.Next(&s.tx)
	v, err := s.enc.AppendEncode(buf, &s.tx)
	return key, v, err
}

func cluster(t testing.TB, opts ...kfake.Opt) *kfake.Cluster {
	t.Helper()
	c, err := kfake.NewCluster(append([]kfake.Opt{kfake.NumBrokers(1)}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return c
}

func newPublisher(t testing.TB, cfg Config) *Publisher {
	t.Helper()
	p, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(p.Close)
	return p
}

func timeout(t testing.TB, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

// consumeAll reads the whole topic back.
func consumeAll(t *testing.T, brokers []string, want int) []*kgo.Record {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...), kgo.ConsumeTopics(topic),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ctx := timeout(t, 20*time.Second)
	var out []*kgo.Record
	for len(out) < want {
		fs := cl.PollFetches(ctx)
		if err := ctx.Err(); err != nil {
			t.Fatalf("consumed %d of %d records: %v", len(out), want, err)
		}
		fs.EachError(func(_ string, _ int32, err error) { t.Fatalf("fetch: %v", err) })
		out = append(out, fs.Records()...)
	}
	// Nothing beyond what was expected: the end offsets sum to want.
	ends, err := kadm.NewClient(cl).ListEndOffsets(ctx, topic)
	if err != nil {
		t.Fatal(err)
	}
	var total int64
	ends.Each(func(o kadm.ListedOffset) { total += o.Offset })
	if total != int64(want) {
		t.Fatalf("topic holds %d records, want %d", total, want)
	}
	return out
}

func TestProduceAndConsumeBack(t *testing.T) {
	for _, compression := range []string{"zstd", "lz4", "snappy", "gzip", "none"} {
		t.Run(compression, func(t *testing.T) {
			const n = 3_000
			c := cluster(t)
			reg := prometheus.NewRegistry()
			p := newPublisher(t, Config{
				Brokers: c.ListenAddrs(), Topic: topic, Compression: compression,
				Count: n, Registry: reg,
			})
			if err := p.Connect(timeout(t, 10*time.Second)); err != nil {
				t.Fatal(err)
			}
			if err := p.Ready(timeout(t, 5*time.Second)); err != nil {
				t.Fatalf("ready after connect: %v", err)
			}
			totals, err := p.Run(timeout(t, 30*time.Second), newSource(t, 1))
			if err != nil {
				t.Fatal(err)
			}
			if totals.Produced != n || totals.Failed != 0 {
				t.Fatalf("totals %v, want produced=%d failed=0", totals, n)
			}

			// The same seed regenerates exactly what must be in the topic.
			want := map[string]*finflowv1.Transaction{}
			ref := newSource(t, 1)
			var wantBytes int64
			for range n {
				key, v, _ := ref.Next(nil)
				want[ref.tx.TransactionId] = proto.Clone(&ref.tx).(*finflowv1.Transaction)
				wantBytes += int64(len(key) + len(v))
			}
			if totals.Bytes != wantBytes {
				t.Fatalf("totals bytes %d, want %d", totals.Bytes, wantBytes)
			}
			recs := consumeAll(t, c.ListenAddrs(), n)
			partitionOf := map[string]int32{}
			for _, r := range recs {
				var tx finflowv1.Transaction
				if err := ref.enc.Decode(r.Value, &tx); err != nil {
					t.Fatal(err)
				}
				w, ok := want[tx.TransactionId]
				if !ok || !proto.Equal(w, &tx) {
					t.Fatalf("record %s is not one that was generated", tx.TransactionId)
				}
				delete(want, tx.TransactionId)
				if string(r.Key) != tx.AccountId {
					t.Fatalf("key %q, want account id %q", r.Key, tx.AccountId)
				}
				if p, ok := partitionOf[tx.AccountId]; ok && p != r.Partition {
					t.Fatalf("account %s in partitions %d and %d", tx.AccountId, p, r.Partition)
				}
				partitionOf[tx.AccountId] = r.Partition
			}
			if len(want) != 0 {
				t.Fatalf("%d generated records missing", len(want))
			}

			// The topic was created with the default 6 partitions.
			td, err := p.adm.ListTopics(timeout(t, 5*time.Second), topic)
			if err != nil || len(td[topic].Partitions) != 6 {
				t.Fatalf("topic %+v, %v; want 6 partitions", td[topic], err)
			}
			checkMetrics(t, reg, n, totals.Bytes)
		})
	}
}

func checkMetrics(t *testing.T, reg *prometheus.Registry, n int, bytes int64) {
	t.Helper()
	for name, want := range map[string]float64{
		"finflow_producer_records_total": float64(n),
		"finflow_producer_bytes_total":   float64(bytes),
		"finflow_producer_errors_total":  0,
	} {
		mfs, err := reg.Gather()
		if err != nil {
			t.Fatal(err)
		}
		found := false
		for _, mf := range mfs {
			if mf.GetName() != name {
				continue
			}
			found = true
			m := mf.GetMetric()[0]
			if got := m.GetCounter().GetValue(); got != want || m.GetLabel()[0].GetValue() != topic {
				t.Errorf("%s{%s} = %v, want %v{topic=%q}", name, m.GetLabel()[0].GetValue(), got, want, topic)
			}
		}
		if !found {
			t.Errorf("%s not exported", name)
		}
	}
	if c, err := testutil.GatherAndCount(reg, "finflow_producer_produce_latency_seconds"); err != nil || c != 1 {
		t.Errorf("latency histogram: %d series, %v", c, err)
	}
	mfs, _ := reg.Gather()
	names := map[string]bool{}
	for _, mf := range mfs {
		names[mf.GetName()] = true
	}
	for _, want := range []string{
		"finflow_producer_buffered_records", "finflow_producer_target_rate", "finflow_producer_actual_rate",
		"finflow_kafka_connects_total", "finflow_kafka_produce_bytes_total",
	} {
		if !names[want] {
			t.Errorf("metric %s missing; have %v", want, names)
		}
	}
}

// The token bucket never runs ahead of the rate: 300 records at 500/s take
// at least (300 - burst)/500 s, and a curve scaling the rate by 0.5 doubles
// that. Only lower bounds: upper bounds would measure the machine.
func TestPacingNeverExceedsTheRate(t *testing.T) {
	c := cluster(t)
	for _, tc := range []struct {
		name      string
		intensity func(time.Time) float64
		effective float64
	}{
		{"flat", nil, 500},
		{"curve", func(time.Time) float64 { return 0.5 }, 250},
	} {
		t.Run(tc.name, func(t *testing.T) {
			const n = 300
			reg := prometheus.NewRegistry()
			p := newPublisher(t, Config{Brokers: c.ListenAddrs(), Topic: topic, Rate: 500, Count: n, Intensity: tc.intensity, Registry: reg})
			if err := p.Connect(timeout(t, 10*time.Second)); err != nil {
				t.Fatal(err)
			}
			totals, err := p.Run(timeout(t, 30*time.Second), newSource(t, 2))
			if err != nil || totals.Produced != n {
				t.Fatalf("totals %v, %v", totals, err)
			}
			minElapsed := time.Duration(float64(n-burst(tc.effective)) / tc.effective * float64(time.Second))
			if totals.Elapsed < minElapsed {
				t.Fatalf("%d records in %v at %v/s: faster than the rate allows (>= %v)", n, totals.Elapsed, tc.effective, minElapsed)
			}
			if got := testutil.ToFloat64(p.m.target); got != 500 {
				t.Fatalf("target_rate %v, want 500", got)
			}
		})
	}
}

func TestBurstIsTenMilliseconds(t *testing.T) {
	for r, want := range map[float64]int{0.5: 1, 1: 1, 100: 1, 101: 2, 1_000: 10, 200_000: 2_000} {
		if got := burst(r); got != want {
			t.Errorf("burst(%v) = %d, want %d", r, got, want)
		}
	}
}

func TestDurationStopsRun(t *testing.T) {
	c := cluster(t)
	p := newPublisher(t, Config{Brokers: c.ListenAddrs(), Topic: topic, Rate: 100, Duration: 300 * time.Millisecond})
	if err := p.Connect(timeout(t, 10*time.Second)); err != nil {
		t.Fatal(err)
	}
	totals, err := p.Run(timeout(t, 30*time.Second), newSource(t, 3))
	if err != nil || totals.Failed != 0 {
		t.Fatalf("totals %v, %v", totals, err)
	}
	// At most the bucket's one token plus 100/s for 0.3 s.
	if totals.Produced < 1 || totals.Produced > 31 {
		t.Fatalf("produced %d in a 300ms run at 100/s", totals.Produced)
	}
	consumeAll(t, c.ListenAddrs(), int(totals.Produced))
}

// Cancelling Run's context stops generation but still delivers everything
// already handed to the client.
func TestCancelDrainsBufferedRecords(t *testing.T) {
	c := cluster(t)
	p := newPublisher(t, Config{Brokers: c.ListenAddrs(), Topic: topic})
	if err := p.Connect(timeout(t, 10*time.Second)); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(300*time.Millisecond, cancel)
	totals, err := p.Run(ctx, newSource(t, 4))
	if err != nil || totals.Failed != 0 || totals.Produced == 0 {
		t.Fatalf("totals %v, %v", totals, err)
	}
	consumeAll(t, c.ListenAddrs(), int(totals.Produced))
}

// A broker that stops answering cannot hold shutdown hostage: after the
// flush timeout what is unacknowledged counts as failed.
func TestFlushTimeoutFailsWhatTheBrokerNeverAcknowledged(t *testing.T) {
	c := cluster(t)
	p := newPublisher(t, Config{Brokers: c.ListenAddrs(), Topic: topic, Count: 100, FlushTimeout: 300 * time.Millisecond})
	if err := p.Connect(timeout(t, 10*time.Second)); err != nil {
		t.Fatal(err)
	}
	c.ControlKey(int16(kmsg.Produce), func(kmsg.Request) (kmsg.Response, error, bool) {
		c.KeepControl()
		return nil, nil, true // swallow the request: no response, ever
	})
	start := time.Now()
	totals, err := p.Run(timeout(t, 60*time.Second), newSource(t, 5))
	if err != nil {
		t.Fatal(err)
	}
	if totals.Produced+totals.Failed != 100 || totals.Failed == 0 {
		t.Fatalf("totals %v: want all 100 accounted for, some failed", totals)
	}
	if took := time.Since(start); took > 15*time.Second {
		t.Fatalf("run took %v with a 300ms flush timeout", took)
	}
}

func TestExistingTopicIsKept(t *testing.T) {
	c := cluster(t, kfake.SeedTopics(3, topic))
	p := newPublisher(t, Config{Brokers: c.ListenAddrs(), Topic: topic, Partitions: 12})
	if err := p.Connect(timeout(t, 10*time.Second)); err != nil {
		t.Fatal(err)
	}
	td, err := p.adm.ListTopics(timeout(t, 5*time.Second), topic)
	if err != nil || len(td[topic].Partitions) != 3 {
		t.Fatalf("topic %+v, %v; want the existing 3 partitions", td[topic], err)
	}
}

func TestTopicCreationNotAllowed(t *testing.T) {
	c := cluster(t)
	c.ControlKey(int16(kmsg.CreateTopics), func(kreq kmsg.Request) (kmsg.Response, error, bool) {
		c.KeepControl()
		req := kreq.(*kmsg.CreateTopicsRequest)
		resp := req.ResponseKind().(*kmsg.CreateTopicsResponse)
		for _, rt := range req.Topics {
			st := kmsg.NewCreateTopicsResponseTopic()
			st.Topic = rt.Topic
			st.ErrorCode = kerr.TopicAuthorizationFailed.Code
			resp.Topics = append(resp.Topics, st)
		}
		return resp, nil, true
	})
	p := newPublisher(t, Config{Brokers: c.ListenAddrs(), Topic: topic})
	err := p.Connect(timeout(t, 20*time.Second))
	if err == nil || !strings.Contains(err.Error(), "not allowed to create") || !strings.HasPrefix(err.Error(), "KAFKA_TOPIC:") {
		t.Fatalf("got %v; want a KAFKA_TOPIC error saying creation is not allowed", err)
	}
	if p.Ready(timeout(t, time.Second)) == nil {
		t.Fatal("ready although the topic is missing")
	}
}

func TestUnreachableBrokerFailsWithinTheTimeout(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close() // nothing listens there now: connection refused

	p := newPublisher(t, Config{Brokers: []string{addr}, Topic: topic, ConnectTimeout: time.Second})
	start := time.Now()
	err = p.Connect(context.Background())
	if err == nil || !strings.HasPrefix(err.Error(), "KAFKA_BROKERS:") || !strings.Contains(err.Error(), "refused") {
		t.Fatalf("got %v; want a KAFKA_BROKERS error saying the connection was refused", err)
	}
	if took := time.Since(start); took > 5*time.Second {
		t.Fatalf("took %v with a 1s connect timeout", took)
	}
}

func TestConfigErrorsNameTheSetting(t *testing.T) {
	base := Config{Brokers: []string{"127.0.0.1:9092"}, Topic: topic}
	for want, mutate := range map[string]func(*Config){
		"RATE:":               func(c *Config) { c.Rate = -1 },
		"COUNT:":              func(c *Config) { c.Count = -1 },
		"DURATION:":           func(c *Config) { c.Duration = -time.Second },
		"COMPRESSION:":        func(c *Config) { c.Compression = "brotli" },
		"KAFKA_BROKERS:":      func(c *Config) { c.Brokers = nil },
		"KAFKA_TOPIC:":        func(c *Config) { c.Topic = "" },
		"PARTITIONS:":         func(c *Config) { c.Partitions = -2 },
		"REPLICATION_FACTOR:": func(c *Config) { c.ReplicationFactor = -1 },
	} {
		cfg := base
		mutate(&cfg)
		_, err := New(cfg)
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: got %v", want, err)
		}
	}
	// Two publishers cannot share a registry's series silently.
	reg := prometheus.NewRegistry()
	newPublisher(t, Config{Brokers: base.Brokers, Topic: topic, Registry: reg})
	if _, err := New(Config{Brokers: base.Brokers, Topic: topic, Registry: reg}); err == nil {
		t.Error("second publisher on one registry accepted")
	}
}

func TestTotalsLine(t *testing.T) {
	got := Totals{Produced: 10, Failed: 2, Bytes: 1234, Elapsed: 1500*time.Millisecond + 400*time.Microsecond}.String()
	if want := "totals produced=10 failed=2 bytes=1234 elapsed=1.5s"; got != want {
		t.Fatalf("%q, want %q", got, want)
	}
}

var errSource = errors.New("source broke")

type failingSource struct{ n int }

func (s *failingSource) Next(buf []byte) ([]byte, []byte, error) {
	if s.n--; s.n < 0 {
		return nil, nil, errSource
	}
	return []byte("k"), append(buf, "v"...), nil
}

func TestSourceErrorStopsRunAfterDraining(t *testing.T) {
	c := cluster(t)
	p := newPublisher(t, Config{Brokers: c.ListenAddrs(), Topic: topic})
	if err := p.Connect(timeout(t, 10*time.Second)); err != nil {
		t.Fatal(err)
	}
	totals, err := p.Run(timeout(t, 30*time.Second), &failingSource{n: 50})
	if !errors.Is(err, errSource) || totals.Produced != 50 {
		t.Fatalf("totals %v, err %v; want 50 produced and the source's error", totals, err)
	}
}

// The totals line round-trips through ParseTotals, which the demo, the
// benchmarks and the e2e suite use; malformed lines are refused.
func TestParseTotals(t *testing.T) {
	want := Totals{Produced: 1_000_000, Failed: 2, Bytes: 187_654_321, Elapsed: 4500 * time.Millisecond}
	got, err := ParseTotals(want.String() + "\n")
	if err != nil || got != want {
		t.Fatalf("ParseTotals(%q) = %+v, %v; want %+v", want.String(), got, err, want)
	}
	if _, err := ParseTotals("totals produced=1 failed=0 bytes=2 elapsed=1ms rate=1000"); err != nil {
		t.Errorf("an extra field from a newer producer: %v", err)
	}
	for _, bad := range []string{"", "produced=1 failed=0 bytes=2 elapsed=1s", "totals produced=1 failed=0 bytes=2",
		"totals produced=x failed=0 bytes=2 elapsed=1s", "totals produced=1 failed=0 bytes=2 elapsed=soon", "totals produced"} {
		if _, err := ParseTotals(bad); err == nil {
			t.Errorf("ParseTotals(%q) accepted", bad)
		}
	}
}
