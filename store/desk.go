package store

// The review desk's tables: the reason of each decision, plate
// amendments, reviewers' claims on the cases they have open, and the
// queries of the desk's queue and statistics. Migrations 460-469.

import (
	"context"
	"database/sql"
	"encoding/base64"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/iocd/iocd/defs"
)

func init() {
	register(migration{version: 460, name: "review_reason", sql: `
ALTER TABLE violation_reviews ADD COLUMN reason TEXT NOT NULL DEFAULT '';
CREATE INDEX violation_reviews_at ON violation_reviews (at);
`}, migration{version: 461, name: "violation_amendments", sql: `
-- Append-only corrections of a field as detected; each row is sealed by a
-- ledger entry of kind amendment whose ref is the row's id.
CREATE TABLE violation_amendments (
	id           INTEGER PRIMARY KEY AUTOINCREMENT,
	violation_id TEXT NOT NULL REFERENCES violations(id),
	field        TEXT NOT NULL,
	from_value   TEXT NOT NULL,
	to_value     TEXT NOT NULL,
	note         TEXT NOT NULL,
	actor        TEXT NOT NULL,
	role         TEXT NOT NULL,
	at           TEXT NOT NULL
);
CREATE INDEX violation_amendments_violation ON violation_amendments (violation_id, field, id);
`}, migration{version: 462, name: "review_claims", sql: `
-- Who has a case open on the desk, until when. Not evidence: a claim only
-- keeps two reviewers from deciding one case by accident.
CREATE TABLE review_claims (
	violation_id TEXT PRIMARY KEY REFERENCES violations(id),
	actor        TEXT NOT NULL,
	name         TEXT NOT NULL,
	until        TEXT NOT NULL
);
`}, migration{version: 463, name: "review_queue_indexes", sql: `
CREATE INDEX violations_status_ts ON violations (status, ts, id);
CREATE INDEX audit_log_action_at ON audit_log (action, at);
`})
}

// rowQuerier is a *sql.DB or *sql.Tx as the version read uses it.
type rowQuerier interface {
	QueryRowContext(ctx context.Context, q string, args ...any) *sql.Row
}

// versionOf is a violation's version: its update time (which a clip seal,
// a decision and an amendment each move) with its number of reviews and
// amendments, so that two changes within one clock tick still differ.
func versionOf(ctx context.Context, db rowQuerier, id string) (string, error) {
	var updated string
	var nr, na int
	err := db.QueryRowContext(ctx, `SELECT updated_at,
		(SELECT COUNT(*) FROM violation_reviews WHERE violation_id = v.id),
		(SELECT COUNT(*) FROM violation_amendments WHERE violation_id = v.id)
		FROM violations v WHERE id = ?`, id).Scan(&updated, &nr, &na)
	if errors.Is(err, sql.ErrNoRows) {
		return "", defs.NotFound("violation %q not found", id)
	}
	if err != nil {
		return "", fmt.Errorf("reading violation version: %w", retryable(err))
	}
	return base64.RawURLEncoding.EncodeToString([]byte(updated + "|" + strconv.Itoa(nr) + "|" + strconv.Itoa(na))), nil
}

// ViolationVersion returns the opaque version of a violation as it is now.
func (s *SQLite) ViolationVersion(ctx context.Context, id string) (string, error) {
	return versionOf(ctx, s.db, id)
}

// checkGuard enforces g inside a write transaction.
func checkGuard(ctx context.Context, tx *sql.Tx, id string, g defs.ReviewGuard) error {
	if g.Version != "" {
		cur, err := versionOf(ctx, tx, id)
		if err != nil {
			return err
		}
		if cur != g.Version {
			return defs.Errorf(defs.ECONFLICT, "violation %s changed since you opened it (a decision, a plate correction or its clip was sealed); open it again and decide on what it is now", id)
		}
	}
	if g.Actor != "" {
		var c defs.ReviewClaim
		var until string
		err := tx.QueryRowContext(ctx, `SELECT actor, name, until FROM review_claims WHERE violation_id = ? AND until > ?`,
			id, timeText(g.Now)).Scan(&c.Actor, &c.Name, &until)
		switch {
		case errors.Is(err, sql.ErrNoRows):
		case err != nil:
			return fmt.Errorf("reading claim: %w", retryable(err))
		case c.Actor != g.Actor:
			return defs.Errorf(defs.ECONFLICT, "violation %s is open by %s until %s; only they may decide it meanwhile",
				id, c.Name, parseTime(until).Format(time.RFC3339))
		}
	}
	return nil
}

