package store

import (
	"context"
	"database/sql"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"github.com/iocd/iocd/defs"
)

// errStoreUnavailable marks a failure that says nothing about the data: the
// database is locked by another writer, its disk is full or failing, or the
// caller's deadline ran out waiting. The caller may retry the same write
// (ingest leaves the message unacknowledged and tries again).
var errStoreUnavailable = defs.Errorf(defs.EUNAVAILABLE, "store busy or unavailable; retry")

// retryable wraps err so that defs.ErrorCode reports EUNAVAILABLE when it
// is such a failure, keeping the original in the chain; other errors are
// returned as they are.
func retryable(err error) error {
	if err == nil {
		return nil
	}
	var se *sqlite.Error
	if errors.As(err, &se) {
		switch se.Code() & 0xff {
		case sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED, sqlite3.SQLITE_FULL, sqlite3.SQLITE_IOERR,
			sqlite3.SQLITE_CANTOPEN, sqlite3.SQLITE_INTERRUPT:
			return fmt.Errorf("%w: %w", errStoreUnavailable, err)
		}
	}
	if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) {
		return fmt.Errorf("%w: %w", errStoreUnavailable, err)
	}
	return err
}

func init() {
	register(migration{version: 100, name: "violations", sql: `
CREATE TABLE violations (
	id               TEXT PRIMARY KEY,
	camera           TEXT NOT NULL,
	site             TEXT NOT NULL,
	event_id         TEXT NOT NULL,
	type             TEXT NOT NULL,
	ts               TEXT NOT NULL,
	plate            TEXT NOT NULL,
	plate_raw        TEXT NOT NULL,
	plate_valid      INTEGER NOT NULL,
	plate_flag       TEXT NOT NULL DEFAULT '',
	plate_confidence REAL NOT NULL,
	vehicle          TEXT NOT NULL,
	speed_kmh        REAL NOT NULL,
	limit_kmh        REAL NOT NULL,
	lane             INTEGER NOT NULL,
	status           TEXT NOT NULL,
	clip_status      TEXT NOT NULL,
	clip_reason      TEXT NOT NULL DEFAULT '',
	clip_sha256      TEXT NOT NULL DEFAULT '',
	clip_path        TEXT NOT NULL DEFAULT '',
	clip_bytes       INTEGER NOT NULL DEFAULT 0,
	clip_start       TEXT NOT NULL DEFAULT '',
	clip_end         TEXT NOT NULL DEFAULT '',
	snapshot_sha256  TEXT NOT NULL DEFAULT '',
	snapshot_path    TEXT NOT NULL DEFAULT '',
	reviewed_by      TEXT NOT NULL DEFAULT '',
	reviewed_at      TEXT NOT NULL DEFAULT '',
	created_at       TEXT NOT NULL,
	updated_at       TEXT NOT NULL,
	UNIQUE (camera, event_id)
);
CREATE INDEX violations_ts ON violations (ts DESC, id DESC);
CREATE INDEX violations_plate ON violations (plate);
CREATE INDEX violations_clip ON violations (clip_status, status);

CREATE TABLE violation_reviews (
	id           INTEGER PRIMARY KEY AUTOINCREMENT,
	violation_id TEXT NOT NULL REFERENCES violations(id),
	decision     TEXT NOT NULL,
	previous     TEXT NOT NULL,
	note         TEXT NOT NULL,
	actor        TEXT NOT NULL,
	role         TEXT NOT NULL,
	at           TEXT NOT NULL
);
CREATE INDEX violation_reviews_violation ON violation_reviews (violation_id, id);

-- The hash chain: append-only, one row per sealed fact, in order.
CREATE TABLE violation_ledger (
	seq          INTEGER PRIMARY KEY AUTOINCREMENT,
	violation_id TEXT NOT NULL,
	kind         TEXT NOT NULL,
	ref          TEXT NOT NULL,
	content_hash TEXT NOT NULL,
	prev_hash    TEXT NOT NULL,
	hash         TEXT NOT NULL,
	at           TEXT NOT NULL
);
CREATE INDEX violation_ledger_violation ON violation_ledger (violation_id, seq);
`})
}

func init() {
	// identity_hash pins the fields of a record that must never change
	// after its first seal; see violations/ledger.go. Entries written
	// before it (and review entries) have ''.
	register(migration{version: 101, name: "ledger_identity", sql: `
ALTER TABLE violation_ledger ADD COLUMN identity_hash TEXT NOT NULL DEFAULT '';
`})
}

