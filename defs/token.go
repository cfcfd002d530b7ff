package defs

import "time"

// Token describes one API bearer token. The token itself is never kept:
// the store holds its SHA-256 hash, and the plaintext is shown once, when
// the token is created.
type Token struct {
	ID         int64     `json:"id"`
	Name       string    `json:"name"`
	Role       Role      `json:"role"`
	CreatedAt  time.Time `json:"created_at"`
	LastUsedAt time.Time `json:"last_used_at,omitzero"`
	RevokedAt  time.Time `json:"revoked_at,omitzero"`
}

// Revoked reports whether the token no longer authenticates.
func (t Token) Revoked() bool { return !t.RevokedAt.IsZero() }