// DecideReview is AddReview for the desk: in the same transaction it
// checks g (the version the reviewer saw, another's claim) and, with
// g.Release, removes the case's claim.
func (s *SQLite) DecideReview(ctx context.Context, r defs.Review, seal func(r defs.Review, prevHash string) defs.LedgerEntry,
	audit defs.AuditEntry, g defs.ReviewGuard) (defs.Review, error) {
	return s.addReview(ctx, r, seal, audit, g)
}

// AddAmendment stores an amendment, moves the violation's version, and
// appends the ledger entry seal computes for it (with its ID) and the
// audit entry, all in one transaction after checking g.
func (s *SQLite) AddAmendment(ctx context.Context, a defs.Amendment, seal func(a defs.Amendment, prevHash string) defs.LedgerEntry,
	audit defs.AuditEntry, g defs.ReviewGuard) (defs.Amendment, error) {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return a, fmt.Errorf("adding amendment: %w", retryable(err))
	}
	defer tx.Rollback()
	if err := checkGuard(ctx, tx, a.ViolationID, g); err != nil {
		return a, err
	}
	res, err := tx.ExecContext(ctx, `UPDATE violations SET updated_at = ? WHERE id = ?`, timeText(a.At), a.ViolationID)
	if err != nil {
		return a, fmt.Errorf("adding amendment: %w", retryable(err))
	}
	if n, _ := res.RowsAffected(); n != 1 {
		return a, defs.NotFound("violation %q not found", a.ViolationID)
	}
	res, err = tx.ExecContext(ctx, `INSERT INTO violation_amendments (violation_id, field, from_value, to_value, note, actor, role, at)
		VALUES (?,?,?,?,?,?,?,?)`, a.ViolationID, a.Field, a.From, a.To, a.Note, a.Actor, a.Role.String(), timeText(a.At))
	if err != nil {
		return a, fmt.Errorf("adding amendment: %w", retryable(err))
	}
	a.ID, _ = res.LastInsertId()
	if _, err := appendLedger(ctx, tx, func(prev string) defs.LedgerEntry { return seal(a, prev) }); err != nil {
		return a, err
	}
	if err := s.insertAudit(ctx, tx, audit); err != nil {
		return a, err
	}
	if err := tx.Commit(); err != nil {
		return a, fmt.Errorf("adding amendment: %w", retryable(err))
	}
	return a, nil
}

// Amendments returns a violation's amendments, oldest first; id "" returns
// every amendment (for Verify).
func (s *SQLite) Amendments(ctx context.Context, violationID string) ([]defs.Amendment, error) {
	return amendments(ctx, s.db, violationID)
}

// Amendments is SQLite.Amendments, read in the snapshot.
func (r *Snapshot) Amendments(ctx context.Context, violationID string) ([]defs.Amendment, error) {
	return amendments(ctx, r.conn, violationID)
}

func amendments(ctx context.Context, db querier, violationID string) ([]defs.Amendment, error) {
	q := `SELECT id, violation_id, field, from_value, to_value, note, actor, role, at FROM violation_amendments`
	var args []any
	if violationID != "" {
		q += ` WHERE violation_id = ?`
		args = append(args, violationID)
	}
	rows, err := db.QueryContext(ctx, q+` ORDER BY id`, args...)
	if err != nil {
		return nil, fmt.Errorf("listing amendments: %w", err)
	}
	defer rows.Close()
	var out []defs.Amendment
	for rows.Next() {
		var a defs.Amendment
		var role, at string
		if err := rows.Scan(&a.ID, &a.ViolationID, &a.Field, &a.From, &a.To, &a.Note, &a.Actor, &role, &at); err != nil {
			return nil, fmt.Errorf("listing amendments: %w", err)
		}
		a.Role, _ = defs.ParseRole(role)
		a.At = parseTime(at)
		out = append(out, a)
	}
	return out, rows.Err()
}

// inList returns "?,?,?" and the ids as arguments.
func inList(ids []string) (string, []any) {
	args := make([]any, len(ids))
	for i, id := range ids {
		args[i] = id
	}
	return strings.TrimSuffix(strings.Repeat("?,", len(ids)), ","), args
}

