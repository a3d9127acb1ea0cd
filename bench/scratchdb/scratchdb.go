// Package scratchdb creates the throw-away databases a benchmark run writes
// into: a fresh, fully migrated database on the PostgreSQL server named by
// DATABASE_URL for every measurement, so each starts from the same empty
// table, indexes and constraints, and dropped afterwards.
package scratchdb

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/url"
	"strings"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/finflow/finflow/migrations"
)

// RestartGrace is how long a connection is retried while the server does not
// accept connections: on a shared development machine somebody may restart
// PostgreSQL (scripts/postgres.sh restart) during a long benchmark.
var RestartGrace = 30 * time.Second

// ApplicationName marks the harness's own sessions in pg_stat_activity, so
// counting a writer's connections leaves them out.
const ApplicationName = "finflow-bench"

// Connect is connect for other packages: a connection that rides out a
// server restart.
func Connect(ctx context.Context, url string) (*pgx.Conn, error) { return connect(ctx, url) }

// IsServerGone reports whether err means the server went away or is not
// accepting connections — it was stopped or restarted (SQLSTATE class 57,
// operator intervention, or no connection at all) — rather than a fault of
// the work itself.
func IsServerGone(err error) bool {
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		return strings.HasPrefix(pe.Code, "57")
	}
	var ce *pgconn.ConnectError
	return errors.As(err, &ce) || pgconn.Timeout(err) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, syscall.ECONNRESET)
}

// connect connects to url, retrying connection failures (a server starting,
// stopping or restarting) for up to RestartGrace. Anything else — a bad
// password, a missing database — fails at once.
func connect(ctx context.Context, url string) (*pgx.Conn, error) {
	cfg, err := pgx.ParseConfig(url)
	if err != nil {
		return nil, fmt.Errorf("parse database URL: %w", err)
	}
	cfg.RuntimeParams["application_name"] = ApplicationName
	deadline := time.Now().Add(RestartGrace)
	for {
		c, err := pgx.ConnectConfig(ctx, cfg)
		if err == nil {
			return c, nil
		}
		var ce *pgconn.ConnectError
		var pe *pgconn.PgError
		retry := errors.As(err, &ce) && (!errors.As(err, &pe) || pe.Code == "57P03") // 57P03: cannot_connect_now (starting up, shutting down)
		if !retry || time.Now().After(deadline) {
			return nil, err
		}
		select {
		case <-ctx.Done():
			return nil, err
		case <-time.After(500 * time.Millisecond):
		}
	}
}

// DB is a scratch database.
type DB struct {
	Name  string
	URL   string // connection URL of the scratch database
	admin string
}

// Create makes an empty database named prefix_<random> on the server of
// adminURL and applies finflow's migrations to it.
func Create(ctx context.Context, adminURL, prefix string) (*DB, error) {
	u, err := url.Parse(adminURL)
	if err != nil || u.Scheme == "" {
		return nil, fmt.Errorf("DATABASE_URL must be a postgres:// URL, got %q", adminURL)
	}
	var b [5]byte
	_, _ = rand.Read(b[:])
	name := prefix + "_" + hex.EncodeToString(b[:])

	conn, err := connect(ctx, adminURL)
	if err != nil {
		return nil, fmt.Errorf("connect to DATABASE_URL: %w", err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, "CREATE DATABASE "+pgx.Identifier{name}.Sanitize()); err != nil {
		return nil, fmt.Errorf("create database %s: %w", name, err)
	}
	u.Path = "/" + name
	db := &DB{Name: name, URL: u.String(), admin: adminURL}
	if _, err := migrations.Up(ctx, db.URL); err != nil {
		_ = db.Drop(ctx)
		return nil, fmt.Errorf("migrate %s: %w", name, err)
	}
	return db, nil
}

// Drop drops the database, disconnecting whoever is still connected. It
// retries for a while: WITH (FORCE) cannot end another role's session (a
// superuser's monitoring query, say) and has to wait for it to go.
func (db *DB) Drop(ctx context.Context) error {
	deadline := time.Now().Add(RestartGrace)
	for {
		err := db.drop(ctx)
		if err == nil || time.Now().After(deadline) {
			return err
		}
		select {
		case <-ctx.Done():
			return err
		case <-time.After(time.Second):
		}
	}
}

func (db *DB) drop(ctx context.Context) error {
	conn, err := connect(ctx, db.admin)
	if err != nil {
		return fmt.Errorf("drop %s: %w", db.Name, err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, "DROP DATABASE IF EXISTS "+pgx.Identifier{db.Name}.Sanitize()+" WITH (FORCE)"); err != nil {
		return fmt.Errorf("drop %s: %w", db.Name, err)
	}
	return nil
}

// ServerVersion is the server's version string, e.g. "17.6 (Debian 17.6-0+deb13u1)".
func ServerVersion(ctx context.Context, adminURL string) (string, error) {
	conn, err := connect(ctx, adminURL)
	if err != nil {
		return "", fmt.Errorf("connect to DATABASE_URL: %w", err)
	}
	defer conn.Close(ctx)
	var v string
	if err := conn.QueryRow(ctx, "SHOW server_version").Scan(&v); err != nil {
		return "", fmt.Errorf("server version: %w", err)
	}
	return v, nil
}

// Settings returns the server's values of the named settings (pg_settings,
// with units applied, e.g. shared_buffers "128MB"), in order.
func Settings(ctx context.Context, adminURL string, names ...string) ([]string, error) {
	conn, err := connect(ctx, adminURL)
	if err != nil {
		return nil, fmt.Errorf("connect to DATABASE_URL: %w", err)
	}
	defer conn.Close(ctx)
	out := make([]string, len(names))
	for i, n := range names {
		if err := conn.QueryRow(ctx, "SELECT current_setting($1)", n).Scan(&out[i]); err != nil {
			return nil, fmt.Errorf("setting %s: %w", n, err)
		}
	}
	return out, nil
}
