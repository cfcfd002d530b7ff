package auth

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"fmt"
	"math"
	"net/http"
	"net/netip"
	"strconv"
	"time"

	"github.com/iocd/iocd/defs"
	"github.com/prometheus/client_golang/prometheus"
)

// CookieName is the session cookie's name; CSRFHeader the header a
// cookie-authenticated change must carry the session's CSRF token in.
const (
	CookieName = "iocd_session"
	CSRFHeader = "X-CSRF-Token"
)

// SessionConfig configures password logins and their sessions.
type SessionConfig struct {
	// Idle ends a session not used for this long; Max ends any session
	// this long after login, and KioskMax a kiosk one.
	Idle, Max, KioskMax time.Duration
	// Recheck is how often the credentials behind open feeds are checked
	// again in the store, to catch changes made by the command line;
	// default 15s.
	Recheck time.Duration
	// FailuresPerMinute is how many failed logins a user name, and a
	// remote address, may have in a minute before further attempts are
	// refused until the minute ends; default 5.
	FailuresPerMinute int
	// LimiterKeys bounds the names and the addresses the rate limit
	// tracks each; default 10,000.
	LimiterKeys int
}

func (c SessionConfig) withDefaults() SessionConfig {
	if c.Idle <= 0 {
		c.Idle = 30 * time.Minute
	}
	if c.Max <= 0 {
		c.Max = 12 * time.Hour
	}
	if c.KioskMax <= 0 {
		c.KioskMax = 30 * 24 * time.Hour
	}
	if c.Recheck <= 0 {
		c.Recheck = 15 * time.Second
	}
	if c.FailuresPerMinute <= 0 {
		c.FailuresPerMinute = 5
	}
	if c.LimiterKeys <= 0 {
		c.LimiterKeys = 10_000
	}
	return c
}

// SessionStore is what logins need from the store.
type SessionStore interface {
	InsertSession(ctx context.Context, s defs.Session, hash string) error
	SessionByHash(ctx context.Context, hash string) (defs.Session, defs.User, error)
	SessionByID(ctx context.Context, id string) (defs.Session, defs.User, error)
	TouchSession(ctx context.Context, id string, at time.Time) error
	DeleteSession(ctx context.Context, id string) error
	DeleteExpiredSessions(ctx context.Context, at, idleBefore time.Time) (int64, error)
	TokenByID(ctx context.Context, id int64) (defs.Token, error)
}

// Option configures an Authenticator.
type Option func(*Authenticator)

// WithSessions enables password logins for users, with sessions kept in
// store. Without it the Authenticator knows bearer tokens only.
func WithSessions(cfg SessionConfig, users *Users, store SessionStore, reg prometheus.Registerer) Option {
	return func(a *Authenticator) {
		cfg = cfg.withDefaults()
		refused := prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "iocd_login_refused_total",
			Help: "Login attempts refused, by reason: bad_credentials, rate_limited_user, rate_limited_address, kiosk_role.",
		}, []string{"reason"})
		for _, r := range []string{reasonBad, reasonLimitUser, reasonLimitAddr, reasonKiosk} {
			refused.WithLabelValues(r)
		}
		a.sess = &sessions{
			cfg: cfg, users: users, store: store, refused: refused,
			byUser: newLimiter(cfg.FailuresPerMinute, time.Minute, cfg.LimiterKeys),
			byAddr: newLimiter(cfg.FailuresPerMinute, time.Minute, cfg.LimiterKeys),
		}
		a.recheck = cfg.Recheck
		if reg != nil {
			reg.MustRegister(refused)
		}
		users.notify(a.endUser)
	}
}

// Reasons of iocd_login_refused_total.
const (
	reasonBad       = "bad_credentials"
	reasonLimitUser = "rate_limited_user"
	reasonLimitAddr = "rate_limited_address"
	reasonKiosk     = "kiosk_role"
)

type sessions struct {
	cfg            SessionConfig
	users          *Users
	store          SessionStore
	refused        *prometheus.CounterVec
	byUser, byAddr *limiter
}

// touchEvery is how stale a session's last_seen_at may get before a
// request writes it: a minute, or less for a short idle expiry.
func (s *sessions) touchEvery() time.Duration {
	return min(time.Minute, s.cfg.Idle/4)
}

// RateLimitError is a login refused by the rate limit; After is when the
// client may try again. Its code is defs.ERATELIMITED.
type RateLimitError struct {
	After time.Duration
	err   error
}

func (e *RateLimitError) Error() string { return e.err.Error() }
func (e *RateLimitError) Unwrap() error { return e.err }

