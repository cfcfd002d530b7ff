package auth

import (
	"context"
	"fmt"
	"time"

	"github.com/iocd/iocd/defs"
)

// endWatch is the Ended channel of one credential (a token or a session),
// shared by every feed that runs on it.
type endWatch struct {
	ch    chan struct{}
	p     Principal
	timer *time.Timer // the session's next expiry; nil for tokens
}

// credKey names the credential behind p: "t:<id>" for a token, "s:<id>"
// for a session, "" for the bootstrap token and anything else.
func credKey(p Principal) string {
	switch p.Kind {
	case PrincipalToken:
		return fmt.Sprintf("t:%d", p.TokenID)
	case PrincipalUser:
		return "s:" + p.SessionID
	}
	return ""
}

// Ended returns a channel closed as soon as p's credential stops being
// valid: its token revoked through this Authenticator, its session logged
// out, expired (idle or absolute) or its user disabled or changed (role,
// password). Changes made elsewhere (the command line, in the database)
// are caught by Run's periodic re-check. For the bootstrap token the
// channel is never closed. A kiosk session with an open feed is kept
// from its idle expiry by that feed: Run refreshes it.
func (a *Authenticator) Ended(p Principal) <-chan struct{} {
	if p.Kind == PrincipalBootstrap {
		return a.never
	}
	key := credKey(p)
	if key == "" {
		ch := make(chan struct{})
		close(ch)
		return ch
	}
	a.endMu.Lock()
	w, ok := a.ended[key]
	if !ok {
		w = &endWatch{ch: make(chan struct{}), p: p}
		a.ended[key] = w
	}
	a.endMu.Unlock()
	if !ok {
		// Check at once in the background (Ended does no I/O of its
		// own): a credential that ended between the request's
		// authentication and this call, and a session's expiry timer.
		go a.recheckKey(key)
	}
	return w.ch
}

// end closes the Ended channel of a credential, if any.
func (a *Authenticator) end(key string) {
	a.endMu.Lock()
	w, ok := a.ended[key]
	if ok {
		delete(a.ended, key)
	}
	a.endMu.Unlock()
	if ok {
		if w.timer != nil {
			w.timer.Stop()
		}
		close(w.ch)
	}
}

// endUser closes the Ended channels of every session of a user.
func (a *Authenticator) endUser(userID int64) {
	a.endMu.Lock()
	var keys []string
	for k, w := range a.ended {
		if w.p.Kind == PrincipalUser && w.p.UserID == userID {
			keys = append(keys, k)
		}
	}
	a.endMu.Unlock()
	for _, k := range keys {
		a.end(k)
	}
}

// recheckKey checks one watched credential in the store and ends it or
// sets its expiry timer.
func (a *Authenticator) recheckKey(key string) {
	a.endMu.Lock()
	w, ok := a.ended[key]
	a.endMu.Unlock()
	if !ok {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	valid, until, err := a.stillValid(ctx, w.p)
	if err != nil {
		// The store did not answer: keep the feed, try again next tick.
		a.log.Warn("re-checking a credential", "err", err)
		return
	}
	if !valid {
		a.end(key)
		return
	}
	if until.IsZero() {
		return
	}
	a.endMu.Lock()
	defer a.endMu.Unlock()
	if a.ended[key] != w {
		return
	}
	d := max(until.Sub(a.now()), 0)
	if w.timer == nil {
		w.timer = time.AfterFunc(d, func() { a.recheckKey(key) })
	} else {
		w.timer.Reset(d)
	}
}

// stillValid reports whether p's credential still authenticates and, for
// a session, until when at the latest unless used again. A kiosk session
// is refreshed: the feed that watches it is its use.
func (a *Authenticator) stillValid(ctx context.Context, p Principal) (bool, time.Time, error) {
	switch p.Kind {
	case PrincipalToken:
		ts, ok := a.store.(interface {
			TokenByID(ctx context.Context, id int64) (defs.Token, error)
		})
		if !ok {
			return true, time.Time{}, nil
		}
		t, err := ts.TokenByID(ctx, p.TokenID)
		if defs.ErrorCode(err) == defs.ENOTFOUND {
			return false, time.Time{}, nil
		}
		if err != nil {
			return false, time.Time{}, err
		}
		return !t.Revoked() && t.Role == p.Role, time.Time{}, nil
	case PrincipalUser:
		s := a.sess
		if s == nil {
			return false, time.Time{}, nil
		}
		sess, u, err := s.store.SessionByID(ctx, p.SessionID)
		if defs.ErrorCode(err) == defs.ENOTFOUND {
			return false, time.Time{}, nil
		}
		if err != nil {
			return false, time.Time{}, err
		}
		now := a.now()
		if !s.valid(sess, u, now) || u.Role != p.Role {
			return false, time.Time{}, nil
		}
		if sess.Kiosk && now.Sub(sess.LastSeenAt) >= s.touchEvery() {
			if err := s.store.TouchSession(ctx, sess.ID, now); err != nil {
				return false, time.Time{}, err
			}
			sess.LastSeenAt = now
		}
		until := sess.LastSeenAt.Add(s.cfg.Idle)
		if sess.ExpiresAt.Before(until) {
			until = sess.ExpiresAt
		}
		return true, until, nil
	}
	return false, time.Time{}, nil
}

// Run re-checks the credentials of open feeds every recheck interval
// (catching revocations and disabled users made from the command line),
// prunes the login rate limiter and deletes expired sessions, until ctx
// ends.
func (a *Authenticator) Run(ctx context.Context) error {
	t := time.NewTicker(a.recheck)
	defer t.Stop()
	a.sweepSessions(ctx)
	sweep := 0
	for {
		select {
		case <-ctx.Done():
			a.endMu.Lock()
			for _, w := range a.ended {
				if w.timer != nil {
					w.timer.Stop()
				}
			}
			a.endMu.Unlock()
			return nil
		case <-t.C:
		}
		a.endMu.Lock()
		keys := make([]string, 0, len(a.ended))
		for k := range a.ended {
			keys = append(keys, k)
		}
		a.endMu.Unlock()
		for _, k := range keys {
			a.recheckKey(k)
		}
		if s := a.sess; s != nil {
			now := a.now()
			s.byUser.prune(now)
			s.byAddr.prune(now)
			if sweep++; sweep%40 == 0 { // every 10 minutes at the default 15 s
				a.sweepSessions(ctx)
			}
		}
	}
}

// sweepSessions deletes the sessions that have expired, so the table
// holds live ones only (a request with an expired cookie deletes its own).
func (a *Authenticator) sweepSessions(ctx context.Context) {
	s := a.sess
	if s == nil {
		return
	}
	now := a.now()
	if _, err := s.store.DeleteExpiredSessions(ctx, now, now.Add(-s.cfg.Idle)); err != nil {
		a.log.Warn("deleting expired sessions", "err", err)
	}
}