// PlateCorrections returns the plate in force (the latest plate
// amendment) of each of ids that has one.
func (s *SQLite) PlateCorrections(ctx context.Context, ids []string) (map[string]string, error) {
	out := map[string]string{}
	if len(ids) == 0 {
		return out, nil
	}
	ph, args := inList(ids)
	rows, err := s.db.QueryContext(ctx, `SELECT violation_id, to_value FROM violation_amendments WHERE id IN
		(SELECT MAX(id) FROM violation_amendments WHERE field = 'plate' AND violation_id IN (`+ph+`) GROUP BY violation_id)`, args...)
	if err != nil {
		return nil, fmt.Errorf("reading plate corrections: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var id, plate string
		if err := rows.Scan(&id, &plate); err != nil {
			return nil, fmt.Errorf("reading plate corrections: %w", err)
		}
		out[id] = plate
	}
	return out, rows.Err()
}

// ClaimReview gives c's actor the case until c.Until, unless another actor
// holds an unexpired claim at now: then that claim is returned and ok is
// false. Claiming again extends one's own claim.
func (s *SQLite) ClaimReview(ctx context.Context, c defs.ReviewClaim, now time.Time) (held defs.ReviewClaim, ok bool, err error) {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return c, false, fmt.Errorf("claiming case: %w", retryable(err))
	}
	defer tx.Rollback()
	var cur defs.ReviewClaim
	var until string
	err = tx.QueryRowContext(ctx, `SELECT actor, name, until FROM review_claims WHERE violation_id = ?`, c.ViolationID).Scan(&cur.Actor, &cur.Name, &until)
	switch {
	case errors.Is(err, sql.ErrNoRows):
	case err != nil:
		return c, false, fmt.Errorf("claiming case: %w", retryable(err))
	default:
		cur.ViolationID, cur.Until = c.ViolationID, parseTime(until)
		if cur.Actor != c.Actor && cur.Until.After(now) {
			return cur, false, nil
		}
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO review_claims (violation_id, actor, name, until) VALUES (?,?,?,?)
		ON CONFLICT (violation_id) DO UPDATE SET actor = excluded.actor, name = excluded.name, until = excluded.until`,
		c.ViolationID, c.Actor, c.Name, timeText(c.Until)); err != nil {
		return c, false, fmt.Errorf("claiming case: %w", retryable(err))
	}
	if err := tx.Commit(); err != nil {
		return c, false, fmt.Errorf("claiming case: %w", retryable(err))
	}
	return c, true, nil
}

// Claims returns the unexpired claims at now on any of ids.
func (s *SQLite) Claims(ctx context.Context, ids []string, now time.Time) (map[string]defs.ReviewClaim, error) {
	out := map[string]defs.ReviewClaim{}
	if len(ids) == 0 {
		return out, nil
	}
	ph, args := inList(ids)
	rows, err := s.db.QueryContext(ctx, `SELECT violation_id, actor, name, until FROM review_claims WHERE violation_id IN (`+ph+`) AND until > ?`,
		append(args, timeText(now))...)
	if err != nil {
		return nil, fmt.Errorf("reading claims: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var c defs.ReviewClaim
		var until string
		if err := rows.Scan(&c.ViolationID, &c.Actor, &c.Name, &until); err != nil {
			return nil, fmt.Errorf("reading claims: %w", err)
		}
		c.Until = parseTime(until)
		out[c.ViolationID] = c
	}
	return out, rows.Err()
}

// queueWhere turns a queue filter into SQL conditions; withStatus false
// leaves out what the counts ignore (statuses and deadline bounds).
func queueWhere(f defs.ReviewQueueFilter, withStatus bool) ([]string, []any) {
	var where []string
	var args []any
	add := func(cond string, arg ...any) { where = append(where, cond); args = append(args, arg...) }
	if withStatus && len(f.Statuses) > 0 {
		ph := strings.TrimSuffix(strings.Repeat("?,", len(f.Statuses)), ",")
		where = append(where, "status IN ("+ph+")")
		for _, st := range f.Statuses {
			args = append(args, st)
		}
	}
	if f.Type != "" {
		add("type = ?", f.Type)
	}
	if f.Camera != "" {
		add("camera = ?", f.Camera)
	}
	if f.Site != "" {
		add("site = ?", f.Site)
	}
	if f.Plate != "" {
		// The plate as detected or as corrected.
		add("(plate = ? OR id IN (SELECT violation_id FROM violation_amendments WHERE field = 'plate' AND to_value = ?))", f.Plate, f.Plate)
	}
	if f.Clip != "" {
		add("clip_status = ?", f.Clip)
	}
	if !f.From.IsZero() {
		add("ts >= ?", timeText(f.From))
	}
	if !f.To.IsZero() {
		add("ts < ?", timeText(f.To))
	}
	if withStatus && (!f.TSFrom.IsZero() || !f.TSTo.IsZero()) {
		add("status != ?", defs.ReviewRejected)
		if !f.TSFrom.IsZero() {
			add("ts >= ?", timeText(f.TSFrom))
		}
		if !f.TSTo.IsZero() {
			add("ts < ?", timeText(f.TSTo))
		}
	}
	return where, args
}

// ReviewQueue returns a page of violations matching f, oldest detection
// first, and the cursor of the next page ("" at the end).
func (s *SQLite) ReviewQueue(ctx context.Context, f defs.ReviewQueueFilter) ([]defs.Violation, string, error) {
	where, args := queueWhere(f, true)
	if f.Cursor != "" {
		raw, err := base64.RawURLEncoding.DecodeString(f.Cursor)
		ts, id, ok := strings.Cut(string(raw), "|")
		if err != nil || !ok {
			return nil, "", defs.Invalid("cursor", "not a cursor from a previous page")
		}
		where = append(where, "(ts > ? OR (ts = ? AND id > ?))")
		args = append(args, ts, ts, id)
	}
	limit := f.Limit
	if limit <= 0 || limit > 1000 {
		limit = 100
	}
	q := `SELECT ` + violationCols + ` FROM violations`
	if len(where) > 0 {
		q += " WHERE " + strings.Join(where, " AND ")
	}
	return violationPage(ctx, s.db, q+" ORDER BY ts, id", args, limit, "listing the review queue")
}

// ReviewQueueCounts counts the violations matching f, leaving out its
// statuses, deadline bounds and page, by status and by deadline bucket
// (b, as bounds on the detection time; rejected ones have no deadline).
func (s *SQLite) ReviewQueueCounts(ctx context.Context, f defs.ReviewQueueFilter, b defs.ReviewDueBounds) (defs.ReviewQueueCounts, error) {
	where, args := queueWhere(f, false)
	q := `SELECT COALESCE(SUM(status = 'pending'), 0), COALESCE(SUM(status = 'awaiting_second'), 0),
		COALESCE(SUM(status = 'disputed'), 0), COALESCE(SUM(status = 'confirmed'), 0), COALESCE(SUM(status = 'rejected'), 0),
		COALESCE(SUM(status != 'rejected' AND ts < ?), 0),
		COALESCE(SUM(status != 'rejected' AND ts >= ? AND ts < ?), 0),
		COALESCE(SUM(status != 'rejected' AND ts >= ? AND ts < ?), 0)
		FROM violations`
	bargs := []any{timeText(b.Now), timeText(b.Now), timeText(b.Tomorrow), timeText(b.Tomorrow), timeText(b.DayAfter)}
	if len(where) > 0 {
		q += " WHERE " + strings.Join(where, " AND ")
	}
	var c defs.ReviewQueueCounts
	err := s.db.QueryRowContext(ctx, q, append(bargs, args...)...).Scan(&c.Pending, &c.AwaitingSecond, &c.Disputed, &c.Confirmed, &c.Rejected,
		&c.Overdue, &c.DueToday, &c.DueTomorrow)
	if err != nil {
		return c, fmt.Errorf("counting the review queue: %w", err)
	}
	return c, nil
}

// CountDetectedBetween counts the violations not rejected detected in
// [from, to): the overview's deadlines, shifted to detection times.
func (s *SQLite) CountDetectedBetween(ctx context.Context, from, to time.Time) (int, error) {
	var n int
	err := s.db.QueryRowContext(ctx, `SELECT COUNT(*) FROM violations WHERE status != ? AND ts >= ? AND ts < ?`,
		defs.ReviewRejected, timeText(from), timeText(to)).Scan(&n)
	if err != nil {
		return 0, fmt.Errorf("counting violations due: %w", err)
	}
	return n, nil
}

// ReviewsBetween returns the decisions made in [from, to), oldest first.
func (s *SQLite) ReviewsBetween(ctx context.Context, from, to time.Time) ([]defs.Review, error) {
	return reviewsWhere(ctx, s.db, ` WHERE at >= ? AND at < ?`, timeText(from), timeText(to))
}

// AuditActions returns the audit entries of one action made in [from,
// to), oldest first.
func (s *SQLite) AuditActions(ctx context.Context, action string, from, to time.Time) ([]defs.AuditEntry, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT id, at, actor, role, action, target, detail FROM audit_log
		WHERE action = ? AND at >= ? AND at < ? ORDER BY id`, action, timeText(from), timeText(to))
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
