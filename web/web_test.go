package web_test

import (
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/iocd/iocd/auth"
	"github.com/iocd/iocd/defs"
	"github.com/iocd/iocd/web"
)

func serve(t *testing.T, cfg web.Config) *httptest.Server {
	t.Helper()
	h, err := web.New(cfg, web.Deps{})
	if err != nil {
		t.Fatalf("web.New: %v", err)
	}
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return srv
}

func get(t *testing.T, url string, hdr map[string]string) (*http.Response, string) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, url, nil)
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer res.Body.Close()
	var b strings.Builder
	buf := make([]byte, 32<<10)
	for {
		n, err := res.Body.Read(buf)
		b.Write(buf[:n])
		if err != nil {
			break
		}
	}
	return res, b.String()
}

func TestPagesAndAssets(t *testing.T) {
	srv := serve(t, web.Config{})
	cases := []struct {
		path, status, ctype, cache, contains string
	}{
		{"/", "200", "text/html; charset=utf-8", "no-cache", `src="/assets/js/wall.js"`},
		{"/login", "200", "text/html; charset=utf-8", "no-cache", `id="login-form"`},
		{"/fleet", "200", "text/html; charset=utf-8", "no-cache", `src="/assets/js/fleet.js"`},
		{"/fleet/tan-an-wl-01", "200", "text/html; charset=utf-8", "no-cache", `src="/assets/js/device.js"`},
		{"/assets/js/wall.js", "200", "text/javascript; charset=utf-8", "no-cache", "new Feed("},
		{"/assets/css/wall.css", "200", "text/css; charset=utf-8", "no-cache", ".grid"},
		{"/assets/vendor/leaflet-1.9.4/leaflet.js", "200", "text/javascript; charset=utf-8", "public, max-age=31536000, immutable", "Leaflet"},
		{"/assets/vendor/be-vietnam-pro-5.3.0/be-vietnam-pro-vietnamese-400-normal.woff2", "200", "font/woff2", "public, max-age=31536000, immutable", "wOF2"},
		{"/assets/vendor/MANIFEST.json", "200", "application/json", "no-cache", `"leaflet"`},
		{"/assets/map.geojson", "200", "application/geo+json", "no-cache", `"Vietnam"`},
		{"/assets/ui.json", "200", "application/json", "no-cache", `"charts":[]`},
		// No directory listings, no page under another name, no escape.
		{"/assets/", "404", "", "", ""},
		{"/assets/vendor/", "404", "", "", ""},
		{"/assets/vendor/leaflet-1.9.4", "404", "", "", ""},
		{"/assets/../pages/wall.html", "404", "", "", ""},
		{"/assets/pages/wall.html", "404", "", "", ""},
		{"/assets/basemap.pmtiles", "404", "", "", ""},
		{"/wall.html", "404", "", "", ""},
		{"/nope", "404", "", "", ""},
	}
	for _, c := range cases {
		t.Run(c.path, func(t *testing.T) {
			res, body := get(t, srv.URL+c.path, nil)
			if got := res.Status[:3]; got != c.status {
				t.Fatalf("status: want %s, got %s", c.status, res.Status)
			}
			if csp := res.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "script-src 'self'") || strings.Contains(csp, "unsafe-inline") {
				t.Errorf("Content-Security-Policy: want self only, got %q", csp)
			}
			if got := res.Header.Get("X-Content-Type-Options"); got != "nosniff" {
				t.Errorf("X-Content-Type-Options: want nosniff, got %q", got)
			}
			if c.status != "200" {
				return
			}
			if got := res.Header.Get("Content-Type"); got != c.ctype {
				t.Errorf("Content-Type: want %q, got %q", c.ctype, got)
			}
			if got := res.Header.Get("Cache-Control"); got != c.cache {
				t.Errorf("Cache-Control: want %q, got %q", c.cache, got)
			}
			if !strings.Contains(body, c.contains) {
				t.Errorf("body does not contain %q", c.contains)
			}
			etag := res.Header.Get("ETag")
			if etag == "" {
				t.Fatal("no ETag")
			}
			again, _ := get(t, srv.URL+c.path, map[string]string{"If-None-Match": etag})
			if again.StatusCode != http.StatusNotModified {
				t.Errorf("revalidation with the ETag: want 304, got %s", again.Status)
			}
		})
	}
}

// TestNoInlineScript keeps the pages within the CSP: a page with an inline
// script or style would be blank in the browser.
func TestNoInlineScript(t *testing.T) {
	srv := serve(t, web.Config{})
	for _, p := range []string{"/", "/login", "/fleet", "/fleet/x"} {
		_, body := get(t, srv.URL+p, nil)
		for _, bad := range []string{"<script>", "<style", " style=", " onclick=", "javascript:"} {
			if strings.Contains(body, bad) {
				t.Errorf("%s holds %q, which the CSP refuses", p, bad)
			}
		}
	}
}

