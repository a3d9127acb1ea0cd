// Package audit provisions the demo's database and, after a run, proves from
// PostgreSQL that every record the producer sent was stored exactly once; it
// also runs the business queries the demo's summary shows.
package audit

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// Recreate drops the database name on the server of serverURL (if it exists,
// disconnecting its sessions) and creates it empty, so that a run's check
// counts only that run's rows. It returns the new database's URL.
func Recreate(ctx context.Context, serverURL, name string) (string, error) {
	u, err := url.Parse(serverURL)
	if err != nil || (u.Scheme != "postgres" && u.Scheme != "postgresql") {
		return "", errors.New("DATABASE_URL: must be a postgres:// URL (the demo derives its own database's URL from it)")
	}
	if name == "" {
		return "", errors.New("DEMO_DATABASE: empty database name")
	}
	if strings.TrimPrefix(u.Path, "/") == name {
		return "", fmt.Errorf("DEMO_DATABASE: %q is the database DATABASE_URL names; the demo drops and recreates its database, so give it another one", name)
	}
	conn, err := pgx.Connect(ctx, serverURL)
	if err != nil {
		return "", fmt.Errorf("connect to PostgreSQL at %s: %w", u.Redacted(), err)
	}
	defer conn.Close(ctx)
	ident := pgx.Identifier{name}.Sanitize()
	if err := drop(ctx, conn, ident); err != nil {
		return "", fmt.Errorf("drop database %s: %w", name, err)
	}
	if _, err := conn.Exec(ctx, "CREATE DATABASE "+ident); err != nil {
		return "", fmt.Errorf("create database %s: %w", name, err)
	}
	u.Path = "/" + name
	return u.String(), nil
}

// drop drops the database whoever uses it. WITH (FORCE) ends the sessions
// of our own role (a psql left open on last run's data) but, without
// superuser rights, fails on autovacuum, busy after a big run; a plain DROP
// makes autovacuum give way but fails on other sessions. So: FORCE, then
// plain on "insufficient privilege", a few rounds for both at once.
func drop(ctx context.Context, conn *pgx.Conn, ident string) error {
	var err error
	for attempt := range 5 {
		if attempt > 0 {
			select {
			case <-ctx.Done():
				return errors.Join(err, ctx.Err())
			case <-time.After(time.Second):
			}
		}
		_, err = conn.Exec(ctx, "DROP DATABASE IF EXISTS "+ident+" WITH (FORCE)")
		if sqlstate(err) != sqlInsufficientPrivilege {
			return err
		}
		_, err = conn.Exec(ctx, "DROP DATABASE IF EXISTS "+ident)
		if s := sqlstate(err); s != sqlObjectInUse {
			return err
		}
	}
	return err
}

// SQLSTATEs of the drop.
const (
	sqlObjectInUse           = "55006"
	sqlInsufficientPrivilege = "42501"
)

func sqlstate(err error) string {
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		return pe.Code
	}
	return ""
}

// Check is the exactly-once verdict for one topic.
type Check struct {
	Topic       string
	Produced    int64 // records the producer says the broker acknowledged
	Rows        int64 // rows in raw_transactions from the topic
	DeadLetters int64 // rows in dead_letters from the topic
	// DuplicateIDs counts transaction ids stored more than once (the
	// primary key makes it impossible; counted anyway, it is the claim).
	DuplicateIDs int64
	Partitions   []Partition
	Problems     []string // empty when the check passes
}

// Partition is what PostgreSQL holds for one partition: rows and dead
// letters together, by Kafka offset.
type Partition struct {
	Partition  int32
	Records    int64 // rows + dead letters
	Distinct   int64 // distinct offsets among them
	MinOffset  int64
	MaxOffset  int64
	Checkpoint int64 // writer_checkpoints.next_offset; -1 when absent
}

// Contiguous reports whether every offset from MinOffset to MaxOffset is
// stored exactly once.
func (p Partition) Contiguous() bool {
	return p.Records == p.Distinct && p.Distinct == p.MaxOffset-p.MinOffset+1
}

// OK reports whether the run stored every produced record exactly once.
func (c Check) OK() bool { return len(c.Problems) == 0 }

