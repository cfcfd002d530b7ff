package api_test

import (
	"context"
	"log/slog"
	"testing"
	"time"

	"github.com/iocd/iocd/alerts"
	"github.com/iocd/iocd/api"
	"github.com/iocd/iocd/defs"
)

// TestAlertsAPI raises an alert through the real engine on the rig's bus
// and lists and acknowledges it over HTTP with each role.
func TestAlertsAPI(t *testing.T) {
	var eng *alerts.Engine
	r := newRig(t, func(s *rigSetup) {
		s.opts.Alerts = lazyAlerts{&eng}
	})
	eng = alerts.New(r.bus, slog.New(slog.DiscardHandler), nil)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); eng.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })

	r.bus.Publish(defs.Event{Kind: defs.EventHealth, Health: &defs.HealthChange{Device: "wl-01", Site: "ben-luc", From: defs.HealthOnline, To: defs.HealthOffline}})
	var list struct{ Alerts []defs.Alert }
	deadline := time.Now().Add(5 * time.Second)
	for len(list.Alerts) == 0 && time.Now().Before(deadline) {
		got := r.do("GET", "/api/v1/alerts", r.tokens[defs.RoleViewer], nil)
		wantStatus(t, got, 200)
		got.json(t, &list)
		time.Sleep(10 * time.Millisecond)
	}
	if len(list.Alerts) != 1 || list.Alerts[0].Rule != alerts.RuleDeviceOffline || list.Alerts[0].Subject != "wl-01" {
		t.Fatalf("alerts = %+v, want one device_offline for wl-01", list.Alerts)
	}
	id := list.Alerts[0].ID

	cases := []struct {
		role defs.Role
		want int
	}{
		{defs.RoleNone, 401},
		{defs.RoleViewer, 403},
		{defs.RoleOperator, 200},
	}
	for _, tc := range cases {
		t.Run("ack as "+tc.role.String(), func(t *testing.T) {
			wantStatus(t, r.do("POST", "/api/v1/alerts/"+id+"/ack", r.tokens[tc.role], nil), tc.want)
		})
	}
	r.do("GET", "/api/v1/alerts", r.tokens[defs.RoleViewer], nil).json(t, &list)
	if list.Alerts[0].AckedBy != "test-operator" {
		t.Errorf("acked_by = %q, want the operator token's name test-operator", list.Alerts[0].AckedBy)
	}
	got := r.do("POST", "/api/v1/alerts/al_missing/ack", r.tokens[defs.RoleOperator], nil)
	wantStatus(t, got, 404)
	wantStatus(t, r.do("GET", "/api/v1/alerts?state=bogus", r.tokens[defs.RoleViewer], nil), 400)
}

// lazyAlerts lets the rig be built before the engine that needs its bus.
type lazyAlerts struct{ e **alerts.Engine }

func (l lazyAlerts) List(all bool) []defs.Alert            { return (*l.e).List(all) }
func (l lazyAlerts) Ack(id, by string) (defs.Alert, error) { return (*l.e).Ack(id, by) }

var _ api.AlertService = lazyAlerts{}
