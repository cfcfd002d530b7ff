package api

import (
	"context"
	"net/http"
	"strconv"

	"github.com/iocd/iocd/defs"
	"github.com/iocd/iocd/violations"
)

// AuditService reads the audit log of evidence access and reviews.
// *violations.Service satisfies it.
type AuditService interface {
	Audit(ctx context.Context, a violations.Actor, cursor string, limit int) ([]defs.AuditEntry, string, error)
}

var _ AuditService = (*violations.Service)(nil)

func (s *Server) auditRoutes() {
	d := s.domain("audit", s.opts.Audit != nil)
	d.route("GET", "/api/v1/audit", defs.RoleAdmin, s.listAudit, "limit", "cursor")
}

type auditList struct {
	Entries    []defs.AuditEntry `json:"entries"`
	NextCursor string            `json:"next_cursor,omitempty"`
}

// listAudit answers the audit log newest first, a page of limit (default
// 100, at most 1000) continued with cursor.
func (s *Server) listAudit(w http.ResponseWriter, r *http.Request) error {
	limit := 0
	if l := r.URL.Query().Get("limit"); l != "" {
		n, err := strconv.Atoi(l)
		if err != nil || n < 1 || n > 1000 {
			return defs.Invalid("limit", "must be a number from 1 to 1000")
		}
		limit = n
	}
	es, next, err := s.opts.Audit.Audit(r.Context(), actor(r), r.URL.Query().Get("cursor"), limit)
	if err != nil {
		return err
	}
	if es == nil {
		es = []defs.AuditEntry{}
	}
	writeJSON(w, http.StatusOK, auditList{Entries: es, NextCursor: next})
	return nil
}