func init() {
	// Migrations 350-399 are the signed ledger's (branch seal). The
	// ledger's form 2 entries carry their key, signature and (key
	// entries) payload; form 1 entries are those written before.
	register(migration{version: 350, name: "ledger_signed", sql: `
ALTER TABLE violation_ledger ADD COLUMN form INTEGER NOT NULL DEFAULT 1;
ALTER TABLE violation_ledger ADD COLUMN key_id TEXT NOT NULL DEFAULT '';
ALTER TABLE violation_ledger ADD COLUMN signature TEXT NOT NULL DEFAULT '';
ALTER TABLE violation_ledger ADD COLUMN payload TEXT NOT NULL DEFAULT '';
CREATE INDEX violation_ledger_kind ON violation_ledger (kind, seq);
`})
	// The place as it was at filing, the raw event as sent, and the
	// evidential checks (filled by the streams health gate), all sealed
	// with the record.
	register(migration{version: 351, name: "violation_place_raw_evidential", sql: `
ALTER TABLE violations ADD COLUMN camera_name TEXT NOT NULL DEFAULT '';
ALTER TABLE violations ADD COLUMN address TEXT NOT NULL DEFAULT '';
ALTER TABLE violations ADD COLUMN lat REAL NOT NULL DEFAULT 0;
ALTER TABLE violations ADD COLUMN lon REAL NOT NULL DEFAULT 0;
ALTER TABLE violations ADD COLUMN raw_event BLOB NOT NULL DEFAULT x'';
ALTER TABLE violations ADD COLUMN raw_event_sha256 TEXT NOT NULL DEFAULT '';
ALTER TABLE violations ADD COLUMN evidential INTEGER NOT NULL DEFAULT 0;
ALTER TABLE violations ADD COLUMN evidence_checks TEXT NOT NULL DEFAULT '';
ALTER TABLE violations ADD COLUMN clock_offset_ms REAL NOT NULL DEFAULT 0;
ALTER TABLE violations ADD COLUMN host_clock_synced INTEGER NOT NULL DEFAULT 0;
ALTER TABLE violations ADD COLUMN host_clock_error_ms REAL NOT NULL DEFAULT 0;
`})
	// RFC 3161 timestamps of ledger heads from evidence.tsa_url.
	register(migration{version: 352, name: "ledger_timestamps", sql: `
CREATE TABLE violation_timestamps (
	id    INTEGER PRIMARY KEY AUTOINCREMENT,
	hash  TEXT NOT NULL,
	token BLOB NOT NULL,
	at    TEXT NOT NULL,
	-- the hash of the ledger entry that seals this timestamp
	sealed_by TEXT NOT NULL
);
`})
}

