package api

import (
	"net/http"

	"github.com/iocd/iocd/defs"
	"github.com/iocd/iocd/influx"
)

// ConflictService reports telemetry fields refused for their type.
// *influx.Writer satisfies it.
type ConflictService interface {
	// Conflicts returns one entry per (device, field), the most recent
	// first, bounded by the writer.
	Conflicts() []influx.FieldConflict
}

var _ ConflictService = (*influx.Writer)(nil)

func (s *Server) conflictsRoutes() {
	d := s.domain("telemetry conflicts", s.opts.Conflicts != nil)
	d.route("GET", "/api/v1/ingest/conflicts", defs.RoleViewer, s.listConflicts)
}

type conflictsResponse struct {
	Conflicts []influx.FieldConflict `json:"conflicts"`
}

// listConflicts answers GET /api/v1/ingest/conflicts: every device and
// field whose readings carried another type than the field has, with the
// count and when it was last seen.
func (s *Server) listConflicts(w http.ResponseWriter, r *http.Request) error {
	writeJSON(w, http.StatusOK, conflictsResponse{Conflicts: s.opts.Conflicts.Conflicts()})
	return nil
}
