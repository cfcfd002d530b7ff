// Package web owns the pages iocd serves to people: the wall (/), the login
// page (/login), the fleet page (/fleet), a device's page (/fleet/{id}) and
// the police review desk (/review, /review/stats), with their scripts,
// styles, fonts and vendored libraries under /assets/.
// Everything is embedded in the binary; nothing is fetched from the
// internet at run time. The pages hold no data: they read the API and the
// feed (/ws) with the session cookie the login page obtains.
package web

import (
	"bytes"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io/fs"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"path"
	"strings"
	"time"

	"github.com/iocd/iocd/auth"
	"github.com/iocd/iocd/defs"
)

//go:embed pages assets
var files embed.FS

// Config is what an operator may change about the pages.
type Config struct {
	// MapGeoJSON is the path of an operator's GeoJSON file drawn as the
	// wall's map; empty: the shipped outline of Vietnam.
	MapGeoJSON string
	// PMTiles is the path of an operator's raster PMTiles basemap; empty:
	// none.
	PMTiles string
	// Charts are the wall's live charts.
	Charts []Chart
	// Timezone is the IANA zone (ui.timezone) the pages show times in,
	// so a desk in another zone still reads the camera's local time;
	// empty: the browser's own.
	Timezone string
}

// Chart is one of the wall's charts: a field of a site's devices.
type Chart struct {
	Site  string `json:"site"`
	Field string `json:"field"`
	Label string `json:"label,omitempty"`
}

// Deps are the collaborators of a Handler.
type Deps struct {
	Logger *slog.Logger
	// Auth decides who may load the gated pages (the review desk). Nil:
	// nobody may, and they answer 503, as the API does without one.
	Auth Authorizer
}

// Authorizer checks a request's credential (bearer token or login
// session cookie) against a role; *auth.Authenticator is one.
type Authorizer interface {
	AuthorizeRequest(r *http.Request, min defs.Role) (auth.Principal, error)
}

// noAuth refuses every gated page: without an authenticator the server
// cannot tell a police officer from anyone else.
type noAuth struct{}

func (noAuth) AuthorizeRequest(*http.Request, defs.Role) (auth.Principal, error) {
	return auth.Principal{}, defs.Errorf(defs.EUNAVAILABLE, "authentication is not configured on this server")
}

// maxGeoJSON bounds an operator's map file: it is held in memory and
// sent to every screen.
const maxGeoJSON = 64 << 20

// shippedMap is the vendored outline (see scripts/ui-vendor.sh).
const shippedMap = "vendor/vietnam-outline-2.0.2/vietnam.geojson"

// CSP allows the pages nothing but their own origin: no inline script or
// style, no other host, no framing. Leaflet and uPlot set styles through
// the DOM (allowed); the feed is a same-origin websocket.
const CSP = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; " +
	"font-src 'self'; connect-src 'self'; worker-src 'self' blob:; object-src 'none'; base-uri 'none'; " +
	"frame-ancestors 'none'; form-action 'self'"

// Handler serves the pages and their assets.
type Handler struct {
	mux     *http.ServeMux
	assets  map[string]asset
	pmtiles string
	log     *slog.Logger
	auth    Authorizer
}

type asset struct {
	body  []byte
	ctype string
	etag  string
	cache string
}

// contentTypes is fixed here rather than read from the host's mime
// tables, which differ between machines.
var contentTypes = map[string]string{
	".html":    "text/html; charset=utf-8",
	".js":      "text/javascript; charset=utf-8",
	".mjs":     "text/javascript; charset=utf-8",
	".css":     "text/css; charset=utf-8",
	".json":    "application/json",
	".geojson": "application/geo+json",
	".woff2":   "font/woff2",
	".svg":     "image/svg+xml",
	".png":     "image/png",
	".ico":     "image/x-icon",
	"":         "text/plain; charset=utf-8", // LICENSE
}

