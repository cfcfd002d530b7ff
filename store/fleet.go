package store

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/iocd/iocd/defs"
)

// The fleet overview's tables and indexes use migrations 400-449.
//
// device_health is each device's health history, as fleet writes it on
// every change. It is bounded: AddHealthChanges keeps the latest
// HealthHistoryPerDevice changes of each device it writes for.
func init() {
	register(migration{version: 400, name: "device_health", sql: `
CREATE TABLE device_health (
	id        INTEGER PRIMARY KEY AUTOINCREMENT,
	device    TEXT NOT NULL,
	site      TEXT NOT NULL,
	kind      TEXT NOT NULL,
	from_h    TEXT NOT NULL,
	to_h      TEXT NOT NULL,
	reason    TEXT NOT NULL,
	at        TEXT NOT NULL,
	last_seen TEXT NOT NULL
);
CREATE INDEX device_health_device ON device_health (device, id DESC);
`})
	// The wall's "what changed" reads alert transitions by time.
	register(migration{version: 401, name: "alert_transitions_at", sql: `
CREATE INDEX alert_transitions_at ON alert_transitions (at DESC);
`})
}

// HealthHistoryPerDevice is how many health changes are kept per device.
const HealthHistoryPerDevice = 1000

// AddHealthChanges appends health changes to the history in one
// transaction and trims each device written for to its latest
// HealthHistoryPerDevice changes.
func (s *SQLite) AddHealthChanges(ctx context.Context, chs []defs.HealthChange) error {
	if len(chs) == 0 {
		return nil
	}
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("adding health changes: %w", retryable(err))
	}
	defer tx.Rollback()
	touched := map[defs.DeviceID]bool{}
	for _, ch := range chs {
		if _, err := tx.ExecContext(ctx, `INSERT INTO device_health (device, site, kind, from_h, to_h, reason, at, last_seen)
			VALUES (?,?,?,?,?,?,?,?)`, ch.Device, ch.Site, ch.Kind, ch.From, ch.To, ch.Reason, timeText(ch.At), optTime(ch.LastSeen)); err != nil {
			return fmt.Errorf("adding health change of %s: %w", ch.Device, retryable(err))
		}
		touched[ch.Device] = true
	}
	for id := range touched {
		if _, err := tx.ExecContext(ctx, `DELETE FROM device_health WHERE device = ? AND id <=
			(SELECT id FROM device_health WHERE device = ? ORDER BY id DESC LIMIT 1 OFFSET ?)`,
			id, id, HealthHistoryPerDevice); err != nil {
			return fmt.Errorf("trimming health history of %s: %w", id, retryable(err))
		}
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("adding health changes: %w", retryable(err))
	}
	return nil
}

// HealthHistory returns a device's health changes in [from, to) (zero:
// unbounded), newest first, at most limit (default and most 1000).
func (s *SQLite) HealthHistory(ctx context.Context, id defs.DeviceID, from, to time.Time, limit int) ([]defs.HealthChange, error) {
	if limit <= 0 || limit > HealthHistoryPerDevice {
		limit = HealthHistoryPerDevice
	}
	q := `SELECT device, site, kind, from_h, to_h, reason, at, last_seen FROM device_health WHERE device = ?`
	args := []any{id}
	if !from.IsZero() {
		q += ` AND at >= ?`
		args = append(args, timeText(from))
	}
	if !to.IsZero() {
		q += ` AND at < ?`
		args = append(args, timeText(to))
	}
	q += ` ORDER BY id DESC LIMIT ?`
	args = append(args, limit)
	rows, err := s.db.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("reading health history: %w", retryable(err))
	}
	defer rows.Close()
	out := []defs.HealthChange{}
	for rows.Next() {
		var ch defs.HealthChange
		var at, seen string
		if err := rows.Scan(&ch.Device, &ch.Site, &ch.Kind, &ch.From, &ch.To, &ch.Reason, &at, &seen); err != nil {
			return nil, fmt.Errorf("reading health history: %w", err)
		}
		ch.At, ch.LastSeen = parseTime(at), parseTime(seen)
		out = append(out, ch)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("reading health history: %w", retryable(err))
	}
	return out, nil
}

// CountViolationsByType counts the violations whose time is at or after
// since, by type.
func (s *SQLite) CountViolationsByType(ctx context.Context, since time.Time) (map[string]int, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT type, COUNT(*) FROM violations WHERE ts >= ? GROUP BY type`, timeText(since))
	if err != nil {
		return nil, fmt.Errorf("counting violations: %w", retryable(err))
	}
	defer rows.Close()
	out := map[string]int{}
	for rows.Next() {
		var typ string
		var n int
		if err := rows.Scan(&typ, &n); err != nil {
			return nil, fmt.Errorf("counting violations: %w", err)
		}
		out[typ] = n
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("counting violations: %w", retryable(err))
	}
	return out, nil
}

// CountOpenAlerts counts the firing and acknowledged alerts by severity.
func (s *SQLite) CountOpenAlerts(ctx context.Context) (map[defs.Severity]int, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT severity, COUNT(*) FROM alerts WHERE state IN (?, ?) GROUP BY severity`,
		string(defs.AlertFiring), string(defs.AlertAcknowledged))
	if err != nil {
		return nil, fmt.Errorf("counting open alerts: %w", retryable(err))
	}
	defer rows.Close()
	out := map[defs.Severity]int{}
	for rows.Next() {
		var sev string
		var n int
		if err := rows.Scan(&sev, &n); err != nil {
			return nil, fmt.Errorf("counting open alerts: %w", err)
		}
		out[defs.Severity(sev)] = n
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("counting open alerts: %w", retryable(err))
	}
	return out, nil
}

// AlertTransitionsSince returns the alert transitions at or after since
// whose change is one of changes (all if none), each with its alert as it
// is now, newest first, at most limit (1 to 1000, default 200).
func (s *SQLite) AlertTransitionsSince(ctx context.Context, since time.Time, changes []defs.AlertChange, limit int) ([]defs.AlertNotification, error) {
	if limit <= 0 || limit > 1000 {
		limit = 200
	}
	q := `SELECT t.body, a.body FROM alert_transitions t JOIN alerts a ON a.id = t.alert WHERE t.at >= ?`
	args := []any{timeText(since)}
	if len(changes) > 0 {
		q += ` AND json_extract(t.body, '$.change') IN (` + strings.TrimSuffix(strings.Repeat("?,", len(changes)), ",") + `)`
		for _, c := range changes {
			args = append(args, string(c))
		}
	}
	q += ` ORDER BY t.at DESC, t.alert DESC, t.seq DESC LIMIT ?`
	args = append(args, limit)
	rows, err := s.db.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("reading alert transitions: %w", retryable(err))
	}
	defer rows.Close()
	var out []defs.AlertNotification
	for rows.Next() {
		var tb, ab string
		if err := rows.Scan(&tb, &ab); err != nil {
			return nil, fmt.Errorf("reading alert transitions: %w", err)
		}
		var n defs.AlertNotification
		if err := json.Unmarshal([]byte(tb), &n.Transition); err != nil {
			return nil, fmt.Errorf("decoding alert transition: %w", err)
		}
		if err := json.Unmarshal([]byte(ab), &n.Alert); err != nil {
			return nil, fmt.Errorf("decoding alert: %w", err)
		}
		out = append(out, n)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("reading alert transitions: %w", retryable(err))
	}
	return out, nil
}
