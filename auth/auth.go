// Package auth owns who may call iocd: API bearer tokens (created, listed,
// revoked; stored only as SHA-256 hashes), the bootstrap admin token, users
// who log in with a password (argon2id hashes) and their sessions (cookie
// secrets stored as SHA-256, idle and absolute expiry, CSRF tokens, a
// rate limit on failed logins), the role each credential carries, the
// principal a request runs as, and when that principal's credential ends
// (Ended). It decides nothing about HTTP status codes: it returns coded
// defs errors (EUNAUTHORIZED, EFORBIDDEN, ECSRF, ERATELIMITED) that the API
// edge maps.
package auth

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/iocd/iocd/defs"
)

// TokenPrefix starts every token iocd issues, so that a leaked token is
// recognisable by secret scanners and in support requests.
const TokenPrefix = "iocd_"

// touchEvery bounds how often a token's last_used_at is written: once a
// minute per token rather than once per request, to spare SQLite writes.
const touchEvery = time.Minute

// AdminName is the principal name of the bootstrap admin token.
const AdminName = "bootstrap-admin"

// TokenStore is what the Authenticator needs from the store.
type TokenStore interface {
	InsertToken(ctx context.Context, name string, role defs.Role, hash string, at time.Time) (defs.Token, error)
	TokenByHash(ctx context.Context, hash string) (defs.Token, error)
	ListTokens(ctx context.Context) ([]defs.Token, error)
	RevokeToken(ctx context.Context, id int64, at time.Time) error
	TouchToken(ctx context.Context, id int64, at time.Time) error
}

// Principal kinds: how a request proved who it is.
const (
	PrincipalBootstrap = "bootstrap" // the bootstrap admin token
	PrincipalToken     = "token"     // a stored API token
	PrincipalUser      = "user"      // a user logged in with a password (a session)
)

// Principal is who a request runs as.
type Principal struct {
	// Kind is PrincipalBootstrap, PrincipalToken or PrincipalUser.
	Kind string `json:"kind"`
	// Name is the token's name, the user's login name, or AdminName for
	// the bootstrap token. Token names need not be unique: use Subject
	// wherever a principal must be told apart from every other.
	Name string    `json:"name"`
	Role defs.Role `json:"role"`
	// TokenID is the stored token's id; 0 for the bootstrap token and users.
	TokenID int64 `json:"token_id,omitempty"`
	// UserID is the user's id for PrincipalUser; 0 otherwise.
	UserID int64 `json:"user_id,omitempty"`
	// SessionID identifies the login session of a PrincipalUser. It is
	// not the cookie's secret (that is never kept), but it is not shown
	// either: it names the session for logout and for closing its feeds.
	SessionID string `json:"-"`
}

// Subject names the principal uniquely and stably, for audit entries,
// review records and evidence: "user:<name>" (login names are unique),
// "token:<id>" (token names are not) or "bootstrap-admin".
func (p Principal) Subject() string {
	switch p.Kind {
	case PrincipalUser:
		return "user:" + p.Name
	case PrincipalToken:
		return fmt.Sprintf("token:%d", p.TokenID)
	case PrincipalBootstrap:
		return AdminName
	}
	return ""
}

// Authenticator checks bearer tokens and login sessions, issues tokens,
// opens and ends sessions, and tells feeds when a credential ends.
type Authenticator struct {
	store     TokenStore
	adminHash []byte // SHA-256 of the bootstrap admin token; nil: none
	log       *slog.Logger
	now       func() time.Time

	mu      sync.Mutex
	touched map[int64]time.Time // last last_used_at write per token id

	audit   AuditWriter
	sess    *sessions     // nil: password logins are off (WithSessions)
	recheck time.Duration // how often Run re-checks the credentials of open feeds

	endMu sync.Mutex
	ended map[string]*endWatch // by credKey
	never chan struct{}        // Ended's answer for the bootstrap token
}

// New returns an Authenticator over store. adminToken, if not empty, is a
// bootstrap token with the admin role that is not in the store. If store
// can AddAudit, token creation and revocation are audited.
func New(store TokenStore, adminToken string, log *slog.Logger, opts ...Option) *Authenticator {
	a := &Authenticator{store: store, log: log, now: time.Now, touched: map[int64]time.Time{},
		audit: noAudit{}, recheck: 15 * time.Second, ended: map[string]*endWatch{}, never: make(chan struct{})}
	if aw, ok := store.(AuditWriter); ok {
		a.audit = aw
	}
	for _, o := range opts {
		o(a)
	}
	if adminToken != "" {
		h := sha256.Sum256([]byte(adminToken))
		a.adminHash = h[:]
	}
	return a
}

// HashToken returns the hex SHA-256 of a token's plaintext, the form the
// store keeps. Tokens are 256 random bits, so a fast unsalted hash is
// enough: there is nothing to brute-force.
func HashToken(token string) string {
	h := sha256.Sum256([]byte(token))
	return hex.EncodeToString(h[:])
}

