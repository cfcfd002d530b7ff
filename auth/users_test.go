package auth

import (
	"context"
	"errors"
	"log/slog"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/iocd/iocd/defs"
	"github.com/iocd/iocd/store"
)

// cheap argon2id parameters keep the tests fast; the encoding carries
// them, so verification is the same code either way.
var testArgon2 = Argon2Params{MemoryKiB: 64, Time: 1, Threads: 1}

type loginRig struct {
	a     *Authenticator
	users *Users
	st    *store.SQLite
	clock *fakeClock
}

type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

func newLoginRig(t *testing.T, cfg SessionConfig) loginRig {
	t.Helper()
	log := slog.New(slog.DiscardHandler)
	st, err := store.Open(context.Background(), filepath.Join(t.TempDir(), "iocd.db"), log)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	clock := &fakeClock{t: time.Date(2026, 12, 2, 8, 0, 0, 0, time.UTC)}
	u := NewUsers(st, log)
	u.params, u.now = testArgon2, clock.now
	a := New(st, "", log, WithSessions(cfg, u, st, nil))
	a.now = clock.now
	return loginRig{a: a, users: u, st: st, clock: clock}
}

func TestPasswordHashIsArgon2idPHC(t *testing.T) {
	h, err := hashPassword("correct horse battery", DefaultArgon2)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(h, "$argon2id$v=19$m=19456,t=2,p=1$") {
		t.Errorf("want a PHC argon2id string with its parameters, got %q", h)
	}
	h2, _ := hashPassword("correct horse battery", DefaultArgon2)
	if h == h2 {
		t.Error("two hashes of one password are equal: the salt is not fresh")
	}
	for _, c := range []struct {
		pw   string
		want bool
	}{{"correct horse battery", true}, {"correct horse batterY", false}, {"", false}} {
		if got := verifyPassword(c.pw, h); got != c.want {
			t.Errorf("verify(%q): want %t, got %t", c.pw, c.want, got)
		}
	}
	for _, bad := range []string{"", "$argon2i$v=19$m=64,t=1,p=1$AAAAAAAAAAA$AAAAAAAAAAAAAAAAAAAAAA", "$argon2id$v=19$m=99999999,t=1,p=1$AAAAAAAAAAA$AAAAAAAAAAAAAAAAAAAAAA", "plain"} {
		if verifyPassword("x", bad) {
			t.Errorf("malformed hash %q matched", bad)
		}
	}
}

func TestCreateUserRules(t *testing.T) {
	r := newLoginRig(t, SessionConfig{})
	ctx := context.Background()
	cases := []struct {
		name, user, pw string
		role           defs.Role
		wantField      string
	}{
		{"short password", "anna", "123456789", defs.RoleViewer, "password"},
		{"empty name", "", "long enough pw", defs.RoleViewer, "name"},
		{"control char", "an\x1bna", "long enough pw", defs.RoleViewer, "name"},
		{"bidi override", "an\u202ena", "long enough pw", defs.RoleViewer, "name"},
		{"spaces around", " anna", "long enough pw", defs.RoleViewer, "name"},
		{"no role", "anna", "long enough pw", defs.RoleNone, "role"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := r.users.Create(ctx, c.user, c.role, c.pw)
			if defs.ErrorCode(err) != defs.EINVALID || defs.ErrorField(err) != c.wantField {
				t.Fatalf("want invalid %s, got %v", c.wantField, err)
			}
		})
	}
	_, err := r.users.Create(ctx, "anna", defs.RoleViewer, "123456789")
	if err == nil || !strings.Contains(err.Error(), "at least 10 characters") {
		t.Errorf("want a clear minimum-length error, got %v", err)
	}
	u, err := r.users.Create(ctx, "anna", defs.RoleReviewer, "long enough pw")
	if err != nil || u.Role != defs.RoleReviewer || u.ID == 0 {
		t.Fatalf("create: %+v, %v", u, err)
	}
	if _, err := r.users.Create(ctx, "anna", defs.RoleViewer, "another password"); defs.ErrorCode(err) != defs.ECONFLICT {
		t.Errorf("duplicate name: want conflict, got %v", err)
	}
	var hash string
	if err := r.st.DB().QueryRow(`SELECT password_hash FROM users WHERE name = 'anna'`).Scan(&hash); err != nil || !strings.HasPrefix(hash, "$argon2id$") || strings.Contains(hash, "long enough") {
		t.Errorf("stored hash: want argon2id and no plaintext, got %q, %v", hash, err)
	}
	if _, err := r.users.Check(ctx, "anna", "long enough pw"); err != nil {
		t.Errorf("check with the right password: %v", err)
	}
	for _, c := range [][2]string{{"anna", "wrong password"}, {"bob", "long enough pw"}} {
		if _, err := r.users.Check(ctx, c[0], c[1]); defs.ErrorCode(err) != defs.EUNAUTHORIZED || !strings.Contains(err.Error(), "wrong user name or password") {
			t.Errorf("check %s: want the same unauthorized answer, got %v", c[0], err)
		}
	}
	if _, err := r.users.Disable(ctx, "anna"); err != nil {
		t.Fatal(err)
	}
	if _, err := r.users.Check(ctx, "anna", "long enough pw"); defs.ErrorCode(err) != defs.EUNAUTHORIZED {
		t.Errorf("disabled user: want unauthorized, got %v", err)
	}
	es, _, err := r.st.ListAudit(ctx, "", 10)
	if err != nil {
		t.Fatal(err)
	}
	var actions []string
	for _, e := range es {
		actions = append(actions, e.Action+" "+e.Target+" by "+e.Actor)
	}
	got := strings.Join(actions, "; ")
	for _, want := range []string{"user.create anna by cli", "user.disable anna by cli"} {
		if !strings.Contains(got, want) {
			t.Errorf("audit log: want %q, got %s", want, got)
		}
	}
}

