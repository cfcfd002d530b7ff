package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/iocd/iocd/defs"
)

func init() {
	register(migration{version: 1, name: "devices", sql: `
CREATE TABLE devices (
	id          TEXT PRIMARY KEY,
	site        TEXT NOT NULL,
	kind        TEXT NOT NULL,
	name        TEXT NOT NULL DEFAULT '',
	lat         REAL NOT NULL DEFAULT 0,
	lon         REAL NOT NULL DEFAULT 0,
	address     TEXT NOT NULL DEFAULT '',
	tags        TEXT NOT NULL DEFAULT '{}',
	heartbeat_s INTEGER NOT NULL,
	rtsp_url    TEXT NOT NULL DEFAULT '',
	status      TEXT NOT NULL,
	created_at  TEXT NOT NULL,
	updated_at  TEXT NOT NULL
);
CREATE INDEX devices_site_kind ON devices(site, kind);`})
}

const deviceColumns = `id, site, kind, name, lat, lon, address, tags, heartbeat_s, rtsp_url, status, created_at, updated_at`

// ListDevices returns every device, unredacted, ordered by id. The
// registry keeps them all in memory, so there is no filtered query.
func (s *SQLite) ListDevices(ctx context.Context) ([]defs.Device, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT `+deviceColumns+` FROM devices ORDER BY id`)
	if err != nil {
		return nil, fmt.Errorf("listing devices: %w", err)
	}
	defer rows.Close()
	out := []defs.Device{}
	for rows.Next() {
		d, err := scanDevice(rows)
		if err != nil {
			return nil, fmt.Errorf("listing devices: %w", err)
		}
		out = append(out, d)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("listing devices: %w", err)
	}
	return out, nil
}

// GetDevice returns one device, unredacted; ENOTFOUND if there is none.
func (s *SQLite) GetDevice(ctx context.Context, id defs.DeviceID) (defs.Device, error) {
	d, err := scanDevice(s.db.QueryRowContext(ctx, `SELECT `+deviceColumns+` FROM devices WHERE id = ?`, string(id)))
	if errors.Is(err, sql.ErrNoRows) {
		return defs.Device{}, defs.NotFound("no device %q", id)
	}
	if err != nil {
		return defs.Device{}, fmt.Errorf("reading device %s: %w", id, err)
	}
	return d, nil
}

// InsertDevice adds a device; ECONFLICT naming the id if it exists.
func (s *SQLite) InsertDevice(ctx context.Context, d defs.Device) error {
	_, err := s.ImportDevices(ctx, []defs.Device{d}, false)
	if err != nil {
		var e *defs.Error
		if errors.As(err, &e) {
			e.Row = 0 // a single insert has no rows
		}
	}
	return err
}

// ImportDevices inserts ds in one transaction: all or nothing. With
// keepExisting, devices whose id is registered are skipped and left as they
// are; without, an existing id fails the whole import with ECONFLICT naming
// its row (1-based). It returns the devices inserted.
func (s *SQLite) ImportDevices(ctx context.Context, ds []defs.Device, keepExisting bool) ([]defs.Device, error) {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return nil, fmt.Errorf("importing devices: %w", err)
	}
	defer tx.Rollback()
	// The transaction holds the write lock from BEGIN (_txlock=immediate),
	// so checking then inserting cannot race another writer.
	exists, err := tx.PrepareContext(ctx, `SELECT COUNT(*) FROM devices WHERE id = ?`)
	if err != nil {
		return nil, fmt.Errorf("importing devices: %w", err)
	}
	defer exists.Close()
	ins, err := tx.PrepareContext(ctx, `INSERT INTO devices(`+deviceColumns+`) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)`)
	if err != nil {
		return nil, fmt.Errorf("importing devices: %w", err)
	}
	defer ins.Close()
	inserted := []defs.Device{}
	for i, d := range ds {
		var n int
		if err := exists.QueryRowContext(ctx, string(d.ID)).Scan(&n); err != nil {
			return nil, fmt.Errorf("importing devices: %w", err)
		}
		if n > 0 {
			if keepExisting {
				continue
			}
			return nil, &defs.Error{Code: defs.ECONFLICT, Field: "id", Row: i + 1,
				Message: fmt.Sprintf("device %q already exists", d.ID)}
		}
		args, err := deviceArgs(d)
		if err != nil {
			return nil, err
		}
		if _, err := ins.ExecContext(ctx, args...); err != nil {
			return nil, fmt.Errorf("inserting device %s: %w", d.ID, err)
		}
		inserted = append(inserted, d)
	}
	if err := tx.Commit(); err != nil {
		return nil, fmt.Errorf("importing devices: %w", err)
	}
	return inserted, nil
}

// UpdateDevice replaces a device's stored fields (all but created_at);
// ENOTFOUND if it does not exist.
func (s *SQLite) UpdateDevice(ctx context.Context, d defs.Device) error {
	tags, err := json.Marshal(nonNilTags(d.Tags))
	if err != nil {
		return fmt.Errorf("updating device %s: %w", d.ID, err)
	}
	res, err := s.db.ExecContext(ctx, `UPDATE devices SET site=?, kind=?, name=?, lat=?, lon=?, address=?, tags=?,
		heartbeat_s=?, rtsp_url=?, status=?, updated_at=? WHERE id=?`,
		d.Site, string(d.Kind), d.Name, d.Lat, d.Lon, d.Address, string(tags),
		d.HeartbeatS, d.RTSPURL, string(d.Status), timeText(d.UpdatedAt), string(d.ID))
	if err != nil {
		return fmt.Errorf("updating device %s: %w", d.ID, err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return defs.NotFound("no device %q", d.ID)
	}
	return nil
}

// DeleteDevice removes a device; ENOTFOUND if it does not exist.
func (s *SQLite) DeleteDevice(ctx context.Context, id defs.DeviceID) error {
	res, err := s.db.ExecContext(ctx, `DELETE FROM devices WHERE id = ?`, string(id))
	if err != nil {
		return fmt.Errorf("deleting device %s: %w", id, err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return defs.NotFound("no device %q", id)
	}
	return nil
}

func deviceArgs(d defs.Device) ([]any, error) {
	tags, err := json.Marshal(nonNilTags(d.Tags))
	if err != nil {
		return nil, fmt.Errorf("encoding tags of %s: %w", d.ID, err)
	}
	return []any{string(d.ID), d.Site, string(d.Kind), d.Name, d.Lat, d.Lon, d.Address, string(tags),
		d.HeartbeatS, d.RTSPURL, string(d.Status), timeText(d.CreatedAt), timeText(d.UpdatedAt)}, nil
}

func nonNilTags(t map[string]string) map[string]string {
	if t == nil {
		return map[string]string{}
	}
	return t
}

func scanDevice(sc scanner) (defs.Device, error) {
	var (
		d                      defs.Device
		id, kind, tags, status string
		created, updated       string
	)
	if err := sc.Scan(&id, &d.Site, &kind, &d.Name, &d.Lat, &d.Lon, &d.Address, &tags,
		&d.HeartbeatS, &d.RTSPURL, &status, &created, &updated); err != nil {
		return defs.Device{}, err
	}
	d.ID, d.Kind, d.Status = defs.DeviceID(id), defs.Kind(kind), defs.Status(status)
	d.Tags = map[string]string{}
	if err := json.Unmarshal([]byte(tags), &d.Tags); err != nil {
		return defs.Device{}, fmt.Errorf("decoding tags of %s: %w", id, err)
	}
	d.CreatedAt, d.UpdatedAt = parseTime(created), parseTime(updated)
	return d, nil
}
