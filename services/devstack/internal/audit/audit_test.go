package audit_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/finflow/finflow/services/devstack/internal/audit"
	"github.com/finflow/finflow/services/kit/pgtest"
)

const topic = "transactions"

func connect(t *testing.T) *pgx.Conn {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, pgtest.New(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close(context.Background()) })
	return conn
}

type row struct {
	partition int32
	offset    int64
	category  string
	merchant  string
	amount    string // numeric text
	currency  string
	city      string
	status    string
	channel   string
}

func insert(t *testing.T, conn *pgx.Conn, rows ...row) {
	t.Helper()
	for _, r := range rows {
		r = withDefaults(r)
		_, err := conn.Exec(context.Background(), `
			INSERT INTO raw_transactions (transaction_id, event_time, user_id, account_id, merchant, category, mcc,
				amount, currency, location, country, status, channel, kafka_topic, kafka_partition, kafka_offset, schema_id)
			VALUES (gen_random_uuid(), now(), 'u1', 'a1', $1, $2, 5411, $3::numeric, $4, $5, 'GB', $6, $7, $8, $9, $10, 1)`,
			r.merchant, r.category, r.amount, r.currency, r.city, r.status, r.channel, topic, r.partition, r.offset)
		if err != nil {
			t.Fatalf("insert %+v: %v", r, err)
		}
	}
}

func withDefaults(r row) row {
	def := func(s *string, v string) {
		if *s == "" {
			*s = v
		}
	}
	def(&r.category, "groceries")
	def(&r.merchant, "Tesco")
	def(&r.amount, "12.34")
	def(&r.currency, "GBP")
	def(&r.city, "London")
	def(&r.status, "completed")
	def(&r.channel, "contactless")
	return r
}

func deadLetter(t *testing.T, conn *pgx.Conn, partition int32, offset int64) {
	t.Helper()
	_, err := conn.Exec(context.Background(), `
		INSERT INTO dead_letters (kafka_topic, kafka_partition, kafka_offset, record_value, reason, error, consumer_group)
		VALUES ($1, $2, $3, '\x00'::bytea, 'bad_framing', 'test', 'g')`, topic, partition, offset)
	if err != nil {
		t.Fatal(err)
	}
}

func checkpoint(t *testing.T, conn *pgx.Conn, partition int32, next int64) {
	t.Helper()
	_, err := conn.Exec(context.Background(), `
		INSERT INTO writer_checkpoints (consumer_group, topic, kafka_partition, next_offset, owner)
		VALUES ('g', $1, $2, $3, 'test')`, topic, partition, next)
	if err != nil {
		t.Fatal(err)
	}
}

// good stores offsets 0..n-1 on partitions 0 and 1, offset 2 of partition 1
// as a dead letter, with matching checkpoints: 2n records.
func good(t *testing.T, conn *pgx.Conn, n int64) {
	for p := range int32(2) {
		for o := range n {
			if p == 1 && o == 2 {
				deadLetter(t, conn, p, o)
				continue
			}
			insert(t, conn, row{partition: p, offset: o})
		}
		checkpoint(t, conn, p, n)
	}
}

func TestVerifyPasses(t *testing.T) {
	conn := connect(t)
	good(t, conn, 5)
	c, err := audit.Verify(context.Background(), conn, topic, 10)
	if err != nil {
		t.Fatal(err)
	}
	if !c.OK() {
		t.Fatalf("clean run failed the check: %v", c.Problems)
	}
	if c.Rows != 9 || c.DeadLetters != 1 || len(c.Partitions) != 2 {
		t.Fatalf("rows %d dead %d partitions %d, want 9 1 2", c.Rows, c.DeadLetters, len(c.Partitions))
	}
}

func TestVerifyFails(t *testing.T) {
	for _, tc := range []struct {
		name     string
		produced int64
		spoil    func(t *testing.T, conn *pgx.Conn)
		want     string
	}{
		{"fewer stored than produced", 11, func(*testing.T, *pgx.Conn) {}, "but 11 produced"},
		{"more stored than produced", 9, func(*testing.T, *pgx.Conn) {}, "but 9 produced"},
		{"offset stored twice", 11, func(t *testing.T, conn *pgx.Conn) {
			insert(t, conn, row{partition: 0, offset: 3})
		}, "partition 0: 1 offsets stored more than once"},
		{"offset missing", 10, func(t *testing.T, conn *pgx.Conn) {
			if _, err := conn.Exec(context.Background(), `DELETE FROM raw_transactions WHERE kafka_partition = 0 AND kafka_offset = 2`); err != nil {
				t.Fatal(err)
			}
			insert(t, conn, row{partition: 0, offset: 5})
			if _, err := conn.Exec(context.Background(), `UPDATE writer_checkpoints SET next_offset = 6 WHERE kafka_partition = 0`); err != nil {
				t.Fatal(err)
			}
		}, "partition 0: 1 offsets missing between 0 and 5"},
		{"checkpoint behind", 10, func(t *testing.T, conn *pgx.Conn) {
			if _, err := conn.Exec(context.Background(), `UPDATE writer_checkpoints SET next_offset = 4 WHERE kafka_partition = 1`); err != nil {
				t.Fatal(err)
			}
		}, "partition 1: checkpoint next_offset 4, want 5"},
		{"checkpoint without records", 10, func(t *testing.T, conn *pgx.Conn) {
			checkpoint(t, conn, 7, 3)
		}, "partition 7: checkpoint at 3 but no records stored"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			conn := connect(t)
			good(t, conn, 5)
			tc.spoil(t, conn)
			c, err := audit.Verify(context.Background(), conn, topic, tc.produced)
			if err != nil {
				t.Fatal(err)
			}
			if c.OK() {
				t.Fatal("spoiled run passed the check")
			}
			if got := strings.Join(c.Problems, "; "); !strings.Contains(got, tc.want) {
				t.Fatalf("problems %q do not say %q", got, tc.want)
			}
		})
	}
}

