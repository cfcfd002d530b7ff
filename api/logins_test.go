package api_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/iocd/iocd/auth"
	"github.com/iocd/iocd/defs"
)

// testArgon2 keeps password hashing cheap in tests; the hash encodes its
// parameters, so checking runs the same code.
var testArgon2 = auth.Argon2Params{MemoryKiB: 64, Time: 1, Threads: 1}

const testPassword = "a long enough password"

// addUser creates a user through the same code the CLI uses.
func (r *rig) addUser(name string, role defs.Role) {
	r.t.Helper()
	if _, err := r.users.Create(context.Background(), name, role, testPassword); err != nil {
		r.t.Fatalf("creating user %s: %v", name, err)
	}
}

// login is a browser's session: its cookie and CSRF token.
type login struct {
	cookie *http.Cookie
	csrf   string
}

// postLogin sends POST /login and returns the raw answer.
func (r *rig) postLogin(user, password string, remember bool, header ...string) (*http.Response, []byte) {
	r.t.Helper()
	body := fmt.Sprintf(`{"user":%q,"password":%q,"remember":%t}`, user, password, remember)
	req, err := http.NewRequest("POST", r.srv.URL+"/login", strings.NewReader(body))
	if err != nil {
		r.t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := r.srv.Client().Do(req)
	if err != nil {
		r.t.Fatalf("POST /login: %v", err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, b
}

func (r *rig) login(user string, remember bool) login {
	r.t.Helper()
	resp, b := r.postLogin(user, testPassword, remember)
	if resp.StatusCode != http.StatusOK {
		r.t.Fatalf("login %s: want 200, got %d: %s", user, resp.StatusCode, b)
	}
	var ans struct {
		CSRF string `json:"csrf"`
	}
	response{body: b}.json(r.t, &ans)
	for _, c := range resp.Cookies() {
		if c.Name == auth.CookieName {
			return login{cookie: c, csrf: ans.CSRF}
		}
	}
	r.t.Fatalf("login %s: no %s cookie in %v", user, auth.CookieName, resp.Header.Values("Set-Cookie"))
	return login{}
}

// withCookie sends a request as a browser holding l's cookie; csrf adds
// the X-CSRF-Token header.
func (r *rig) withCookie(l login, csrf bool, method, path string, body any) response {
	r.t.Helper()
	h := []string{"Cookie", l.cookie.Name + "=" + l.cookie.Value}
	if csrf {
		h = append(h, auth.CSRFHeader, l.csrf)
	}
	return r.do(method, path, "", body, h...)
}

func TestSessionCookieFlags(t *testing.T) {
	for _, tls := range []bool{false, true} {
		t.Run(fmt.Sprintf("tls=%t", tls), func(t *testing.T) {
			r := newRig(t, func(s *rigSetup) { s.tls = tls })
			r.addUser("wall", defs.RoleViewer)
			r.addUser("police", defs.RoleReviewer)
			resp, b := r.postLogin("police", testPassword, false)
			if resp.StatusCode != http.StatusOK {
				t.Fatalf("login: %d %s", resp.StatusCode, b)
			}
			raw := resp.Header.Get("Set-Cookie")
			for _, want := range []string{auth.CookieName + "=", "HttpOnly", "SameSite=Strict", "Path=/"} {
				if !strings.Contains(raw, want) {
					t.Errorf("Set-Cookie %q: want %s", raw, want)
				}
			}
			if got := strings.Contains(raw, "Secure"); got != tls {
				t.Errorf("Set-Cookie %q: want Secure %t, got %t", raw, tls, got)
			}
			if strings.Contains(raw, "Expires") {
				t.Errorf("a non-kiosk session's cookie must end with the browser: %q", raw)
			}
			var ans map[string]any
			response{body: b}.json(t, &ans)
			if ans["user"] != "police" || ans["role"] != "reviewer" || ans["csrf"] == "" {
				t.Errorf("login answer: want user, role and csrf, got %s", b)
			}
			if strings.Contains(string(b), resp.Cookies()[0].Value) {
				t.Error("the login answer repeats the cookie's secret")
			}

			// A kiosk (remember) login is for viewers and outlives the browser.
			resp, b = r.postLogin("wall", testPassword, true)
			if resp.StatusCode != http.StatusOK || !strings.Contains(resp.Header.Get("Set-Cookie"), "Expires=") {
				t.Errorf("kiosk login: want 200 and a persistent cookie, got %d %q %s", resp.StatusCode, resp.Header.Get("Set-Cookie"), b)
			}
			resp, b = r.postLogin("police", testPassword, true)
			if resp.StatusCode != http.StatusBadRequest || !strings.Contains(string(b), "viewer accounts only") {
				t.Errorf("kiosk login of a reviewer: want 400 saying viewers only, got %d %s", resp.StatusCode, b)
			}
		})
	}
}

func TestSessionLifecycle(t *testing.T) {
	r := newRig(t)
	r.addUser("anna", defs.RoleOperator)
	l := r.login("anna", false)
	// The store keeps the cookie's secret only as its SHA-256.
	var n int
	if err := r.store.DB().QueryRow(`SELECT COUNT(*) FROM sessions WHERE hash = ? AND id <> ? AND hash <> ?`,
		auth.HashToken(l.cookie.Value), l.cookie.Value, l.cookie.Value).Scan(&n); err != nil || n != 1 {
		t.Errorf("sessions: want the cookie kept by its hash only, got %d rows, %v", n, err)
	}

	got := r.withCookie(l, false, "GET", "/api/v1/session", nil)
	wantStatus(t, got, http.StatusOK)
	var s map[string]any
	got.json(t, &s)
	if s["subject"] != "user:anna" || s["role"] != "operator" || s["kind"] != "user" || s["csrf"] != l.csrf {
		t.Errorf("session: want user:anna, operator, its csrf; got %s", got.body)
	}
	// The same route answers bearer callers, without a csrf.
	got = r.do("GET", "/api/v1/session", r.tokens[defs.RoleViewer], nil)
	wantStatus(t, got, http.StatusOK)
	if strings.Contains(string(got.body), "csrf") || !strings.Contains(string(got.body), `"kind":"token"`) {
		t.Errorf("bearer session: want kind token and no csrf, got %s", got.body)
	}

	// Logging out is a change: it needs the CSRF token.
	got = r.withCookie(l, false, "POST", "/logout", nil)
	wantStatus(t, got, http.StatusForbidden)
	wantStatus(t, r.withCookie(l, true, "POST", "/logout", nil), http.StatusNoContent)

	// The logged-out cookie is refused everywhere.
	for _, path := range []string{"/api/v1/session", "/api/v1/devices"} {
		got = r.withCookie(l, false, "GET", path, nil)
		wantStatus(t, got, http.StatusUnauthorized)
	}
}

func TestExpiredSessionsRefused(t *testing.T) {
	r := newRig(t)
	r.addUser("anna", defs.RoleViewer)
	cases := []struct {
		name, column string
		age          time.Duration
	}{
		{"absolute expiry passed", "expires_at", time.Minute},
		{"idle longer than auth.session_idle", "last_seen_at", 31 * time.Minute},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			l := r.login("anna", false)
			wantStatus(t, r.withCookie(l, false, "GET", "/api/v1/devices", nil), http.StatusOK)
			past := time.Now().Add(-c.age).UTC().Format("2006-01-02T15:04:05.000000000Z")
			// Every session but this one is already gone or expired.
			if _, err := r.store.DB().Exec(`UPDATE sessions SET `+c.column+` = ?`, past); err != nil {
				t.Fatal(err)
			}
			got := r.withCookie(l, false, "GET", "/api/v1/devices", nil)
			wantStatus(t, got, http.StatusUnauthorized)
			if !strings.Contains(string(got.body), "log in again") {
				t.Errorf("want a message saying to log in again, got %s", got.body)
			}
		})
	}
}

func TestCSRFOnCookieChanges(t *testing.T) {
	r := newRig(t)
	r.addUser("boss", defs.RoleAdmin)
	l := r.login("boss", false)
	body := map[string]string{"name": "from-the-browser", "role": "viewer"}

	got := r.withCookie(l, false, "POST", "/api/v1/tokens", body)
	wantStatus(t, got, http.StatusForbidden)
	if e := got.err(t); e.Error.Code != defs.ECSRF || !strings.Contains(e.Error.Message, auth.CSRFHeader) {
		t.Errorf("want code csrf naming the header, got %+v", e.Error)
	}
	bad := l
	bad.csrf = strings.Repeat("x", len(l.csrf))
	wantStatus(t, r.withCookie(bad, true, "POST", "/api/v1/tokens", body), http.StatusForbidden)
	wantStatus(t, r.withCookie(l, true, "POST", "/api/v1/tokens", body), http.StatusCreated)
	// Reads need no CSRF token; bearer changes need none either.
	wantStatus(t, r.withCookie(l, false, "GET", "/api/v1/tokens", nil), http.StatusOK)
	wantStatus(t, r.admin("POST", "/api/v1/tokens", body), http.StatusCreated)
	wantStatus(t, r.do("GET", "/api/v1/tokens", adminToken, nil), http.StatusOK)
}

func TestLoginRateLimit(t *testing.T) {
	r := newRig(t)
	r.addUser("anna", defs.RoleViewer)
	t.Run("ten rapid wrong attempts", func(t *testing.T) {
		var last *http.Response
		for i := 1; i <= 10; i++ {
			last, _ = r.postLogin("anna", "wrong password "+strconv.Itoa(i), false)
			if i <= 5 && last.StatusCode != http.StatusUnauthorized {
				t.Fatalf("attempt %d: want 401, got %d", i, last.StatusCode)
			}
		}
		if last.StatusCode != http.StatusTooManyRequests {
			t.Fatalf("10th rapid wrong attempt: want 429, got %d", last.StatusCode)
		}
		if s, err := strconv.Atoi(last.Header.Get("Retry-After")); err != nil || s < 1 || s > 60 {
			t.Errorf("Retry-After: want 1-60 s, got %q", last.Header.Get("Retry-After"))
		}
		// While limited, even the right password is refused.
		if resp, _ := r.postLogin("anna", testPassword, false); resp.StatusCode != http.StatusTooManyRequests {
			t.Errorf("right password while limited: want 429, got %d", resp.StatusCode)
		}
	})
	got := r.do("GET", "/metrics", "", nil)
	for _, want := range []string{`iocd_login_refused_total{reason="bad_credentials"} `, `iocd_login_refused_total{reason="rate_limited`} {
		if !strings.Contains(string(got.body), want) {
			t.Errorf("/metrics: want %s", want)
		}
	}
	if strings.Contains(string(got.body), "wrong password") || strings.Contains(string(got.body), "anna") {
		t.Error("/metrics names a user or a password")
	}
}

func TestLoginRateLimitPerAddress(t *testing.T) {
	r := newRig(t)
	var last *http.Response
	for i := 1; i <= 10; i++ {
		// A different (unknown) user each time: only the address limit applies.
		last, _ = r.postLogin(fmt.Sprintf("guess%d", i), "wrong password", false)
	}
	if last.StatusCode != http.StatusTooManyRequests || last.Header.Get("Retry-After") == "" {
		t.Fatalf("10th rapid attempt from one address: want 429 with Retry-After, got %d", last.StatusCode)
	}
}

func TestLoginRefusesForeignOrigin(t *testing.T) {
	r := newRig(t)
	r.addUser("anna", defs.RoleViewer)
	resp, b := r.postLogin("anna", testPassword, false, "Origin", "https://evil.example")
	if resp.StatusCode != http.StatusForbidden || len(resp.Cookies()) != 0 {
		t.Errorf("login from another site's page: want 403 and no cookie, got %d %s", resp.StatusCode, b)
	}
	resp, b = r.postLogin("anna", testPassword, false, "Origin", r.srv.URL)
	if resp.StatusCode != http.StatusOK {
		t.Errorf("login from the server's own page: want 200, got %d %s", resp.StatusCode, b)
	}
}

func TestUsersAPI(t *testing.T) {
	r := newRig(t)
	r.addUser("boss", defs.RoleAdmin)
	r.addUser("wall", defs.RoleViewer)
	viewer := r.login("wall", false)
	for _, c := range []struct{ method, path string }{
		{"GET", "/api/v1/users"}, {"POST", "/api/v1/users"}, {"PATCH", "/api/v1/users/wall"},
	} {
		wantStatus(t, r.withCookie(viewer, true, c.method, c.path, map[string]string{}), http.StatusForbidden)
		wantStatus(t, r.do(c.method, c.path, r.tokens[defs.RoleViewer], map[string]string{}), http.StatusForbidden)
	}

	admin := r.login("boss", false)
	got := r.withCookie(admin, true, "POST", "/api/v1/users", map[string]string{"name": "police", "role": "reviewer", "password": "short"})
	wantStatus(t, got, http.StatusBadRequest)
	if e := got.err(t); e.Error.Field != "password" || !strings.Contains(e.Error.Message, "at least 10") {
		t.Errorf("short password: want a clear error on password, got %+v", e.Error)
	}
	got = r.withCookie(admin, true, "POST", "/api/v1/users", map[string]string{"name": "police", "role": "reviewer", "password": testPassword})
	wantStatus(t, got, http.StatusCreated)
	if strings.Contains(string(got.body), "argon2") || strings.Contains(string(got.body), testPassword) {
		t.Errorf("create answer holds a hash or the password: %s", got.body)
	}
	got = r.admin("GET", "/api/v1/users", nil)
	wantStatus(t, got, http.StatusOK)
	if !strings.Contains(string(got.body), `"name":"police","role":"reviewer","disabled":false`) || strings.Contains(string(got.body), "argon2") {
		t.Errorf("list: want police as reviewer and no hash, got %s", got.body)
	}

	// Disabling a user ends its session at once.
	police := r.login("police", false)
	wantStatus(t, r.withCookie(police, false, "GET", "/api/v1/violations", nil).orNot503(), http.StatusOK)
	got = r.withCookie(admin, true, "PATCH", "/api/v1/users/police", map[string]any{"disabled": true})
	wantStatus(t, got, http.StatusOK)
	wantStatus(t, r.withCookie(police, false, "GET", "/api/v1/session", nil), http.StatusUnauthorized)
	if resp, _ := r.postLogin("police", testPassword, false); resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("disabled user's login: want 401, got %d", resp.StatusCode)
	}
	// A role change takes effect on the next request.
	wantStatus(t, r.do("PATCH", "/api/v1/users/wall", adminToken, map[string]any{"role": "admin"}), http.StatusOK)
	wantStatus(t, r.withCookie(viewer, false, "GET", "/api/v1/users", nil), http.StatusOK)
	wantStatus(t, r.admin("PATCH", "/api/v1/users/nobody", map[string]any{"role": "admin"}), http.StatusNotFound)

	// Every change is in the audit log, naming who made it.
	es, _, err := r.store.ListAudit(context.Background(), "", 100)
	if err != nil {
		t.Fatal(err)
	}
	var log []string
	for _, e := range es {
		log = append(log, e.Actor+" "+e.Action+" "+e.Target)
	}
	all := strings.Join(log, "\n")
	for _, want := range []string{"user:boss user.create police", "user:boss user.update police", "bootstrap-admin user.update wall"} {
		if !strings.Contains(all, want) {
			t.Errorf("audit log: want %q in\n%s", want, all)
		}
	}
}

