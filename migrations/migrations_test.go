package migrations_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/finflow/finflow/migrations"
	"github.com/finflow/finflow/services/kit/pgtest"
)

func TestUpDownUpAndIdempotent(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	url := pgtest.NewEmpty(t)

	first, err := migrations.Up(ctx, url)
	if err != nil {
		t.Fatalf("first up: %v", err)
	}
	if len(first) == 0 {
		t.Fatal("first up applied no migrations")
	}
	again, err := migrations.Up(ctx, url)
	if err != nil {
		t.Fatalf("second up: %v", err)
	}
	if len(again) != 0 {
		t.Fatalf("second up applied %d migrations, want a no-op", len(again))
	}

	db, err := migrations.Open(url)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	p, err := migrations.NewProvider(db)
	if err != nil {
		t.Fatal(err)
	}
	down, err := p.DownTo(ctx, 0)
	if err != nil {
		t.Fatalf("down to 0: %v", err)
	}
	if len(down) != len(first) {
		t.Fatalf("down reverted %d migrations, want %d", len(down), len(first))
	}
	var tables int
	if err := db.QueryRowContext(ctx, `SELECT count(*) FROM pg_tables WHERE schemaname = 'public'
		AND tablename IN ('raw_transactions', 'writer_checkpoints', 'dead_letters')`).Scan(&tables); err != nil {
		t.Fatal(err)
	}
	if tables != 0 {
		t.Fatalf("%d finflow tables left after down", tables)
	}
	if _, err := p.Up(ctx); err != nil {
		t.Fatalf("up after down: %v", err)
	}
	assertConstraints(t, ctx, url)
}

const insertRow = `INSERT INTO raw_transactions (transaction_id, event_time, user_id, account_id,
	merchant, category, mcc, amount, currency, location, country, status, channel,
	kafka_topic, kafka_partition, kafka_offset, schema_id)
	VALUES ($1, $2, 'USR-000001', '20-00-00 12345678', 'Tesco', $3, 5411, $4, $5,
	'London', 'GB', $6, 'contactless', 'transactions', 0, $7, 1)`

func assertConstraints(t *testing.T, ctx context.Context, url string) {
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	when := time.Date(2026, 11, 25, 8, 30, 0, 0, time.UTC)

	type row struct {
		id, category, amount, currency, status string
	}
	good := row{"0b6f8a52-5a0e-4f43-9d7b-1f0c2f6a9d10", "groceries", "12.34", "GBP", "completed"}
	if _, err := conn.Exec(ctx, insertRow, good.id, when, good.category, good.amount, good.currency, good.status, 0); err != nil {
		t.Fatalf("a valid row was rejected: %v", err)
	}

	cases := []struct {
		name       string
		r          row
		constraint string
	}{
		{"lower-case currency", row{"1b6f8a52-5a0e-4f43-9d7b-1f0c2f6a9d10", "groceries", "1.00", "gbp", "completed"}, "currency_iso4217"},
		{"three-decimal amount", row{"2b6f8a52-5a0e-4f43-9d7b-1f0c2f6a9d10", "groceries", "1.005", "GBP", "completed"}, "amount_positive_2dp"},
		{"zero amount", row{"3b6f8a52-5a0e-4f43-9d7b-1f0c2f6a9d10", "groceries", "0", "GBP", "completed"}, "amount_positive_2dp"},
		{"unknown status", row{"4b6f8a52-5a0e-4f43-9d7b-1f0c2f6a9d10", "groceries", "1.00", "GBP", "settled"}, "status_known"},
		{"unknown category", row{"5b6f8a52-5a0e-4f43-9d7b-1f0c2f6a9d10", "gambling", "1.00", "GBP", "completed"}, "category_known"},
	}
	for i, c := range cases {
		_, err := conn.Exec(ctx, insertRow, c.r.id, when, c.r.category, c.r.amount, c.r.currency, c.r.status, i+1)
		var pgErr *pgconn.PgError
		if !errors.As(err, &pgErr) || pgErr.Code != "23514" || pgErr.ConstraintName != c.constraint {
			t.Errorf("%s: got %v, want check violation of %s", c.name, err, c.constraint)
		}
	}
	// The primary key is the second line of defence against duplicates.
	_, err = conn.Exec(ctx, insertRow, good.id, when, good.category, good.amount, good.currency, good.status, 99)
	var pgErr *pgconn.PgError
	if !errors.As(err, &pgErr) || pgErr.Code != "23505" {
		t.Errorf("duplicate transaction_id: got %v, want unique violation", err)
	}
}

func TestUnreachableDatabaseIsOneLine(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	// Port 1 on loopback: nothing listens there.
	_, err := migrations.Up(ctx, "postgres://finflow@127.0.0.1:1/finflow?sslmode=disable&connect_timeout=2")
	if err == nil {
		t.Fatal("migrating an unreachable database succeeded")
	}
	msg := err.Error()
	if !strings.Contains(msg, "DATABASE_URL") || strings.Contains(msg, "\n") {
		t.Fatalf("want a one-line error naming DATABASE_URL, got %q", msg)
	}
}
