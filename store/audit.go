package store

import (
	"context"
	"database/sql"
	"fmt"
	"strconv"

	"github.com/iocd/iocd/defs"
)

func init() {
	register(migration{version: 110, name: "audit_log", sql: `
CREATE TABLE audit_log (
	id     INTEGER PRIMARY KEY AUTOINCREMENT,
	at     TEXT NOT NULL,
	actor  TEXT NOT NULL,
	role   TEXT NOT NULL,
	action TEXT NOT NULL,
	target TEXT NOT NULL,
	detail TEXT NOT NULL
);
`}, migration{version: 111, name: "audit_log_target", sql: `
CREATE INDEX audit_log_target ON audit_log (target, id);
`})
}

// SetAuditSealer makes every audit entry written from now on append the
// ledger entry seal computes for it (with its ID), in the same
// transaction: an audit row cannot be deleted or changed unnoticed.
func (s *SQLite) SetAuditSealer(seal func(e defs.AuditEntry, prevHash string) defs.LedgerEntry) {
	s.auditSeal.Store(&seal)
}

// AddAudit appends one entry to the audit log (and seals it, see
// SetAuditSealer).
func (s *SQLite) AddAudit(ctx context.Context, e defs.AuditEntry) error {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("writing audit log: %w", retryable(err))
	}
	defer tx.Rollback()
	if err := s.insertAudit(ctx, tx, e); err != nil {
		return err
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("writing audit log: %w", retryable(err))
	}
	return nil
}

// insertAudit appends e, and its ledger entry, in the caller's
// transaction, to commit them with the change they record.
func (s *SQLite) insertAudit(ctx context.Context, tx txer, e defs.AuditEntry) error {
	res, err := tx.ExecContext(ctx, `INSERT INTO audit_log (at, actor, role, action, target, detail) VALUES (?,?,?,?,?,?)`,
		timeText(e.At), e.Actor, e.Role.String(), e.Action, e.Target, e.Detail)
	if err != nil {
		return fmt.Errorf("writing audit log: %w", retryable(err))
	}
	seal := s.auditSeal.Load()
	if seal == nil {
		return nil
	}
	e.ID, _ = res.LastInsertId()
	if _, err := appendLedger(ctx, tx, func(prev string) defs.LedgerEntry { return (*seal)(e, prev) }); err != nil {
		return fmt.Errorf("sealing audit entry: %w", err)
	}
	return nil
}

// AuditLog returns the whole audit log, oldest first (for Verify).
func (s *SQLite) AuditLog(ctx context.Context) ([]defs.AuditEntry, error) {
	return auditLog(ctx, s.db)
}

func auditLog(ctx context.Context, db querier) ([]defs.AuditEntry, error) {
	rows, err := db.QueryContext(ctx, `SELECT id, at, actor, role, action, target, detail FROM audit_log ORDER BY id`)
	if err != nil {
		return nil, fmt.Errorf("reading audit log: %w", err)
	}
	defer rows.Close()
	var out []defs.AuditEntry
	for rows.Next() {
		e, err := scanAudit(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, e)
	}
	return out, rows.Err()
}

func scanAudit(rows *sql.Rows) (defs.AuditEntry, error) {
	var e defs.AuditEntry
	var at, role string
	if err := rows.Scan(&e.ID, &at, &e.Actor, &role, &e.Action, &e.Target, &e.Detail); err != nil {
		return e, fmt.Errorf("reading audit log: %w", err)
	}
	e.At = parseTime(at)
	e.Role, _ = defs.ParseRole(role)
	return e, nil
}

// ListAudit returns up to limit audit entries, newest first, before the
// cursor (an entry id from a previous page; "" for the newest), and the
// cursor of the next page ("" at the end).
func (s *SQLite) ListAudit(ctx context.Context, cursor string, limit int) ([]defs.AuditEntry, string, error) {
	if limit <= 0 || limit > 1000 {
		limit = 100
	}
	before := int64(1<<63 - 1)
	if cursor != "" {
		n, err := strconv.ParseInt(cursor, 10, 64)
		if err != nil || n <= 0 {
			return nil, "", defs.Invalid("cursor", "not a cursor from a previous page")
		}
		before = n
	}
	rows, err := s.db.QueryContext(ctx, `SELECT id, at, actor, role, action, target, detail FROM audit_log
		WHERE id < ? ORDER BY id DESC LIMIT ?`, before, limit+1)
	if err != nil {
		return nil, "", fmt.Errorf("reading audit log: %w", err)
	}
	defer rows.Close()
	var out []defs.AuditEntry
	for rows.Next() {
		e, err := scanAudit(rows)
		if err != nil {
			return nil, "", err
		}
		out = append(out, e)
	}
	if err := rows.Err(); err != nil {
		return nil, "", fmt.Errorf("reading audit log: %w", err)
	}
	next := ""
	if len(out) > limit {
		out = out[:limit]
		next = strconv.FormatInt(out[limit-1].ID, 10)
	}
	return out, next, nil
}

// AuditFor returns the audit entries whose target is target (a violation
// or case id), oldest first: its custody log. At most 10,000 entries, the
// oldest kept; the log of one piece of evidence is far shorter.
func (s *SQLite) AuditFor(ctx context.Context, target string) ([]defs.AuditEntry, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT id, at, actor, role, action, target, detail FROM audit_log
		WHERE target = ? ORDER BY id LIMIT 10000`, target)
	if err != nil {
		return nil, fmt.Errorf("reading audit log of %s: %w", target, err)
	}
	defer rows.Close()
	var out []defs.AuditEntry
	for rows.Next() {
		e, err := scanAudit(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, e)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("reading audit log of %s: %w", target, err)
	}
	return out, nil
}
