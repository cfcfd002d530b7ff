package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/iocd/iocd/defs"
)

// Migrations 300-349: users and their login sessions.
func init() {
	register(migration{version: 300, name: "users", sql: `
CREATE TABLE users (
	id            INTEGER PRIMARY KEY AUTOINCREMENT,
	name          TEXT NOT NULL UNIQUE,
	role          TEXT NOT NULL,
	password_hash TEXT NOT NULL,
	disabled      INTEGER NOT NULL DEFAULT 0,
	created_at    TEXT NOT NULL,
	updated_at    TEXT NOT NULL
);`})
}

const userColumns = `id, name, role, disabled, created_at, updated_at`

// InsertUser records a new user with the encoded hash of its password;
// ECONFLICT if the name is taken.
func (s *SQLite) InsertUser(ctx context.Context, name string, role defs.Role, hash string, at time.Time) (defs.User, error) {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return defs.User{}, fmt.Errorf("inserting user: %w", err)
	}
	defer tx.Rollback()
	var n int
	if err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM users WHERE name = ?`, name).Scan(&n); err != nil {
		return defs.User{}, fmt.Errorf("inserting user: %w", err)
	}
	if n > 0 {
		return defs.User{}, &defs.Error{Code: defs.ECONFLICT, Field: "name", Message: fmt.Sprintf("a user named %q exists", name)}
	}
	res, err := tx.ExecContext(ctx, `INSERT INTO users(name, role, password_hash, created_at, updated_at) VALUES (?, ?, ?, ?, ?)`,
		name, role.String(), hash, timeText(at), timeText(at))
	if err != nil {
		return defs.User{}, fmt.Errorf("inserting user: %w", err)
	}
	id, err := res.LastInsertId()
	if err != nil {
		return defs.User{}, fmt.Errorf("inserting user: %w", err)
	}
	if err := tx.Commit(); err != nil {
		return defs.User{}, fmt.Errorf("inserting user: %w", err)
	}
	return defs.User{ID: id, Name: name, Role: role, CreatedAt: at.UTC(), UpdatedAt: at.UTC()}, nil
}

// UserByName returns a user and the encoded hash of its password;
// ENOTFOUND if there is none.
func (s *SQLite) UserByName(ctx context.Context, name string) (defs.User, string, error) {
	var hash string
	row := s.db.QueryRowContext(ctx, `SELECT `+userColumns+`, password_hash FROM users WHERE name = ?`, name)
	u, err := scanUser(row, &hash)
	if errors.Is(err, sql.ErrNoRows) {
		return defs.User{}, "", defs.NotFound("no user %q", name)
	}
	if err != nil {
		return defs.User{}, "", fmt.Errorf("reading user: %w", err)
	}
	return u, hash, nil
}

// ListUsers returns every user, disabled ones included, oldest first.
func (s *SQLite) ListUsers(ctx context.Context) ([]defs.User, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT `+userColumns+` FROM users ORDER BY id`)
	if err != nil {
		return nil, fmt.Errorf("listing users: %w", err)
	}
	defer rows.Close()
	out := []defs.User{}
	for rows.Next() {
		u, err := scanUser(rows)
		if err != nil {
			return nil, fmt.Errorf("listing users: %w", err)
		}
		out = append(out, u)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("listing users: %w", err)
	}
	return out, nil
}

// UpdateUser applies up to the user named name and returns it as it then
// is; ENOTFOUND if there is none. Disabling a user or changing its
// password ends its sessions in the same transaction, so no cookie issued
// before outlives the change.
func (s *SQLite) UpdateUser(ctx context.Context, name string, up defs.UserUpdate, at time.Time) (defs.User, error) {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return defs.User{}, fmt.Errorf("updating user: %w", err)
	}
	defer tx.Rollback()
	u, err := scanUser(tx.QueryRowContext(ctx, `SELECT `+userColumns+` FROM users WHERE name = ?`, name))
	if errors.Is(err, sql.ErrNoRows) {
		return defs.User{}, defs.NotFound("no user %q", name)
	}
	if err != nil {
		return defs.User{}, fmt.Errorf("updating user: %w", err)
	}
	if up.Role != nil {
		if _, err := tx.ExecContext(ctx, `UPDATE users SET role = ? WHERE id = ?`, up.Role.String(), u.ID); err != nil {
			return defs.User{}, fmt.Errorf("updating user: %w", err)
		}
		u.Role = *up.Role
	}
	if up.PasswordHash != nil {
		if _, err := tx.ExecContext(ctx, `UPDATE users SET password_hash = ? WHERE id = ?`, *up.PasswordHash, u.ID); err != nil {
			return defs.User{}, fmt.Errorf("updating user: %w", err)
		}
	}
	if up.Disabled != nil {
		if _, err := tx.ExecContext(ctx, `UPDATE users SET disabled = ? WHERE id = ?`, *up.Disabled, u.ID); err != nil {
			return defs.User{}, fmt.Errorf("updating user: %w", err)
		}
		u.Disabled = *up.Disabled
	}
	if up.PasswordHash != nil || (up.Disabled != nil && *up.Disabled) {
		if _, err := tx.ExecContext(ctx, `DELETE FROM sessions WHERE user_id = ?`, u.ID); err != nil {
			return defs.User{}, fmt.Errorf("ending sessions: %w", err)
		}
	}
	if _, err := tx.ExecContext(ctx, `UPDATE users SET updated_at = ? WHERE id = ?`, timeText(at), u.ID); err != nil {
		return defs.User{}, fmt.Errorf("updating user: %w", err)
	}
	u.UpdatedAt = at.UTC()
	if err := tx.Commit(); err != nil {
		return defs.User{}, fmt.Errorf("updating user: %w", err)
	}
	return u, nil
}

func scanUser(sc scanner, extra ...any) (defs.User, error) {
	var (
		u                 defs.User
		role, created, up string
	)
	dest := append([]any{&u.ID, &u.Name, &role, &u.Disabled, &created, &up}, extra...)
	if err := sc.Scan(dest...); err != nil {
		return defs.User{}, err
	}
	u.Role, _ = defs.ParseRole(role)
	u.CreatedAt = parseTime(created)
	u.UpdatedAt = parseTime(up)
	return u, nil
}