// Verify checks that the database holds exactly the produced records: rows
// plus dead letters equal produced, no transaction id twice, and per
// partition the offsets are contiguous with no offset twice and the
// checkpoint just past the last one.
func Verify(ctx context.Context, conn *pgx.Conn, topic string, produced int64) (Check, error) {
	c := Check{Topic: topic, Produced: produced}
	err := conn.QueryRow(ctx, `
		SELECT count(*), count(*) - count(DISTINCT transaction_id)
		FROM raw_transactions WHERE kafka_topic = $1`, topic).Scan(&c.Rows, &c.DuplicateIDs)
	if err != nil {
		return c, fmt.Errorf("count rows: %w", err)
	}
	if err := conn.QueryRow(ctx, `SELECT count(*) FROM dead_letters WHERE kafka_topic = $1`, topic).Scan(&c.DeadLetters); err != nil {
		return c, fmt.Errorf("count dead letters: %w", err)
	}
	rows, err := conn.Query(ctx, `
		WITH stored AS (
			SELECT kafka_partition, kafka_offset FROM raw_transactions WHERE kafka_topic = $1
			UNION ALL
			SELECT kafka_partition, kafka_offset FROM dead_letters WHERE kafka_topic = $1
		), parts AS (
			SELECT kafka_partition, count(*) AS records, count(DISTINCT kafka_offset) AS distinct_offsets,
			       min(kafka_offset) AS min_offset, max(kafka_offset) AS max_offset
			FROM stored GROUP BY kafka_partition
		), checkpoints AS (
			SELECT kafka_partition, max(next_offset) AS next_offset
			FROM writer_checkpoints WHERE topic = $1 GROUP BY kafka_partition
		)
		SELECT coalesce(p.kafka_partition, k.kafka_partition), coalesce(p.records, 0), coalesce(p.distinct_offsets, 0),
		       coalesce(p.min_offset, 0), coalesce(p.max_offset, -1), coalesce(k.next_offset, -1)
		FROM parts p FULL JOIN checkpoints k USING (kafka_partition)
		ORDER BY 1`, topic)
	if err != nil {
		return c, fmt.Errorf("offsets by partition: %w", err)
	}
	for rows.Next() {
		var p Partition
		if err := rows.Scan(&p.Partition, &p.Records, &p.Distinct, &p.MinOffset, &p.MaxOffset, &p.Checkpoint); err != nil {
			return c, fmt.Errorf("offsets by partition: %w", err)
		}
		c.Partitions = append(c.Partitions, p)
	}
	if err := rows.Err(); err != nil {
		return c, fmt.Errorf("offsets by partition: %w", err)
	}

	if stored := c.Rows + c.DeadLetters; stored != produced {
		c.Problems = append(c.Problems, fmt.Sprintf("%d records stored (%d rows + %d dead letters), but %d produced", stored, c.Rows, c.DeadLetters, produced))
	}
	if c.DuplicateIDs > 0 {
		c.Problems = append(c.Problems, fmt.Sprintf("%d transaction ids stored more than once", c.DuplicateIDs))
	}
	for _, p := range c.Partitions {
		switch {
		case p.Records == 0 && p.Checkpoint > 0:
			c.Problems = append(c.Problems, fmt.Sprintf("partition %d: checkpoint at %d but no records stored", p.Partition, p.Checkpoint))
		case p.Records == 0: // an empty partition the writer has a checkpoint for
		case p.Records != p.Distinct:
			c.Problems = append(c.Problems, fmt.Sprintf("partition %d: %d offsets stored more than once", p.Partition, p.Records-p.Distinct))
		case !p.Contiguous():
			c.Problems = append(c.Problems, fmt.Sprintf("partition %d: %d offsets missing between %d and %d", p.Partition, p.MaxOffset-p.MinOffset+1-p.Distinct, p.MinOffset, p.MaxOffset))
		}
		if p.Records > 0 && p.Checkpoint != p.MaxOffset+1 {
			c.Problems = append(c.Problems, fmt.Sprintf("partition %d: checkpoint next_offset %d, want %d (last stored offset + 1)", p.Partition, p.Checkpoint, p.MaxOffset+1))
		}
	}
	return c, nil
}
