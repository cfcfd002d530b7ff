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
`})
}

// AddAudit appends one entry to the audit log.
func (s *SQLite) AddAudit(ctx context.Context, e defs.AuditEntry) error {
	return insertAudit(ctx, s.db, e)
}

// insertAudit appends e using db or, to commit it with the change it
// records, the caller's transaction.
func insertAudit(ctx context.Context, db interface {
	ExecContext(ctx context.Context, q string, args ...any) (sql.Result, error)
}, e defs.AuditEntry) error {
	_, err := db.ExecContext(ctx, `INSERT INTO audit_log (at, actor, role, action, target, detail) VALUES (?,?,?,?,?,?)`,
		timeText(e.At), e.Actor, e.Role.String(), e.Action, e.Target, e.Detail)
	if err != nil {
		return fmt.Errorf("writing audit log: %w", err)
	}
	return nil
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
		var e defs.AuditEntry
		var at, role string
		if err := rows.Scan(&e.ID, &at, &e.Actor, &role, &e.Action, &e.Target, &e.Detail); err != nil {
			return nil, "", fmt.Errorf("reading audit log: %w", err)
		}
		e.At = parseTime(at)
		e.Role, _ = defs.ParseRole(role)
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
