package auth

import (
	"bytes"
	"context"
	"encoding/base64"
	"log/slog"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/iocd/iocd/defs"
	"github.com/iocd/iocd/store"
)

func newAuth(t *testing.T, admin string) (*Authenticator, *store.SQLite) {
	t.Helper()
	st, err := store.Open(context.Background(), filepath.Join(t.TempDir(), "iocd.db"), slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return New(st, admin, slog.New(slog.DiscardHandler)), st
}

func TestCreateTokenStoresOnlyTheHash(t *testing.T) {
	a, st := newAuth(t, "")
	ctx := context.Background()
	plain, tok, err := a.CreateToken(ctx, defs.RoleReviewer, "police-desk")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(plain, TokenPrefix) || len(plain) != len(TokenPrefix)+43 {
		t.Errorf("token: want iocd_ and 43 base64url characters, got %d characters", len(plain))
	}
	var n int
	if err := st.DB().QueryRow(`SELECT COUNT(*) FROM tokens WHERE hash = ? AND hash <> ?`, HashToken(plain), plain).Scan(&n); err != nil || n != 1 {
		t.Errorf("store: want the token kept by its hash only, got %d rows, %v", n, err)
	}
	p, err := a.Authenticate(ctx, plain)
	if err != nil || p.Role != defs.RoleReviewer || p.Name != "police-desk" || p.TokenID != tok.ID {
		t.Errorf("Authenticate: want reviewer police-desk, got %+v, %v", p, err)
	}
	other, _, err := a.CreateToken(ctx, defs.RoleReviewer, "police-desk")
	if err != nil || other == plain {
		t.Errorf("a second token: want a different plaintext, got err %v", err)
	}
}

func TestCreateTokenValidates(t *testing.T) {
	a, _ := newAuth(t, "")
	cases := []struct {
		name  string
		role  defs.Role
		tname string
		field string
	}{
		{"no role", defs.RoleNone, "x", "role"},
		{"role out of range", defs.Role(9), "x", "role"},
		{"blank name", defs.RoleViewer, "  ", "name"},
		{"long name", defs.RoleViewer, strings.Repeat("n", 129), "name"},
		{"ANSI escape", defs.RoleViewer, "wall\x1b[2J\x1b[31mroot", "name"},
		{"newline", defs.RoleViewer, "wall\nlevel=ERROR msg=forged", "name"},
		{"bidi override", defs.RoleViewer, "wall\u202eexe.txt", "name"},
		{"invalid UTF-8", defs.RoleViewer, "wall\xff", "name"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, _, err := a.CreateToken(context.Background(), c.role, c.tname)
			if defs.ErrorCode(err) != defs.EINVALID || defs.ErrorField(err) != c.field {
				t.Errorf("want EINVALID on %q, got %v", c.field, err)
			}
		})
	}
}

func TestAuthorize(t *testing.T) {
	const admin = "a-bootstrap-token-of-some-length"
	a, _ := newAuth(t, admin)
	op, _, err := a.CreateToken(context.Background(), defs.RoleOperator, "ops")
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name  string
		token string
		min   defs.Role
		code  string // "" = allowed
	}{
		{"empty", "", defs.RoleViewer, defs.EUNAUTHORIZED},
		{"bootstrap admin", admin, defs.RoleAdmin, ""},
		{"bootstrap prefix only", admin[:10], defs.RoleViewer, defs.EUNAUTHORIZED},
		{"operator as viewer", op, defs.RoleViewer, ""},
		{"operator as operator", op, defs.RoleOperator, ""},
		{"operator as reviewer", op, defs.RoleReviewer, defs.EFORBIDDEN},
		{"operator token altered", alter(op), defs.RoleViewer, defs.EUNAUTHORIZED},
		{"operator token truncated", op[:len(op)-1], defs.RoleViewer, defs.EUNAUTHORIZED},
		{"operator token extended", op + "A", defs.RoleViewer, defs.EUNAUTHORIZED},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := a.Authorize(context.Background(), c.token, c.min)
			if c.code == "" && err != nil || c.code != "" && defs.ErrorCode(err) != c.code {
				t.Errorf("want %q, got %v", c.code, err)
			}
			if err != nil && c.token != "" && strings.Contains(err.Error(), c.token) {
				t.Errorf("error %q holds the token", err)
			}
		})
	}
}