func TestReport(t *testing.T) {
	conn := connect(t)
	insert(t, conn,
		row{offset: 0, category: "groceries", merchant: "Tesco", amount: "1000.10", city: "London"},
		row{offset: 1, category: "groceries", merchant: "Tesco", amount: "0.05", city: "Leeds"},
		row{offset: 2, category: "dining", merchant: "Nando's", amount: "20.00", city: "London", channel: "chip_and_pin"},
		row{offset: 3, category: "dining", merchant: "Nando's", amount: "99.99", city: "London", status: "declined", channel: "online"},
		row{offset: 4, category: "travel", merchant: "Air France", amount: "300.00", currency: "EUR", city: "Paris"},
	)
	tables, err := audit.Report(context.Background(), conn, topic)
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	for _, tb := range tables {
		tb.Render(&buf)
	}
	out := buf.String()
	for _, want := range []string{
		"  groceries             2  1,000.15     500.08\n", // completed GBP only: EUR and declined excluded
		"  dining                1     20.00      20.00\n",
		"  GBP only; 1 transactions in other currencies",
		"  London             3     60.0        33.3\n",
		"  online                   1         1          100.00\n",
		"  all channels             5         1           20.00\n",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("report lacks %q:\n%s", want, out)
		}
	}
}

// An empty table (a writer that wrote nothing) must still give a report,
// so that the exactly-once verdict is not lost to a division by zero.
func TestReportOnNoRows(t *testing.T) {
	conn := connect(t)
	tables, err := audit.Report(context.Background(), conn, topic)
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	for _, tb := range tables {
		tb.Render(&buf)
	}
	if !strings.Contains(buf.String(), "  all channels             0         0               -\n") {
		t.Errorf("report on no rows:\n%s", buf.String())
	}
}

func TestRecreate(t *testing.T) {
	ctx := context.Background()
	var b [4]byte
	_, _ = rand.Read(b[:])
	name := "finflow_demo_test_" + hex.EncodeToString(b[:])
	t.Cleanup(func() {
		conn, err := pgx.Connect(ctx, pgtest.AdminURL())
		if err != nil {
			t.Error(err)
			return
		}
		defer conn.Close(ctx)
		if err := pgtest.Drop(ctx, conn, name); err != nil {
			t.Error(err)
		}
	})
	url, err := audit.Recreate(ctx, pgtest.AdminURL(), name)
	if err != nil {
		t.Fatal(err)
	}
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := conn.Exec(ctx, "CREATE TABLE leftover (x int)"); err != nil {
		t.Fatal(err)
	}
	// An open session must not stop the drop.
	if _, err := audit.Recreate(ctx, pgtest.AdminURL(), name); err != nil {
		t.Fatalf("recreate with a session open: %v", err)
	}
	conn.Close(ctx)
	conn, err = pgx.Connect(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	var n int
	if err := conn.QueryRow(ctx, "SELECT count(*) FROM pg_tables WHERE tablename = 'leftover'").Scan(&n); err != nil {
		t.Fatal(err)
	}
	if n != 0 {
		t.Fatal("recreated database still has the old table")
	}
}

func TestRecreateRefuses(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct{ url, name, want string }{
		{"host=x dbname=y", "d", "DATABASE_URL"},
		{"postgres://u@127.0.0.1/finflow", "finflow", "DEMO_DATABASE"},
		{"postgres://u@127.0.0.1/finflow", "", "DEMO_DATABASE"},
	} {
		if _, err := audit.Recreate(ctx, tc.url, tc.name); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("Recreate(%q, %q) = %v, want an error naming %s", tc.url, tc.name, err, tc.want)
		}
	}
	_, err := audit.Recreate(ctx, "postgres://nobody:secret@127.0.0.1:1/x?connect_timeout=2", "d")
	if err == nil || strings.Contains(err.Error(), "secret") {
		t.Errorf("unreachable server: %v (must fail without printing the password)", err)
	}
}