// AddTimestamp stores a TSA's timestamp of a ledger head and, in the same
// transaction, the ledger entry seal computes for it, so a deleted
// timestamp is found like a deleted audit row.
func (s *SQLite) AddTimestamp(ctx context.Context, ts defs.LedgerTimestamp, seal func(defs.LedgerTimestamp, string) defs.LedgerEntry) error {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("storing timestamp: %w", retryable(err))
	}
	defer tx.Rollback()
	e, err := appendLedger(ctx, tx, func(prev string) defs.LedgerEntry { return seal(ts, prev) })
	if err != nil {
		return err
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO violation_timestamps (hash, token, at, sealed_by) VALUES (?,?,?,?)`,
		ts.Hash, ts.Token, timeText(ts.At), e.Hash); err != nil {
		return fmt.Errorf("storing timestamp: %w", retryable(err))
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("storing timestamp: %w", retryable(err))
	}
	return nil
}

// Timestamps returns the stored timestamps of ledger heads, oldest first.
func (s *SQLite) Timestamps(ctx context.Context) ([]defs.LedgerTimestamp, error) {
	return timestamps(ctx, s.db)
}

func timestamps(ctx context.Context, db querier) ([]defs.LedgerTimestamp, error) {
	rows, err := db.QueryContext(ctx, `SELECT hash, token, at FROM violation_timestamps ORDER BY id`)
	if err != nil {
		return nil, fmt.Errorf("reading timestamps: %w", err)
	}
	defer rows.Close()
	var out []defs.LedgerTimestamp
	for rows.Next() {
		var ts defs.LedgerTimestamp
		var at string
		if err := rows.Scan(&ts.Hash, &ts.Token, &at); err != nil {
			return nil, fmt.Errorf("reading timestamps: %w", err)
		}
		ts.At = parseTime(at)
		out = append(out, ts)
	}
	return out, rows.Err()
}

// LastTimestamp returns the ledger head stamped last and the hash of the
// entry that sealed its stamp ("" for none).
func (s *SQLite) LastTimestamp(ctx context.Context) (stamped, sealedBy string, err error) {
	err = s.db.QueryRowContext(ctx, `SELECT hash, sealed_by FROM violation_timestamps ORDER BY id DESC LIMIT 1`).Scan(&stamped, &sealedBy)
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return "", "", fmt.Errorf("reading timestamps: %w", err)
	}
	return stamped, sealedBy, nil
}

// violationCols are the columns of a record as listed; raw_event is read
// only with one record (GetViolation), since it may hold a snapshot.
const violationCols = `id, camera, site, event_id, type, ts, plate, plate_raw, plate_valid, plate_flag,
	plate_confidence, vehicle, speed_kmh, limit_kmh, lane, status, clip_status, clip_reason, clip_sha256,
	clip_path, clip_bytes, clip_start, clip_end, snapshot_sha256, snapshot_path, reviewed_by, reviewed_at,
	created_at, updated_at, camera_name, address, lat, lon, raw_event_sha256, evidential, evidence_checks,
	clock_offset_ms, host_clock_synced, host_clock_error_ms`

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

// checksText stores evidence checks as JSON ("" for none).
func checksText(cs []defs.EvidenceCheck) string {
	if len(cs) == 0 {
		return ""
	}
	b, _ := json.Marshal(cs) // plain structs: cannot fail
	return string(b)
}

func optTime(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return timeText(t)
}

func scanViolation(row interface{ Scan(...any) error }) (defs.Violation, error) {
	var v defs.Violation
	var ts, clipStart, clipEnd, reviewedAt, created, updated, status, clipStatus, checks string
	var valid, evidential, synced int
	err := row.Scan(&v.ID, &v.Camera, &v.Site, &v.EventID, &v.Type, &ts, &v.Plate, &v.PlateRaw, &valid, &v.PlateFlag,
		&v.PlateConfidence, &v.Vehicle, &v.SpeedKmh, &v.LimitKmh, &v.Lane, &status, &clipStatus, &v.ClipReason,
		&v.ClipSHA256, &v.ClipPath, &v.ClipBytes, &clipStart, &clipEnd, &v.SnapshotSHA256, &v.SnapshotPath,
		&v.ReviewedBy, &reviewedAt, &created, &updated, &v.CameraName, &v.Address, &v.Lat, &v.Lon, &v.RawEventSHA256,
		&evidential, &checks, &v.ClockOffsetMs, &synced, &v.HostClockErrorMs)
	if err != nil {
		return v, err
	}
	if checks != "" {
		if err := json.Unmarshal([]byte(checks), &v.EvidenceChecks); err != nil {
			return v, fmt.Errorf("violation %s: evidence checks: %w", v.ID, err)
		}
	}
	v.Evidential, v.HostClockSynced = evidential != 0, synced != 0
	v.Time, v.ClipStart, v.ClipEnd = parseTime(ts), parseTime(clipStart), parseTime(clipEnd)
	v.ReviewedAt, v.CreatedAt, v.UpdatedAt = parseTime(reviewedAt), parseTime(created), parseTime(updated)
	v.PlateValid = valid != 0
	v.Status, v.ClipStatus = defs.ReviewStatus(status), defs.ClipStatus(clipStatus)
	return v, nil
}

// InsertViolation stores a new violation. If one with the same camera and
// event id exists (a re-delivered event), it is returned instead and
// created is false.
func (s *SQLite) InsertViolation(ctx context.Context, v defs.Violation) (stored defs.Violation, created bool, err error) {
	raw := []byte(v.RawEvent)
	if raw == nil {
		raw = []byte{}
	}
	res, err := s.db.ExecContext(ctx, `INSERT INTO violations (`+violationCols+`, raw_event)
		VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)
		ON CONFLICT (camera, event_id) DO NOTHING`,
		v.ID, v.Camera, v.Site, v.EventID, v.Type, timeText(v.Time), v.Plate, v.PlateRaw, boolInt(v.PlateValid), v.PlateFlag,
		v.PlateConfidence, v.Vehicle, v.SpeedKmh, v.LimitKmh, v.Lane, v.Status, v.ClipStatus, v.ClipReason,
		v.ClipSHA256, v.ClipPath, v.ClipBytes, optTime(v.ClipStart), optTime(v.ClipEnd), v.SnapshotSHA256,
		v.SnapshotPath, v.ReviewedBy, optTime(v.ReviewedAt), timeText(v.CreatedAt), timeText(v.UpdatedAt),
		v.CameraName, v.Address, v.Lat, v.Lon, v.RawEventSHA256, boolInt(v.Evidential), checksText(v.EvidenceChecks),
		v.ClockOffsetMs, boolInt(v.HostClockSynced), v.HostClockErrorMs, raw)
	if err != nil {
		return v, false, fmt.Errorf("inserting violation: %w", retryable(err))
	}
	if n, _ := res.RowsAffected(); n == 1 {
		return v, true, nil
	}
	row := s.db.QueryRowContext(ctx, `SELECT `+violationCols+` FROM violations WHERE camera = ? AND event_id = ?`, v.Camera, v.EventID)
	stored, err = scanViolation(row)
	if err != nil {
		return v, false, fmt.Errorf("reading existing violation: %w", retryable(err))
	}
	return stored, false, nil
}

// SealEvidence sets a violation's clip and snapshot fields and, in the same
// transaction, appends the ledger entry seal computes (with its hash) from
// the row as stored and the previous entry's hash ("" for the first), and
// the audit entry if audit is not nil: a crash cannot leave evidence
// changed but unsealed or unaudited, and concurrent seals chain in commit
// order.
func (s *SQLite) SealEvidence(ctx context.Context, v defs.Violation, seal func(stored defs.Violation, prevHash string) defs.LedgerEntry,
	audit *defs.AuditEntry) (defs.Violation, error) {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return v, fmt.Errorf("sealing evidence: %w", retryable(err))
	}
	defer tx.Rollback()
	_, err = tx.ExecContext(ctx, `UPDATE violations SET clip_status = ?, clip_reason = ?, clip_sha256 = ?,
		clip_path = ?, clip_bytes = ?, clip_start = ?, clip_end = ?, snapshot_sha256 = ?, snapshot_path = ?,
		evidential = ?, evidence_checks = ?, clock_offset_ms = ?, host_clock_synced = ?, host_clock_error_ms = ?,
		updated_at = ? WHERE id = ?`,
		v.ClipStatus, v.ClipReason, v.ClipSHA256, v.ClipPath, v.ClipBytes, optTime(v.ClipStart), optTime(v.ClipEnd),
		v.SnapshotSHA256, v.SnapshotPath, boolInt(v.Evidential), checksText(v.EvidenceChecks), v.ClockOffsetMs,
		boolInt(v.HostClockSynced), v.HostClockErrorMs, timeText(v.UpdatedAt), v.ID)
	if err != nil {
		return v, fmt.Errorf("updating violation evidence: %w", retryable(err))
	}
	stored, err := scanViolation(tx.QueryRowContext(ctx, `SELECT `+violationCols+` FROM violations WHERE id = ?`, v.ID))
	if errors.Is(err, sql.ErrNoRows) {
		return v, defs.NotFound("violation %q not found", v.ID)
	}
	if err != nil {
		return v, fmt.Errorf("reading violation back: %w", err)
	}
	if _, err := appendLedger(ctx, tx, func(prev string) defs.LedgerEntry { return seal(stored, prev) }); err != nil {
		return v, err
	}
	if audit != nil {
		if err := s.insertAudit(ctx, tx, *audit); err != nil {
			return v, err
		}
	}
	if err := tx.Commit(); err != nil {
		return v, fmt.Errorf("sealing evidence: %w", retryable(err))
	}
	return stored, nil
}

// GetViolation returns one violation with its raw event, or a
// defs.NotFound error.
func (s *SQLite) GetViolation(ctx context.Context, id string) (defs.Violation, error) {
	v, err := scanViolation(s.db.QueryRowContext(ctx, `SELECT `+violationCols+` FROM violations WHERE id = ?`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return v, defs.NotFound("violation %q not found", id)
	}
	if err != nil {
		return v, fmt.Errorf("reading violation: %w", err)
	}
	raw, err := rawEvent(ctx, s.db, id)
	if err != nil {
		return v, err
	}
	if len(raw) > 0 {
		v.RawEvent = raw
	}
	return v, nil
}

// RawEvent returns a violation's raw event as stored (empty if none).
func (s *SQLite) RawEvent(ctx context.Context, id string) ([]byte, error) {
	return rawEvent(ctx, s.db, id)
}

func rawEvent(ctx context.Context, db querier, id string) ([]byte, error) {
	rows, err := db.QueryContext(ctx, `SELECT raw_event FROM violations WHERE id = ?`, id)
	if err != nil {
		return nil, fmt.Errorf("reading raw event: %w", err)
	}
	defer rows.Close()
	var raw []byte
	if rows.Next() {
		if err := rows.Scan(&raw); err != nil {
			return nil, fmt.Errorf("reading raw event: %w", err)
		}
	}
	return raw, rows.Err()
}

// ListViolations returns a page of violations matching f, newest first,
// and the cursor of the next page ("" at the end).
func (s *SQLite) ListViolations(ctx context.Context, f defs.ViolationFilter) ([]defs.Violation, string, error) {
	return listViolations(ctx, s.db, f)
}

func listViolations(ctx context.Context, db querier, f defs.ViolationFilter) ([]defs.Violation, string, error) {
	var where []string
	var args []any
	add := func(cond string, arg any) { where = append(where, cond); args = append(args, arg) }
	if f.Status != "" {
		add("status = ?", f.Status)
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
		add("plate = ?", f.Plate)
	}
	if !f.From.IsZero() {
		add("ts >= ?", timeText(f.From))
	}
	if !f.To.IsZero() {
		add("ts < ?", timeText(f.To))
	}
	if f.Cursor != "" {
		raw, err := base64.RawURLEncoding.DecodeString(f.Cursor)
		ts, id, ok := strings.Cut(string(raw), "|")
		if err != nil || !ok {
			return nil, "", defs.Invalid("cursor", "not a cursor from a previous page")
		}
		where = append(where, "(ts < ? OR (ts = ? AND id < ?))")
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
	return violationPage(ctx, db, q+" ORDER BY ts DESC, id DESC", args, limit, "listing violations")
}

// violationPage runs q (ordered by time and id) for a page of limit
// violations and returns them with the cursor of the next page: the last
// one's time and id ("" at the end). what names the listing in errors.
func violationPage(ctx context.Context, db querier, q string, args []any, limit int, what string) ([]defs.Violation, string, error) {
	rows, err := db.QueryContext(ctx, q+" LIMIT ?", append(args, limit+1)...)
	if err != nil {
		return nil, "", fmt.Errorf("%s: %w", what, err)
	}
	defer rows.Close()
	var out []defs.Violation
	for rows.Next() {
		v, err := scanViolation(rows)
		if err != nil {
			return nil, "", fmt.Errorf("%s: %w", what, err)
		}
		out = append(out, v)
	}
	if err := rows.Err(); err != nil {
		return nil, "", fmt.Errorf("%s: %w", what, err)
	}
	next := ""
	if len(out) > limit {
		out = out[:limit]
		last := out[limit-1]
		next = base64.RawURLEncoding.EncodeToString([]byte(timeText(last.Time) + "|" + last.ID))
	}
	return out, next, nil
}

// ViolationsWithClip returns violations whose clip status is clipStatus and
// review status one of statuses, oldest first, decided (or created, if
// pending) before `before` when it is set.
func (s *SQLite) ViolationsWithClip(ctx context.Context, clipStatuses []defs.ClipStatus, status defs.ReviewStatus, before time.Time, limit int) ([]defs.Violation, error) {
	ph := strings.TrimSuffix(strings.Repeat("?,", len(clipStatuses)), ",")
	args := make([]any, 0, len(clipStatuses)+3)
	for _, c := range clipStatuses {
		args = append(args, c)
	}
	q := `SELECT ` + violationCols + ` FROM violations WHERE clip_status IN (` + ph + `)`
	if status != "" {
		q += ` AND status = ?`
		args = append(args, status)
	}
	if !before.IsZero() {
		q += ` AND (CASE WHEN reviewed_at = '' THEN created_at ELSE reviewed_at END) < ?`
		args = append(args, timeText(before))
	}
	q += ` ORDER BY created_at, id LIMIT ?`
	args = append(args, limit)
	rows, err := s.db.QueryContext(ctx, q, args...)
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

// AddReview records a decision if the violation's status is still
// r.Previous, so that two reviewers deciding at once cannot both win (the
// loser gets a defs ECONFLICT error), and appends the ledger entry seal
// computes for it and the audit entry in the same transaction: a decision
// cannot stand unsealed or unaudited.
func (s *SQLite) AddReview(ctx context.Context, r defs.Review, seal func(r defs.Review, prevHash string) defs.LedgerEntry,
	audit defs.AuditEntry) (defs.Review, error) {
	return s.addReview(ctx, r, seal, audit, defs.ReviewGuard{})
}

func (s *SQLite) addReview(ctx context.Context, r defs.Review, seal func(r defs.Review, prevHash string) defs.LedgerEntry,
	audit defs.AuditEntry, g defs.ReviewGuard) (defs.Review, error) {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return r, fmt.Errorf("adding review: %w", err)
	}
	defer tx.Rollback()
	if err := checkGuard(ctx, tx, r.ViolationID, g); err != nil {
		return r, err
	}
	res, err := tx.ExecContext(ctx, `UPDATE violations SET status = ?, reviewed_by = ?, reviewed_at = ?, updated_at = ?
		WHERE id = ? AND status = ?`, r.Decision, r.Actor, timeText(r.At), timeText(r.At), r.ViolationID, r.Previous)
	if err != nil {
		return r, fmt.Errorf("adding review: %w", err)
	}
	if n, _ := res.RowsAffected(); n != 1 {
		return r, defs.Errorf(defs.ECONFLICT, "violation %s changed meanwhile; reload and try again", r.ViolationID)
	}
	res, err = tx.ExecContext(ctx, `INSERT INTO violation_reviews (violation_id, decision, previous, reason, note, actor, role, at)
		VALUES (?,?,?,?,?,?,?,?)`, r.ViolationID, r.Decision, r.Previous, r.Reason, r.Note, r.Actor, r.Role.String(), timeText(r.At))
	if err != nil {
		return r, fmt.Errorf("adding review: %w", err)
	}
	r.ID, _ = res.LastInsertId()
	if _, err := appendLedger(ctx, tx, func(prev string) defs.LedgerEntry { return seal(r, prev) }); err != nil {
		return r, err
	}
	if err := s.insertAudit(ctx, tx, audit); err != nil {
		return r, err
	}
	if g.Release {
		if _, err := tx.ExecContext(ctx, `DELETE FROM review_claims WHERE violation_id = ?`, r.ViolationID); err != nil {
			return r, fmt.Errorf("releasing claim: %w", err)
		}
	}
	if err := tx.Commit(); err != nil {
		return r, fmt.Errorf("adding review: %w", err)
	}
	return r, nil
}

// Reviews returns a violation's review history, oldest first; id "" returns
// every review.
func (s *SQLite) Reviews(ctx context.Context, violationID string) ([]defs.Review, error) {
	return reviews(ctx, s.db, violationID)
}

func reviews(ctx context.Context, db querier, violationID string) ([]defs.Review, error) {
	if violationID != "" {
		return reviewsWhere(ctx, db, ` WHERE violation_id = ?`, violationID)
	}
	return reviewsWhere(ctx, db, "")
}

func reviewsWhere(ctx context.Context, db querier, where string, args ...any) ([]defs.Review, error) {
	q := `SELECT id, violation_id, decision, previous, reason, note, actor, role, at FROM violation_reviews` + where
	rows, err := db.QueryContext(ctx, q+` ORDER BY id`, args...)
	if err != nil {
		return nil, fmt.Errorf("listing reviews: %w", err)
	}
	defer rows.Close()
	var out []defs.Review
	for rows.Next() {
		var r defs.Review
		var decision, previous, role, at string
		if err := rows.Scan(&r.ID, &r.ViolationID, &decision, &previous, &r.Reason, &r.Note, &r.Actor, &role, &at); err != nil {
			return nil, fmt.Errorf("listing reviews: %w", err)
		}
		r.Decision, r.Previous, r.At = defs.ReviewStatus(decision), defs.ReviewStatus(previous), parseTime(at)
		r.Role, _ = defs.ParseRole(role)
		out = append(out, r)
	}
	return out, rows.Err()
}

// appendLedger appends the entry entry() computes from the last entry's
// hash. It runs in the caller's write transaction (BEGIN IMMEDIATE, see
// Open), so no other append can come between the read and the insert.
func appendLedger(ctx context.Context, tx txer, entry func(prevHash string) defs.LedgerEntry) (defs.LedgerEntry, error) {
	prev := ""
	err := tx.QueryRowContext(ctx, `SELECT hash FROM violation_ledger ORDER BY seq DESC LIMIT 1`).Scan(&prev)
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return defs.LedgerEntry{}, fmt.Errorf("reading ledger head: %w", err)
	}
	e := entry(prev)
	if e.PrevHash != prev || e.Hash == "" {
		return e, fmt.Errorf("ledger entry for %s does not chain to the head", e.ViolationID)
	}
	if e.Form == 0 {
		e.Form = 1
	}
	res, err := tx.ExecContext(ctx, `INSERT INTO violation_ledger (violation_id, kind, ref, content_hash, identity_hash, prev_hash, hash, at,
		form, key_id, signature, payload) VALUES (?,?,?,?,?,?,?,?,?,?,?,?)`, e.ViolationID, e.Kind, e.Ref, e.ContentHash, e.IdentityHash,
		e.PrevHash, e.Hash, timeText(e.At), e.Form, e.KeyID, e.Signature, e.Payload)
	if err != nil {
		return e, fmt.Errorf("appending to ledger: %w", retryable(err))
	}
	e.Seq, _ = res.LastInsertId()
	return e, nil
}

// txer is a write transaction as appendLedger and insertAudit use it.
type txer interface {
	ExecContext(ctx context.Context, q string, args ...any) (sql.Result, error)
	QueryRowContext(ctx context.Context, q string, args ...any) *sql.Row
}

// AppendLedger appends the entry entry() computes from the head's hash, in
// a transaction of its own (a key entry: nothing else changes with it).
func (s *SQLite) AppendLedger(ctx context.Context, entry func(prevHash string) defs.LedgerEntry) (defs.LedgerEntry, error) {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return defs.LedgerEntry{}, fmt.Errorf("appending to ledger: %w", retryable(err))
	}
	defer tx.Rollback()
	e, err := appendLedger(ctx, tx, entry)
	if err != nil {
		return e, err
	}
	if err := tx.Commit(); err != nil {
		return e, fmt.Errorf("appending to ledger: %w", retryable(err))
	}
	return e, nil
}

// KeyEntries returns the ledger's key entries in order.
func (s *SQLite) KeyEntries(ctx context.Context) ([]defs.LedgerEntry, error) {
	return ledgerWhere(ctx, s.db, `kind = ?`, defs.LedgerKey)
}

// Ledger returns the hash chain in order; violationID "" returns all of it.
func (s *SQLite) Ledger(ctx context.Context, violationID string) ([]defs.LedgerEntry, error) {
	return ledger(ctx, s.db, violationID)
}

func ledger(ctx context.Context, db querier, violationID string) ([]defs.LedgerEntry, error) {
	if violationID != "" {
		return ledgerWhere(ctx, db, `violation_id = ?`, violationID)
	}
	return ledgerWhere(ctx, db, "")
}

func ledgerWhere(ctx context.Context, db querier, where string, args ...any) ([]defs.LedgerEntry, error) {
	q := `SELECT seq, violation_id, kind, ref, content_hash, identity_hash, prev_hash, hash, at, form, key_id, signature, payload
		FROM violation_ledger`
	if where != "" {
		q += ` WHERE ` + where
	}
	rows, err := db.QueryContext(ctx, q+` ORDER BY seq`, args...)
	if err != nil {
		return nil, fmt.Errorf("reading ledger: %w", err)
	}
	defer rows.Close()
	var out []defs.LedgerEntry
	for rows.Next() {
		var e defs.LedgerEntry
		var kind, at string
		if err := rows.Scan(&e.Seq, &e.ViolationID, &kind, &e.Ref, &e.ContentHash, &e.IdentityHash, &e.PrevHash, &e.Hash, &at,
			&e.Form, &e.KeyID, &e.Signature, &e.Payload); err != nil {
			return nil, fmt.Errorf("reading ledger: %w", err)
		}
		e.Kind, e.At = defs.LedgerKind(kind), parseTime(at)
		out = append(out, e)
	}
	return out, rows.Err()
}

// LedgerHead returns the hash of the ledger's last entry ("" when empty).
func (s *SQLite) LedgerHead(ctx context.Context) (string, error) {
	var h string
	err := s.db.QueryRowContext(ctx, `SELECT hash FROM violation_ledger ORDER BY seq DESC LIMIT 1`).Scan(&h)
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return "", fmt.Errorf("reading ledger head: %w", err)
	}
	return h, nil
}