// alter changes one character in the middle of a token's base64 body to a
// different one. Replacing the last character with a fixed 'A' did
// nothing whenever the token already ended in 'A' (1 run in 16: the last
// character of 32 bytes in base64 carries only 4 bits), and the test then
// failed; a middle character carries 6 bits of the decoded secret, and
// the replacement is chosen to differ from it.
func alter(tok string) string {
	i := len(TokenPrefix) + (len(tok)-len(TokenPrefix))/2
	c := byte('A')
	if tok[i] == 'A' {
		c = 'B'
	}
	return tok[:i] + string(c) + tok[i+1:]
}

func TestAlterChangesTheDecodedSecret(t *testing.T) {
	for _, tok := range []string{
		TokenPrefix + strings.Repeat("A", 43), TokenPrefix + strings.Repeat("B", 43), TokenPrefix + strings.Repeat("x", 42) + "A",
	} {
		got := alter(tok)
		a, errA := base64.RawURLEncoding.DecodeString(strings.TrimPrefix(tok, TokenPrefix))
		b, errB := base64.RawURLEncoding.DecodeString(strings.TrimPrefix(got, TokenPrefix))
		if errA != nil || errB != nil || bytes.Equal(a, b) {
			t.Errorf("alter(%q) = %q: want different decoded bytes (%v, %v)", tok, got, errA, errB)
		}
	}
}

func TestLastUsedWrittenAtMostOncePerMinute(t *testing.T) {
	a, st := newAuth(t, "")
	ctx := context.Background()
	now := time.Date(2026, 11, 22, 8, 0, 0, 0, time.UTC)
	a.now = func() time.Time { return now }
	plain, tok, err := a.CreateToken(ctx, defs.RoleViewer, "wall")
	if err != nil {
		t.Fatal(err)
	}
	lastUsed := func() time.Time {
		t.Helper()
		ts, err := st.ListTokens(ctx)
		if err != nil {
			t.Fatal(err)
		}
		for _, x := range ts {
			if x.ID == tok.ID {
				return x.LastUsedAt
			}
		}
		t.Fatalf("token %d not listed", tok.ID)
		return time.Time{}
	}
	steps := []struct {
		after time.Duration
		want  time.Duration // last_used_at as an offset from the start
	}{
		{0, 0},
		{30 * time.Second, 0},
		{59 * time.Second, 0},
		{61 * time.Second, 61 * time.Second},
		{90 * time.Second, 61 * time.Second},
		{122 * time.Second, 122 * time.Second},
	}
	start := now
	for _, s := range steps {
		now = start.Add(s.after)
		if _, err := a.Authenticate(ctx, plain); err != nil {
			t.Fatal(err)
		}
		if got := lastUsed(); !got.Equal(start.Add(s.want)) {
			t.Errorf("after %s: want last_used_at %s, got %s", s.after, start.Add(s.want), got)
		}
	}
}

func TestWebSocketToken(t *testing.T) {
	cases := []struct {
		name   string
		header map[string]string
		want   string
	}{
		{"none", nil, ""},
		{"authorization", map[string]string{"Authorization": "Bearer abc"}, "abc"},
		{"subprotocol", map[string]string{"Sec-WebSocket-Protocol": "iocd.v1, bearer.iocd_xyz"}, "iocd_xyz"},
		{"subprotocol first", map[string]string{"Sec-WebSocket-Protocol": "bearer.t1,iocd.v1"}, "t1"},
		{"header wins", map[string]string{"Authorization": "Bearer h", "Sec-WebSocket-Protocol": "bearer.p"}, "h"},
		{"other protocols only", map[string]string{"Sec-WebSocket-Protocol": "iocd.v1"}, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r, _ := http.NewRequest("GET", "/ws?access_token=q", nil)
			for k, v := range c.header {
				r.Header.Set(k, v)
			}
			if got := WebSocketToken(r); got != c.want {
				t.Errorf("want %q, got %q", c.want, got)
			}
		})
	}
}
