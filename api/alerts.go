package api

import (
	"net/http"

	"github.com/iocd/iocd/alerts"
	"github.com/iocd/iocd/auth"
	"github.com/iocd/iocd/defs"
)

// AlertService is the alerts engine as the API uses it. *alerts.Engine
// satisfies it.
type AlertService interface {
	List(includeResolved bool) []defs.Alert
	Ack(id, by string) (defs.Alert, error)
}

var _ AlertService = (*alerts.Engine)(nil)

func (s *Server) alertsRoutes() {
	d := s.domain("alerts", s.opts.Alerts != nil)
	d.route("GET", "/api/v1/alerts", defs.RoleViewer, s.listAlerts, "state")
	// Acknowledging is what the operator role is for.
	d.route("POST", "/api/v1/alerts/{id}/ack", defs.RoleOperator, s.ackAlert)
}

type alertList struct {
	Alerts []defs.Alert `json:"alerts"`
}

type alertResponse struct {
	Alert defs.Alert `json:"alert"`
}

// listAlerts answers the firing alerts, most severe first; with
// ?state=all also the recently resolved ones.
func (s *Server) listAlerts(w http.ResponseWriter, r *http.Request) error {
	var all bool
	switch st := r.URL.Query().Get("state"); st {
	case "", "firing":
	case "all":
		all = true
	default:
		return defs.Invalid("state", "%q is not one of firing, all", st)
	}
	writeJSON(w, http.StatusOK, alertList{Alerts: s.opts.Alerts.List(all)})
	return nil
}

func (s *Server) ackAlert(w http.ResponseWriter, r *http.Request) error {
	p, _ := auth.PrincipalFrom(r.Context())
	a, err := s.opts.Alerts.Ack(r.PathValue("id"), p.Name)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, alertResponse{Alert: a})
	return nil
}