// orNot503 maps the answer of an unwired domain to 200: the point is that
// the edge let the request in.
func (r response) orNot503() response {
	if r.status == http.StatusServiceUnavailable {
		r.status = http.StatusOK
	}
	return r
}

func TestLoginByForm(t *testing.T) {
	r := newRig(t)
	r.addUser("wall", defs.RoleViewer)
	req, err := http.NewRequest("POST", r.srv.URL+"/login", strings.NewReader("user=wall&password="+strings.ReplaceAll(testPassword, " ", "+")+"&remember=on"))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded; charset=UTF-8")
	resp, err := r.srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || !strings.Contains(string(b), `"kiosk":true`) || len(resp.Cookies()) != 1 {
		t.Errorf("form login: want 200, a kiosk session and its cookie, got %d %s", resp.StatusCode, b)
	}
}

// TestWebSocketBySessionCookie: a browser logged in with a password opens
// the feed with its cookie alone (the upgrade is a GET: no CSRF token), and
// not once it has logged out.
func TestWebSocketBySessionCookie(t *testing.T) {
	r := newRig(t, func(s *rigSetup) {
		s.opts.WebSocket = http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
			p, _ := auth.PrincipalFrom(req.Context())
			w.Header().Set("X-Principal", p.Subject())
			w.WriteHeader(http.StatusTeapot) // stands in for the upgrade
		})
	})
	r.addUser("wall", defs.RoleViewer)
	l := r.login("wall", true)
	got := r.withCookie(l, false, "GET", "/ws", nil)
	wantStatus(t, got, http.StatusTeapot)
	if p := got.header.Get("X-Principal"); p != "user:wall" {
		t.Errorf("feed principal: want user:wall, got %q", p)
	}
	wantStatus(t, r.withCookie(l, true, "POST", "/logout", nil), http.StatusNoContent)
	wantStatus(t, r.withCookie(l, false, "GET", "/ws", nil), http.StatusUnauthorized)
}
