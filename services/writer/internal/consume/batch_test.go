package consume

import (
	"context"
	"log/slog"
	"slices"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/sr"
	"github.com/twmb/franz-go/pkg/sr/srfake"

	"github.com/finflow/finflow/services/writer/internal/decode"
	"github.com/finflow/finflow/services/writer/internal/fixture"
	"github.com/finflow/finflow/services/writer/internal/metrics"
	"github.com/finflow/finflow/services/writer/internal/sink"
)

func TestAccumulatorBounds(t *testing.T) {
	p := Policy{MaxRecords: 3, MaxBytes: 1000, MaxWait: 50 * time.Millisecond}
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	rec := func(n int) *kgo.Record { return &kgo.Record{Value: make([]byte, n)} }

	a := newAccumulator(p, 2) // room for two transactions' worth
	if !a.empty() || a.full() || a.room() != 6 {
		t.Fatalf("new: empty %v full %v room %d", a.empty(), a.full(), a.room())
	}
	a.add(rec(10), t0)
	a.add(rec(10), t0.Add(30*time.Millisecond))
	if got := a.due(); !got.Equal(t0.Add(50 * time.Millisecond)) {
		t.Errorf("due %v: the wait counts from the first record", got)
	}
	for range 4 {
		a.add(rec(10), t0)
	}
	if !a.full() || a.room() != 0 {
		t.Errorf("6 records: full %v room %d, want full", a.full(), a.room())
	}
	a.reset()
	if !a.empty() || a.full() || a.bytes != 0 {
		t.Fatal("reset did not empty the accumulator")
	}
	a.add(&kgo.Record{Key: make([]byte, 500), Value: make([]byte, 1400), Headers: []kgo.RecordHeader{{Key: "k", Value: make([]byte, 99)}}}, t0)
	if !a.full() || a.bytes != 2000 {
		t.Errorf("2000 bytes: full %v bytes %d, want full at the byte bound", a.full(), a.bytes)
	}
}

func TestPolicyValidation(t *testing.T) {
	var p Policy
	p.setDefaults()
	if p != (Policy{MaxRecords: 10000, MaxBytes: 16 << 20, MaxWait: 50 * time.Millisecond}) {
		t.Fatalf("defaults %+v", p)
	}
	for _, bad := range []Policy{
		{MaxRecords: 0, MaxBytes: 1 << 20, MaxWait: time.Second},
		{MaxRecords: 10, MaxBytes: 10, MaxWait: time.Second},
		{MaxRecords: 10, MaxBytes: 1 << 20, MaxWait: 0},
		{MaxRecords: 10, MaxBytes: 1 << 20, MaxWait: time.Hour},
	} {
		if bad.validate() == nil {
			t.Errorf("%+v accepted", bad)
		}
	}
}

// Partitions are spread over lanes by size, each lane's records are cut
// into even chunks within the policy, every record lands in exactly one
// chunk, and each chunk's checkpoints end at its last offset per partition.
func TestBuildSplitsIntoLanesAndChunks(t *testing.T) {
	reg := srfake.New()
	defer reg.Close()
	cl, err := sr.NewClient(sr.URLs(reg.URL()))
	if err != nil {
		t.Fatal(err)
	}
	_, id, err := fixture.Register(context.Background(), cl, "transactions")
	if err != nil {
		t.Fatal(err)
	}
	m := metrics.New(prometheus.NewRegistry())
	c := &Consumer{
		cfg:    Config{Topic: "transactions", Parallelism: 2, Policy: Policy{MaxRecords: 1000, MaxBytes: 1 << 20, MaxWait: time.Second}, Logger: slog.Default()},
		dec:    decode.New(cl),
		m:      m,
		parts:  newPartitions("transactions", m),
		first:  map[int32]int64{},
		count:  map[int32]int{},
		last:   map[int32]*kgo.Record{},
		byPart: map[int32][]*kgo.Record{},
	}
	c.acc = newAccumulator(c.cfg.Policy, c.cfg.Parallelism)
	sizes := map[int32]int{0: 1500, 1: 300, 2: 300, 3: 10}
	for p := range sizes {
		c.parts.assign(p, sink.Stored{}, false, time.Now())
	}
	c.parts.assign(9, sink.Stored{}, false, time.Now()) // owned, no records
	// Interleaved as fetches deliver them; one record is poison.
	i := 0
	for round := 0; round < 1500; round++ {
		for p := int32(0); p < 4; p++ {
			if round >= sizes[p] {
				continue
			}
			v := fixture.Frame(id, fixture.Transaction(i))
			if p == 2 && round == 7 {
				v = []byte("poison")
			}
			r := &kgo.Record{Topic: "transactions", Partition: p, Offset: int64(100 + round), Value: v}
			if _, ok := c.first[p]; !ok {
				c.first[p] = r.Offset
			}
			c.count[p]++
			c.acc.add(r, time.Now())
			i++
		}
	}
	lanes, err := c.build(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if len(lanes) != 2 || !slices.Equal(lanes[0].parts, []int32{0}) || !slices.Equal(lanes[1].parts, []int32{1, 2, 3}) {
		t.Fatalf("lanes %v / %v, want [0] and [1 2 3]", lanes[0].parts, lanes[1].parts)
	}
	if n := len(lanes[0].chunks); n != 2 || lanes[0].chunks[0].records != 750 || lanes[0].chunks[1].records != 750 {
		t.Errorf("lane 0: %d chunks, want two of 750 records", n)
	}
	seen := map[int32]map[int64]bool{}
	for _, l := range lanes {
		for _, ch := range l.chunks {
			if ch.records > 1000 {
				t.Errorf("chunk of %d records", ch.records)
			}
			last := map[int32]int64{}
			note := func(s sink.Source) {
				if seen[s.Partition] == nil {
					seen[s.Partition] = map[int64]bool{}
				}
				if seen[s.Partition][s.Offset] {
					t.Errorf("%d/%d in two chunks", s.Partition, s.Offset)
				}
				seen[s.Partition][s.Offset] = true
				last[s.Partition] = max(last[s.Partition], s.Offset)
			}
			for _, r := range ch.batch.Rows {
				note(r.Src)
			}
			for _, d := range ch.batch.DeadLetters {
				note(d.Src)
			}
			if len(ch.batch.Checkpoints) != len(last) {
				t.Errorf("chunk has %d checkpoints for %d partitions", len(ch.batch.Checkpoints), len(last))
			}
			for _, cp := range ch.batch.Checkpoints {
				if cp.Next != last[cp.Partition]+1 {
					t.Errorf("checkpoint %+v, want next %d", cp, last[cp.Partition]+1)
				}
			}
		}
	}
	for p, n := range sizes {
		if len(seen[p]) != n {
			t.Errorf("partition %d: %d records in chunks, want %d", p, len(seen[p]), n)
		}
	}
}
