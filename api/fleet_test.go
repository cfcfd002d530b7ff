package api_test

import (
	"log/slog"
	"net/http"
	"testing"
	"time"

	"github.com/iocd/iocd/api"
	"github.com/iocd/iocd/bus"
	"github.com/iocd/iocd/config"
	"github.com/iocd/iocd/defs"
	"github.com/iocd/iocd/fleet"
)

func TestFleetAndDeviceHealth(t *testing.T) {
	aq := defs.Device{ID: "tan-an-aq-01", Site: "tan-an", Kind: defs.KindSensor, Name: "AQ 1", Status: defs.StatusActive, HeartbeatS: 10}
	tl := defs.Device{ID: "tan-an-tl-01", Site: "tan-an", Kind: defs.KindController, Name: "TL 1", Status: defs.StatusActive, HeartbeatS: 5}
	tr := fleet.New(config.Default().Fleet, []defs.Device{aq, tl}, bus.New(nil), nil, slog.New(slog.DiscardHandler), nil)
	r := newRig(t, func(s *rigSetup) { s.opts.Fleet = tr })
	for _, d := range []defs.Device{aq, tl} {
		wantStatus(t, r.admin("POST", "/api/v1/devices", d), http.StatusCreated)
	}
	seen := time.Date(2026, 11, 22, 1, 0, 0, 0, time.UTC)
	tr.Seen(aq, seen, []defs.Field{{Key: "pm25", Type: defs.FieldFloat, Num: 35.5}})
	tr.Status(aq, "online", map[string]string{"fw": "2.4.1"}, seen)

	viewer := r.tokens[defs.RoleViewer]
	got := r.do("GET", "/api/v1/fleet", viewer, nil)
	wantStatus(t, got, http.StatusOK)
	var f struct {
		Counts []defs.FleetCount   `json:"counts"`
		Totals map[defs.Health]int `json:"totals"`
	}
	got.json(t, &f)
	want := []defs.FleetCount{
		{Site: "tan-an", Kind: defs.KindController, Health: defs.HealthUnknown, Count: 1},
		{Site: "tan-an", Kind: defs.KindSensor, Health: defs.HealthOnline, Count: 1},
	}
	if len(f.Counts) != len(want) || f.Counts[0] != want[0] || f.Counts[1] != want[1] {
		t.Errorf("counts: want %v, got %v", want, f.Counts)
	}
	if f.Totals[defs.HealthOnline] != 1 || f.Totals[defs.HealthUnknown] != 1 || f.Totals[defs.HealthStale] != 0 {
		t.Errorf("totals: want online 1 unknown 1 stale 0, got %v", f.Totals)
	}

	got = r.do("GET", "/api/v1/devices/tan-an-aq-01", viewer, nil)
	wantStatus(t, got, http.StatusOK)
	var d struct {
		Device defs.Device        `json:"device"`
		Health *defs.DeviceHealth `json:"health"`
	}
	got.json(t, &d)
	if d.Health == nil || d.Health.Health != defs.HealthOnline || !d.Health.LastSeen.Equal(seen) ||
		d.Health.Values["pm25"] != 35.5 || d.Health.Meta["fw"] != "2.4.1" {
		t.Errorf("device health: want online, last_seen %s, pm25 35.5, fw 2.4.1; got %+v", seen, d.Health)
	}
	wantStatus(t, r.do("GET", "/api/v1/fleet", "", nil), http.StatusUnauthorized)
}

func TestFleetUnwired(t *testing.T) {
	r := newRig(t)
	got := r.do("GET", "/api/v1/fleet", r.tokens[defs.RoleViewer], nil)
	wantStatus(t, got, http.StatusServiceUnavailable)
}

var _ api.FleetService = (*fleet.Tracker)(nil)
