package scratchdb

import (
	"context"
	"errors"
	"fmt"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/finflow/finflow/services/kit/pgtest"
)

func TestCreateMigratesAndDropRemoves(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	admin := pgtest.AdminURL()
	db, err := Create(ctx, admin, "finflow_bench_test")
	if err != nil {
		t.Fatal(err)
	}
	conn, err := Connect(ctx, db.URL)
	if err != nil {
		_ = db.Drop(ctx)
		t.Fatal(err)
	}
	var app string
	if err := conn.QueryRow(ctx, "SHOW application_name").Scan(&app); err != nil || app != ApplicationName {
		t.Errorf("application_name = %q, %v; want %q so connection counts leave the harness out", app, err, ApplicationName)
	}
	var n int
	err = conn.QueryRow(ctx, "SELECT count(*) FROM raw_transactions").Scan(&n)
	conn.Close(ctx)
	if err != nil || n != 0 {
		_ = db.Drop(ctx)
		t.Fatalf("fresh raw_transactions: count %d, %v", n, err)
	}
	if err := db.Drop(ctx); err != nil {
		t.Fatal(err)
	}
	c, err := pgx.Connect(ctx, admin)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close(ctx)
	var exists bool
	if err := c.QueryRow(ctx, "SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)", db.Name).Scan(&exists); err != nil {
		t.Fatal(err)
	}
	if exists {
		t.Errorf("database %s still exists after Drop", db.Name)
	}
	v, err := ServerVersion(ctx, admin)
	if err != nil || v == "" {
		t.Errorf("ServerVersion = %q, %v", v, err)
	}
	set, err := Settings(ctx, admin, "synchronous_commit", "shared_buffers")
	if err != nil || len(set) != 2 || (set[0] != "on" && set[0] != "off" && set[0] != "local" && set[0] != "remote_write" && set[0] != "remote_apply") || set[1] == "" {
		t.Errorf("Settings = %q, %v", set, err)
	}
	if _, err := Settings(ctx, admin, "no_such_setting"); err == nil {
		t.Error("unknown setting: want an error")
	}
}

func TestCreateRejectsABadURL(t *testing.T) {
	if _, err := Create(context.Background(), "not a url", "x"); err == nil {
		t.Error("want an error")
	}
}

func TestConnectRetriesOnlyWhileTheServerIsAway(t *testing.T) {
	old := RestartGrace
	RestartGrace = 1500 * time.Millisecond
	defer func() { RestartGrace = old }()
	ctx := context.Background()

	// Nothing listens on port 1: retried until the grace runs out.
	start := time.Now()
	if _, err := connect(ctx, "postgres://finflow:finflow@127.0.0.1:1/finflow?sslmode=disable&connect_timeout=1"); err == nil {
		t.Fatal("connected to port 1")
	}
	if d := time.Since(start); d < RestartGrace {
		t.Errorf("gave up after %v, want retries for %v", d, RestartGrace)
	}

	// A wrong password is not a restart: fail at once.
	cfg, err := pgx.ParseConfig(pgtest.AdminURL())
	if err != nil {
		t.Fatal(err)
	}
	start = time.Now()
	bad := fmt.Sprintf("postgres://%s:wrong-password@%s:%d/%s?sslmode=disable", cfg.User, cfg.Host, cfg.Port, cfg.Database)
	if _, err := connect(ctx, bad); err == nil {
		t.Fatal("connected with a wrong password")
	}
	if d := time.Since(start); d >= RestartGrace {
		t.Errorf("a wrong password was retried for %v", d)
	}
}

func TestIsServerGone(t *testing.T) {
	for _, tc := range []struct {
		err  error
		want bool
	}{
		{&pgconn.PgError{Code: "57P01"}, true}, // admin_shutdown: terminated or server stopping
		{fmt.Errorf("copy rows: %w", &pgconn.PgError{Code: "57P03"}), true},
		{&pgconn.PgError{Code: "23505"}, false}, // unique violation: the work's own fault
		{fmt.Errorf("copy: %w", syscall.ECONNRESET), true},
		{errors.New("something else"), false},
	} {
		if got := IsServerGone(tc.err); got != tc.want {
			t.Errorf("IsServerGone(%v) = %v, want %v", tc.err, got, tc.want)
		}
	}
}
