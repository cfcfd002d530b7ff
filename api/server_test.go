package api_test

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/iocd/iocd/api"
	"github.com/iocd/iocd/auth"
	"github.com/iocd/iocd/defs"
)

func TestHealthNeedsNoToken(t *testing.T) {
	r := newRig(t)
	for _, path := range []string{"/healthz", "/readyz", "/metrics"} {
		t.Run(path, func(t *testing.T) {
			wantStatus(t, r.do("GET", path, "", nil), http.StatusOK)
		})
	}
	if got := r.do("GET", "/metrics", "", nil); !strings.Contains(string(got.body), "iocd_registry_unknown_devices_total") {
		t.Errorf("/metrics: want the registry's counters in Prometheus text, got %.300s", got.body)
	}
}

func TestReadyzNamesEachFailingCheck(t *testing.T) {
	r := newRig(t, func(s *rigSetup) {
		s.opts.Ready = []api.ReadyCheck{
			{Name: "store", Check: func(context.Context) error { return nil }},
			{Name: "mqtt", Check: func(context.Context) error { return errors.New("broker not connected") }},
		}
	})
	got := r.do("GET", "/readyz", "", nil)
	wantStatus(t, got, http.StatusServiceUnavailable)
	var body struct {
		Status string            `json:"status"`
		Failed map[string]string `json:"failed"`
	}
	got.json(t, &body)
	if body.Status != "not ready" || body.Failed["mqtt"] != "broker not connected" || len(body.Failed) != 1 {
		t.Errorf("readyz: want not ready with failed={mqtt: broker not connected}, got %+v", body)
	}
}

func TestReadyzAfterStoreClosed(t *testing.T) {
	r := newRig(t)
	wantStatus(t, r.do("GET", "/readyz", "", nil), http.StatusOK)
	r.store.Close()
	got := r.do("GET", "/readyz", "", nil)
	wantStatus(t, got, http.StatusServiceUnavailable)
	if !strings.Contains(string(got.body), `"store"`) {
		t.Errorf("readyz: want the store named as failing, got %s", got.body)
	}
}

func TestAuthentication(t *testing.T) {
	r := newRig(t)
	revoked, tok, err := r.auth.CreateToken(context.Background(), defs.RoleAdmin, "to-revoke")
	if err != nil {
		t.Fatal(err)
	}
	if err := r.auth.RevokeToken(context.Background(), tok.ID); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name   string
		header string
		want   int
	}{
		{"no header", "", http.StatusUnauthorized},
		{"wrong scheme", "Basic " + r.tokens[defs.RoleAdmin], http.StatusUnauthorized},
		{"unknown token", "Bearer iocd_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", http.StatusUnauthorized},
		{"not an iocd token", "Bearer something-else-entirely", http.StatusUnauthorized},
		{"revoked token", "Bearer " + revoked, http.StatusUnauthorized},
		{"bootstrap admin", "Bearer " + adminToken, http.StatusOK},
		{"stored admin", "Bearer " + r.tokens[defs.RoleAdmin], http.StatusOK},
		{"lower-case scheme", "bearer " + r.tokens[defs.RoleViewer], http.StatusOK},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got := r.do("GET", "/api/v1/devices", "", nil, "Authorization", c.header)
			wantStatus(t, got, c.want)
			if c.want != http.StatusUnauthorized {
				return
			}
			if h := got.header.Get("WWW-Authenticate"); !strings.HasPrefix(h, "Bearer") {
				t.Errorf("WWW-Authenticate: want Bearer..., got %q", h)
			}
			if e := got.err(t); e.Error.Code != defs.EUNAUTHORIZED {
				t.Errorf("error code: want %q, got %q", defs.EUNAUTHORIZED, e.Error.Code)
			}
			if strings.Contains(string(got.body), "iocd_") || strings.Contains(string(got.body), "something-else") {
				t.Errorf("error echoes the token: %s", got.body)
			}
		})
	}
}

func TestUnwiredDomainAnswers503(t *testing.T) {
	r := newRig(t, withoutDevices())
	got := r.admin("GET", "/api/v1/devices", nil)
	wantStatus(t, got, http.StatusServiceUnavailable)
	if e := got.err(t); e.Error.Code != defs.EUNAVAILABLE || !strings.Contains(e.Error.Message, "devices") {
		t.Errorf("want unavailable naming devices, got %+v", e)
	}
	// Still authenticated first: an unwired domain is no way around auth.
	wantStatus(t, r.do("GET", "/api/v1/devices", "", nil), http.StatusUnauthorized)
}

