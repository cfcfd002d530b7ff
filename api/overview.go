package api

import (
	"context"
	"net/http"
	"time"

	"github.com/iocd/iocd/defs"
	"github.com/iocd/iocd/overview"
)

// OverviewService is the wall's figures and recent changes.
// *overview.Service satisfies it.
type OverviewService interface {
	Overview(ctx context.Context) (defs.Overview, error)
	Changes(ctx context.Context, since time.Time) ([]overview.Change, error)
}

var _ OverviewService = (*overview.Service)(nil)

// The "what changed" window: default and bounds of ?since=.
const (
	defaultChangesSince = 15 * time.Minute
	maxChangesSince     = 24 * time.Hour
)

func (s *Server) overviewRoutes() {
	d := s.domain("overview", s.opts.Overview != nil)
	d.route("GET", "/api/v1/overview", defs.RoleViewer, s.getOverview)
	d.route("GET", "/api/v1/changes", defs.RoleViewer, s.listChanges, "since")
}

func (s *Server) getOverview(w http.ResponseWriter, r *http.Request) error {
	o, err := s.opts.Overview.Overview(r.Context())
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, o)
	return nil
}

type changesResponse struct {
	Since   time.Time         `json:"since"`
	Changes []overview.Change `json:"changes"`
}

// listChanges answers what changed in the last ?since= (a duration such
// as 15m, from 1s to 24h; default 15m), newest first and bounded.
func (s *Server) listChanges(w http.ResponseWriter, r *http.Request) error {
	window := defaultChangesSince
	if v := r.URL.Query().Get("since"); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil || d < time.Second || d > maxChangesSince {
			return defs.Invalid("since", "must be a duration from 1s to 24h, such as 15m")
		}
		window = d
	}
	since := time.Now().Add(-window)
	chs, err := s.opts.Overview.Changes(r.Context(), since)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, changesResponse{Since: since.UTC(), Changes: chs})
	return nil
}
