package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/iocd/iocd/defs"
)

func init() {
	// Migrations 450-459 are evidence cases' and legal holds' (branch
	// cases). A case's manifest is the exact bytes its LedgerCase entry
	// seals (case.json in the package).
	register(migration{version: 450, name: "cases", sql: `
CREATE TABLE cases (
	id              TEXT PRIMARY KEY,
	title           TEXT NOT NULL,
	created_by      TEXT NOT NULL,
	created_at      TEXT NOT NULL,
	manifest_sha256 TEXT NOT NULL,
	manifest        BLOB NOT NULL
);
CREATE TABLE case_violations (
	case_id      TEXT NOT NULL REFERENCES cases(id),
	violation_id TEXT NOT NULL REFERENCES violations(id),
	position     INTEGER NOT NULL,
	PRIMARY KEY (case_id, violation_id)
);
CREATE INDEX case_violations_violation ON case_violations (violation_id);
`}, migration{version: 451, name: "legal_holds", sql: `
CREATE TABLE legal_holds (
	id             INTEGER PRIMARY KEY AUTOINCREMENT,
	target_kind    TEXT NOT NULL,
	target_id      TEXT NOT NULL,
	reason         TEXT NOT NULL,
	placed_by      TEXT NOT NULL,
	placed_at      TEXT NOT NULL,
	released_by    TEXT NOT NULL DEFAULT '',
	released_at    TEXT NOT NULL DEFAULT '',
	release_reason TEXT NOT NULL DEFAULT ''
);
-- At most one hold in force per target.
CREATE UNIQUE INDEX legal_holds_active ON legal_holds (target_kind, target_id) WHERE released_at = '';
`})
}

// heldClause is true for a violation (its id column named by col) on
// legal hold, directly or through a held case.
func heldClause(col string) string {
	return `(` + col + ` IN (SELECT target_id FROM legal_holds WHERE target_kind = 'violation' AND released_at = '')
		OR ` + col + ` IN (SELECT cv.violation_id FROM case_violations cv JOIN legal_holds h
			ON h.target_kind = 'case' AND h.target_id = cv.case_id AND h.released_at = ''))`
}

func placeholders(n int) string { return strings.TrimSuffix(strings.Repeat("?,", n), ",") }