// New returns a Handler. A configured map file that cannot be read or is
// not JSON is an error naming it, so a bad map stops the start instead of
// showing an empty wall.
func New(cfg Config, deps Deps) (*Handler, error) {
	if deps.Logger == nil {
		deps.Logger = slog.New(slog.DiscardHandler)
	}
	if deps.Auth == nil {
		deps.Auth = noAuth{}
	}
	h := &Handler{mux: http.NewServeMux(), assets: map[string]asset{}, pmtiles: cfg.PMTiles, log: deps.Logger, auth: deps.Auth}
	err := fs.WalkDir(files, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := files.ReadFile(p)
		if err != nil {
			return err
		}
		h.add(p, b)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("reading embedded pages: %w", err)
	}
	if shipped, ok := h.assets["assets/"+shippedMap]; ok {
		h.assets["assets/map.geojson"] = h.retag(shipped, "no-cache")
	}
	if cfg.MapGeoJSON != "" {
		b, err := readGeoJSON(cfg.MapGeoJSON)
		if err != nil {
			return nil, err
		}
		h.add("assets/map.geojson", b)
	}
	charts := cfg.Charts
	if charts == nil {
		charts = []Chart{}
	}
	ui, err := json.Marshal(map[string]any{"charts": charts, "map": "/assets/map.geojson", "pmtiles": cfg.PMTiles != "", "timezone": cfg.Timezone})
	if err != nil {
		return nil, fmt.Errorf("ui settings: %w", err)
	}
	h.add("assets/ui.json", ui)

	h.mux.HandleFunc("GET /{$}", h.page("wall"))
	h.mux.HandleFunc("GET /login", h.page("login"))
	h.mux.HandleFunc("GET /fleet", h.page("fleet"))
	h.mux.HandleFunc("GET /fleet/{id}", h.page("device"))
	// The review desk shows violation evidence: the server decides who
	// gets the page at all, so a viewer's browser never loads the desk's
	// script (which reads the case data) in the first place.
	h.mux.HandleFunc("GET /review", h.gated("review", defs.RoleReviewer))
	h.mux.HandleFunc("GET /review/stats", h.gated("review", defs.RoleAdmin))
	h.mux.HandleFunc("GET /assets/basemap.pmtiles", h.basemap)
	h.mux.HandleFunc("GET /assets/{path...}", h.asset)
	h.mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "404 page not found", http.StatusNotFound)
	})
	return h, nil
}

func readGeoJSON(p string) ([]byte, error) {
	f, err := os.Open(p)
	if err != nil {
		return nil, fmt.Errorf("ui.map_geojson: %w", err)
	}
	defer f.Close()
	var buf bytes.Buffer
	if n, err := buf.ReadFrom(http.MaxBytesReader(nil, f, maxGeoJSON)); err != nil {
		return nil, fmt.Errorf("ui.map_geojson: reading %s (at most %d MiB): %w", p, maxGeoJSON>>20, err)
	} else if n == 0 {
		return nil, fmt.Errorf("ui.map_geojson: %s is empty", p)
	}
	var probe struct {
		Type string `json:"type"`
	}
	if err := json.Unmarshal(buf.Bytes(), &probe); err != nil {
		return nil, fmt.Errorf("ui.map_geojson: %s is not JSON: %w", p, err)
	}
	switch probe.Type {
	case "FeatureCollection", "Feature", "Polygon", "MultiPolygon", "GeometryCollection", "LineString", "MultiLineString":
	default:
		return nil, fmt.Errorf("ui.map_geojson: %s is not GeoJSON (type %q)", p, probe.Type)
	}
	return buf.Bytes(), nil
}

// add records an embedded file under its path. Vendored files live in
// directories named with their version, so browsers may keep them; the
// pages' own files are revalidated (a cheap 304) on every load, so a new
// iocd is picked up at once.
func (h *Handler) add(p string, b []byte) {
	cache := "no-cache"
	if strings.HasPrefix(p, "assets/vendor/") && !strings.HasSuffix(p, "MANIFEST.json") {
		cache = "public, max-age=31536000, immutable"
	}
	ctype, ok := contentTypes[path.Ext(p)]
	if !ok {
		ctype = "application/octet-stream"
	}
	sum := sha256.Sum256(b)
	h.assets[p] = asset{body: b, ctype: ctype, etag: `"` + hex.EncodeToString(sum[:12]) + `"`, cache: cache}
}

