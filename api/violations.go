package api

import (
	"context"
	"io"
	"net/http"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/iocd/iocd/auth"
	"github.com/iocd/iocd/defs"
	"github.com/iocd/iocd/violations"
)

// ViolationService is the violations service as the API uses it.
// *violations.Service satisfies it. Evidence access takes the actor so
// that the service itself checks the role and audits the access.
type ViolationService interface {
	List(ctx context.Context, f defs.ViolationFilter) ([]defs.Violation, string, error)
	Get(ctx context.Context, id string) (defs.Violation, error)
	Decide(ctx context.Context, a violations.Actor, id string, d violations.Decision) (defs.Violation, string, error)
	Reviews(ctx context.Context, a violations.Actor, id string) ([]defs.Review, error)
	OpenClip(ctx context.Context, a violations.Actor, id string) (*os.File, defs.Violation, error)
	SeekClip(ctx context.Context, a violations.Actor, id string) (*os.File, defs.Violation, error)
	OpenSnapshot(ctx context.Context, a violations.Actor, id string) (*os.File, defs.Violation, error)
	WriteEvidence(ctx context.Context, a violations.Actor, id string, w io.Writer) error
	Keys(ctx context.Context) ([]defs.EvidenceKey, error)
}

var _ ViolationService = (*violations.Service)(nil)

func (s *Server) violationsRoutes() {
	d := s.domain("violations", s.opts.Violations != nil)
	// The list and the record are for the wall; the evidence itself (video,
	// picture, package) and decisions are for the police.
	d.route("GET", "/api/v1/violations", defs.RoleViewer, s.listViolations,
		"status", "type", "camera", "site", "plate", "from", "to", "limit", "cursor")
	d.route("GET", "/api/v1/violations/{id}", defs.RoleViewer, s.getViolation)
	d.route("GET", "/api/v1/violations/{id}/clip", defs.RoleReviewer, s.violationClip).streaming()
	d.route("GET", "/api/v1/violations/{id}/snapshot", defs.RoleReviewer, s.violationSnapshot).streaming()
	d.route("GET", "/api/v1/violations/{id}/evidence", defs.RoleReviewer, s.violationEvidence).streaming()
	d.route("GET", "/api/v1/violations/{id}/reviews", defs.RoleReviewer, s.violationReviews)
	d.route("POST", "/api/v1/violations/{id}/review", defs.RoleReviewer, s.reviewViolation)
	// The public keys are public: anyone holding evidence checks it with
	// them.
	d.route("GET", "/api/v1/evidence/keys", defs.RoleViewer, s.evidenceKeys)
}

// actor names the caller by its unique subject (decisions and audit
// entries record it) as well as its display name.
func actor(r *http.Request) violations.Actor {
	p, _ := auth.PrincipalFrom(r.Context())
	return violations.Actor{Subject: p.Subject(), Name: p.Name, Role: p.Role}
}

type evidenceKeyList struct {
	Keys []defs.EvidenceKey `json:"keys"`
}

// evidenceKeys answers the ledger's public keys, oldest first: the last
// one signs now; each earlier one until valid_until.
func (s *Server) evidenceKeys(w http.ResponseWriter, r *http.Request) error {
	ks, err := s.opts.Violations.Keys(r.Context())
	if err != nil {
		return err
	}
	if ks == nil {
		ks = []defs.EvidenceKey{}
	}
	writeJSON(w, http.StatusOK, evidenceKeyList{Keys: ks})
	return nil
}

type violationList struct {
	Violations []defs.Violation `json:"violations"`
	NextCursor string           `json:"next_cursor,omitempty"`
}

type violationResponse struct {
	Violation defs.Violation `json:"violation"`
}

// listViolations answers violations newest first, each record once (the
// store's order: time, then id), filtered by status, type, camera, site,
// plate, from and to (RFC 3339 or epoch ms), a page of limit (default 100,
// at most 1000) continued with cursor. Plates are shown, and searched by,
// only for the roles violations.PlateVisibleTo allows.
func (s *Server) listViolations(w http.ResponseWriter, r *http.Request) error {
	q := r.URL.Query()
	role := actor(r).Role
	if q.Has("plate") && !violations.PlateVisibleTo(role) {
		return defs.Errorf(defs.EFORBIDDEN, "searching by plate is for reviewers and admins; a %s may not", role)
	}
	f := defs.ViolationFilter{
		Status: defs.ReviewStatus(q.Get("status")), Type: q.Get("type"), Camera: defs.DeviceID(q.Get("camera")),
		Site: q.Get("site"), Plate: q.Get("plate"), Cursor: q.Get("cursor"),
	}
	switch f.Status {
	case "", defs.ReviewPending, defs.ReviewAwaitingSecond, defs.ReviewDisputed, defs.ReviewConfirmed, defs.ReviewRejected:
	default:
		return defs.Invalid("status", "%q is not one of pending, awaiting_second, disputed, confirmed, rejected", f.Status)
	}
	var err error
	if f.From, err = queryTime(q.Get("from"), "from"); err != nil {
		return err
	}
	if f.To, err = queryTime(q.Get("to"), "to"); err != nil {
		return err
	}
	if l := q.Get("limit"); l != "" {
		n, err := strconv.Atoi(l)
		if err != nil || n < 1 || n > 1000 {
			return defs.Invalid("limit", "must be a number from 1 to 1000")
		}
		f.Limit = n
	}
	vs, next, err := s.opts.Violations.List(r.Context(), f)
	if err != nil {
		return err
	}
	out := make([]defs.Violation, len(vs))
	for i, v := range vs {
		out[i] = violations.ForRole(v, role)
	}
	writeJSON(w, http.StatusOK, violationList{Violations: out, NextCursor: next})
	return nil
}

