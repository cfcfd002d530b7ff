// Package api owns iocd's HTTP edge: routing, authentication of every
// /api/ and /ws request, JSON encoding, the one mapping from coded defs
// errors to HTTP statuses, request limits and logging, and the
// unauthenticated /healthz, /readyz and /metrics. The domain work is done
// by the services injected through Options; each domain's handlers live in
// their own file (devices.go, tokens.go, ...) with a routes method listed
// in Server.routes.
//
// Adding a domain, say fleet.go: declare the small interface the handlers
// need (FleetService) in fleet.go; put `Fleet FleetService` in its slot in
// Options; write
//
//	func (s *Server) fleetRoutes() {
//		d := s.domain("fleet", s.opts.Fleet != nil)
//		d.route("GET", "/api/v1/fleet", defs.RoleViewer, s.listFleet, "site", "kind")
//	}
//
// and uncomment s.fleetRoutes() in routes. The strings after the handler
// are the query parameters the route accepts: any other is refused with a
// 400 naming it, before the handler runs (a misspelt filter must not
// silently return everything). A route that streams a long answer (a clip
// download) adds .streaming(), which trades the fixed write deadline for a
// rolling one. Every route lands in the route table (Server.Routes), which
// the role and query tests enumerate, so a new route is tested without
// being listed anywhere else. Handlers have the type
// handlerFunc: they return an error (a defs coded error for anything the
// client should see) and writeError maps it; decode bodies with
// s.decodeJSON and answer with writeJSON. The principal is
// auth.PrincipalFrom(r.Context()).
package api

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/iocd/iocd/auth"
	"github.com/iocd/iocd/defs"
	"github.com/prometheus/client_golang/prometheus"
)

// Default request body limits. Imports get more room than single objects.
const (
	DefaultMaxBodyBytes   = 1 << 20  // 1 MiB
	DefaultMaxImportBytes = 16 << 20 // 16 MiB
)

// Authenticator checks a request's credential (a bearer token, or a
// login session's cookie with, for changes, its CSRF token) against the
// role a route needs. *auth.Authenticator satisfies it.
type Authenticator interface {
	AuthorizeRequest(r *http.Request, min defs.Role) (auth.Principal, error)
}

var _ Authenticator = (*auth.Authenticator)(nil)

// ReadyCheck is one named condition /readyz checks, such as "mqtt" or
// "store". Check returns nil when ready, or an error whose text says why
// not (it is shown, so it must hold no secret).
type ReadyCheck struct {
	Name  string
	Check func(ctx context.Context) error
}

