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

	"github.com/iocd/iocd/defs"
)

// *SQLite implements alerts.Store; the check is in alerts_contract_test.go
// (and in cmd/iocd, which wires it), not here: importing alerts from store
// would make a cycle of the alerts tests that run on the real store.

// Alerts use migrations 200-249 (the outbox of their notifications 250-299).
//
// Rules, alerts, transitions and silences are kept as their JSON, the form
// the API speaks, with the members that queries filter or order on copied
// into indexed columns. An alert's started_at is when it was first seen
// (pending since, else raised at): the order of the list, and what from and
// to filter on.
func init() {
	register(migration{version: 200, name: "alerts", sql: `
CREATE TABLE alert_rules (
	id         TEXT PRIMARY KEY,
	body       TEXT NOT NULL,
	created_at TEXT NOT NULL,
	updated_at TEXT NOT NULL
);

CREATE TABLE alerts (
	id          TEXT PRIMARY KEY,
	rule        TEXT NOT NULL,
	subject     TEXT NOT NULL,
	state       TEXT NOT NULL,
	severity    TEXT NOT NULL,
	site        TEXT NOT NULL,
	device      TEXT NOT NULL,
	started_at  TEXT NOT NULL,
	raised_at   TEXT NOT NULL,
	resolved_at TEXT NOT NULL,
	updated_at  TEXT NOT NULL,
	body        TEXT NOT NULL
);
CREATE INDEX alerts_rule_subject ON alerts (rule, subject);
CREATE INDEX alerts_state ON alerts (state, resolved_at);
CREATE INDEX alerts_started ON alerts (started_at DESC, id DESC);
CREATE INDEX alerts_site ON alerts (site, started_at DESC);
CREATE INDEX alerts_device ON alerts (device, started_at DESC);

CREATE TABLE alert_transitions (
	alert TEXT NOT NULL REFERENCES alerts(id) ON DELETE CASCADE,
	seq   INTEGER NOT NULL,
	at    TEXT NOT NULL,
	body  TEXT NOT NULL,
	PRIMARY KEY (alert, seq)
);

CREATE TABLE alert_silences (
	id         TEXT PRIMARY KEY,
	until      TEXT NOT NULL,
	created_at TEXT NOT NULL,
	body       TEXT NOT NULL
);
`})
}

// ListAlertRules returns every stored rule, ordered by id.
func (s *SQLite) ListAlertRules(ctx context.Context) ([]defs.AlertRule, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT body FROM alert_rules ORDER BY id`)
	if err != nil {
		return nil, fmt.Errorf("listing alert rules: %w", err)
	}
	defer rows.Close()
	var out []defs.AlertRule
	for rows.Next() {
		var r defs.AlertRule
		if err := scanJSON(rows, &r); err != nil {
			return nil, fmt.Errorf("listing alert rules: %w", err)
		}
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("listing alert rules: %w", err)
	}
	return out, nil
}

// PutAlertRule inserts r or replaces the rule with its id. A zero
// CreatedAt keeps the stored one (or is now, for a new rule); a zero
// UpdatedAt is now.
func (s *SQLite) PutAlertRule(ctx context.Context, r defs.AlertRule) error {
	if r.ID == "" {
		return defs.Invalid("id", "is required")
	}
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("storing alert rule: %w", err)
	}
	defer tx.Rollback()
	now := time.Now().UTC()
	if r.CreatedAt.IsZero() {
		var created string
		switch err := tx.QueryRowContext(ctx, `SELECT created_at FROM alert_rules WHERE id = ?`, r.ID).Scan(&created); {
		case errors.Is(err, sql.ErrNoRows):
			r.CreatedAt = now
		case err != nil:
			return fmt.Errorf("storing alert rule: %w", err)
		default:
			r.CreatedAt = parseTime(created)
		}
	}
	if r.UpdatedAt.IsZero() {
		r.UpdatedAt = now
	}
	body, err := json.Marshal(r)
	if err != nil {
		return fmt.Errorf("encoding alert rule: %w", err)
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO alert_rules (id, body, created_at, updated_at) VALUES (?, ?, ?, ?)
		ON CONFLICT (id) DO UPDATE SET body = excluded.body, created_at = excluded.created_at, updated_at = excluded.updated_at`,
		r.ID, string(body), timeText(r.CreatedAt), timeText(r.UpdatedAt)); err != nil {
		return fmt.Errorf("storing alert rule: %w", err)
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("storing alert rule: %w", err)
	}
	return nil
}

