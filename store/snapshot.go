package store

import (
	"context"
	"database/sql"
	"fmt"

	"github.com/iocd/iocd/defs"
)

// querier is what the read helpers need: a *sql.DB, or the one connection
// of a Snapshot.
type querier interface {
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
}

// Snapshot reads the violation tables as they were at one moment: every
// read sees the same committed state, whatever is written meanwhile, so a
// check across tables (iocd verify) cannot see a review without its ledger
// entry.
type Snapshot struct{ conn *sql.Conn }

// ReadSnapshot runs fn with a Snapshot: a plain (deferred) read
// transaction on one connection, which in WAL mode does not block writers.
// The transaction ends when fn returns.
func (s *SQLite) ReadSnapshot(ctx context.Context, fn func(*Snapshot) error) error {
	conn, err := s.db.Conn(ctx)
	if err != nil {
		return fmt.Errorf("opening a read snapshot: %w", err)
	}
	defer conn.Close()
	// A raw BEGIN, not BeginTx: the handle's _txlock=immediate would take
	// the write lock and hold up iocd's writers for the whole read.
	if _, err := conn.ExecContext(ctx, `BEGIN`); err != nil {
		return fmt.Errorf("opening a read snapshot: %w", err)
	}
	defer conn.ExecContext(context.WithoutCancel(ctx), `ROLLBACK`)
	return fn(&Snapshot{conn: conn})
}

// Ledger is SQLite.Ledger, read in the snapshot.
func (r *Snapshot) Ledger(ctx context.Context, violationID string) ([]defs.LedgerEntry, error) {
	return ledger(ctx, r.conn, violationID)
}

// Reviews is SQLite.Reviews, read in the snapshot.
func (r *Snapshot) Reviews(ctx context.Context, violationID string) ([]defs.Review, error) {
	return reviews(ctx, r.conn, violationID)
}

// ListViolations is SQLite.ListViolations, read in the snapshot.
func (r *Snapshot) ListViolations(ctx context.Context, f defs.ViolationFilter) ([]defs.Violation, string, error) {
	return listViolations(ctx, r.conn, f)
}

// AuditLog is SQLite.AuditLog, read in the snapshot.
func (r *Snapshot) AuditLog(ctx context.Context) ([]defs.AuditEntry, error) {
	return auditLog(ctx, r.conn)
}

// RawEvent is SQLite.RawEvent, read in the snapshot.
func (r *Snapshot) RawEvent(ctx context.Context, id string) ([]byte, error) {
	return rawEvent(ctx, r.conn, id)
}

// Timestamps is SQLite.Timestamps, read in the snapshot.
func (r *Snapshot) Timestamps(ctx context.Context) ([]defs.LedgerTimestamp, error) {
	return timestamps(ctx, r.conn)
}