// Options are the Server's dependencies. A nil domain service is allowed:
// that domain's routes stay mounted (so clients get a clear answer, not a
// 404 that looks like a typo) and answer 503 "<domain> is not available".
// Beware typed nils: pass a literal nil, not a nil *T.
type Options struct {
	// Logger receives request logs at Debug and internal errors at Error.
	Logger *slog.Logger
	// Auth authenticates every /api/ and /ws route. Nil: they all answer
	// 503, since nothing may be served unauthenticated.
	Auth Authenticator
	// Gatherer serves /metrics. Nil: /metrics answers 503.
	Gatherer prometheus.Gatherer
	// Ready lists what /readyz checks.
	Ready []ReadyCheck
	// ReadyTimeout bounds each readiness check; default 2s.
	ReadyTimeout time.Duration
	// MaxBodyBytes and MaxImportBytes limit request bodies; 0: defaults.
	MaxBodyBytes   int64
	MaxImportBytes int64
	// Deadlines bound how long a client may take to send its request
	// body and to take the answer; zero fields: the defaults.
	Deadlines Deadlines

	// Devices serves /api/v1/devices (devices.go).
	Devices DeviceService

	// Tokens serves /api/v1/tokens (tokens.go).
	Tokens TokenService

	// Logins serves POST /login, POST /logout and /api/v1/session
	// (auth_routes.go); Users serves /api/v1/users (users.go).
	Logins LoginService
	Users  UserService

	// WebSocket serves /ws (websocket.go). Viewers and up; the token may
	// come as a subprotocol, see auth.WebSocketToken.
	WebSocket http.Handler

	// Slots for the domains other branches add: put your field on the
	// line below your comment and keep the blank lines, so that parallel
	// branches merge without conflicts.

	// Fleet serves fleet health (fleet.go).
	Fleet FleetService

	// HealthHistory serves /api/v1/devices/{id}/health (fleet.go).
	HealthHistory HealthHistoryService

	// Overview serves /api/v1/overview and /api/v1/changes (overview.go).
	Overview OverviewService

	// Telemetry serves telemetry history (telemetry.go). Nil: history
	// answers 503 saying InfluxDB is not configured.
	Telemetry TelemetryService

	// Violations serves violation records and review (violations.go).
	Violations ViolationService

	// Cameras serves camera sessions (cameras.go).
	Cameras CameraService

	// Alerts serves alerts and their acknowledgement (alerts.go).
	Alerts AlertService

	// Audit serves the audit log (audit.go).
	Audit AuditService

	// Conflicts serves telemetry field type conflicts (conflicts.go).
	Conflicts ConflictService
	// Ingest serves how far behind the telemetry path is (ingest.go).
	Ingest IngestService

	// Cases serves evidence cases and legal holds (cases.go).
	Cases CaseService

	// Desk serves the review desk: queue, open, decisions, amendments,
	// statistics (review.go).
	Desk DeskService

	// Media serves derived viewing copies and stills (media.go).
	Media MediaService
}

// Server is iocd's HTTP API.
type Server struct {
	opts  Options
	log   *slog.Logger
	mux   *http.ServeMux
	table []*routeSpec // every mounted route, in mount order
}

// New builds the Server and its routes.
func New(opts Options) *Server {
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.MaxBodyBytes <= 0 {
		opts.MaxBodyBytes = DefaultMaxBodyBytes
	}
	if opts.MaxImportBytes <= 0 {
		opts.MaxImportBytes = DefaultMaxImportBytes
	}
	if opts.ReadyTimeout <= 0 {
		opts.ReadyTimeout = 2 * time.Second
	}
	opts.Deadlines = opts.Deadlines.withDefaults()
	if opts.Auth == nil {
		// Refuse rather than panic per request: a server wired without
		// auth must not serve the API at all.
		opts.Auth = noAuth{}
	}
	s := &Server{opts: opts, log: opts.Logger, mux: http.NewServeMux()}
	s.routes()
	return s
}

// routes lists each file's route registration. Keep one per line with a
// blank line between, so branches adding a domain merge cleanly: a branch
// adding fleet.go uncomments its line.
func (s *Server) routes() {
	s.healthRoutes()

	s.devicesRoutes()

	s.tokensRoutes()

	s.loginRoutes()

	s.usersRoutes()

	s.websocketRoutes()

	s.fleetRoutes()

	s.overviewRoutes()

	s.telemetryRoutes()

	s.violationsRoutes()

	s.camerasRoutes()

	s.alertsRoutes()

	s.auditRoutes()

	s.conflictsRoutes()
	s.ingestRoutes()

	// s.casesRoutes()

	s.deskRoutes()

	s.mediaRoutes()
}

// noAuth stands in for a missing Authenticator and refuses everything.
type noAuth struct{}

func (noAuth) AuthorizeRequest(*http.Request, defs.Role) (auth.Principal, error) {
	return auth.Principal{}, defs.Errorf(defs.EUNAVAILABLE, "authentication is not configured on this server")
}

// Handler returns the HTTP handler serving every route.
func (s *Server) Handler() http.Handler { return http.HandlerFunc(s.serveHTTP) }

// routeMethods are the methods tried when a request matches no route, to
// tell "no such route" (404) from "not with this method" (405).
var routeMethods = []string{http.MethodGet, http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete}

