package api_test

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/iocd/iocd/api"
	"github.com/iocd/iocd/defs"
)

// endpoint is one route with what it needs and a request that succeeds
// for a strong enough role. n makes each request's ids fresh.
type endpoint struct {
	method, path string
	min          defs.Role
	body         func(n int) any
	prepare      func(t *testing.T, r *rig, n int) // makes what the request acts on
	pathFor      func(n int) string
}

func sensor(id string, status defs.Status) defs.Device {
	return defs.Device{ID: defs.DeviceID(id), Site: "hue-1", Kind: defs.KindSensor, Status: status}
}

func endpoints() []endpoint {
	mk := func(t *testing.T, r *rig, id string, status defs.Status) {
		t.Helper()
		if _, err := r.reg.Create(context.Background(), sensor(id, status)); err != nil {
			t.Fatalf("creating %s: %v", id, err)
		}
	}
	return []endpoint{
		{method: "GET", path: "/api/v1/devices", min: defs.RoleViewer},
		{method: "GET", min: defs.RoleViewer, pathFor: func(n int) string { return fmt.Sprintf("/api/v1/devices/d%d", n) },
			prepare: func(t *testing.T, r *rig, n int) { mk(t, r, fmt.Sprintf("d%d", n), defs.StatusActive) }},
		{method: "POST", path: "/api/v1/devices", min: defs.RoleAdmin,
			body: func(n int) any { return sensor(fmt.Sprintf("new%d", n), "") }},
		{method: "PATCH", min: defs.RoleAdmin, pathFor: func(n int) string { return fmt.Sprintf("/api/v1/devices/d%d", n) },
			prepare: func(t *testing.T, r *rig, n int) { mk(t, r, fmt.Sprintf("d%d", n), defs.StatusActive) },
			body:    func(int) any { return map[string]any{"name": "x"} }},
		{method: "DELETE", min: defs.RoleAdmin, pathFor: func(n int) string { return fmt.Sprintf("/api/v1/devices/d%d", n) },
			prepare: func(t *testing.T, r *rig, n int) { mk(t, r, fmt.Sprintf("d%d", n), defs.StatusActive) }},
		{method: "POST", min: defs.RoleAdmin, pathFor: func(n int) string { return fmt.Sprintf("/api/v1/devices/p%d/approve", n) },
			prepare: func(t *testing.T, r *rig, n int) { mk(t, r, fmt.Sprintf("p%d", n), defs.StatusPending) }},
		{method: "POST", path: "/api/v1/devices/import", min: defs.RoleAdmin,
			body: func(n int) any { return []defs.Device{sensor(fmt.Sprintf("imp%d", n), "")} }},
		{method: "GET", path: "/api/v1/tokens", min: defs.RoleAdmin},
		{method: "POST", path: "/api/v1/tokens", min: defs.RoleAdmin,
			body: func(n int) any { return map[string]string{"name": fmt.Sprintf("t%d", n), "role": "viewer"} }},
		{method: "DELETE", min: defs.RoleAdmin, pathFor: func(n int) string { return fmt.Sprintf("/api/v1/tokens/%d", n) }},
		{method: "GET", path: "/api/v1/users", min: defs.RoleAdmin},
		{method: "POST", path: "/api/v1/users", min: defs.RoleAdmin,
			body: func(n int) any {
				return map[string]string{"name": fmt.Sprintf("u%d", n), "role": "viewer", "password": testPassword}
			}},
		{method: "PATCH", min: defs.RoleAdmin, pathFor: func(n int) string { return fmt.Sprintf("/api/v1/users/p%d", n) },
			prepare: func(t *testing.T, r *rig, n int) {
				if _, err := r.users.Create(context.Background(), fmt.Sprintf("p%d", n), defs.RoleViewer, testPassword); err != nil {
					t.Fatal(err)
				}
			},
			body: func(int) any { return map[string]string{"role": "operator"} }},
		{method: "GET", path: "/api/v1/session", min: defs.RoleViewer},
		{method: "POST", path: "/logout", min: defs.RoleViewer},
	}
}

