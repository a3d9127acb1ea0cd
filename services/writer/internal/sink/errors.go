package sink

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"slices"

	"github.com/jackc/pgx/v5/pgconn"
)

// ErrFenced is matched (errors.Is) by a *FencedError.
var ErrFenced = errors.New("checkpoint fenced")

// FencedError says the batch did not commit because the checkpoint of these
// partitions no longer holds what this writer expected: another writer owns
// them now (this one is a zombie) or wrote past them. Nothing of the batch
// was stored.
type FencedError struct {
	Topic      string
	Partitions []int32
}

func (e *FencedError) Error() string {
	return fmt.Sprintf("checkpoint fenced: %s partitions %v were advanced by another writer", e.Topic, e.Partitions)
}

// Is makes errors.Is(err, ErrFenced) true.
func (e *FencedError) Is(target error) bool { return target == ErrFenced }

// RetryableError wraps a transient database error: the connection broke, the
// server is shutting down or restarting, or the transaction lost a deadlock
// or serialization race. The batch did not commit; writing it again later
// is safe and expected to succeed.
type RetryableError struct {
	Op  string
	Err error
}

func (e *RetryableError) Error() string { return e.Op + ": " + e.Err.Error() + " (retryable)" }
func (e *RetryableError) Unwrap() error { return e.Err }

// IsRetryable reports whether err (from Write, Ping or LoadCheckpoints) is
// transient.
func IsRetryable(err error) bool {
	var r *RetryableError
	return errors.As(err, &r)
}

// classify wraps err from op as a RetryableError when it is transient.
func classify(op string, err error) error {
	if err == nil {
		return nil
	}
	if transient(err) {
		return &RetryableError{Op: op, Err: err}
	}
	return fmt.Errorf("%s: %w", op, err)
}

// transientSQLStates are the SQLSTATEs after which the same transaction can
// simply be tried again.
var transientSQLStates = []string{
	"40001", // serialization_failure
	"40P01", // deadlock_detected
	"55P03", // lock_not_available
	"57P01", // admin_shutdown (pg_terminate_backend, smart/fast shutdown)
	"57P02", // crash_shutdown
	"57P03", // cannot_connect_now (starting up, recovery)
	"57014", // query_canceled (statement_timeout, pg_cancel_backend)
}

// transient decides on typed errors only: SQLSTATE for server errors,
// pgconn's own classification and the error types of the network stack for
// the rest.
func transient(err error) bool {
	if errors.Is(err, context.Canceled) {
		// We are shutting down; retrying is not what the caller wants.
		return false
	}
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		switch pgErr.Code[:2] {
		case "08", // connection_exception
			"53", // insufficient_resources (too many connections, disk full, out of memory)
			"58": // system_error (I/O)
			return true
		}
		return slices.Contains(transientSQLStates, pgErr.Code)
	}
	if pgconn.SafeToRetry(err) || pgconn.Timeout(err) || errors.Is(err, context.DeadlineExceeded) {
		return true
	}
	var connectErr *pgconn.ConnectError
	var netErr net.Error
	if errors.As(err, &connectErr) || errors.As(err, &netErr) {
		return true
	}
	// A connection that died mid-statement surfaces as an EOF from the wire.
	return errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, net.ErrClosed)
}

// sqlState returns err's SQLSTATE, or "" when err is not a server error.
func sqlState(err error) (code, constraint string) {
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		return pgErr.Code, pgErr.ConstraintName
	}
	return "", ""
}

// isDuplicateRow reports a unique violation of raw_transactions' primary key:
// the batch holds a transaction_id that is already stored (or twice).
func isDuplicateRow(err error) bool {
	code, constraint := sqlState(err)
	return code == "23505" && constraint == "raw_transactions_pkey"
}

// isDataError reports an error caused by one row's values: class 22 (data
// exception: bad encoding, out of range) or 23 (integrity constraint
// violation) other than a duplicate key. Such a row is dead-lettered.
func isDataError(err error) bool {
	code, _ := sqlState(err)
	if len(code) != 5 || isDuplicateRow(err) {
		return false
	}
	return code[:2] == "22" || code[:2] == "23"
}