// serveHTTP answers unrouted /api/ requests in the JSON error shape
// (ServeMux's own answers are plain text) and hands the rest to the mux.
func (s *Server) serveHTTP(w http.ResponseWriter, r *http.Request) {
	// Every request, routed or not, gets the default deadlines first, so
	// that no answer (a 401, a 404, /healthz) waits forever on a client
	// that announced a body and sends nothing; routes that stream widen
	// them in their own handler.
	s.opts.Deadlines.apply(w, r)
	if _, pattern := s.mux.Handler(r); pattern != "" || !strings.HasPrefix(r.URL.Path, "/api/") {
		s.mux.ServeHTTP(w, r)
		return
	}
	var allow []string
	for _, m := range routeMethods {
		probe := r.Clone(r.Context())
		probe.Method = m
		if _, pattern := s.mux.Handler(probe); pattern != "" {
			allow = append(allow, m)
		}
	}
	if len(allow) == 0 {
		s.writeError(w, r, defs.NotFound("no route for %s", r.URL.Path))
		return
	}
	w.Header().Set("Allow", strings.Join(allow, ", "))
	writeJSON(w, http.StatusMethodNotAllowed, errorBody{Error: errorDetail{
		Code:    "method_not_allowed",
		Message: fmt.Sprintf("%s is not allowed here (allowed: %s)", r.Method, strings.Join(allow, ", ")),
	}})
}

// handlerFunc is a handler that returns its error for writeError to map,
// so every error takes the same road to the client.
type handlerFunc func(w http.ResponseWriter, r *http.Request) error

// routeSpec is one row of the route table: what the route needs and
// accepts. It is read by the route's handler on every request, so the
// modifiers (streaming) may be chained after route returns.
type routeSpec struct {
	method, pattern string
	min             defs.Role
	query           map[string]bool
	stream          bool
	// websocket routes also take the token as a subprotocol
	// (auth.WebSocketToken).
	websocket bool
}

// streaming marks a route whose answer may take long to send (a clip, an
// evidence package): instead of the fixed write deadline each write gets
// Deadlines.StreamIdle, so a slow reader that keeps reading is served and
// one that stops is cut.
func (r *routeSpec) streaming() *routeSpec {
	r.stream = true
	return r
}

// Route describes one mounted route, as Routes reports it.
type Route struct {
	Method  string
	Pattern string
	// Role is the least role the route needs.
	Role defs.Role
	// Query lists the query parameters the route accepts, sorted.
	Query []string
	// Stream is true for routes with a rolling write deadline.
	Stream bool
}

// Routes returns the route table: every authenticated route mounted, in
// mount order. Tests enumerate it, so that a route added later is checked
// for roles and query parameters without being listed a second time.
func (s *Server) Routes() []Route {
	out := make([]Route, 0, len(s.table))
	for _, r := range s.table {
		q := make([]string, 0, len(r.query))
		for k := range r.query {
			q = append(q, k)
		}
		slices.Sort(q)
		out = append(out, Route{Method: r.method, Pattern: r.pattern, Role: r.min, Query: q, Stream: r.stream})
	}
	return out
}

// route mounts an authenticated handler: the request must carry a bearer
// token or a login session (and, for a change made with a session, its
// CSRF token) whose role is at least min; the principal is then in the
// request context (auth.PrincipalFrom). query lists the accepted query
// parameters.
func (s *Server) route(method, pattern string, min defs.Role, h handlerFunc, query ...string) *routeSpec {
	return s.handle(method, pattern, min, h, query...)
}

// domain returns a router for one domain's routes: when the domain is not
// wired (its service is nil), every route answers 503 after the usual
// authentication, naming the domain.
func (s *Server) domain(name string, wired bool) domainRouter {
	return domainRouter{s: s, name: name, wired: wired}
}

type domainRouter struct {
	s     *Server
	name  string
	wired bool
}

// route mounts h, or the "not available" answer if the domain is unwired.
func (d domainRouter) route(method, pattern string, min defs.Role, h handlerFunc, query ...string) *routeSpec {
	if !d.wired {
		name := d.name
		h = func(http.ResponseWriter, *http.Request) error {
			return defs.Errorf(defs.EUNAVAILABLE, "%s is not available on this server", name)
		}
	}
	return d.s.route(method, pattern, min, h, query...)
}