func TestLimiterBoundedAndUnresettable(t *testing.T) {
	now := time.Date(2026, 12, 2, 8, 0, 0, 0, time.UTC)
	l := newLimiter(5, time.Minute, 100)
	for i := 0; i < 5; i++ {
		l.fail("victim", now)
	}
	if l.retryAfter("victim", now) <= 0 {
		t.Fatal("victim not limited after 5 failures")
	}
	// A flood of distinct keys cannot grow the limiter nor evict the
	// victim's count.
	for i := 0; i < 10_000; i++ {
		l.fail("flood-"+strings.Repeat("x", i%7)+string(rune('a'+i%26))+time.Duration(i).String(), now)
	}
	if n := l.size(); n > 100 {
		t.Errorf("limiter holds %d keys, want at most 100", n)
	}
	if l.retryAfter("victim", now) <= 0 {
		t.Error("the flood reset the victim's count")
	}
	if l.retryAfter("a-new-key", now) <= 0 {
		t.Error("untracked keys share the flooded overflow bucket: want limited")
	}
	later := now.Add(time.Minute)
	if d := l.retryAfter("victim", later); d != 0 {
		t.Errorf("after the window: want no wait, got %s", d)
	}
	l.prune(later)
	if n := l.size(); n != 0 {
		t.Errorf("after prune: want 0 keys, got %d", n)
	}
}

func TestLoginLimitsPerUserAndPerAddress(t *testing.T) {
	r := newLoginRig(t, SessionConfig{})
	ctx := context.Background()
	if _, err := r.users.Create(ctx, "anna", defs.RoleViewer, "long enough pw"); err != nil {
		t.Fatal(err)
	}
	// Five failures for anna, each from its own address: anna is limited
	// from any address, and other users from those addresses are not.
	for i := 0; i < 5; i++ {
		if _, err := r.a.Login(ctx, "anna", "wrong", false, "10.0.0."+string(rune('1'+i))); defs.ErrorCode(err) != defs.EUNAUTHORIZED {
			t.Fatalf("attempt %d: want unauthorized, got %v", i+1, err)
		}
	}
	_, err := r.a.Login(ctx, "anna", "long enough pw", false, "10.9.9.9")
	var rl *RateLimitError
	if !errors.As(err, &rl) || defs.ErrorCode(err) != defs.ERATELIMITED || rl.RetryAfterSeconds() != 60 {
		t.Fatalf("anna from a fresh address: want rate limited for 60 s, got %v", err)
	}
	if _, err := r.users.Create(ctx, "bob", defs.RoleViewer, "long enough pw"); err != nil {
		t.Fatal(err)
	}
	if _, err := r.a.Login(ctx, "bob", "long enough pw", false, "10.0.0.1"); err != nil {
		t.Errorf("bob from an address anna failed from once: %v", err)
	}
	// Five failures from one address for different names: that address
	// is limited, even for a right password.
	for i := 0; i < 5; i++ {
		r.a.Login(ctx, "nobody"+string(rune('a'+i)), "wrong", false, "10.1.1.1")
	}
	if _, err := r.a.Login(ctx, "bob", "long enough pw", false, "10.1.1.1"); defs.ErrorCode(err) != defs.ERATELIMITED {
		t.Errorf("bob from the flooded address: want rate limited, got %v", err)
	}
	if n := r.a.sess.byUser.size(); n != 1 {
		t.Errorf("per-user limiter: want anna only (made-up names are not tracked), got %d keys", n)
	}
	// A minute later both may try again.
	r.clock.advance(time.Minute)
	if _, err := r.a.Login(ctx, "anna", "long enough pw", false, "10.1.1.1"); err != nil {
		t.Errorf("a minute later: %v", err)
	}
}

func TestAddressKey(t *testing.T) {
	for in, want := range map[string]string{
		"192.0.2.7":                "192.0.2.7",
		"::ffff:192.0.2.7":         "192.0.2.7",
		"2001:db8:1:2:aaaa::1":     "2001:db8:1:2::/64",
		"2001:db8:1:2:ffff:ffff::": "2001:db8:1:2::/64",
		"not-an-ip":                "not-an-ip",
	} {
		if got := addressKey(in); got != want {
			t.Errorf("addressKey(%q): want %q, got %q", in, want, got)
		}
	}
}
