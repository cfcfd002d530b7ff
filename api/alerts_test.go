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
	st := alerts.NewMemStore()
	rule, _ := alerts.ValidateRule(defs.AlertRule{ID: "device_offline", Name: "offline", Kind: defs.RuleOffline, Severity: defs.SeverityWarning})
	st.PutAlertRule(context.Background(), rule)
	eng = alerts.New(alerts.Config{Tick: 10 * time.Millisecond}, alerts.Deps{Store: st, Fleet: offlineFleet{}, Bus: r.bus, Logger: slog.New(slog.DiscardHandler)})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); eng.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })

	var list struct{ Alerts []defs.Alert }
	deadline := time.Now().Add(5 * time.Second)
	for len(list.Alerts) == 0 && time.Now().Before(deadline) {
		got := r.do("GET", "/api/v1/alerts", r.tokens[defs.RoleViewer], nil)
		wantStatus(t, got, 200)
		got.json(t, &list)
		time.Sleep(10 * time.Millisecond)
	}
	if len(list.Alerts) != 1 || list.Alerts[0].Rule != "device_offline" || list.Alerts[0].Subject != "wl-01" {
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

func (l lazyAlerts) List(ctx context.Context, f defs.AlertFilter) ([]defs.Alert, string, error) {
	return (*l.e).List(ctx, f)
}
func (l lazyAlerts) Ack(ctx context.Context, id, by, note, assignee string, exp time.Time) (defs.Alert, error) {
	return (*l.e).Ack(ctx, id, by, note, assignee, exp)
}

// offlineFleet is one device, offline.
type offlineFleet struct{}

func (offlineFleet) EachDevice(fn func(defs.Device, defs.Health, time.Time)) {
	fn(defs.Device{ID: "wl-01", Site: "ben-luc", Kind: defs.KindSensor, Status: defs.StatusActive}, defs.HealthOffline, time.Now())
}

var _ api.AlertService = lazyAlerts{}
