package store

import (
	"context"
	"fmt"
	"time"

	"github.com/iocd/iocd/defs"
)

// The alert notifier's outbox (migrations 250-299): one row per (alert id,
// seq, destination). A row is written pending before the notification is
// queued and marked done once delivered, so that after a crash the pending
// ones are sent again, and a transition notified twice is recognised by
// the unique key and not sent twice.
func init() {
	register(migration{version: 250, name: "alert_outbox", sql: `
CREATE TABLE alert_outbox (
	id          INTEGER PRIMARY KEY AUTOINCREMENT,
	alert       TEXT NOT NULL,
	seq         INTEGER NOT NULL,
	destination TEXT NOT NULL,
	body        BLOB NOT NULL,
	status      TEXT NOT NULL,
	attempts    INTEGER NOT NULL DEFAULT 0,
	note        TEXT NOT NULL DEFAULT '',
	created_at  TEXT NOT NULL,
	updated_at  TEXT NOT NULL,
	UNIQUE (alert, seq, destination)
);
CREATE INDEX alert_outbox_pending ON alert_outbox (status, id);
CREATE INDEX alert_outbox_created ON alert_outbox (created_at);
`})
}

// AddAlertDeliveries records ds as pending in one transaction and returns
// those that were new, with their ids; a delivery whose (alert, seq,
// destination) is already recorded, in any status, is left out.
func (s *SQLite) AddAlertDeliveries(ctx context.Context, ds []defs.AlertDelivery) ([]defs.AlertDelivery, error) {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return nil, fmt.Errorf("recording alert deliveries: %w", err)
	}
	defer tx.Rollback()
	now := time.Now()
	out := make([]defs.AlertDelivery, 0, len(ds))
	for _, d := range ds {
		res, err := tx.ExecContext(ctx, `INSERT OR IGNORE INTO alert_outbox
			(alert, seq, destination, body, status, attempts, created_at, updated_at) VALUES (?, ?, ?, ?, ?, 0, ?, ?)`,
			d.Alert, d.Seq, d.Destination, d.Body, string(defs.DeliveryPending), timeText(now), timeText(now))
		if err != nil {
			return nil, fmt.Errorf("recording alert delivery: %w", err)
		}
		if n, _ := res.RowsAffected(); n == 0 {
			continue
		}
		id, err := res.LastInsertId()
		if err != nil {
			return nil, fmt.Errorf("recording alert delivery: %w", err)
		}
		d.ID, d.Status, d.Attempts, d.CreatedAt = id, defs.DeliveryPending, 0, now.UTC()
		out = append(out, d)
	}
	if err := tx.Commit(); err != nil {
		return nil, fmt.Errorf("recording alert deliveries: %w", err)
	}
	return out, nil
}

// FinishAlertDelivery sets a delivery's final status, with how many
// attempts it took and a short note (why it failed; never a secret).
func (s *SQLite) FinishAlertDelivery(ctx context.Context, id int64, status defs.DeliveryStatus, attempts int, note string) error {
	if _, err := s.db.ExecContext(ctx, `UPDATE alert_outbox SET status = ?, attempts = ?, note = ?, updated_at = ? WHERE id = ?`,
		string(status), attempts, note, timeText(time.Now()), id); err != nil {
		return fmt.Errorf("finishing alert delivery %d: %w", id, err)
	}
	return nil
}

// PendingAlertDeliveries returns up to limit pending deliveries, oldest
// first.
func (s *SQLite) PendingAlertDeliveries(ctx context.Context, limit int) ([]defs.AlertDelivery, error) {
	return s.queryDeliveries(ctx, `WHERE status = ? ORDER BY id LIMIT ?`, string(defs.DeliveryPending), limit)
}

// RecentAlertDeliveries returns up to limit deliveries to destination,
// in any status, recorded at or after since, oldest first.
func (s *SQLite) RecentAlertDeliveries(ctx context.Context, destination string, since time.Time, limit int) ([]defs.AlertDelivery, error) {
	return s.queryDeliveries(ctx, `WHERE destination = ? AND created_at >= ? ORDER BY id LIMIT ?`, destination, timeText(since), limit)
}

func (s *SQLite) queryDeliveries(ctx context.Context, where string, args ...any) ([]defs.AlertDelivery, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT id, alert, seq, destination, body, status, attempts, created_at FROM alert_outbox `+where, args...)
	if err != nil {
		return nil, fmt.Errorf("reading alert outbox: %w", err)
	}
	defer rows.Close()
	var out []defs.AlertDelivery
	for rows.Next() {
		var d defs.AlertDelivery
		var status, created string
		if err := rows.Scan(&d.ID, &d.Alert, &d.Seq, &d.Destination, &d.Body, &status, &d.Attempts, &created); err != nil {
			return nil, fmt.Errorf("reading alert outbox: %w", err)
		}
		d.Status, d.CreatedAt = defs.DeliveryStatus(status), parseTime(created)
		out = append(out, d)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("reading alert outbox: %w", err)
	}
	return out, nil
}

// PruneAlertDeliveries deletes finished deliveries recorded before
// before; pending ones are kept whatever their age.
func (s *SQLite) PruneAlertDeliveries(ctx context.Context, before time.Time) (int64, error) {
	res, err := s.db.ExecContext(ctx, `DELETE FROM alert_outbox WHERE status <> ? AND created_at < ?`, string(defs.DeliveryPending), timeText(before))
	if err != nil {
		return 0, fmt.Errorf("pruning alert outbox: %w", err)
	}
	n, _ := res.RowsAffected()
	return n, nil
}
