package api

import (
	"net/http"

	"github.com/iocd/iocd/defs"
	"github.com/iocd/iocd/fleet"
)

// FleetService is fleet health as the API uses it. *fleet.Tracker
// satisfies it.
type FleetService interface {
	// Snapshot returns the health, last_seen, latest values and status
	// meta of one device.
	Snapshot(id defs.DeviceID) (defs.DeviceHealth, bool)
	// Counts returns active devices counted by site, kind and health.
	Counts() []defs.FleetCount
}

var _ FleetService = (*fleet.Tracker)(nil)

func (s *Server) fleetRoutes() {
	d := s.domain("fleet", s.opts.Fleet != nil)
	d.route("GET", "/api/v1/fleet", defs.RoleViewer, s.getFleet)
}

// fleetResponse is the fleet overview: counts by site × kind × health, and
// the same summed per health for a headline.
type fleetResponse struct {
	Counts []defs.FleetCount   `json:"counts"`
	Totals map[defs.Health]int `json:"totals"`
}

func (s *Server) getFleet(w http.ResponseWriter, r *http.Request) error {
	counts := s.opts.Fleet.Counts()
	totals := map[defs.Health]int{
		defs.HealthOnline: 0, defs.HealthOffline: 0, defs.HealthStale: 0, defs.HealthUnknown: 0,
	}
	for _, c := range counts {
		totals[c.Health] += c.Count
	}
	writeJSON(w, http.StatusOK, fleetResponse{Counts: counts, Totals: totals})
	return nil
}

// deviceHealth returns what fleet tracking knows of a device for GET
// /api/v1/devices/{id}, or nil without fleet tracking.
func (s *Server) deviceHealth(id defs.DeviceID) *defs.DeviceHealth {
	if s.opts.Fleet == nil {
		return nil
	}
	h, ok := s.opts.Fleet.Snapshot(id)
	if !ok {
		h = defs.DeviceHealth{Health: defs.HealthUnknown}
	}
	return &h
}
