package api_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"

	"github.com/iocd/iocd/api"
	"github.com/iocd/iocd/auth"
	"github.com/iocd/iocd/bus"
	"github.com/iocd/iocd/config"
	"github.com/iocd/iocd/defs"
	"github.com/iocd/iocd/devices"
	"github.com/iocd/iocd/store"
	"github.com/prometheus/client_golang/prometheus"
)

const adminToken = "bootstrap-admin-token-for-tests"

// rig is a whole API over a real SQLite store in a temp dir.
type rig struct {
	t      *testing.T
	srv    *httptest.Server
	store  *store.SQLite
	auth   *auth.Authenticator
	users  *auth.Users
	reg    *devices.Registry
	bus    *bus.Bus
	tokens map[defs.Role]string // a token per role, created through the store
}

// rigSetup is what a rigOption may change before the rig starts.
type rigSetup struct {
	cfg       config.Config
	opts      api.Options
	noDevices bool // leave the devices domain unwired
	sessions  auth.SessionConfig
	tls       bool // serve over TLS (httptest.NewTLSServer)
}

type rigOption func(*rigSetup)

func newRig(t *testing.T, opts ...rigOption) *rig {
	t.Helper()
	ctx := context.Background()
	log := slog.New(slog.DiscardHandler)
	st, err := store.Open(ctx, filepath.Join(t.TempDir(), "iocd.db"), log)
	if err != nil {
		t.Fatalf("opening store: %v", err)
	}
	t.Cleanup(func() { st.Close() })
	promReg := prometheus.NewRegistry()
	b := bus.New(promReg)
	setup := rigSetup{cfg: config.Default(), opts: api.Options{Logger: log, Gatherer: promReg}}
	for _, opt := range opts {
		opt(&setup)
	}
	cfg, o := setup.cfg, setup.opts
	reg, err := devices.New(ctx, cfg, st, b, promReg, log)
	if err != nil {
		t.Fatalf("devices.New: %v", err)
	}
	users := auth.NewUsers(st, log)
	users.SetArgon2(testArgon2)
	a := auth.New(st, adminToken, log, auth.WithSessions(setup.sessions, users, st, promReg))
	o.Auth = a
	if o.Logins == nil {
		o.Logins = a
	}
	if o.Users == nil {
		o.Users = users
	}
	if !setup.noDevices {
		o.Devices = reg
	}
	if o.Tokens == nil {
		o.Tokens = a
	}
	if o.Ready == nil {
		o.Ready = []api.ReadyCheck{{Name: "store", Check: st.Ping}}
	}
	var srv *httptest.Server
	if setup.tls {
		srv = httptest.NewTLSServer(api.New(o).Handler())
	} else {
		srv = httptest.NewServer(api.New(o).Handler())
	}
	t.Cleanup(srv.Close)
	r := &rig{t: t, srv: srv, store: st, auth: a, users: users, reg: reg, bus: b, tokens: map[defs.Role]string{}}
	for _, role := range []defs.Role{defs.RoleViewer, defs.RoleOperator, defs.RoleReviewer, defs.RoleAdmin} {
		plain, _, err := a.CreateToken(ctx, role, "test-"+role.String())
		if err != nil {
			t.Fatalf("creating %s token: %v", role, err)
		}
		r.tokens[role] = plain
	}
	return r
}

// withoutDevices leaves the devices domain unwired.
func withoutDevices() rigOption { return func(s *rigSetup) { s.noDevices = true } }

// response is a decoded answer.
type response struct {
	status int
	header http.Header
	body   []byte
}

func (r response) json(t *testing.T, v any) {
	t.Helper()
	if err := json.Unmarshal(r.body, v); err != nil {
		t.Fatalf("decoding %s: %v", r.body, err)
	}
}

// apiError is the one error shape.
type apiError struct {
	Error struct {
		Code    string `json:"code"`
		Field   string `json:"field"`
		Message string `json:"message"`
		Row     int    `json:"row"`
	} `json:"error"`
}

func (r response) err(t *testing.T) apiError {
	t.Helper()
	var e apiError
	r.json(t, &e)
	return e
}

// do sends a request with token (none if empty) and body (JSON-encoded
// unless it is a string or []byte, sent as is).
func (r *rig) do(method, path, token string, body any, header ...string) response {
	r.t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
	case []byte:
		rd = bytes.NewReader(b)
	default:
		buf, err := json.Marshal(b)
		if err != nil {
			r.t.Fatalf("encoding body: %v", err)
		}
		rd = bytes.NewReader(buf)
	}
	req, err := http.NewRequest(method, r.srv.URL+path, rd)
	if err != nil {
		r.t.Fatalf("building request: %v", err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := r.srv.Client().Do(req)
	if err != nil {
		r.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		r.t.Fatalf("reading %s %s: %v", method, path, err)
	}
	return response{status: resp.StatusCode, header: resp.Header, body: b}
}

func (r *rig) admin(method, path string, body any, header ...string) response {
	r.t.Helper()
	return r.do(method, path, r.tokens[defs.RoleAdmin], body, header...)
}

func wantStatus(t *testing.T, got response, want int) {
	t.Helper()
	if got.status != want {
		t.Fatalf("status: want %d, got %d (body %s)", want, got.status, got.body)
	}
}