// DeleteAlertRule deletes the rule id. Its alerts are kept, for history.
func (s *SQLite) DeleteAlertRule(ctx context.Context, id string) error {
	res, err := s.db.ExecContext(ctx, `DELETE FROM alert_rules WHERE id = ?`, id)
	if err != nil {
		return fmt.Errorf("deleting alert rule: %w", err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return defs.NotFound("no alert rule %q", id)
	}
	return nil
}

// startedAt is when an alert was first seen, the key it is listed by.
func startedAt(a defs.Alert) time.Time {
	switch {
	case !a.PendingSince.IsZero():
		return a.PendingSince
	case !a.RaisedAt.IsZero():
		return a.RaisedAt
	}
	return a.UpdatedAt
}

// SaveAlert upserts a and appends ts to its history, in one transaction.
// A transition whose (alert, seq) is already stored is left as it was, so
// that saving again after an uncertain failure is harmless.
func (s *SQLite) SaveAlert(ctx context.Context, a defs.Alert, ts []defs.AlertTransition) error {
	if a.ID == "" {
		return defs.Invalid("id", "an alert needs an id")
	}
	body, err := json.Marshal(a)
	if err != nil {
		return fmt.Errorf("encoding alert: %w", err)
	}
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("saving alert: %w", err)
	}
	defer tx.Rollback()
	if _, err := tx.ExecContext(ctx, `INSERT INTO alerts
		(id, rule, subject, state, severity, site, device, started_at, raised_at, resolved_at, updated_at, body)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT (id) DO UPDATE SET rule = excluded.rule, subject = excluded.subject, state = excluded.state,
			severity = excluded.severity, site = excluded.site, device = excluded.device, started_at = excluded.started_at,
			raised_at = excluded.raised_at, resolved_at = excluded.resolved_at, updated_at = excluded.updated_at,
			body = excluded.body`,
		a.ID, a.Rule, a.Subject, string(a.State), string(a.Severity), a.Site, string(a.Device), timeText(startedAt(a)),
		optTime(a.RaisedAt), optTime(a.ResolvedAt), optTime(a.UpdatedAt), string(body)); err != nil {
		return fmt.Errorf("saving alert %s: %w", a.ID, err)
	}
	for _, t := range ts {
		if t.Alert == "" {
			t.Alert = a.ID
		}
		if t.Alert != a.ID {
			return fmt.Errorf("saving alert %s: a transition of alert %s", a.ID, t.Alert)
		}
		tb, err := json.Marshal(t)
		if err != nil {
			return fmt.Errorf("encoding alert transition: %w", err)
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO alert_transitions (alert, seq, at, body) VALUES (?, ?, ?, ?)
			ON CONFLICT (alert, seq) DO NOTHING`, t.Alert, t.Seq, timeText(t.At), string(tb)); err != nil {
			return fmt.Errorf("saving alert %s transition %d: %w", a.ID, t.Seq, err)
		}
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("saving alert %s: %w", a.ID, err)
	}
	return nil
}

// LoadAlerts returns every open alert, and those resolved at or after
// resolvedSince, oldest first.
func (s *SQLite) LoadAlerts(ctx context.Context, resolvedSince time.Time) ([]defs.Alert, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT body FROM alerts WHERE state != ? OR resolved_at >= ?
		ORDER BY started_at, id`, string(defs.AlertResolved), timeText(resolvedSince))
	if err != nil {
		return nil, fmt.Errorf("loading alerts: %w", err)
	}
	defer rows.Close()
	var out []defs.Alert
	for rows.Next() {
		var a defs.Alert
		if err := scanJSON(rows, &a); err != nil {
			return nil, fmt.Errorf("loading alerts: %w", err)
		}
		out = append(out, a)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("loading alerts: %w", err)
	}
	return out, nil
}

// Alert list page sizes.
const (
	defaultAlertPage = 100
	maxAlertPage     = 1000
)

// ListAlerts returns a page of the alerts f selects, newest first (by when
// they were first seen, then id), and the cursor of the next page ("" at
// the end). No states means the open ones.
func (s *SQLite) ListAlerts(ctx context.Context, f defs.AlertFilter) ([]defs.Alert, string, error) {
	var where []string
	var args []any
	in := func(col string, vals []string) {
		where = append(where, col+" IN ("+strings.TrimSuffix(strings.Repeat("?,", len(vals)), ",")+")")
		for _, v := range vals {
			args = append(args, v)
		}
	}
	states := f.States
	if len(states) == 0 {
		states = []defs.AlertState{defs.AlertPending, defs.AlertFiring, defs.AlertAcknowledged}
	}
	in("state", stringsOf(states))
	if len(f.Severity) > 0 {
		in("severity", stringsOf(f.Severity))
	}
	add := func(cond string, arg any) { where = append(where, cond); args = append(args, arg) }
	if f.Site != "" {
		add("site = ?", f.Site)
	}
	if f.Device != "" {
		add("device = ?", string(f.Device))
	}
	if f.Rule != "" {
		add("rule = ?", f.Rule)
	}
	if !f.From.IsZero() {
		add("started_at >= ?", timeText(f.From))
	}
	if !f.To.IsZero() {
		add("started_at < ?", timeText(f.To))
	}
	if f.Cursor != "" {
		raw, err := base64.RawURLEncoding.DecodeString(f.Cursor)
		ts, id, ok := strings.Cut(string(raw), "|")
		if _, perr := time.Parse(time.RFC3339Nano, ts); err != nil || !ok || perr != nil {
			return nil, "", defs.Invalid("cursor", "not a cursor from a previous page")
		}
		where = append(where, "(started_at < ? OR (started_at = ? AND id < ?))")
		args = append(args, ts, ts, id)
	}
	limit := f.Limit
	if limit <= 0 || limit > maxAlertPage {
		limit = defaultAlertPage
	}
	q := `SELECT started_at, body FROM alerts WHERE ` + strings.Join(where, " AND ") +
		` ORDER BY started_at DESC, id DESC LIMIT ?`
	args = append(args, limit+1)
	rows, err := s.db.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, "", fmt.Errorf("listing alerts: %w", err)
	}
	defer rows.Close()
	var out []defs.Alert
	var keys []string
	for rows.Next() {
		var started, body string
		if err := rows.Scan(&started, &body); err != nil {
			return nil, "", fmt.Errorf("listing alerts: %w", err)
		}
		var a defs.Alert
		if err := json.Unmarshal([]byte(body), &a); err != nil {
			return nil, "", fmt.Errorf("listing alerts: decoding: %w", err)
		}
		out = append(out, a)
		keys = append(keys, started)
	}
	if err := rows.Err(); err != nil {
		return nil, "", fmt.Errorf("listing alerts: %w", err)
	}
	next := ""
	if len(out) > limit {
		out = out[:limit]
		next = base64.RawURLEncoding.EncodeToString([]byte(keys[limit-1] + "|" + out[limit-1].ID))
	}
	return out, next, nil
}

