package sink_test

import (
	"context"
	"encoding/binary"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/finflow/finflow/services/kit/pgtest"
	"github.com/finflow/finflow/services/writer/internal/fixture"
	. "github.com/finflow/finflow/services/writer/internal/sink"
)

// BenchmarkWriteVsCopy measures the price of exactly-once: each iteration
// writes the same pre-built batch twice into the same table, once as a bare
// binary COPY (the ceiling: no transaction of our own, no checkpoint) and
// once through Sink.Write (transaction, checkpoint compare-and-set, COPY,
// commit). Interleaving them gives both the same table size, cache and
// autovacuum weather. With lanes=2 two such writes run at once on two
// connections, for two partitions, as the writer's lanes do. Reported:
// rows/s of each and sink/copy.
//
//	go test -run '^$' -bench WriteVsCopy -benchtime 30x ./internal/sink
func BenchmarkWriteVsCopy(b *testing.B) {
	for _, c := range []struct{ size, lanes int }{{1000, 1}, {10000, 1}, {50000, 1}, {10000, 2}} {
		b.Run(fmt.Sprintf("rows=%d/lanes=%d", c.size, c.lanes), func(b *testing.B) { benchWriteVsCopy(b, c.size, c.lanes) })
	}
}

func benchWriteVsCopy(b *testing.B, size, lanes int) {
	ctx := context.Background()
	cfg, err := pgxpool.ParseConfig(pgtest.New(b))
	if err != nil {
		b.Fatal(err)
	}
	cfg.MaxConns = int32(lanes)
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		b.Fatal(err)
	}
	defer pool.Close()
	s, err := New(pool, Config{Group: "bench", Topic: "transactions", Owner: "bench"})
	if err != nil {
		b.Fatal(err)
	}
	type lane struct {
		rows     []Row
		gen      int64
		next     int64
		expected int64
	}
	ls := make([]*lane, lanes)
	for l := range ls {
		ls[l] = &lane{rows: make([]Row, size), expected: NoCheckpoint}
		for i := range ls[l].rows {
			ls[l].rows[i] = fixture.Row("transactions", int32(l), int64(i), 1, i)
		}
	}
	// Every write needs fresh transaction ids and offsets; rewriting them is
	// not timed.
	renew := func() {
		for l, ln := range ls {
			ln.gen++
			for i := range ln.rows {
				binary.BigEndian.PutUint64(ln.rows[i].ID[8:], uint64(l)<<56|uint64(ln.gen)<<32|uint64(i))
				ln.rows[i].Src.Offset = ln.next + int64(i)
			}
			ln.next += int64(size)
		}
	}
	each := func(f func(l int, ln *lane) error) time.Duration {
		t0 := time.Now()
		var wg sync.WaitGroup
		errs := make([]error, lanes)
		for l, ln := range ls {
			wg.Go(func() { errs[l] = f(l, ln) })
		}
		wg.Wait()
		for _, err := range errs {
			if err != nil {
				b.Fatal(err)
			}
		}
		return time.Since(t0)
	}
	var copyTime, sinkTime time.Duration
	b.ResetTimer()
	for range b.N {
		renew()
		copyTime += each(func(_ int, ln *lane) error {
			_, err := pool.CopyFrom(ctx, pgx.Identifier{"raw_transactions"}, RowColumns, NewRowSource(ln.rows))
			return err
		})
		renew()
		sinkTime += each(func(l int, ln *lane) error {
			batch := &Batch{Rows: ln.rows, Checkpoints: []Checkpoint{{Partition: int32(l), Expected: ln.expected, Next: ln.next}}}
			_, err := s.Write(ctx, batch)
			ln.expected = ln.next
			return err
		})
	}
	b.StopTimer()
	total := float64(b.N * size * lanes)
	copyRate, sinkRate := total/copyTime.Seconds(), total/sinkTime.Seconds()
	b.ReportMetric(copyRate, "copy_rows/s")
	b.ReportMetric(sinkRate, "sink_rows/s")
	b.ReportMetric(sinkRate/copyRate, "sink/copy")
	b.ReportMetric(0, "ns/op")
}

// BenchmarkRowSource is the client side of COPY alone: rows encoded into
// the binary COPY format as pgx does it, no database involved.
func BenchmarkRowSource(b *testing.B) {
	rows := make([]Row, 10000)
	for i := range rows {
		rows[i] = fixture.Row("transactions", 0, int64(i), 1, i)
	}
	oids := []uint32{pgtype.UUIDOID, pgtype.TimestamptzOID, pgtype.TextOID, pgtype.TextOID, pgtype.TextOID,
		pgtype.TextOID, pgtype.Int4OID, pgtype.NumericOID, pgtype.BPCharOID, pgtype.TextOID, pgtype.BPCharOID,
		pgtype.TextOID, pgtype.TextOID, pgtype.TextOID, pgtype.Int4OID, pgtype.Int8OID, pgtype.Int4OID}
	m := pgtype.NewMap()
	buf := make([]byte, 0, 1<<20)
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		src := NewRowSource(rows)
		for src.Next() {
			vals, err := src.Values()
			if err != nil {
				b.Fatal(err)
			}
			buf = buf[:0]
			for i, v := range vals {
				if buf, err = m.Encode(oids[i], pgtype.BinaryFormatCode, v, buf); err != nil {
					b.Fatal(err)
				}
			}
		}
	}
	b.ReportMetric(float64(b.N*len(rows))/b.Elapsed().Seconds(), "rows/s")
}
