package api

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"time"

	"github.com/iocd/iocd/alerts"
	"github.com/iocd/iocd/auth"
	"github.com/iocd/iocd/defs"
)

// AlertService is the alerts engine as the API uses it. *alerts.Engine
// satisfies it. (The alertsapi work replaces these routes with the full
// alert, rule and silence API.)
type AlertService interface {
	List(ctx context.Context, f defs.AlertFilter) ([]defs.Alert, string, error)
	Ack(ctx context.Context, id, by, note, assignee string, expires time.Time) (defs.Alert, error)
}

var _ AlertService = (*alerts.Engine)(nil)

func (s *Server) alertsRoutes() {
	d := s.domain("alerts", s.opts.Alerts != nil)
	d.route("GET", "/api/v1/alerts", defs.RoleViewer, s.listAlerts)
	// Acknowledging is what the operator role is for.
	d.route("POST", "/api/v1/alerts/{id}/ack", defs.RoleOperator, s.ackAlert)
}

type alertList struct {
	Alerts []defs.Alert `json:"alerts"`
}

type alertResponse struct {
	Alert defs.Alert `json:"alert"`
}

// listAlerts answers the open alerts, newest first; with ?state=all also
// the resolved ones.
func (s *Server) listAlerts(w http.ResponseWriter, r *http.Request) error {
	var f defs.AlertFilter
	switch st := r.URL.Query().Get("state"); st {
	case "", "firing":
	case "all":
		f.States = []defs.AlertState{defs.AlertPending, defs.AlertFiring, defs.AlertAcknowledged, defs.AlertResolved}
	default:
		return defs.Invalid("state", "%q is not one of firing, all", st)
	}
	as, _, err := s.opts.Alerts.List(r.Context(), f)
	if err != nil {
		return err
	}
	if as == nil {
		as = []defs.Alert{}
	}
	writeJSON(w, http.StatusOK, alertList{Alerts: as})
	return nil
}

type ackRequest struct {
	Note     string    `json:"note"`
	Assignee string    `json:"assignee"`
	Expires  time.Time `json:"expires"`
}

func (s *Server) ackAlert(w http.ResponseWriter, r *http.Request) error {
	var req ackRequest
	if err := json.NewDecoder(io.LimitReader(r.Body, 64<<10)).Decode(&req); err != nil && !errors.Is(err, io.EOF) {
		return defs.Invalid("body", "want JSON {note, assignee, expires}: %v", err)
	}
	p, _ := auth.PrincipalFrom(r.Context())
	a, err := s.opts.Alerts.Ack(r.Context(), r.PathValue("id"), p.Name, req.Note, req.Assignee, req.Expires)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, alertResponse{Alert: a})
	return nil
}
