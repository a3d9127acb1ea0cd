package ceiling

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"
)

// Table is the table the ceiling copies into.
const Table = "raw_transactions"

// rowSource streams rows to pgx's CopyFrom, reusing one []any, so the copy
// builds no second copy of the batch.
type rowSource struct {
	rows []Row
	i    int
	vals []any
}

func (s *rowSource) Next() bool {
	s.i++
	return s.i <= len(s.rows)
}

func (s *rowSource) Values() ([]any, error) {
	s.rows[s.i-1].values(s.vals)
	return s.vals, nil
}

func (s *rowSource) Err() error { return nil }

// Result is one timed COPY.
type Result struct {
	Rows    int
	Conns   int
	Elapsed time.Duration
}

// RowsPerSecond is the throughput of the copy.
func (r Result) RowsPerSecond() float64 {
	if r.Elapsed <= 0 {
		return 0
	}
	return float64(r.Rows) / r.Elapsed.Seconds()
}

// Split divides rows into n contiguous parts of nearly equal size.
func Split[T any](rows []T, n int) [][]T {
	parts := make([][]T, 0, n)
	for i := range n {
		lo, hi := len(rows)*i/n, len(rows)*(i+1)/n
		parts = append(parts, rows[lo:hi])
	}
	return parts
}

// Copy binary-COPYs rows into raw_transactions of the database at url over
// conns connections at once, each copying its share in one COPY statement.
// Connecting is not timed; the clock runs from the moment every connection
// starts its COPY to the moment the last one finishes.
func Copy(ctx context.Context, url string, rows []Row, conns int) (Result, error) {
	return run(ctx, url, conns, len(rows), func(ctx context.Context, c *pgx.Conn, part int) error {
		share := Split(rows, conns)[part]
		n, err := c.CopyFrom(ctx, pgx.Identifier{Table}, Columns, &rowSource{rows: share, vals: make([]any, len(Columns))})
		if err != nil {
			return fmt.Errorf("copy rows: %w", err)
		}
		if int(n) != len(share) {
			return fmt.Errorf("copy rows: %d of %d copied", n, len(share))
		}
		return nil
	})
}

// Encoded is a COPY BINARY stream ready to send: the rows already encoded by
// the client, one stream per connection.
type Encoded struct {
	Rows    int
	Streams [][]byte
}

// Encode encodes rows into conns COPY BINARY streams up front, so CopyEncoded
// measures the server alone, without the client's encoding.
func Encode(rows []Row, conns int) (Encoded, error) {
	m := pgtype.NewMap()
	oids := []uint32{
		pgtype.UUIDOID, pgtype.TimestamptzOID, pgtype.TextOID, pgtype.TextOID, pgtype.TextOID, pgtype.TextOID, pgtype.Int4OID,
		pgtype.NumericOID, pgtype.BPCharOID, pgtype.TextOID, pgtype.BPCharOID, pgtype.TextOID, pgtype.TextOID,
		pgtype.TextOID, pgtype.Int4OID, pgtype.Int8OID, pgtype.Int4OID,
	}
	out := Encoded{Rows: len(rows)}
	vals := make([]any, len(Columns))
	for _, part := range Split(rows, conns) {
		buf := append([]byte("PGCOPY\n\377\r\n\000"), 0, 0, 0, 0, 0, 0, 0, 0) // signature, flags, extension length
		for i := range part {
			part[i].values(vals)
			buf = binary.BigEndian.AppendUint16(buf, uint16(len(vals)))
			for j, v := range vals {
				lenAt := len(buf)
				buf = append(buf, 0, 0, 0, 0)
				var err error
				buf, err = m.Encode(oids[j], pgtype.BinaryFormatCode, v, buf)
				if err != nil {
					return Encoded{}, fmt.Errorf("encode %s: %w", Columns[j], err)
				}
				binary.BigEndian.PutUint32(buf[lenAt:], uint32(len(buf)-lenAt-4))
			}
		}
		buf = binary.BigEndian.AppendUint16(buf, 0xffff) // trailer: -1
		out.Streams = append(out.Streams, buf)
	}
	return out, nil
}

// CopyEncoded sends pre-encoded streams, one per connection at once, timed
// like Copy.
func CopyEncoded(ctx context.Context, url string, enc Encoded) (Result, error) {
	sql := fmt.Sprintf("COPY %s (%s) FROM STDIN (FORMAT binary)", pgx.Identifier{Table}.Sanitize(), strings.Join(Columns, ", "))
	return run(ctx, url, len(enc.Streams), enc.Rows, func(ctx context.Context, c *pgx.Conn, part int) error {
		if _, err := c.PgConn().CopyFrom(ctx, bytes.NewReader(enc.Streams[part]), sql); err != nil {
			return fmt.Errorf("copy encoded rows: %w", err)
		}
		return nil
	})
}

func run(ctx context.Context, url string, conns, rows int, copyPart func(context.Context, *pgx.Conn, int) error) (Result, error) {
	if conns < 1 {
		return Result{}, fmt.Errorf("connections: %d, want at least 1", conns)
	}
	cs := make([]*pgx.Conn, conns)
	defer func() {
		for _, c := range cs {
			if c != nil {
				c.Close(context.WithoutCancel(ctx))
			}
		}
	}()
	for i := range cs {
		c, err := pgx.Connect(ctx, url)
		if err != nil {
			return Result{}, fmt.Errorf("connect: %w", err)
		}
		cs[i] = c
	}
	var wg sync.WaitGroup
	errs := make([]error, conns)
	start := time.Now()
	for i, c := range cs {
		wg.Go(func() { errs[i] = copyPart(ctx, c, i) })
	}
	wg.Wait()
	elapsed := time.Since(start)
	if err := errors.Join(errs...); err != nil {
		return Result{}, err
	}
	return Result{Rows: rows, Conns: conns, Elapsed: elapsed}, nil
}