func TestUnroutedAPIRequestsAnswerJSON(t *testing.T) {
	r := newRig(t)
	cases := []struct {
		method, path string
		status       int
		code, allow  string
	}{
		{"GET", "/api/v1/nothing-here", http.StatusNotFound, defs.ENOTFOUND, ""},
		{"PUT", "/api/v1/devices/x", http.StatusMethodNotAllowed, "method_not_allowed", "GET, PATCH, DELETE"},
		{"DELETE", "/api/v1/devices", http.StatusMethodNotAllowed, "method_not_allowed", "GET, POST"},
	}
	for _, c := range cases {
		t.Run(c.method+" "+c.path, func(t *testing.T) {
			got := r.admin(c.method, c.path, nil)
			wantStatus(t, got, c.status)
			if e := got.err(t); e.Error.Code != c.code {
				t.Errorf("want code %q, got %+v", c.code, e)
			}
			if a := got.header.Get("Allow"); a != c.allow {
				t.Errorf("Allow: want %q, got %q", c.allow, a)
			}
		})
	}
}

func TestWebSocketTokenSources(t *testing.T) {
	r := newRig(t, func(s *rigSetup) {
		s.opts.WebSocket = http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
			w.WriteHeader(http.StatusTeapot) // stands in for the upgrade
		})
	})
	viewer := r.tokens[defs.RoleViewer]
	cases := []struct {
		name   string
		header []string
		want   int
	}{
		{"none", nil, http.StatusUnauthorized},
		{"authorization header", []string{"Authorization", "Bearer " + viewer}, http.StatusTeapot},
		{"subprotocol", []string{"Sec-WebSocket-Protocol", "iocd.v1, bearer." + viewer}, http.StatusTeapot},
		{"bad subprotocol token", []string{"Sec-WebSocket-Protocol", "iocd.v1, bearer.iocd_nope"}, http.StatusUnauthorized},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			wantStatus(t, r.do("GET", "/ws", "", nil, c.header...), c.want)
		})
	}
	if got := r.do("GET", "/ws?access_token="+viewer, "", nil); got.status != http.StatusUnauthorized {
		t.Errorf("query-string token: want 401 (not accepted), got %d", got.status)
	}
}

// TestWebSocketUpgradeThroughAuth upgrades for real with gorilla/websocket
// from a "browser" that can only pass its token as a subprotocol.
func TestWebSocketUpgradeThroughAuth(t *testing.T) {
	up := websocket.Upgrader{Subprotocols: []string{auth.WebSocketProtocol}}
	r := newRig(t, func(s *rigSetup) {
		s.opts.WebSocket = http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
			p, _ := auth.PrincipalFrom(req.Context())
			c, err := up.Upgrade(w, req, nil)
			if err != nil {
				return // the upgrader has answered the client
			}
			defer c.Close()
			c.WriteMessage(websocket.TextMessage, []byte(p.Name+"/"+p.Role.String()))
		})
	})
	url := "ws" + strings.TrimPrefix(r.srv.URL, "http") + "/ws"
	d := websocket.Dialer{Subprotocols: []string{auth.WebSocketProtocol, "bearer." + r.tokens[defs.RoleViewer]}}
	c, resp, err := d.Dial(url, nil)
	if err != nil {
		t.Fatalf("dial: %v (response %+v)", err, resp)
	}
	defer c.Close()
	if got := c.Subprotocol(); got != auth.WebSocketProtocol {
		t.Errorf("subprotocol: want %q, got %q", auth.WebSocketProtocol, got)
	}
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	_, msg, err := c.ReadMessage()
	if err != nil || string(msg) != "test-viewer/viewer" {
		t.Errorf("first message: want test-viewer/viewer, got %q, %v", msg, err)
	}

	bad := websocket.Dialer{Subprotocols: []string{auth.WebSocketProtocol, "bearer.iocd_wrong"}}
	if _, resp, err := bad.Dial(url, nil); err == nil || resp == nil || resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("bad token: want a refused upgrade with 401, got %v, %+v", err, resp)
	}
}