func (s *Server) handle(method, pattern string, min defs.Role, h handlerFunc, query ...string) *routeSpec {
	spec := &routeSpec{method: method, pattern: pattern, min: min, query: make(map[string]bool, len(query))}
	for _, q := range query {
		spec.query[q] = true
	}
	s.table = append(s.table, spec)
	s.mux.HandleFunc(method+" "+pattern, func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		sw := &statusWriter{ResponseWriter: w, status: http.StatusOK}
		var out http.ResponseWriter = sw
		areq := r
		if spec.websocket && auth.BearerToken(r) == "" {
			if tok := auth.WebSocketToken(r); tok != "" {
				areq = r.Clone(r.Context())
				areq.Header.Set("Authorization", "Bearer "+tok)
			}
		}
		p, err := s.opts.Auth.AuthorizeRequest(areq, min)
		if err == nil {
			err = spec.checkQuery(r)
		}
		if err == nil && spec.stream {
			out, err = s.opts.Deadlines.startStream(sw, r)
		}
		if err == nil {
			r = r.WithContext(auth.WithPrincipal(r.Context(), p))
			err = h(out, r)
		}
		switch {
		case err != nil && sw.wrote:
			// Too late to answer with an error: the answer has begun.
			s.log.Warn("http handler failed after answering", "method", r.Method, "path", r.URL.Path, "err", err)
		case err != nil:
			s.writeError(sw, r, err)
		}
		// Never log the query string or headers: they may hold tokens.
		s.log.Debug("http request", "method", r.Method, "path", r.URL.Path,
			"status", sw.status, "principal", p.Name, "dur", time.Since(start))
	})
	return spec
}

// checkQuery refuses a query parameter the route does not take, naming
// it: a filter that is misspelt or not supported must not silently widen
// the answer (?health=offline returning every device).
func (r *routeSpec) checkQuery(req *http.Request) error {
	if req.URL.RawQuery == "" {
		return nil
	}
	q, err := url.ParseQuery(req.URL.RawQuery)
	if err != nil {
		return defs.Invalid("query", "is not a valid query string")
	}
	var unknown []string
	for k := range q {
		if !r.query[k] {
			unknown = append(unknown, k)
		}
	}
	if len(unknown) == 0 {
		return nil
	}
	slices.Sort(unknown)
	accepted := "none"
	if len(r.query) > 0 {
		names := make([]string, 0, len(r.query))
		for k := range r.query {
			names = append(names, k)
		}
		slices.Sort(names)
		accepted = strings.Join(names, ", ")
	}
	name := clipName(unknown[0])
	if name == "" {
		name = "query"
	}
	return defs.Invalid(name, "is not a query parameter of %s %s (accepted: %s)", r.method, r.pattern, accepted)
}

// clipName keeps an echoed parameter name short and printable.
func clipName(s string) string {
	s = strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f {
			return '?'
		}
		return r
	}, s)
	if len(s) > 40 {
		s = s[:40] + "..."
	}
	return s
}

// statusWriter remembers the status for the request log. It implements
// Hijacker and Flusher by delegation, because gorilla/websocket's upgrader
// type-asserts http.Hijacker rather than using http.ResponseController,
// and Unwrap for those that do.
type statusWriter struct {
	http.ResponseWriter
	status int
	wrote  bool
}

func (w *statusWriter) WriteHeader(code int) {
	if !w.wrote {
		w.status, w.wrote = code, true
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	w.wrote = true
	return w.ResponseWriter.Write(b)
}

func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// Hijack hands the connection over, for websocket upgrades.
func (w *statusWriter) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	h, ok := w.ResponseWriter.(http.Hijacker)
	if !ok {
		return nil, nil, errors.New("response writer cannot be hijacked")
	}
	w.status, w.wrote = http.StatusSwitchingProtocols, true
	return h.Hijack()
}

// Flush sends buffered data, for streamed answers.
func (w *statusWriter) Flush() {
	if f, ok := w.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}
