// This test drives the real rules engine over HTTP, on the real store.
package api_test

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/iocd/iocd/alerts"
	"github.com/iocd/iocd/defs"
	"github.com/iocd/iocd/internal/testrig"
)

// oneDevice is the engine's fleet: one active device, online.
type oneDevice struct{ d defs.Device }

func (f oneDevice) EachDevice(fn func(d defs.Device, h defs.Health, lastSeen time.Time)) {
	fn(f.d, defs.HealthOnline, time.Now())
}

func TestAlertsAPIOnTheRealEngine(t *testing.T) {
	var eng *alerts.Engine
	r := newRig(t, func(s *rigSetup) { s.opts.Alerts = lazyEngine{&eng} })
	dev := defs.Device{ID: "wl-01", Site: "tanan", Kind: defs.KindSensor, Status: defs.StatusActive, Tags: map[string]string{"river": "vam-co"}}
	eng = alerts.New(alerts.Config{Tick: 50 * time.Millisecond}, alerts.Deps{Store: r.store, Fleet: oneDevice{dev}})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- eng.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })

	// The shipped rules are there, and the rule is added over HTTP.
	testrig.WaitFor(t, "the shipped rules", 10*time.Second, func() bool {
		var list struct{ Rules []defs.AlertRule }
		got := r.do("GET", "/api/v1/alert-rules", r.tokens[defs.RoleViewer], nil)
		if got.status != http.StatusOK {
			return false
		}
		got.json(t, &list)
		return len(list.Rules) >= len(alerts.DefaultRules())
	})
	rule := with(waterRuleJSON(), "for", "0s", "keep_firing_for", nil)
	wantStatus(t, r.admin("POST", "/api/v1/alert-rules", rule), http.StatusCreated)

	// A reading over the threshold fires it.
	var firing []defs.Alert
	testrig.WaitFor(t, "the water alert", 10*time.Second, func() bool {
		eng.ObserveReading(dev, time.Now(), []defs.Field{{Key: "water_cm", Type: defs.FieldFloat, Num: 215}})
		var list struct{ Alerts []defs.Alert }
		r.do("GET", "/api/v1/alerts?state=firing&rule=muc-nuoc-cao", r.tokens[defs.RoleViewer], nil).json(t, &list)
		firing = list.Alerts
		return len(firing) == 1
	})
	a := firing[0]
	if a.Subject != "wl-01" || a.Severity != defs.SeverityCritical || a.Message != "Mực nước 215 cm tại wl-01" {
		t.Errorf("alert = %+v", a)
	}

	// The ack's note is kept and returned, on the alert and in its history.
	note := "Đã cử kỹ thuật viên"
	got := r.do("POST", "/api/v1/alerts/"+a.ID+"/ack", r.tokens[defs.RoleOperator], map[string]string{"note": note, "assignee": "lan", "expires": "30m"})
	wantStatus(t, got, http.StatusOK)
	var detail struct {
		Alert   defs.Alert
		History []defs.AlertTransition
	}
	r.do("GET", "/api/v1/alerts/"+a.ID, r.tokens[defs.RoleViewer], nil).json(t, &detail)
	last := detail.History[len(detail.History)-1]
	if detail.Alert.State != defs.AlertAcknowledged || detail.Alert.AckNote != note || detail.Alert.AckedBy != "test-operator" ||
		last.Change != defs.ChangeAcknowledged || last.Note != note {
		t.Errorf("after ack: %+v, last transition %+v", detail.Alert, last)
	}

	// Deleting a shipped rule disables it.
	wantStatus(t, r.admin("DELETE", "/api/v1/alert-rules/"+alerts.RuleIDCameraDown, nil), http.StatusNoContent)
	var one struct{ Rule defs.AlertRule }
	r.admin("GET", "/api/v1/alert-rules/"+alerts.RuleIDCameraDown, nil).json(t, &one)
	if !one.Rule.Disabled || !one.Rule.Builtin {
		t.Errorf("deleted shipped rule = %+v, want it kept, disabled", one.Rule)
	}

	// A silence goes through the engine; the dry run has no InfluxDB.
	wantStatus(t, r.do("POST", "/api/v1/silences", r.tokens[defs.RoleOperator],
		map[string]any{"selector": map[string]string{"id": "wl-01"}, "until": "1h", "reason": "bảo trì"}), http.StatusCreated)
	wantStatus(t, r.do("POST", "/api/v1/alert-rules/test", r.tokens[defs.RoleOperator], map[string]any{"rule": waterRuleJSON()}),
		http.StatusServiceUnavailable)
}

// lazyEngine lets the rig be built before the engine that needs its store.
type lazyEngine struct{ e **alerts.Engine }

func (l lazyEngine) Rules(ctx context.Context) ([]defs.AlertRule, error) { return (*l.e).Rules(ctx) }
func (l lazyEngine) Rule(ctx context.Context, id string) (defs.AlertRule, error) {
	return (*l.e).Rule(ctx, id)
}
func (l lazyEngine) PutRule(ctx context.Context, r defs.AlertRule, by string) (defs.AlertRule, error) {
	return (*l.e).PutRule(ctx, r, by)
}
func (l lazyEngine) DeleteRule(ctx context.Context, id, by string) error {
	return (*l.e).DeleteRule(ctx, id, by)
}
func (l lazyEngine) List(ctx context.Context, f defs.AlertFilter) ([]defs.Alert, string, error) {
	return (*l.e).List(ctx, f)
}
func (l lazyEngine) Get(ctx context.Context, id string) (defs.Alert, []defs.AlertTransition, error) {
	return (*l.e).Get(ctx, id)
}
func (l lazyEngine) Ack(ctx context.Context, id, by, note, assignee string, expires time.Time) (defs.Alert, error) {
	return (*l.e).Ack(ctx, id, by, note, assignee, expires)
}
func (l lazyEngine) Silences(ctx context.Context) ([]defs.Silence, error) {
	return (*l.e).Silences(ctx)
}
func (l lazyEngine) AddSilence(ctx context.Context, s defs.Silence) (defs.Silence, error) {
	return (*l.e).AddSilence(ctx, s)
}
func (l lazyEngine) DeleteSilence(ctx context.Context, id, by string) error {
	return (*l.e).DeleteSilence(ctx, id, by)
}
func (l lazyEngine) DryRun(ctx context.Context, r defs.AlertRule, from, to time.Time) (alerts.DryRunResult, error) {
	return (*l.e).DryRun(ctx, r, from, to)
}
