package api

import (
	"context"
	"net/http"
	"strconv"
	"time"

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
	// Devices returns every device with its health (a camera's includes
	// its stream), reason, last seen, firmware and latest values; Device
	// one of them.
	Devices() []defs.DeviceStatus
	Device(id defs.DeviceID) (defs.DeviceStatus, bool)
}

var _ FleetService = (*fleet.Tracker)(nil)

// HealthHistoryService is the devices' health history as the API reads
// it. *store.SQLite satisfies it (checked in cmd/iocd): the history is a
// bounded store table that fleet writes on every change, so it answers
// while InfluxDB is down.
type HealthHistoryService interface {
	HealthHistory(ctx context.Context, id defs.DeviceID, from, to time.Time, limit int) ([]defs.HealthChange, error)
}

// maxHealthHistory is the most changes one answer holds (and what the
// store keeps per device).
const maxHealthHistory = 1000

func (s *Server) fleetRoutes() {
	d := s.domain("fleet", s.opts.Fleet != nil)
	d.route("GET", "/api/v1/fleet", defs.RoleViewer, s.getFleet)
	h := s.domain("health history", s.opts.HealthHistory != nil && s.opts.Devices != nil)
	h.route("GET", "/api/v1/devices/{id}/health", defs.RoleViewer, s.deviceHealthHistory, "from", "to", "limit")
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

// deviceHealthView is fleet's view of one device in GET
// /api/v1/devices/{id}: health, last seen, latest values and status meta,
// and why it is not online (a camera's stream included).
type deviceHealthView struct {
	defs.DeviceHealth
	Reason string `json:"reason,omitempty"`
}

// deviceHealth returns what fleet tracking knows of a device for GET
// /api/v1/devices/{id}, or nil without fleet tracking.
func (s *Server) deviceHealth(id defs.DeviceID) *deviceHealthView {
	if s.opts.Fleet == nil {
		return nil
	}
	h, ok := s.opts.Fleet.Snapshot(id)
	if !ok {
		return &deviceHealthView{DeviceHealth: defs.DeviceHealth{Health: defs.HealthUnknown}, Reason: "never heard from"}
	}
	v := &deviceHealthView{DeviceHealth: h}
	if st, ok := s.opts.Fleet.Device(id); ok {
		v.Reason = st.Reason
	}
	return v
}

type healthHistoryResponse struct {
	Device  defs.DeviceID       `json:"device"`
	Changes []defs.HealthChange `json:"changes"`
}

// deviceHealthHistory answers a registered device's health changes, newest
// first, within from and to (RFC 3339 or epoch ms), at most limit (1 to
// 1000, default 1000).
func (s *Server) deviceHealthHistory(w http.ResponseWriter, r *http.Request) error {
	id := defs.DeviceID(r.PathValue("id"))
	if _, err := s.opts.Devices.Get(r.Context(), id); err != nil {
		return err
	}
	q := r.URL.Query()
	from, err := queryTime(q.Get("from"), "from")
	if err != nil {
		return err
	}
	to, err := queryTime(q.Get("to"), "to")
	if err != nil {
		return err
	}
	limit := 0
	if l := q.Get("limit"); l != "" {
		if limit, err = strconv.Atoi(l); err != nil || limit < 1 || limit > maxHealthHistory {
			return defs.Invalid("limit", "must be a number from 1 to %d", maxHealthHistory)
		}
	}
	chs, err := s.opts.HealthHistory.HealthHistory(r.Context(), id, from, to, limit)
	if err != nil {
		return err
	}
	if chs == nil {
		chs = []defs.HealthChange{}
	}
	writeJSON(w, http.StatusOK, healthHistoryResponse{Device: id, Changes: chs})
	return nil
}
