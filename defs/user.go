package defs

import "time"

// User is one person who logs in with a password. The password's hash is
// never part of it: it stays in the store and in package auth.
type User struct {
	ID        int64     `json:"id"`
	Name      string    `json:"name"`
	Role      Role      `json:"role"`
	Disabled  bool      `json:"disabled"`
	CreatedAt time.Time `json:"created_at"`
	UpdatedAt time.Time `json:"updated_at"`
}

// Session is one login of a user. Its cookie's secret is never kept: the
// store holds the secret's SHA-256. Kiosk sessions (a wall screen that
// stays logged in) have a longer absolute lifetime and viewer role only.
type Session struct {
	// ID names the session (for logout and for ending its feeds); it is
	// not the cookie's secret.
	ID         string    `json:"-"`
	UserID     int64     `json:"user_id"`
	Kiosk      bool      `json:"kiosk"`
	CSRF       string    `json:"-"`
	CreatedAt  time.Time `json:"created_at"`
	LastSeenAt time.Time `json:"last_seen_at"`
	// ExpiresAt is the absolute end, whatever the activity.
	ExpiresAt time.Time `json:"expires_at"`
}

// UserUpdate is a change to a user; nil fields stay as they are.
type UserUpdate struct {
	Role         *Role
	PasswordHash *string
	Disabled     *bool
}

// Error codes of logins, besides those in errors.go: a cookie-authenticated
// change without its CSRF token (403), and a login refused by the rate
// limit (429).
const (
	ECSRF        = "csrf"
	ERATELIMITED = "rate_limited"
)