// GetAlert returns the alert id and its history in order.
func (s *SQLite) GetAlert(ctx context.Context, id string) (defs.Alert, []defs.AlertTransition, error) {
	var a defs.Alert
	err := scanJSON(s.db.QueryRowContext(ctx, `SELECT body FROM alerts WHERE id = ?`, id), &a)
	if errors.Is(err, sql.ErrNoRows) {
		return a, nil, defs.NotFound("no alert %q", id)
	}
	if err != nil {
		return a, nil, fmt.Errorf("reading alert %s: %w", id, err)
	}
	rows, err := s.db.QueryContext(ctx, `SELECT body FROM alert_transitions WHERE alert = ? ORDER BY seq`, id)
	if err != nil {
		return a, nil, fmt.Errorf("reading alert %s history: %w", id, err)
	}
	defer rows.Close()
	ts := []defs.AlertTransition{}
	for rows.Next() {
		var t defs.AlertTransition
		if err := scanJSON(rows, &t); err != nil {
			return a, nil, fmt.Errorf("reading alert %s history: %w", id, err)
		}
		ts = append(ts, t)
	}
	if err := rows.Err(); err != nil {
		return a, nil, fmt.Errorf("reading alert %s history: %w", id, err)
	}
	return a, ts, nil
}

// ListSilences returns every stored silence, expired ones included (the
// engine decides what still holds), oldest first.
func (s *SQLite) ListSilences(ctx context.Context) ([]defs.Silence, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT body FROM alert_silences ORDER BY created_at, id`)
	if err != nil {
		return nil, fmt.Errorf("listing silences: %w", err)
	}
	defer rows.Close()
	var out []defs.Silence
	for rows.Next() {
		var sl defs.Silence
		if err := scanJSON(rows, &sl); err != nil {
			return nil, fmt.Errorf("listing silences: %w", err)
		}
		out = append(out, sl)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("listing silences: %w", err)
	}
	return out, nil
}

// PutSilence inserts sl or replaces the silence with its id.
func (s *SQLite) PutSilence(ctx context.Context, sl defs.Silence) error {
	if sl.ID == "" {
		return defs.Invalid("id", "a silence needs an id")
	}
	body, err := json.Marshal(sl)
	if err != nil {
		return fmt.Errorf("encoding silence: %w", err)
	}
	if _, err := s.db.ExecContext(ctx, `INSERT INTO alert_silences (id, until, created_at, body) VALUES (?, ?, ?, ?)
		ON CONFLICT (id) DO UPDATE SET until = excluded.until, created_at = excluded.created_at, body = excluded.body`,
		sl.ID, timeText(sl.Until), timeText(sl.CreatedAt), string(body)); err != nil {
		return fmt.Errorf("storing silence: %w", err)
	}
	return nil
}

// DeleteSilence deletes the silence id.
func (s *SQLite) DeleteSilence(ctx context.Context, id string) error {
	res, err := s.db.ExecContext(ctx, `DELETE FROM alert_silences WHERE id = ?`, id)
	if err != nil {
		return fmt.Errorf("deleting silence: %w", err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return defs.NotFound("no silence %q", id)
	}
	return nil
}

func scanJSON(row interface{ Scan(...any) error }, v any) error {
	var body string
	if err := row.Scan(&body); err != nil {
		return err
	}
	if err := json.Unmarshal([]byte(body), v); err != nil {
		return fmt.Errorf("decoding: %w", err)
	}
	return nil
}

func stringsOf[T ~string](vs []T) []string {
	out := make([]string, len(vs))
	for i, v := range vs {
		out[i] = string(v)
	}
	return out
}

// PruneAlerts deletes the alerts resolved before cutoff, with their
// history, and returns how many went. Open alerts are never pruned. (Not
// part of alerts.Store: whoever owns alert retention calls it.)
func (s *SQLite) PruneAlerts(ctx context.Context, cutoff time.Time) (int64, error) {
	res, err := s.db.ExecContext(ctx, `DELETE FROM alerts WHERE state = ? AND resolved_at != '' AND resolved_at < ?`,
		string(defs.AlertResolved), timeText(cutoff))
	if err != nil {
		return 0, fmt.Errorf("pruning alerts: %w", err)
	}
	n, _ := res.RowsAffected()
	return n, nil
}
