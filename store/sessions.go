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
	register(migration{version: 301, name: "sessions", sql: `
CREATE TABLE sessions (
	id           TEXT PRIMARY KEY,
	hash         TEXT NOT NULL UNIQUE,
	user_id      INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
	csrf         TEXT NOT NULL,
	kiosk        INTEGER NOT NULL DEFAULT 0,
	created_at   TEXT NOT NULL,
	last_seen_at TEXT NOT NULL,
	expires_at   TEXT NOT NULL
);
CREATE INDEX sessions_user ON sessions(user_id);
CREATE INDEX sessions_expires ON sessions(expires_at);`})
}

const sessionColumns = `s.id, s.user_id, s.csrf, s.kiosk, s.created_at, s.last_seen_at, s.expires_at, ` +
	`u.id, u.name, u.role, u.disabled, u.created_at, u.updated_at`

// InsertSession records a login by the SHA-256 of its cookie's secret;
// the caller hashes, so the secret never reaches the store.
func (s *SQLite) InsertSession(ctx context.Context, sess defs.Session, hash string) error {
	_, err := s.db.ExecContext(ctx, `INSERT INTO sessions(id, hash, user_id, csrf, kiosk, created_at, last_seen_at, expires_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?)`, sess.ID, hash, sess.UserID, sess.CSRF, sess.Kiosk,
		timeText(sess.CreatedAt), timeText(sess.LastSeenAt), timeText(sess.ExpiresAt))
	if err != nil {
		return fmt.Errorf("inserting session: %w", err)
	}
	return nil
}

// SessionByHash returns the session whose secret hashes to hash, with its
// user as the user now is; ENOTFOUND if there is none. Expiry is the
// caller's to judge.
func (s *SQLite) SessionByHash(ctx context.Context, hash string) (defs.Session, defs.User, error) {
	return s.sessionWhere(ctx, `s.hash = ?`, hash)
}

// SessionByID is SessionByHash by the session's id.
func (s *SQLite) SessionByID(ctx context.Context, id string) (defs.Session, defs.User, error) {
	return s.sessionWhere(ctx, `s.id = ?`, id)
}

func (s *SQLite) sessionWhere(ctx context.Context, where string, arg any) (defs.Session, defs.User, error) {
	row := s.db.QueryRowContext(ctx, `SELECT `+sessionColumns+` FROM sessions s JOIN users u ON u.id = s.user_id WHERE `+where, arg)
	var (
		sess                    defs.Session
		created, seen, expires  string
		u                       defs.User
		role, ucreated, updated string
	)
	err := row.Scan(&sess.ID, &sess.UserID, &sess.CSRF, &sess.Kiosk, &created, &seen, &expires,
		&u.ID, &u.Name, &role, &u.Disabled, &ucreated, &updated)
	if errors.Is(err, sql.ErrNoRows) {
		return defs.Session{}, defs.User{}, defs.NotFound("no such session")
	}
	if err != nil {
		return defs.Session{}, defs.User{}, fmt.Errorf("reading session: %w", err)
	}
	sess.CreatedAt, sess.LastSeenAt, sess.ExpiresAt = parseTime(created), parseTime(seen), parseTime(expires)
	u.Role, _ = defs.ParseRole(role)
	u.CreatedAt, u.UpdatedAt = parseTime(ucreated), parseTime(updated)
	return sess, u, nil
}

// TouchSession records activity on a session. Callers throttle it: it is
// a write.
func (s *SQLite) TouchSession(ctx context.Context, id string, at time.Time) error {
	if _, err := s.db.ExecContext(ctx, `UPDATE sessions SET last_seen_at = ? WHERE id = ?`, timeText(at), id); err != nil {
		return fmt.Errorf("touching session: %w", err)
	}
	return nil
}

// DeleteSession ends one session; ending one that is gone is no error.
func (s *SQLite) DeleteSession(ctx context.Context, id string) error {
	if _, err := s.db.ExecContext(ctx, `DELETE FROM sessions WHERE id = ?`, id); err != nil {
		return fmt.Errorf("deleting session: %w", err)
	}
	return nil
}

// DeleteExpiredSessions removes the sessions whose absolute end is before
// at or that were last seen before idleBefore, and says how many.
func (s *SQLite) DeleteExpiredSessions(ctx context.Context, at, idleBefore time.Time) (int64, error) {
	res, err := s.db.ExecContext(ctx, `DELETE FROM sessions WHERE expires_at < ? OR last_seen_at < ?`,
		timeText(at), timeText(idleBefore))
	if err != nil {
		return 0, fmt.Errorf("deleting expired sessions: %w", err)
	}
	n, _ := res.RowsAffected()
	return n, nil
}

// TokenByID returns a token by its id, revoked or not; ENOTFOUND if there
// is none. The authenticator re-checks the tokens of open feeds with it.
func (s *SQLite) TokenByID(ctx context.Context, id int64) (defs.Token, error) {
	row := s.db.QueryRowContext(ctx, `SELECT `+tokenColumns+` FROM tokens WHERE id = ?`, id)
	t, err := scanToken(row)
	if errors.Is(err, sql.ErrNoRows) {
		return defs.Token{}, defs.NotFound("no token with id %d", id)
	}
	if err != nil {
		return defs.Token{}, fmt.Errorf("reading token: %w", err)
	}
	return t, nil
}