// CreateCase stores a case, its members in order, the ledger entry seal
// computes for it and the audit entries, in one transaction: a case
// cannot exist unsealed or unaudited. A member that does not exist fails
// the whole case with a defs ENOTFOUND error.
func (s *SQLite) CreateCase(ctx context.Context, c defs.Case, manifest []byte, seal func(prevHash string) defs.LedgerEntry,
	audits []defs.AuditEntry) error {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("creating case: %w", retryable(err))
	}
	defer tx.Rollback()
	if _, err := tx.ExecContext(ctx, `INSERT INTO cases (id, title, created_by, created_at, manifest_sha256, manifest) VALUES (?,?,?,?,?,?)`,
		c.ID, c.Title, c.CreatedBy, timeText(c.CreatedAt), c.ManifestSHA256, manifest); err != nil {
		return fmt.Errorf("creating case: %w", retryable(err))
	}
	for i, id := range c.Violations {
		var one int
		if err := tx.QueryRowContext(ctx, `SELECT 1 FROM violations WHERE id = ?`, id).Scan(&one); errors.Is(err, sql.ErrNoRows) {
			return defs.NotFound("violation %q not found", id)
		} else if err != nil {
			return fmt.Errorf("creating case: %w", retryable(err))
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO case_violations (case_id, violation_id, position) VALUES (?,?,?)`, c.ID, id, i); err != nil {
			return fmt.Errorf("creating case: %w", retryable(err))
		}
	}
	if _, err := appendLedger(ctx, tx, seal); err != nil {
		return err
	}
	for _, a := range audits {
		if err := s.insertAudit(ctx, tx, a); err != nil {
			return err
		}
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("creating case: %w", retryable(err))
	}
	return nil
}

const caseCols = `id, title, created_by, created_at, manifest_sha256,
	EXISTS (SELECT 1 FROM legal_holds h WHERE h.target_kind = 'case' AND h.target_id = cases.id AND h.released_at = '')`

func scanCase(row interface{ Scan(...any) error }) (defs.Case, error) {
	var c defs.Case
	var at string
	var held int
	if err := row.Scan(&c.ID, &c.Title, &c.CreatedBy, &at, &c.ManifestSHA256, &held); err != nil {
		return c, err
	}
	c.CreatedAt, c.Held = parseTime(at), held != 0
	return c, nil
}

// GetCase returns a case with its members in order and its sealed
// manifest, or a defs ENOTFOUND error.
func (s *SQLite) GetCase(ctx context.Context, id string) (defs.Case, []byte, error) {
	c, err := scanCase(s.db.QueryRowContext(ctx, `SELECT `+caseCols+` FROM cases WHERE id = ?`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return c, nil, defs.NotFound("case %q not found", id)
	}
	if err != nil {
		return c, nil, fmt.Errorf("reading case: %w", err)
	}
	var manifest []byte
	if err := s.db.QueryRowContext(ctx, `SELECT manifest FROM cases WHERE id = ?`, id).Scan(&manifest); err != nil {
		return c, nil, fmt.Errorf("reading case: %w", err)
	}
	rows, err := s.db.QueryContext(ctx, `SELECT violation_id FROM case_violations WHERE case_id = ? ORDER BY position`, id)
	if err != nil {
		return c, nil, fmt.Errorf("reading case: %w", err)
	}
	defer rows.Close()
	c.Violations = []string{}
	for rows.Next() {
		var v string
		if err := rows.Scan(&v); err != nil {
			return c, nil, fmt.Errorf("reading case: %w", err)
		}
		c.Violations = append(c.Violations, v)
	}
	return c, manifest, rows.Err()
}

// ListCases returns up to limit cases, newest first (ids sort by
// creation), before the cursor (the last id of a previous page), and the
// next page's cursor ("" at the end). Members are not listed.
func (s *SQLite) ListCases(ctx context.Context, cursor string, limit int) ([]defs.Case, string, error) {
	if limit <= 0 || limit > 1000 {
		limit = 100
	}
	q, args := `SELECT `+caseCols+` FROM cases`, []any{}
	if cursor != "" {
		q += ` WHERE id < ?`
		args = append(args, cursor)
	}
	rows, err := s.db.QueryContext(ctx, q+` ORDER BY id DESC LIMIT ?`, append(args, limit+1)...)
	if err != nil {
		return nil, "", fmt.Errorf("listing cases: %w", err)
	}
	defer rows.Close()
	out := []defs.Case{}
	for rows.Next() {
		c, err := scanCase(rows)
		if err != nil {
			return nil, "", fmt.Errorf("listing cases: %w", err)
		}
		out = append(out, c)
	}
	if err := rows.Err(); err != nil {
		return nil, "", fmt.Errorf("listing cases: %w", err)
	}
	next := ""
	if len(out) > limit {
		out = out[:limit]
		next = out[limit-1].ID
	}
	return out, next, nil
}

// AddAudits appends several audit entries (each sealed) in one
// transaction: all of them are on record, or none.
func (s *SQLite) AddAudits(ctx context.Context, es []defs.AuditEntry) error {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("writing audit log: %w", retryable(err))
	}
	defer tx.Rollback()
	for _, e := range es {
		if err := s.insertAudit(ctx, tx, e); err != nil {
			return err
		}
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("writing audit log: %w", retryable(err))
	}
	return nil
}

// PlaceHold puts a violation or case on legal hold, with its audit entry
// in the same transaction. The target must exist (defs ENOTFOUND) and
// not be held already (defs ECONFLICT).
func (s *SQLite) PlaceHold(ctx context.Context, h defs.LegalHold, audit defs.AuditEntry) (defs.LegalHold, error) {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return h, fmt.Errorf("placing hold: %w", retryable(err))
	}
	defer tx.Rollback()
	table := map[defs.HoldTarget]string{defs.HoldViolation: "violations", defs.HoldCase: "cases"}[h.Target]
	if table == "" {
		return h, defs.Invalid("target", "must be violation or case")
	}
	var one int
	if err := tx.QueryRowContext(ctx, `SELECT 1 FROM `+table+` WHERE id = ?`, h.TargetID).Scan(&one); errors.Is(err, sql.ErrNoRows) {
		return h, defs.NotFound("%s %q not found", h.Target, h.TargetID)
	} else if err != nil {
		return h, fmt.Errorf("placing hold: %w", retryable(err))
	}
	var existing string
	err = tx.QueryRowContext(ctx, `SELECT placed_by FROM legal_holds WHERE target_kind = ? AND target_id = ? AND released_at = ''`,
		h.Target, h.TargetID).Scan(&existing)
	if err == nil {
		return h, defs.Errorf(defs.ECONFLICT, "%s %s is already on hold (placed by %s)", h.Target, h.TargetID, existing)
	}
	if !errors.Is(err, sql.ErrNoRows) {
		return h, fmt.Errorf("placing hold: %w", retryable(err))
	}
	res, err := tx.ExecContext(ctx, `INSERT INTO legal_holds (target_kind, target_id, reason, placed_by, placed_at) VALUES (?,?,?,?,?)`,
		h.Target, h.TargetID, h.Reason, h.PlacedBy, timeText(h.PlacedAt))
	if err != nil {
		return h, fmt.Errorf("placing hold: %w", retryable(err))
	}
	h.ID, _ = res.LastInsertId()
	if err := s.insertAudit(ctx, tx, audit); err != nil {
		return h, err
	}
	if err := tx.Commit(); err != nil {
		return h, fmt.Errorf("placing hold: %w", retryable(err))
	}
	return h, nil
}

// ReleaseHold lifts the hold in force on a target, with its audit entry
// in the same transaction; defs ENOTFOUND if there is none.
func (s *SQLite) ReleaseHold(ctx context.Context, target defs.HoldTarget, id, by, reason string, at time.Time, audit defs.AuditEntry) (defs.LegalHold, error) {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return defs.LegalHold{}, fmt.Errorf("releasing hold: %w", retryable(err))
	}
	defer tx.Rollback()
	h, err := scanHold(tx.QueryRowContext(ctx, `SELECT `+holdCols+` FROM legal_holds WHERE target_kind = ? AND target_id = ? AND released_at = ''`, target, id))
	if errors.Is(err, sql.ErrNoRows) {
		return h, defs.NotFound("%s %q is not on hold", target, id)
	}
	if err != nil {
		return h, fmt.Errorf("releasing hold: %w", retryable(err))
	}
	h.ReleasedBy, h.ReleasedAt, h.ReleaseReason = by, at, reason
	if _, err := tx.ExecContext(ctx, `UPDATE legal_holds SET released_by = ?, released_at = ?, release_reason = ? WHERE id = ?`,
		by, timeText(at), reason, h.ID); err != nil {
		return h, fmt.Errorf("releasing hold: %w", retryable(err))
	}
	if err := s.insertAudit(ctx, tx, audit); err != nil {
		return h, err
	}
	if err := tx.Commit(); err != nil {
		return h, fmt.Errorf("releasing hold: %w", retryable(err))
	}
	return h, nil
}

const holdCols = `id, target_kind, target_id, reason, placed_by, placed_at, released_by, released_at, release_reason`

func scanHold(row interface{ Scan(...any) error }) (defs.LegalHold, error) {
	var h defs.LegalHold
	var kind, placed, released string
	err := row.Scan(&h.ID, &kind, &h.TargetID, &h.Reason, &h.PlacedBy, &placed, &h.ReleasedBy, &released, &h.ReleaseReason)
	h.Target, h.PlacedAt, h.ReleasedAt = defs.HoldTarget(kind), parseTime(placed), parseTime(released)
	return h, err
}

// Holds returns every hold ever placed on a target, oldest first.
func (s *SQLite) Holds(ctx context.Context, target defs.HoldTarget, id string) ([]defs.LegalHold, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT `+holdCols+` FROM legal_holds WHERE target_kind = ? AND target_id = ? ORDER BY id`, target, id)
	if err != nil {
		return nil, fmt.Errorf("reading holds: %w", err)
	}
	defer rows.Close()
	out := []defs.LegalHold{}
	for rows.Next() {
		h, err := scanHold(rows)
		if err != nil {
			return nil, fmt.Errorf("reading holds: %w", err)
		}
		out = append(out, h)
	}
	return out, rows.Err()
}