// TestEveryRoleAgainstEveryEndpoint sends each request with no token and
// with each role: 401, 403 below the route's role, 2xx at or above it.
func TestEveryRoleAgainstEveryEndpoint(t *testing.T) {
	r := newRig(t)
	roles := []defs.Role{defs.RoleNone, defs.RoleViewer, defs.RoleOperator, defs.RoleReviewer, defs.RoleAdmin}
	n := 0
	for _, ep := range endpoints() {
		for _, role := range roles {
			n++
			path := ep.path
			if ep.pathFor != nil {
				path = ep.pathFor(n)
			}
			t.Run(fmt.Sprintf("%s %s as %s", ep.method, strings.TrimPrefix(path, "/api/v1"), role), func(t *testing.T) {
				if ep.prepare != nil {
					ep.prepare(t, r, n)
				}
				if ep.method == "DELETE" && strings.HasPrefix(path, "/api/v1/tokens/") {
					// A token to revoke, whose id is in the path.
					_, tok, err := r.auth.CreateToken(context.Background(), defs.RoleViewer, "victim")
					if err != nil {
						t.Fatal(err)
					}
					path = fmt.Sprintf("/api/v1/tokens/%d", tok.ID)
				}
				var body any
				if ep.body != nil {
					body = ep.body(n)
				}
				got := r.do(ep.method, path, r.tokens[role], body)
				switch {
				case role == defs.RoleNone:
					wantStatus(t, got, http.StatusUnauthorized)
				case !role.Allows(ep.min):
					wantStatus(t, got, http.StatusForbidden)
					if e := got.err(t); e.Error.Code != defs.EFORBIDDEN {
						t.Errorf("want code %q, got %+v", defs.EFORBIDDEN, e.Error)
					}
				default:
					if got.status < 200 || got.status > 299 {
						t.Errorf("want 2xx for %s, got %d: %s", role, got.status, got.body)
					}
				}
			})
		}
	}
}

func TestTokensAPI(t *testing.T) {
	r := newRig(t)
	got := r.admin("POST", "/api/v1/tokens", map[string]string{"name": "wall-display", "role": "operator"})
	wantStatus(t, got, http.StatusCreated)
	var created struct {
		ID     int64     `json:"id"`
		Name   string    `json:"name"`
		Role   defs.Role `json:"role"`
		Secret string    `json:"token"`
	}
	got.json(t, &created)
	if !strings.HasPrefix(created.Secret, "iocd_") || created.Name != "wall-display" || created.Role != defs.RoleOperator || created.ID == 0 {
		t.Fatalf("create: want an iocd_ operator token named wall-display, got %s", got.body)
	}

	// The new token works, with its role.
	wantStatus(t, r.do("GET", "/api/v1/devices", created.Secret, nil), http.StatusOK)
	wantStatus(t, r.do("GET", "/api/v1/tokens", created.Secret, nil), http.StatusForbidden)

	// Listing shows it, never a plaintext or a hash.
	got = r.admin("GET", "/api/v1/tokens", nil)
	wantStatus(t, got, http.StatusOK)
	if strings.Contains(string(got.body), created.Secret) || strings.Contains(string(got.body), "iocd_") {
		t.Errorf("token list holds a plaintext: %s", got.body)
	}
	var list struct {
		Tokens []defs.Token `json:"tokens"`
	}
	got.json(t, &list)
	var found *defs.Token
	for i := range list.Tokens {
		if list.Tokens[i].ID == created.ID {
			found = &list.Tokens[i]
		}
	}
	if found == nil || found.Name != "wall-display" || found.LastUsedAt.IsZero() || found.Revoked() {
		t.Fatalf("list: want wall-display used and not revoked, got %+v", found)
	}

	// Revoked: 401 from the next request on; revoking again still 204.
	wantStatus(t, r.admin("DELETE", fmt.Sprintf("/api/v1/tokens/%d", created.ID), nil), http.StatusNoContent)
	wantStatus(t, r.do("GET", "/api/v1/devices", created.Secret, nil), http.StatusUnauthorized)
	wantStatus(t, r.admin("DELETE", fmt.Sprintf("/api/v1/tokens/%d", created.ID), nil), http.StatusNoContent)
	wantStatus(t, r.admin("DELETE", "/api/v1/tokens/999999", nil), http.StatusNotFound)

	bad := []struct {
		name  string
		body  any
		field string
	}{
		{"unknown role", map[string]string{"name": "x", "role": "root"}, "role"},
		{"no role", map[string]string{"name": "x"}, "role"},
		{"no name", map[string]string{"role": "viewer"}, "name"},
		{"unknown field", map[string]string{"name": "x", "role": "viewer", "scope": "all"}, "scope"},
	}
	for _, c := range bad {
		t.Run(c.name, func(t *testing.T) {
			got := r.admin("POST", "/api/v1/tokens", c.body)
			wantStatus(t, got, http.StatusBadRequest)
			if e := got.err(t); e.Error.Field != c.field {
				t.Errorf("want field %q, got %+v", c.field, e.Error)
			}
		})
	}
	wantStatus(t, r.admin("DELETE", "/api/v1/tokens/abc", nil), http.StatusBadRequest)
}

// routeTable is every authenticated route the API mounts. The tests below
// enumerate it, so that a route added later is checked without being
// listed here.
func routeTable(t *testing.T) []api.Route {
	t.Helper()
	rs := api.New(api.Options{}).Routes()
	if len(rs) < 20 {
		t.Fatalf("route table: want every route, got %d: %+v", len(rs), rs)
	}
	return rs
}

// concretePath fills each {param} of a route pattern with a value that
// names nothing, so that no request acts on a real object.
func concretePath(pattern string) string {
	var b strings.Builder
	for {
		i := strings.IndexByte(pattern, '{')
		if i < 0 {
			b.WriteString(pattern)
			return b.String()
		}
		j := strings.IndexByte(pattern[i:], '}')
		b.WriteString(pattern[:i])
		b.WriteString("no-such-id-0")
		pattern = pattern[i+j+1:]
	}
}

