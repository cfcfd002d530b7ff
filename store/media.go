package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/iocd/iocd/defs"
)

// Derived files (violations/media.go): the viewing copies and stills made
// from a violation's evidence, one of each kind per violation at most.
// They are not sealed: they are not evidence, and are remade from the
// original whenever lost.
func init() {
	register(migration{version: 470, name: "derived files", sql: `
CREATE TABLE derived_files (
	violation_id  TEXT NOT NULL REFERENCES violations(id),
	kind          TEXT NOT NULL CHECK (kind IN ('view', 'still')),
	path          TEXT NOT NULL,
	sha256        TEXT NOT NULL,
	bytes         INTEGER NOT NULL,
	source_sha256 TEXT NOT NULL,
	tool          TEXT NOT NULL,
	made_at       TEXT NOT NULL,
	PRIMARY KEY (violation_id, kind)
);`})
}

// PutDerived records a derived file, replacing the violation's earlier
// one of the same kind.
func (s *SQLite) PutDerived(ctx context.Context, d defs.DerivedFile) error {
	_, err := s.db.ExecContext(ctx, `INSERT INTO derived_files(violation_id, kind, path, sha256, bytes, source_sha256, tool, made_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT(violation_id, kind) DO UPDATE SET path = excluded.path, sha256 = excluded.sha256, bytes = excluded.bytes,
			source_sha256 = excluded.source_sha256, tool = excluded.tool, made_at = excluded.made_at`,
		d.ViolationID, string(d.Kind), d.Path, d.SHA256, d.Bytes, d.SourceSHA256, d.Tool, timeText(d.MadeAt))
	if err != nil {
		return fmt.Errorf("recording derived %s of %s: %w", d.Kind, d.ViolationID, err)
	}
	return nil
}

// Derived returns a violation's derived file of kind; ENOTFOUND if none.
func (s *SQLite) Derived(ctx context.Context, violationID string, kind defs.DerivedKind) (defs.DerivedFile, error) {
	var d defs.DerivedFile
	var k, made string
	err := s.db.QueryRowContext(ctx, `SELECT violation_id, kind, path, sha256, bytes, source_sha256, tool, made_at
		FROM derived_files WHERE violation_id = ? AND kind = ?`, violationID, string(kind)).
		Scan(&d.ViolationID, &k, &d.Path, &d.SHA256, &d.Bytes, &d.SourceSHA256, &d.Tool, &made)
	if errors.Is(err, sql.ErrNoRows) {
		return d, defs.NotFound("violation %s has no derived %s", violationID, kind)
	}
	if err != nil {
		return d, fmt.Errorf("reading derived %s of %s: %w", kind, violationID, err)
	}
	d.Kind, d.MadeAt = defs.DerivedKind(k), parseTime(made)
	return d, nil
}

// DeleteDerived forgets a violation's derived file of kind (the caller
// removes the file).
func (s *SQLite) DeleteDerived(ctx context.Context, violationID string, kind defs.DerivedKind) error {
	if _, err := s.db.ExecContext(ctx, `DELETE FROM derived_files WHERE violation_id = ? AND kind = ?`, violationID, string(kind)); err != nil {
		return fmt.Errorf("forgetting derived %s of %s: %w", kind, violationID, err)
	}
	return nil
}

// DerivedWithoutSource returns up to limit derived files whose
// violation's clip is gone (purged by retention, or never there): they
// must go with the evidence they were made from.
func (s *SQLite) DerivedWithoutSource(ctx context.Context, limit int) ([]defs.DerivedFile, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT d.violation_id, d.kind, d.path, d.sha256, d.bytes, d.source_sha256, d.tool, d.made_at
		FROM derived_files d JOIN violations v ON v.id = d.violation_id
		WHERE v.clip_path = '' OR v.clip_sha256 != d.source_sha256 ORDER BY d.violation_id LIMIT ?`, limit)
	if err != nil {
		return nil, fmt.Errorf("listing derived files without source: %w", err)
	}
	defer rows.Close()
	var out []defs.DerivedFile
	for rows.Next() {
		var d defs.DerivedFile
		var k, made string
		if err := rows.Scan(&d.ViolationID, &k, &d.Path, &d.SHA256, &d.Bytes, &d.SourceSHA256, &d.Tool, &made); err != nil {
			return nil, fmt.Errorf("listing derived files without source: %w", err)
		}
		d.Kind, d.MadeAt = defs.DerivedKind(k), parseTime(made)
		out = append(out, d)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("listing derived files without source: %w", err)
	}
	return out, nil
}