// Held reports whether a violation is on legal hold, directly or through
// a held case.
func (s *SQLite) Held(ctx context.Context, violationID string) (bool, error) {
	var held int
	if err := s.db.QueryRowContext(ctx, `SELECT `+heldClause("?"), violationID, violationID).Scan(&held); err != nil {
		return false, fmt.Errorf("reading holds: %w", err)
	}
	return held != 0, nil
}

// UnheldViolationsWithClip is ViolationsWithClip without the violations
// on legal hold (directly or through a held case): what retention and
// disk pressure may remove.
func (s *SQLite) UnheldViolationsWithClip(ctx context.Context, clipStatuses []defs.ClipStatus, status defs.ReviewStatus, before time.Time, limit int) ([]defs.Violation, error) {
	args := make([]any, 0, len(clipStatuses)+3)
	for _, c := range clipStatuses {
		args = append(args, c)
	}
	q := `SELECT ` + violationCols + ` FROM violations WHERE clip_status IN (` + placeholders(len(clipStatuses)) + `) AND NOT ` + heldClause("id")
	if status != "" {
		q += ` AND status = ?`
		args = append(args, status)
	}
	if !before.IsZero() {
		q += ` AND (CASE WHEN reviewed_at = '' THEN created_at ELSE reviewed_at END) < ?`
		args = append(args, timeText(before))
	}
	rows, err := s.db.QueryContext(ctx, q+` ORDER BY created_at, id LIMIT ?`, append(args, limit)...)
	if err != nil {
		return nil, fmt.Errorf("listing violations by clip: %w", err)
	}
	defer rows.Close()
	var out []defs.Violation
	for rows.Next() {
		v, err := scanViolation(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, rows.Err()
}

// FirstLedgerSeq returns the sequence number of the earliest ledger
// entry that seals anything of the given violations: their records,
// reviews and amendments, or an audit entry whose target is one of
// targets (0 if none).
func (s *SQLite) FirstLedgerSeq(ctx context.Context, violationIDs, targets []string) (int64, error) {
	var first sql.NullInt64
	args := make([]any, 0, len(violationIDs)+len(targets))
	for _, id := range violationIDs {
		args = append(args, id)
	}
	for _, t := range targets {
		args = append(args, t)
	}
	q := `SELECT MIN(seq) FROM violation_ledger WHERE violation_id IN (` + placeholders(len(violationIDs)) + `)
		OR (kind = 'audit' AND ref IN (SELECT CAST(id AS TEXT) FROM audit_log WHERE target IN (` + placeholders(len(targets)) + `)))`
	if err := s.db.QueryRowContext(ctx, q, args...).Scan(&first); err != nil {
		return 0, fmt.Errorf("reading ledger: %w", err)
	}
	return first.Int64, nil
}

// LedgerFrom returns the ledger's entries from seq from to the head, in
// order; the last one is the head.
func (s *SQLite) LedgerFrom(ctx context.Context, from int64) ([]defs.LedgerEntry, error) {
	// The head first, so that entries appended meanwhile are not taken.
	var head int64
	if err := s.db.QueryRowContext(ctx, `SELECT COALESCE(MAX(seq), 0) FROM violation_ledger`).Scan(&head); err != nil {
		return nil, fmt.Errorf("reading ledger head: %w", err)
	}
	return ledgerWhere(ctx, s.db, `seq >= ? AND seq <= ?`, from, head)
}