// RetryAfterSeconds is After rounded up to whole seconds, at least 1, for
// a Retry-After header.
func (e *RateLimitError) RetryAfterSeconds() int {
	return max(1, int(math.Ceil(e.After.Seconds())))
}

// LoginResult is a successful login.
type LoginResult struct {
	// Secret is the cookie's value. It is not kept anywhere.
	Secret string
	// CSRF is the token cookie-authenticated changes must carry.
	CSRF      string
	Principal Principal
	Kiosk     bool
	// ExpiresAt is the session's absolute end.
	ExpiresAt time.Time
}

// Login checks a user's password and opens a session. remember asks for a
// kiosk session, which viewers alone may have. addr is the client's
// address, for the rate limit. Failures are EUNAUTHORIZED without saying
// what was wrong, or a *RateLimitError once the user name or the address
// has failed too often in the last minute.
func (a *Authenticator) Login(ctx context.Context, name, password string, remember bool, addr string) (LoginResult, error) {
	s := a.sess
	if s == nil {
		return LoginResult{}, defs.Errorf(defs.EUNAVAILABLE, "password logins are not enabled on this server")
	}
	now := a.now()
	addr = addressKey(addr)
	userKey := name
	if d := s.byAddr.retryAfter(addr, now); d > 0 {
		s.refused.WithLabelValues(reasonLimitAddr).Inc()
		return LoginResult{}, rateLimited(d)
	}
	if d := s.byUser.retryAfter(userKey, now); d > 0 {
		s.refused.WithLabelValues(reasonLimitUser).Inc()
		return LoginResult{}, rateLimited(d)
	}
	u, known, err := s.users.check(ctx, name, password)
	if err != nil {
		if defs.ErrorCode(err) == defs.EUNAUTHORIZED {
			s.refused.WithLabelValues(reasonBad).Inc()
			s.byAddr.fail(addr, now)
			// Only names of users are counted per user: guessing names
			// that are no one's is limited by the address, and cannot
			// fill the per-user limiter.
			if known {
				s.byUser.fail(userKey, now)
			}
		}
		return LoginResult{}, err
	}
	if remember && u.Role != defs.RoleViewer {
		s.refused.WithLabelValues(reasonKiosk).Inc()
		return LoginResult{}, defs.Invalid("remember", "is for viewer accounts only (a wall screen); %s accounts log in for at most %s", u.Role, s.cfg.Max)
	}
	s.byUser.reset(userKey)
	secret, err := randomText("iocds_")
	if err != nil {
		return LoginResult{}, err
	}
	id, err := randomText("")
	if err != nil {
		return LoginResult{}, err
	}
	csrf, err := randomText("")
	if err != nil {
		return LoginResult{}, err
	}
	life := s.cfg.Max
	if remember {
		life = s.cfg.KioskMax
	}
	sess := defs.Session{ID: id[:22], UserID: u.ID, Kiosk: remember, CSRF: csrf, CreatedAt: now, LastSeenAt: now, ExpiresAt: now.Add(life)}
	if err := s.store.InsertSession(ctx, sess, HashToken(secret)); err != nil {
		return LoginResult{}, fmt.Errorf("logging in: %w", err)
	}
	p := userPrincipal(u, sess)
	writeAudit(WithPrincipal(ctx, p), a.audit, a.log, now, "session.login", p.Subject(), "kiosk="+strconv.FormatBool(remember))
	return LoginResult{Secret: secret, CSRF: csrf, Principal: p, Kiosk: remember, ExpiresAt: sess.ExpiresAt}, nil
}

// addressKey is the rate limit's key for a remote address: the address
// itself for IPv4, its /64 for IPv6, since one client commonly holds a
// whole /64 and could otherwise rotate through it.
func addressKey(addr string) string {
	ip, err := netip.ParseAddr(addr)
	if err != nil {
		return addr
	}
	ip = ip.Unmap()
	if ip.Is4() {
		return ip.String()
	}
	p, _ := ip.Prefix(64)
	return p.String()
}

func rateLimited(d time.Duration) error {
	return &RateLimitError{After: d, err: &defs.Error{Code: defs.ERATELIMITED,
		Message: fmt.Sprintf("too many failed logins; try again in %d s", max(1, int(math.Ceil(d.Seconds()))))}}
}

func userPrincipal(u defs.User, s defs.Session) Principal {
	return Principal{Kind: PrincipalUser, Name: u.Name, Role: u.Role, UserID: u.ID, SessionID: s.ID}
}

// randomText returns prefix and 256 random bits in base64url.
func randomText(prefix string) (string, error) {
	var b [32]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", fmt.Errorf("random: %w", err)
	}
	return prefix + base64.RawURLEncoding.EncodeToString(b[:]), nil
}

