package api

import (
	"context"
	"io"
	"net/http"
	"strconv"
	"strings"

	"github.com/iocd/iocd/defs"
	"github.com/iocd/iocd/violations"
)

// CaseService is evidence cases and legal holds as the API uses them;
// *violations.Service satisfies it. Every call takes the actor: the
// service checks the role and audits.
type CaseService interface {
	CreateCase(ctx context.Context, a violations.Actor, title string, ids []string) (defs.Case, error)
	ListCases(ctx context.Context, a violations.Actor, cursor string, limit int) ([]defs.Case, string, error)
	GetCase(ctx context.Context, a violations.Actor, id string) (defs.Case, error)
	WriteCasePackage(ctx context.Context, a violations.Actor, id string, w io.Writer) error
	PlaceHold(ctx context.Context, a violations.Actor, target defs.HoldTarget, id, reason string) (defs.LegalHold, error)
	ReleaseHold(ctx context.Context, a violations.Actor, target defs.HoldTarget, id, reason string) (defs.LegalHold, error)
}

var _ CaseService = (*violations.Service)(nil)

func (s *Server) casesRoutes() {
	d := s.domain("cases", s.opts.Cases != nil)
	d.route("POST", "/api/v1/cases", defs.RoleReviewer, s.createCase)
	d.route("GET", "/api/v1/cases", defs.RoleReviewer, s.listCases, "limit", "cursor")
	d.route("GET", "/api/v1/cases/{id}", defs.RoleReviewer, s.getCase)
	d.route("GET", "/api/v1/cases/{id}/package", defs.RoleReviewer, s.casePackage).streaming()
	d.route("POST", "/api/v1/cases/{id}/hold", defs.RoleReviewer, s.hold(defs.HoldCase, true))
	d.route("DELETE", "/api/v1/cases/{id}/hold", defs.RoleReviewer, s.hold(defs.HoldCase, false))
	d.route("POST", "/api/v1/violations/{id}/hold", defs.RoleReviewer, s.hold(defs.HoldViolation, true))
	d.route("DELETE", "/api/v1/violations/{id}/hold", defs.RoleReviewer, s.hold(defs.HoldViolation, false))
}

type createCaseRequest struct {
	Violations []string `json:"violations"`
	Title      string   `json:"title"`
}

type caseCreated struct {
	ID string `json:"id"`
}

func (s *Server) createCase(w http.ResponseWriter, r *http.Request) error {
	var req createCaseRequest
	if err := s.decodeJSON(w, r, &req); err != nil {
		return err
	}
	c, err := s.opts.Cases.CreateCase(r.Context(), actor(r), req.Title, req.Violations)
	if err != nil {
		return err
	}
	w.Header().Set("Location", "/api/v1/cases/"+c.ID)
	writeJSON(w, http.StatusCreated, caseCreated{ID: c.ID})
	return nil
}

type caseList struct {
	Cases      []defs.Case `json:"cases"`
	NextCursor string      `json:"next_cursor,omitempty"`
}

// listCases answers cases newest first, a page of limit (default 100, at
// most 1000) continued with cursor; members are in GET /cases/{id}.
func (s *Server) listCases(w http.ResponseWriter, r *http.Request) error {
	q := r.URL.Query()
	limit := 0
	if l := q.Get("limit"); l != "" {
		n, err := strconv.Atoi(l)
		if err != nil || n < 1 || n > 1000 {
			return defs.Invalid("limit", "must be a number from 1 to 1000")
		}
		limit = n
	}
	cs, next, err := s.opts.Cases.ListCases(r.Context(), actor(r), q.Get("cursor"), limit)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, caseList{Cases: cs, NextCursor: next})
	return nil
}

type caseResponse struct {
	Case defs.Case `json:"case"`
}

func (s *Server) getCase(w http.ResponseWriter, r *http.Request) error {
	c, err := s.opts.Cases.GetCase(r.Context(), actor(r), r.PathValue("id"))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, caseResponse{Case: c})
	return nil
}

// casePackage streams the case's zip. Its headers are set on the first
// byte, so a refusal found before then (an altered clip) still gets the
// JSON answer.
func (s *Server) casePackage(w http.ResponseWriter, r *http.Request) error {
	id := r.PathValue("id")
	lw := &lazyHeaderWriter{w: w, set: func(h http.Header) {
		h.Set("Content-Type", "application/zip")
		h.Set("Content-Disposition", `attachment; filename="case-`+strings.Map(safeFileRune, id)+`.zip"`)
		h.Set("Cache-Control", "private, no-store")
	}}
	return s.opts.Cases.WriteCasePackage(r.Context(), actor(r), id, lw)
}

type holdRequest struct {
	Reason string `json:"reason"`
}

type holdResponse struct {
	Hold defs.LegalHold `json:"hold"`
}

// hold places (POST) or releases (DELETE) a legal hold; both take the
// reason.
func (s *Server) hold(target defs.HoldTarget, place bool) handlerFunc {
	return func(w http.ResponseWriter, r *http.Request) error {
		var req holdRequest
		if err := s.decodeJSON(w, r, &req); err != nil {
			return err
		}
		do := s.opts.Cases.ReleaseHold
		status := http.StatusOK
		if place {
			do, status = s.opts.Cases.PlaceHold, http.StatusCreated
		}
		h, err := do(r.Context(), actor(r), target, r.PathValue("id"), req.Reason)
		if err != nil {
			return err
		}
		writeJSON(w, status, holdResponse{Hold: h})
		return nil
	}
}
