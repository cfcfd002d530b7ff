package auth

import (
	"context"
	"log/slog"
	"testing"
	"time"

	"github.com/iocd/iocd/defs"
)

// waitEnded fails unless ch is closed within a bound generous enough for
// a loaded machine; it is not a timing assertion.
func waitEnded(t *testing.T, what string, ch <-chan struct{}) {
	t.Helper()
	select {
	case <-ch:
	case <-time.After(10 * time.Second):
		t.Fatalf("%s: Ended was not closed", what)
	}
}

func isClosed(ch <-chan struct{}) bool {
	select {
	case <-ch:
		return true
	default:
		return false
	}
}

func TestEnded(t *testing.T) {
	r := newLoginRig(t, SessionConfig{Recheck: 10 * time.Millisecond})
	ctx := context.Background()
	for _, n := range []string{"anna", "bob", "carol", "dave"} {
		if _, err := r.users.Create(ctx, n, defs.RoleViewer, "long enough pw"); err != nil {
			t.Fatal(err)
		}
	}
	login := func(name string) Principal {
		t.Helper()
		res, err := r.a.Login(ctx, name, "long enough pw", false, "127.0.0.1")
		if err != nil {
			t.Fatal(err)
		}
		return res.Principal
	}
	token := func() Principal {
		t.Helper()
		plain, _, err := r.a.CreateToken(ctx, defs.RoleReviewer, "feed")
		if err != nil {
			t.Fatal(err)
		}
		p, err := r.a.Authenticate(ctx, plain)
		if err != nil {
			t.Fatal(err)
		}
		return p
	}
	boot := r.a.Ended(Principal{Kind: PrincipalBootstrap, Name: AdminName, Role: defs.RoleAdmin})

	// At once, without the periodic re-check running: revocation through
	// the Authenticator, logout, disabling through Users.
	t.Run("immediate", func(t *testing.T) {
		tok := token()
		ch := r.a.Ended(tok)
		if r.a.Ended(tok) != ch {
			t.Error("two feeds on one token get different channels")
		}
		if err := r.a.RevokeToken(ctx, tok.TokenID); err != nil {
			t.Fatal(err)
		}
		if !isClosed(ch) {
			t.Error("revoked token: Ended not closed at once")
		}
		s := login("anna")
		ch = r.a.Ended(s)
		if err := r.a.Logout(ctx, s); err != nil {
			t.Fatal(err)
		}
		if !isClosed(ch) {
			t.Error("logged-out session: Ended not closed at once")
		}
		s = login("bob")
		ch = r.a.Ended(s)
		if _, err := r.users.Disable(ctx, "bob"); err != nil {
			t.Fatal(err)
		}
		if !isClosed(ch) {
			t.Error("disabled user: Ended not closed at once")
		}
	})

	runCtx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- r.a.Run(runCtx) }()
	t.Cleanup(func() { stop(); <-done })

	// Changes made by another process (the command line) in the store are
	// caught by the re-check.
	t.Run("made by the command line", func(t *testing.T) {
		tok := token()
		ch := r.a.Ended(tok)
		if err := r.st.RevokeToken(ctx, tok.TokenID, time.Now()); err != nil {
			t.Fatal(err)
		}
		waitEnded(t, "token revoked in the store", ch)

		s := login("carol")
		ch = r.a.Ended(s)
		cli := NewUsers(r.st, slog.New(slog.DiscardHandler))
		if _, err := cli.Disable(ctx, "carol"); err != nil {
			t.Fatal(err)
		}
		waitEnded(t, "user disabled by the command line", ch)
	})

	t.Run("expiry", func(t *testing.T) {
		s := login("dave")
		ch := r.a.Ended(s)
		r.clock.advance(31 * time.Minute) // past the idle expiry
		waitEnded(t, "idle session", ch)
	})

	if isClosed(boot) {
		t.Error("the bootstrap token's Ended was closed")
	}
	if ch := r.a.Ended(Principal{Kind: PrincipalToken, TokenID: 999}); !isClosed(ch) {
		waitEnded(t, "a token that does not exist", ch)
	}
}