// Logout ends p's session, and with it its open feeds. For a principal
// that is not a session (a bearer token) it does nothing.
func (a *Authenticator) Logout(ctx context.Context, p Principal) error {
	if p.Kind != PrincipalUser || a.sess == nil {
		return nil
	}
	if err := a.sess.store.DeleteSession(ctx, p.SessionID); err != nil {
		return err
	}
	a.end(credKey(p))
	writeAudit(ctx, a.audit, a.log, a.now(), "session.logout", p.Subject(), "")
	return nil
}

// CSRF returns the CSRF token of p's session; "" for other principals.
func (a *Authenticator) CSRF(ctx context.Context, p Principal) (string, error) {
	if p.Kind != PrincipalUser || a.sess == nil {
		return "", nil
	}
	s, _, err := a.sess.store.SessionByID(ctx, p.SessionID)
	if err != nil {
		return "", err
	}
	return s.CSRF, nil
}

// errSessionEnded is the answer for every cookie that no longer logs in:
// it does not say whether it was logged out, expired or never existed.
func errSessionEnded() error {
	return defs.Errorf(defs.EUNAUTHORIZED, "the login session has ended; log in again")
}

// authenticateSession returns the principal of a session cookie's secret
// and the session's CSRF token.
func (a *Authenticator) authenticateSession(ctx context.Context, secret string) (Principal, string, error) {
	s := a.sess
	if s == nil {
		return Principal{}, "", defs.Errorf(defs.EUNAUTHORIZED, "a bearer token is required")
	}
	sess, u, err := s.store.SessionByHash(ctx, HashToken(secret))
	if defs.ErrorCode(err) == defs.ENOTFOUND {
		return Principal{}, "", errSessionEnded()
	}
	if err != nil {
		return Principal{}, "", fmt.Errorf("authenticating session: %w", err)
	}
	now := a.now()
	if !s.valid(sess, u, now) {
		if err := s.store.DeleteSession(ctx, sess.ID); err != nil {
			a.log.Warn("deleting ended session", "err", err)
		}
		return Principal{}, "", errSessionEnded()
	}
	if now.Sub(sess.LastSeenAt) >= s.touchEvery() {
		if err := s.store.TouchSession(ctx, sess.ID, now); err != nil {
			a.log.Warn("recording session use", "err", err)
		}
	}
	return userPrincipal(u, sess), sess.CSRF, nil
}

// valid reports whether a session still logs in at now.
func (s *sessions) valid(sess defs.Session, u defs.User, now time.Time) bool {
	switch {
	case u.Disabled, !now.Before(sess.ExpiresAt), !now.Before(sess.LastSeenAt.Add(s.cfg.Idle)):
		return false
	case sess.Kiosk && u.Role != defs.RoleViewer:
		return false // kiosk sessions are for viewers; a promoted user logs in again
	}
	return true
}

// AuthorizeRequest authenticates a request by its bearer token (the
// Authorization header; the websocket route puts a subprotocol token
// there, see WebSocketToken) or else its session cookie, and checks its role is at least min. A
// cookie-authenticated request that changes state (any method but GET,
// HEAD and OPTIONS) must carry the session's CSRF token in CSRFHeader,
// else it is refused with defs.ECSRF.
func (a *Authenticator) AuthorizeRequest(r *http.Request, min defs.Role) (Principal, error) {
	p, err := a.AuthenticateRequest(r)
	if err != nil {
		return Principal{}, err
	}
	if !p.Role.Allows(min) {
		return p, defs.Errorf(defs.EFORBIDDEN, "role %s may not do this (needs %s)", p.Role, min)
	}
	return p, nil
}

// AuthenticateRequest is AuthorizeRequest without the role check.
func (a *Authenticator) AuthenticateRequest(r *http.Request) (Principal, error) {
	ctx := r.Context()
	if tok := BearerToken(r); tok != "" {
		return a.Authenticate(ctx, tok)
	}
	c, err := r.Cookie(CookieName)
	if err != nil || c.Value == "" || a.sess == nil {
		return Principal{}, defs.Errorf(defs.EUNAUTHORIZED, "a bearer token or a login session is required")
	}
	p, csrf, err := a.authenticateSession(ctx, c.Value)
	if err != nil {
		return Principal{}, err
	}
	switch r.Method {
	case http.MethodGet, http.MethodHead, http.MethodOptions:
	default:
		got := r.Header.Get(CSRFHeader)
		if got == "" || subtle.ConstantTimeCompare([]byte(got), []byte(csrf)) != 1 {
			return Principal{}, &defs.Error{Code: defs.ECSRF,
				Message: "a change made with a login session must carry the session's CSRF token in " + CSRFHeader}
		}
	}
	return p, nil
}