func (h *Handler) retag(a asset, cache string) asset {
	a.cache = cache
	return a
}

// ServeHTTP serves a page or an asset, with the security headers on every
// answer.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	hd := w.Header()
	hd.Set("Content-Security-Policy", CSP)
	hd.Set("X-Content-Type-Options", "nosniff")
	hd.Set("Referrer-Policy", "no-referrer")
	hd.Set("X-Frame-Options", "DENY")
	h.mux.ServeHTTP(w, r)
}

func (h *Handler) page(name string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		h.serve(w, r, "pages/"+name+".html")
	}
}

// gated serves page name to a caller of at least role min. Signed out (or
// the session ended), the browser goes to the login page and comes back
// here after; signed in with a lesser role, it gets the forbidden page,
// which holds no data and loads no script that reads any.
func (h *Handler) gated(name string, min defs.Role) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if _, err := h.auth.AuthorizeRequest(r, min); err != nil {
			switch defs.ErrorCode(err) {
			case defs.EUNAUTHORIZED:
				http.Redirect(w, r, "/login?next="+url.QueryEscape(r.URL.RequestURI()), http.StatusSeeOther)
			case defs.EFORBIDDEN:
				w.Header().Set("Cache-Control", "no-store")
				h.serveStatus(w, "pages/forbidden.html", http.StatusForbidden)
			default:
				h.log.Warn("gated page refused", "page", name, "err", err)
				http.Error(w, "authentication unavailable", http.StatusServiceUnavailable)
			}
			return
		}
		w.Header().Set("Vary", "Cookie")
		h.serve(w, r, "pages/"+name+".html")
	}
}

// serveStatus writes an embedded page with status code (ServeContent
// would answer 200).
func (h *Handler) serveStatus(w http.ResponseWriter, p string, code int) {
	a := h.assets[p]
	w.Header().Set("Content-Type", a.ctype)
	w.WriteHeader(code)
	w.Write(a.body)
}

func (h *Handler) asset(w http.ResponseWriter, r *http.Request) {
	p := r.PathValue("path")
	// Only files are listed in assets: a directory (or a path with a
	// trailing slash, or a dot segment) is not found.
	if p == "" || strings.HasSuffix(p, "/") || path.Clean("/"+p) != "/"+p {
		http.NotFound(w, r)
		return
	}
	h.serve(w, r, "assets/"+p)
}

func (h *Handler) serve(w http.ResponseWriter, r *http.Request, p string) {
	a, ok := h.assets[p]
	if !ok {
		http.NotFound(w, r)
		return
	}
	w.Header().Set("Content-Type", a.ctype)
	w.Header().Set("Cache-Control", a.cache)
	w.Header().Set("ETag", a.etag)
	http.ServeContent(w, r, "", time.Time{}, bytes.NewReader(a.body))
}

// basemap serves the operator's PMTiles file with range requests, which
// is how the PMTiles reader fetches tiles.
func (h *Handler) basemap(w http.ResponseWriter, r *http.Request) {
	if h.pmtiles == "" {
		http.NotFound(w, r)
		return
	}
	f, err := os.Open(h.pmtiles)
	if err != nil {
		h.log.Warn("ui.pmtiles unreadable", "err", err)
		http.Error(w, "basemap unavailable", http.StatusServiceUnavailable)
		return
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil || st.IsDir() {
		http.Error(w, "basemap unavailable", http.StatusServiceUnavailable)
		return
	}
	w.Header().Set("Content-Type", "application/vnd.pmtiles")
	w.Header().Set("Cache-Control", "no-cache")
	http.ServeContent(w, r, "", st.ModTime(), f)
}