func queryTime(v, field string) (time.Time, error) {
	if v == "" {
		return time.Time{}, nil
	}
	if t, err := time.Parse(time.RFC3339Nano, v); err == nil {
		return t, nil
	}
	if ms, err := strconv.ParseInt(v, 10, 64); err == nil {
		return time.UnixMilli(ms), nil
	}
	return time.Time{}, defs.Invalid(field, "must be RFC 3339 or epoch milliseconds")
}

func (s *Server) getViolation(w http.ResponseWriter, r *http.Request) error {
	v, err := s.opts.Violations.Get(r.Context(), r.PathValue("id"))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, violationResponse{Violation: violations.ForRole(v, actor(r).Role)})
	return nil
}

// violationClip serves the clip with Range support (http.ServeContent),
// so a browser's video element can seek. A Range request past the first
// byte is a seek within a play already on record: it is hash-checked but
// not audited again (SeekClip).
func (s *Server) violationClip(w http.ResponseWriter, r *http.Request) error {
	open := s.opts.Violations.OpenClip
	if rangePastStart(r.Header.Get("Range")) {
		open = s.opts.Violations.SeekClip
	}
	f, v, err := open(r.Context(), actor(r), r.PathValue("id"))
	if err != nil {
		return err
	}
	defer f.Close()
	w.Header().Set("Content-Type", "video/mp4")
	w.Header().Set("Cache-Control", "private, no-store")
	// The hash lets a client check what it received.
	w.Header().Set("ETag", `"`+v.ClipSHA256+`"`)
	http.ServeContent(w, r, v.ID+".mp4", v.UpdatedAt, f)
	return nil
}

func (s *Server) violationSnapshot(w http.ResponseWriter, r *http.Request) error {
	f, v, err := s.opts.Violations.OpenSnapshot(r.Context(), actor(r), r.PathValue("id"))
	if err != nil {
		return err
	}
	defer f.Close()
	w.Header().Set("Content-Type", "image/jpeg")
	w.Header().Set("Cache-Control", "private, no-store")
	w.Header().Set("ETag", `"`+v.SnapshotSHA256+`"`)
	// A still taken from the clip when the camera sent no snapshot.
	w.Header().Set("X-Iocd-Derived", strconv.FormatBool(violations.SnapshotDerived(v)))
	http.ServeContent(w, r, v.ID+".jpg", v.UpdatedAt, f)
	return nil
}

// violationEvidence streams the evidence zip. Its headers are set on the
// first byte, so an error found before then still gets the JSON answer.
func (s *Server) violationEvidence(w http.ResponseWriter, r *http.Request) error {
	id := r.PathValue("id")
	lw := &lazyHeaderWriter{w: w, set: func(h http.Header) {
		h.Set("Content-Type", "application/zip")
		h.Set("Content-Disposition", `attachment; filename="violation-`+strings.Map(safeFileRune, id)+`-evidence.zip"`)
		h.Set("Cache-Control", "private, no-store")
	}}
	return s.opts.Violations.WriteEvidence(r.Context(), actor(r), id, lw)
}

func safeFileRune(r rune) rune {
	if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_' {
		return r
	}
	return '_'
}

type lazyHeaderWriter struct {
	w    http.ResponseWriter
	set  func(http.Header)
	done bool
}

func (l *lazyHeaderWriter) Write(p []byte) (int, error) {
	if !l.done {
		l.done = true
		l.set(l.w.Header())
	}
	return l.w.Write(p)
}

type reviewList struct {
	Reviews []defs.Review `json:"reviews"`
}

func (s *Server) violationReviews(w http.ResponseWriter, r *http.Request) error {
	rs, err := s.opts.Violations.Reviews(r.Context(), actor(r), r.PathValue("id"))
	if err != nil {
		return err
	}
	if rs == nil {
		rs = []defs.Review{}
	}
	writeJSON(w, http.StatusOK, reviewList{Reviews: rs})
	return nil
}

type reviewRequest struct {
	Decision defs.ReviewStatus `json:"decision"`
	Reason   string            `json:"reason"`
	Note     string            `json:"note"`
	Version  string            `json:"version"`
}

type decidedResponse struct {
	Violation defs.Violation `json:"violation"`
	Version   string         `json:"version"`
}

// reviewViolation records a decision with its reason code: a reviewer
// decides pending violations; the second review, disputes and changing a
// decision follow the service's rules (violations.Service.Decide).
func (s *Server) reviewViolation(w http.ResponseWriter, r *http.Request) error {
	var req reviewRequest
	if err := s.decodeJSON(w, r, &req); err != nil {
		return err
	}
	a := actor(r)
	v, version, err := s.opts.Violations.Decide(r.Context(), a, r.PathValue("id"),
		violations.Decision{Decision: req.Decision, Reason: req.Reason, Note: req.Note, Version: req.Version})
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, decidedResponse{Violation: violations.ForRole(v, a.Role), Version: version})
	return nil
}