func TestOperatorMapAndCharts(t *testing.T) {
	dir := t.TempDir()
	geo := filepath.Join(dir, "province.geojson")
	if err := os.WriteFile(geo, []byte(`{"type":"FeatureCollection","features":[{"type":"Feature","properties":{"name":"Long An"},"geometry":null}]}`), 0o600); err != nil {
		t.Fatal(err)
	}
	tiles := filepath.Join(dir, "base.pmtiles")
	if err := os.WriteFile(tiles, []byte("PMTiles\x03 fake archive body"), 0o600); err != nil {
		t.Fatal(err)
	}
	srv := serve(t, web.Config{MapGeoJSON: geo, PMTiles: tiles, Charts: []web.Chart{{Site: "tan-an", Field: "level_m", Label: "Mực nước"}}})
	if _, body := get(t, srv.URL+"/assets/map.geojson", nil); !strings.Contains(body, "Long An") {
		t.Errorf("map.geojson: want the operator's file, got %.80q", body)
	}
	if _, body := get(t, srv.URL+"/assets/ui.json", nil); !strings.Contains(body, `{"site":"tan-an","field":"level_m","label":"Mực nước"}`) || !strings.Contains(body, `"pmtiles":true`) {
		t.Errorf("ui.json: want the charts and pmtiles:true, got %s", body)
	}
	res, body := get(t, srv.URL+"/assets/basemap.pmtiles", map[string]string{"Range": "bytes=0-6"})
	if res.StatusCode != http.StatusPartialContent || body != "PMTiles" {
		t.Errorf("basemap range: want 206 \"PMTiles\", got %s %q", res.Status, body)
	}

	for name, content := range map[string]string{"empty.geojson": "", "bad.geojson": "{not json", "list.geojson": `{"type":"Topology"}`} {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		if _, err := web.New(web.Config{MapGeoJSON: p}, web.Deps{}); err == nil || !strings.Contains(err.Error(), "ui.map_geojson") {
			t.Errorf("%s: want an error naming ui.map_geojson, got %v", name, err)
		}
	}
	if _, err := web.New(web.Config{MapGeoJSON: filepath.Join(dir, "missing")}, web.Deps{}); err == nil {
		t.Error("a missing map file: want an error")
	}
}

// roles authorizes by a bearer token that names the caller's role, so the
// gate is tested for each role; the real authenticator is the browser
// tests' (e2e/review.test.mjs).
type roles struct{}

func (roles) AuthorizeRequest(r *http.Request, min defs.Role) (auth.Principal, error) {
	name := strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer ")
	role, ok := defs.ParseRole(name)
	if !ok {
		return auth.Principal{}, defs.Errorf(defs.EUNAUTHORIZED, "a bearer token or a login session is required")
	}
	if !role.Allows(min) {
		return auth.Principal{}, defs.Errorf(defs.EFORBIDDEN, "role %s may not do this (needs %s)", role, min)
	}
	return auth.Principal{Name: name, Role: role}, nil
}

// TestReviewDeskGate: the desk's page goes only to reviewers and admins
// (its statistics only to admins); a signed-out browser is sent to the
// login page and back, anyone else gets a 403 page that loads no script
// reading case data.
func TestReviewDeskGate(t *testing.T) {
	h, err := web.New(web.Config{Timezone: "Asia/Ho_Chi_Minh"}, web.Deps{Auth: roles{}})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	noRedirect := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	cases := []struct {
		path, who string
		status    int
		want      string // in the body, or the Location
	}{
		{"/review", "", http.StatusSeeOther, "/login?next=%2Freview"},
		{"/review/stats", "", http.StatusSeeOther, "/login?next=%2Freview%2Fstats"},
		{"/review", "viewer", http.StatusForbidden, "Không có quyền truy cập"},
		{"/review", "operator", http.StatusForbidden, "Không có quyền truy cập"},
		{"/review", "reviewer", http.StatusOK, `src="/assets/js/review.js"`},
		{"/review", "admin", http.StatusOK, `src="/assets/js/review.js"`},
		{"/review/stats", "reviewer", http.StatusForbidden, "Không có quyền truy cập"},
		{"/review/stats", "admin", http.StatusOK, `id="stats-table"`},
	}
	for _, c := range cases {
		t.Run(c.path+" as "+c.who, func(t *testing.T) {
			req, _ := http.NewRequest(http.MethodGet, srv.URL+c.path, nil)
			if c.who != "" {
				req.Header.Set("Authorization", "Bearer "+c.who)
			}
			res, err := noRedirect.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer res.Body.Close()
			b, _ := io.ReadAll(res.Body)
			if res.StatusCode != c.status {
				t.Fatalf("status: want %d, got %s", c.status, res.Status)
			}
			if got := res.Header.Get("Content-Security-Policy"); !strings.Contains(got, "script-src 'self'") {
				t.Errorf("no CSP on the answer: %q", got)
			}
			switch c.status {
			case http.StatusSeeOther:
				if got := res.Header.Get("Location"); got != c.want {
					t.Errorf("Location: want %q, got %q", c.want, got)
				}
			case http.StatusForbidden:
				if !strings.Contains(string(b), c.want) || strings.Contains(string(b), "review.js") {
					t.Errorf("the forbidden page: want %q and no desk script, got %.200q", c.want, b)
				}
			default:
				if !strings.Contains(string(b), c.want) {
					t.Errorf("body does not contain %q", c.want)
				}
			}
			for _, bad := range []string{"<script>", "<style", " style=", " onclick=", "javascript:"} {
				if strings.Contains(string(b), bad) {
					t.Errorf("%s holds %q, which the CSP refuses", c.path, bad)
				}
			}
		})
	}
	if _, body := get(t, srv.URL+"/assets/ui.json", nil); !strings.Contains(body, `"timezone":"Asia/Ho_Chi_Minh"`) {
		t.Errorf("ui.json: want the ui timezone, got %s", body)
	}
	// Without an authenticator nobody gets the desk.
	if res, _ := get(t, serve(t, web.Config{}).URL+"/review", map[string]string{"Authorization": "Bearer admin"}); res.StatusCode != http.StatusServiceUnavailable {
		t.Errorf("no authenticator: want 503, got %s", res.Status)
	}
}