// TestEveryRouteEveryRole sends every route in the route table with no
// token, a revoked token and each role's token: 401 for the first two,
// 403 below the route's role, and through to the handler (neither 401 nor
// 403) at or above it. The handlers' own answers are tested elsewhere;
// here an unwired domain's 503 or an unknown id's 404 proves that the
// edge let the request in.
func TestEveryRouteEveryRole(t *testing.T) {
	r := newRig(t)
	revoked, tok, err := r.auth.CreateToken(context.Background(), defs.RoleAdmin, "revoked-admin")
	if err != nil {
		t.Fatal(err)
	}
	if err := r.auth.RevokeToken(context.Background(), tok.ID); err != nil {
		t.Fatal(err)
	}
	callers := []struct {
		name  string
		token string
		role  defs.Role
	}{
		{"no token", "", defs.RoleNone},
		{"revoked admin", revoked, defs.RoleNone},
		{"garbage", "iocd_" + strings.Repeat("x", 43), defs.RoleNone},
		{"viewer", r.tokens[defs.RoleViewer], defs.RoleViewer},
		{"operator", r.tokens[defs.RoleOperator], defs.RoleOperator},
		{"reviewer", r.tokens[defs.RoleReviewer], defs.RoleReviewer},
		{"admin", r.tokens[defs.RoleAdmin], defs.RoleAdmin},
		{"bootstrap admin", adminToken, defs.RoleAdmin},
	}
	for _, rt := range routeTable(t) {
		if rt.Role <= defs.RoleNone || rt.Role > defs.RoleAdmin {
			t.Errorf("%s %s: needs role %v; every route under /api and /ws needs a real role", rt.Method, rt.Pattern, rt.Role)
		}
		path := concretePath(rt.Pattern)
		for _, c := range callers {
			t.Run(fmt.Sprintf("%s %s as %s", rt.Method, rt.Pattern, c.name), func(t *testing.T) {
				var body any
				if rt.Method != "GET" && rt.Method != "DELETE" {
					body = map[string]any{}
				}
				got := r.do(rt.Method, path, c.token, body)
				switch {
				case c.role == defs.RoleNone:
					wantStatus(t, got, http.StatusUnauthorized)
					if got.header.Get("WWW-Authenticate") == "" {
						t.Errorf("401 without WWW-Authenticate")
					}
				case !c.role.Allows(rt.Role):
					wantStatus(t, got, http.StatusForbidden)
				default:
					if got.status == http.StatusUnauthorized || got.status == http.StatusForbidden {
						t.Errorf("%s needs %s, so %s must get through; got %d: %s", rt.Pattern, rt.Role, c.name, got.status, got.body)
					}
				}
			})
		}
	}
}

// TestUnknownQueryParameterRefused sends every route in the route table
// with a parameter it does not declare: 400 naming it, before the handler
// runs. Each declared parameter is let through.
func TestUnknownQueryParameterRefused(t *testing.T) {
	r := newRig(t)
	for _, rt := range routeTable(t) {
		path := concretePath(rt.Pattern)
		t.Run(rt.Method+" "+rt.Pattern, func(t *testing.T) {
			for _, bogus := range []string{"health", "zz_unknown", "Site"} {
				if slices.Contains(rt.Query, bogus) {
					continue
				}
				got := r.admin(rt.Method, path+"?"+bogus+"=offline", nil)
				wantStatus(t, got, http.StatusBadRequest)
				if e := got.err(t); e.Error.Field != bogus || !strings.Contains(e.Error.Message, "not a query parameter") {
					t.Errorf("?%s: want an invalid error naming %q, got %+v", bogus, bogus, e.Error)
				}
			}
			for _, q := range rt.Query {
				got := r.admin(rt.Method, path+"?"+q+"=", nil)
				if got.status == http.StatusBadRequest && strings.Contains(string(got.body), "not a query parameter") {
					t.Errorf("declared parameter %q refused: %s", q, got.body)
				}
			}
		})
	}
	// The probe: a filter the route does not have must not return
	// every device.
	if _, err := r.reg.Create(context.Background(), sensor("wl-1", defs.StatusActive)); err != nil {
		t.Fatal(err)
	}
	got := r.do("GET", "/api/v1/devices?helth=offline", r.tokens[defs.RoleViewer], nil)
	wantStatus(t, got, http.StatusBadRequest)
	if e := got.err(t); e.Error.Field != "helth" || !strings.Contains(e.Error.Message, "health, kind, q, site, status") {
		t.Errorf("want the error to name helth and list the accepted parameters, got %+v", e.Error)
	}
	wantStatus(t, r.do("GET", "/api/v1/devices?site=hue-1&kind=sensor", r.tokens[defs.RoleViewer], nil), http.StatusOK)
}
