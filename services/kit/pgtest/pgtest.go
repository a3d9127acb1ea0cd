// Package pgtest gives each test its own freshly migrated database on the
// real PostgreSQL server named by DATABASE_URL, so test packages can run in
// parallel without seeing each other's rows.
package pgtest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"net/url"
	"os"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/finflow/finflow/migrations"
)

// DefaultURL is used when DATABASE_URL is unset: the role, password and
// database that scripts/postgres.sh creates for local development.
const DefaultURL = "postgres://finflow:finflow@127.0.0.1:5432/finflow?sslmode=disable"

// AdminURL is the server the test databases are created on.
func AdminURL() string {
	if v := os.Getenv("DATABASE_URL"); v != "" {
		return v
	}
	return DefaultURL
}

// New creates an empty database, migrates it to the latest schema and drops
// it when the test ends. It returns the new database's URL. A server that
// cannot be reached fails the test with the fix, never skips it.
func New(t testing.TB) string {
	t.Helper()
	url := NewEmpty(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if _, err := migrations.Up(ctx, url); err != nil {
		t.Fatalf("pgtest: migrate test database: %v", err)
	}
	return url
}

// NewEmpty is New without the migrations.
func NewEmpty(t testing.TB) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	admin := AdminURL()
	cfg, err := pgx.ParseConfig(admin)
	if err != nil {
		t.Fatalf("pgtest: DATABASE_URL: %v", err)
	}
	conn, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		t.Fatalf("pgtest: PostgreSQL is not reachable at DATABASE_URL (%s@%s:%d/%s): %v\n"+
			"start it with: scripts/postgres.sh (make test does this)", cfg.User, cfg.Host, cfg.Port, cfg.Database, err)
	}
	defer conn.Close(ctx)

	var b [6]byte
	_, _ = rand.Read(b[:])
	name := "finflow_test_" + hex.EncodeToString(b[:])
	if _, err := conn.Exec(ctx, "CREATE DATABASE "+pgx.Identifier{name}.Sanitize()); err != nil {
		t.Fatalf("pgtest: create database %s: %v", name, err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		c, err := pgx.ConnectConfig(ctx, cfg)
		if err != nil {
			t.Errorf("pgtest: drop %s: %v", name, err)
			return
		}
		defer c.Close(ctx)
		if err := Drop(ctx, c, name); err != nil {
			t.Errorf("pgtest: drop %s: %v", name, err)
		}
	})

	u, err := url.Parse(admin)
	if err != nil || u.Scheme == "" {
		t.Fatalf("pgtest: DATABASE_URL must be a postgres:// URL to derive test databases from, got %q", admin)
	}
	u.Path = "/" + name
	return u.String()
}

// Drop drops database name, ending its sessions. WITH (FORCE) cannot end a
// session it has no right to signal, such as an autovacuum worker that
// happens to be in the database (SQLSTATE 42501); those end within moments,
// so the drop is retried until ctx ends.
func Drop(ctx context.Context, conn *pgx.Conn, name string) error {
	stmt := "DROP DATABASE IF EXISTS " + pgx.Identifier{name}.Sanitize() + " WITH (FORCE)"
	for {
		_, err := conn.Exec(ctx, stmt)
		var pgErr *pgconn.PgError
		if err == nil || !errors.As(err, &pgErr) || pgErr.Code != "42501" {
			return err
		}
		select {
		case <-ctx.Done():
			return err
		case <-time.After(200 * time.Millisecond):
		}
	}
}
