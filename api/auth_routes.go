package api

import (
	"context"
	"mime"
	"net"
	"net/http"
	"net/url"
	"time"

	"github.com/iocd/iocd/auth"
	"github.com/iocd/iocd/defs"
)

// LoginService opens and ends password login sessions.
// *auth.Authenticator satisfies it.
type LoginService interface {
	Login(ctx context.Context, name, password string, remember bool, addr string) (auth.LoginResult, error)
	Logout(ctx context.Context, p auth.Principal) error
	CSRF(ctx context.Context, p auth.Principal) (string, error)
}

var _ LoginService = (*auth.Authenticator)(nil)

// loginRoutes mounts POST /login (unauthenticated: it is how a session
// starts, so it is not in the route table), POST /logout and GET
// /api/v1/session.
func (s *Server) loginRoutes() {
	wired := s.opts.Logins != nil
	s.mux.HandleFunc("POST /login", func(w http.ResponseWriter, r *http.Request) {
		var err error
		if !wired {
			err = defs.Errorf(defs.EUNAVAILABLE, "password logins are not available on this server")
		} else {
			err = s.login(w, r)
		}
		if err != nil {
			s.writeError(w, r, err)
		}
	})
	d := s.domain("logins", wired)
	d.route("POST", "/logout", defs.RoleViewer, s.logout)
	s.route("GET", "/api/v1/session", defs.RoleViewer, s.session)
}

// loginRequest is POST /login's body, as JSON or as a form.
type loginRequest struct {
	User     string `json:"user"`
	Password string `json:"password"`
	Remember bool   `json:"remember"`
}

// loginAnswer is POST /login's answer.
type loginAnswer struct {
	User      string    `json:"user"`
	Role      defs.Role `json:"role"`
	CSRF      string    `json:"csrf"`
	Kiosk     bool      `json:"kiosk"`
	ExpiresAt time.Time `json:"expires_at"`
}

func (s *Server) login(w http.ResponseWriter, r *http.Request) error {
	// A login from another site's page (login CSRF: the victim's browser
	// logged in as the attacker) is refused by its Origin; a browser
	// always sends one on a cross-site POST.
	if o := r.Header.Get("Origin"); o != "" {
		u, err := url.Parse(o)
		if err != nil || u.Host != r.Host {
			return defs.Errorf(defs.EFORBIDDEN, "a login must come from this server's own page")
		}
	}
	var req loginRequest
	ct, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if ct == "application/x-www-form-urlencoded" {
		r.Body = http.MaxBytesReader(w, r.Body, 64<<10)
		if err := r.ParseForm(); err != nil {
			return defs.Invalid("body", "is not a valid form")
		}
		req.User, req.Password = r.PostForm.Get("user"), r.PostForm.Get("password")
		req.Remember = r.PostForm.Get("remember") == "true" || r.PostForm.Get("remember") == "on"
	} else if err := decodeLimited(w, r, 64<<10, &req); err != nil {
		return err
	}
	if req.User == "" || req.Password == "" {
		return defs.Invalid("user", "user and password are required")
	}
	addr, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		addr = r.RemoteAddr
	}
	res, err := s.opts.Logins.Login(r.Context(), req.User, req.Password, req.Remember, addr)
	if err != nil {
		return err
	}
	c := &http.Cookie{
		Name: auth.CookieName, Value: res.Secret, Path: "/",
		HttpOnly: true, SameSite: http.SameSiteStrictMode, Secure: r.TLS != nil,
	}
	if res.Kiosk {
		// A wall screen's session outlives a browser restart; others end
		// with the browser (and at the server's expiry in any case).
		c.Expires = res.ExpiresAt
	}
	http.SetCookie(w, c)
	w.Header().Set("Cache-Control", "no-store")
	writeJSON(w, http.StatusOK, loginAnswer{User: res.Principal.Name, Role: res.Principal.Role, CSRF: res.CSRF,
		Kiosk: res.Kiosk, ExpiresAt: res.ExpiresAt})
	return nil
}

func (s *Server) logout(w http.ResponseWriter, r *http.Request) error {
	p, _ := auth.PrincipalFrom(r.Context())
	if err := s.opts.Logins.Logout(r.Context(), p); err != nil {
		return err
	}
	http.SetCookie(w, &http.Cookie{Name: auth.CookieName, Value: "", Path: "/", MaxAge: -1,
		HttpOnly: true, SameSite: http.SameSiteStrictMode, Secure: r.TLS != nil})
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// sessionAnswer is GET /api/v1/session's answer: who the caller is, and
// for a login session its CSRF token (the page keeps it in memory after a
// reload, since the cookie is not readable by scripts).
type sessionAnswer struct {
	Subject string    `json:"subject"`
	Name    string    `json:"name"`
	Role    defs.Role `json:"role"`
	Kind    string    `json:"kind"`
	CSRF    string    `json:"csrf,omitempty"`
}

func (s *Server) session(w http.ResponseWriter, r *http.Request) error {
	p, _ := auth.PrincipalFrom(r.Context())
	a := sessionAnswer{Subject: p.Subject(), Name: p.Name, Role: p.Role, Kind: p.Kind}
	if p.Kind == auth.PrincipalUser && s.opts.Logins != nil {
		csrf, err := s.opts.Logins.CSRF(r.Context(), p)
		if err != nil {
			return err
		}
		a.CSRF = csrf
	}
	w.Header().Set("Cache-Control", "no-store")
	writeJSON(w, http.StatusOK, a)
	return nil
}
