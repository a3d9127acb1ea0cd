// Package migrations holds finflow's goose SQL migrations, embedded in the
// binary, and runs them through goose's Provider API under a PostgreSQL
// session advisory lock, so concurrent runners (two writers starting at once,
// a compose migrate job) apply each migration exactly once.
package migrations

import (
	"context"
	"database/sql"
	"embed"
	"fmt"
	"io/fs"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/stdlib"
	"github.com/pressly/goose/v3"
	"github.com/pressly/goose/v3/lock"
)

//go:embed *.sql
var embedded embed.FS

// FS returns the embedded migration files.
func FS() fs.FS { return embedded }

// Open opens a database/sql handle on dsn through pgx, for goose.
func Open(dsn string) (*sql.DB, error) {
	cfg, err := pgx.ParseConfig(dsn)
	if err != nil {
		return nil, fmt.Errorf("parse DATABASE_URL: %w", err)
	}
	return stdlib.OpenDB(*cfg), nil
}

// NewProvider returns a goose provider for the embedded migrations on db,
// guarded by a PostgreSQL session lock.
func NewProvider(db *sql.DB) (*goose.Provider, error) {
	locker, err := lock.NewPostgresSessionLocker()
	if err != nil {
		return nil, fmt.Errorf("migration lock: %w", err)
	}
	return goose.NewProvider(goose.DialectPostgres, db, embedded, goose.WithSessionLocker(locker))
}

// Up applies every pending migration to the database at dsn and returns the
// results of the ones it applied (none when the schema is current).
func Up(ctx context.Context, dsn string) ([]*goose.MigrationResult, error) {
	db, err := Open(dsn)
	if err != nil {
		return nil, err
	}
	defer db.Close()
	if err := db.PingContext(ctx); err != nil {
		return nil, fmt.Errorf("cannot reach the database named by DATABASE_URL: %w", err)
	}
	p, err := NewProvider(db)
	if err != nil {
		return nil, err
	}
	res, err := p.Up(ctx)
	if err != nil {
		return res, fmt.Errorf("apply migrations: %w", err)
	}
	return res, nil
}