// Authenticate returns the principal a token stands for, or an
// EUNAUTHORIZED error that does not say why (unknown or revoked), so the
// answer tells a guesser nothing.
func (a *Authenticator) Authenticate(ctx context.Context, token string) (Principal, error) {
	if token == "" {
		return Principal{}, defs.Errorf(defs.EUNAUTHORIZED, "a bearer token is required")
	}
	sum := sha256.Sum256([]byte(token))
	// Comparing hashes keeps the comparison constant-time and
	// independent of the tokens' lengths.
	if a.adminHash != nil && subtle.ConstantTimeCompare(sum[:], a.adminHash) == 1 {
		return Principal{Kind: PrincipalBootstrap, Name: AdminName, Role: defs.RoleAdmin}, nil
	}
	if !strings.HasPrefix(token, TokenPrefix) {
		return Principal{}, defs.Errorf(defs.EUNAUTHORIZED, "invalid bearer token")
	}
	t, err := a.store.TokenByHash(ctx, hex.EncodeToString(sum[:]))
	if defs.ErrorCode(err) == defs.ENOTFOUND {
		return Principal{}, defs.Errorf(defs.EUNAUTHORIZED, "invalid bearer token")
	}
	if err != nil {
		return Principal{}, fmt.Errorf("authenticating: %w", err)
	}
	if t.Revoked() {
		return Principal{}, defs.Errorf(defs.EUNAUTHORIZED, "invalid bearer token")
	}
	a.touch(ctx, t.ID)
	return Principal{Kind: PrincipalToken, Name: t.Name, Role: t.Role, TokenID: t.ID}, nil
}

// touch records the token's use, at most once per touchEvery. A failed
// write is logged and otherwise ignored: it must not fail the request.
func (a *Authenticator) touch(ctx context.Context, id int64) {
	now := a.now()
	a.mu.Lock()
	last, ok := a.touched[id]
	if ok && now.Sub(last) < touchEvery {
		a.mu.Unlock()
		return
	}
	a.touched[id] = now
	a.mu.Unlock()
	if err := a.store.TouchToken(ctx, id, now); err != nil {
		a.log.Warn("recording token use", "token_id", id, "err", err)
	}
}

// Authorize authenticates token and checks that its role is at least min:
// EUNAUTHORIZED for a missing or bad token, EFORBIDDEN for a weaker role.
func (a *Authenticator) Authorize(ctx context.Context, token string, min defs.Role) (Principal, error) {
	p, err := a.Authenticate(ctx, token)
	if err != nil {
		return Principal{}, err
	}
	if !p.Role.Allows(min) {
		return p, defs.Errorf(defs.EFORBIDDEN, "role %s may not do this (needs %s)", p.Role, min)
	}
	return p, nil
}

// CreateToken issues a new token with a role and a name and returns its
// plaintext, which is not kept anywhere and cannot be shown again.
func (a *Authenticator) CreateToken(ctx context.Context, role defs.Role, name string) (string, defs.Token, error) {
	if role <= defs.RoleNone || role > defs.RoleAdmin {
		return "", defs.Token{}, defs.Invalid("role", "must be viewer, operator, reviewer or admin")
	}
	name = strings.TrimSpace(name)
	if name == "" {
		return "", defs.Token{}, defs.Invalid("name", "must not be empty")
	}
	if len(name) > 128 {
		return "", defs.Token{}, defs.Invalid("name", "must be at most 128 characters")
	}
	// A token's name is shown in listings, audit entries and logs (as the
	// principal): an ANSI escape or a bidi override there could rewrite
	// what an admin reads.
	if defs.UnsafeText(name) {
		return "", defs.Token{}, defs.Invalid("name", "must be UTF-8 text without control characters")
	}
	var b [32]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", defs.Token{}, fmt.Errorf("creating token: %w", err)
	}
	plain := TokenPrefix + base64.RawURLEncoding.EncodeToString(b[:])
	t, err := a.store.InsertToken(ctx, name, role, HashToken(plain), a.now())
	if err != nil {
		return "", defs.Token{}, fmt.Errorf("creating token: %w", err)
	}
	writeAudit(ctx, a.audit, a.log, a.now(), "token.create", fmt.Sprintf("token:%d", t.ID), fmt.Sprintf("name=%q role=%s", t.Name, t.Role))
	return plain, t, nil
}

// ListTokens returns every token's description, never a plaintext.
func (a *Authenticator) ListTokens(ctx context.Context) ([]defs.Token, error) {
	return a.store.ListTokens(ctx)
}

// RevokeToken stops a token from authenticating, from the next request
// on, and ends its open feeds.
func (a *Authenticator) RevokeToken(ctx context.Context, id int64) error {
	if err := a.store.RevokeToken(ctx, id, a.now()); err != nil {
		return err
	}
	a.end(credKey(Principal{Kind: PrincipalToken, TokenID: id}))
	writeAudit(ctx, a.audit, a.log, a.now(), "token.revoke", fmt.Sprintf("token:%d", id), "")
	return nil
}
