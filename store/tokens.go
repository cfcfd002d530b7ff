package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/iocd/iocd/defs"
)

func init() {
	register(migration{version: 2, name: "tokens", sql: `
CREATE TABLE tokens (
	id           INTEGER PRIMARY KEY AUTOINCREMENT,
	name         TEXT NOT NULL,
	role         TEXT NOT NULL,
	hash         TEXT NOT NULL UNIQUE,
	created_at   TEXT NOT NULL,
	last_used_at TEXT NOT NULL DEFAULT '',
	revoked_at   TEXT NOT NULL DEFAULT ''
);`})
}

const tokenColumns = `id, name, role, created_at, last_used_at, revoked_at`

// InsertToken records a new token by the hash of its plaintext; the caller
// hashes, so the plaintext never reaches the store.
func (s *SQLite) InsertToken(ctx context.Context, name string, role defs.Role, hash string, at time.Time) (defs.Token, error) {
	res, err := s.db.ExecContext(ctx, `INSERT INTO tokens(name, role, hash, created_at) VALUES (?, ?, ?, ?)`,
		name, role.String(), hash, timeText(at))
	if err != nil {
		return defs.Token{}, fmt.Errorf("inserting token: %w", err)
	}
	id, err := res.LastInsertId()
	if err != nil {
		return defs.Token{}, fmt.Errorf("inserting token: %w", err)
	}
	return defs.Token{ID: id, Name: name, Role: role, CreatedAt: at.UTC()}, nil
}

// TokenByHash returns the token whose plaintext hashes to hash, revoked or
// not; ENOTFOUND if there is none.
func (s *SQLite) TokenByHash(ctx context.Context, hash string) (defs.Token, error) {
	row := s.db.QueryRowContext(ctx, `SELECT `+tokenColumns+` FROM tokens WHERE hash = ?`, hash)
	t, err := scanToken(row)
	if errors.Is(err, sql.ErrNoRows) {
		return defs.Token{}, defs.NotFound("no such token")
	}
	if err != nil {
		return defs.Token{}, fmt.Errorf("reading token: %w", err)
	}
	return t, nil
}

// ListTokens returns every token, revoked ones included, oldest first.
func (s *SQLite) ListTokens(ctx context.Context) ([]defs.Token, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT `+tokenColumns+` FROM tokens ORDER BY id`)
	if err != nil {
		return nil, fmt.Errorf("listing tokens: %w", err)
	}
	defer rows.Close()
	out := []defs.Token{}
	for rows.Next() {
		t, err := scanToken(rows)
		if err != nil {
			return nil, fmt.Errorf("listing tokens: %w", err)
		}
		out = append(out, t)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("listing tokens: %w", err)
	}
	return out, nil
}

// RevokeToken marks a token revoked; ENOTFOUND if there is no such token.
// Revoking twice keeps the first time.
func (s *SQLite) RevokeToken(ctx context.Context, id int64, at time.Time) error {
	res, err := s.db.ExecContext(ctx, `UPDATE tokens SET revoked_at = CASE WHEN revoked_at = '' THEN ? ELSE revoked_at END WHERE id = ?`,
		timeText(at), id)
	if err != nil {
		return fmt.Errorf("revoking token %d: %w", id, err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return defs.NotFound("no token with id %d", id)
	}
	return nil
}

// TouchToken records that a token was used at at. Callers throttle it: it
// is a write.
func (s *SQLite) TouchToken(ctx context.Context, id int64, at time.Time) error {
	if _, err := s.db.ExecContext(ctx, `UPDATE tokens SET last_used_at = ? WHERE id = ?`, timeText(at), id); err != nil {
		return fmt.Errorf("touching token %d: %w", id, err)
	}
	return nil
}

type scanner interface{ Scan(dest ...any) error }

func scanToken(sc scanner) (defs.Token, error) {
	var (
		t                        defs.Token
		role, created, used, rev string
	)
	if err := sc.Scan(&t.ID, &t.Name, &role, &created, &used, &rev); err != nil {
		return defs.Token{}, err
	}
	t.Role, _ = defs.ParseRole(role)
	t.CreatedAt = parseTime(created)
	if used != "" {
		t.LastUsedAt = parseTime(used)
	}
	if rev != "" {
		t.RevokedAt = parseTime(rev)
	}
	return t, nil
}
