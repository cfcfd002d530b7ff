package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"testing"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"

	"github.com/iocd/iocd/defs"
	"github.com/iocd/iocd/internal/testrig"
)

// alertsRig is a running iocd on a real Mosquitto, with a publisher.
type alertsRig struct {
	t   *testing.T
	s   *service
	pub mqtt.Client
	ctx context.Context
}

func startAlertsRig(t *testing.T) *alertsRig {
	t.Helper()
	mosq := testrig.Mosquitto(t)
	fs := newFlags("serve", serveSummary, io.Discard)
	cfg, err := loadConfig(fs, []string{"-http_addr", "127.0.0.1:0", "-data_dir", t.TempDir(), "-mqtt.url", mosq.URL(),
		"-mqtt.client_id", "iocd-alerts-test", "-unknown_devices", "register", "-admin_token", "test-admin-token-0123456789"})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	ready := make(chan *service, 1)
	done := make(chan error, 1)
	go func() {
		done <- serve(ctx, cfg, testLogger(), func(_ context.Context, s *service) error { ready <- s; return nil })
	}()
	var s *service
	select {
	case s = <-ready:
	case err := <-done:
		cancel()
		t.Fatalf("iocd did not start: %v", err)
	case <-time.After(30 * time.Second):
		cancel()
		t.Fatal("iocd not ready within 30s")
	}
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("iocd stopped with %v", err)
		}
	})
	opts := mqtt.NewClientOptions().AddBroker(mosq.URL()).SetClientID("alerts-test-pub")
	pub := mqtt.NewClient(opts)
	if tok := pub.Connect(); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		t.Fatalf("publisher connect: %v", tok.Error())
	}
	t.Cleanup(func() { pub.Disconnect(100) })
	r := &alertsRig{t: t, s: s, pub: pub, ctx: ctx}
	// Ready means connected, not yet subscribed: wait for a probe to arrive.
	testrig.WaitFor(t, "iocd subscribed", 20*time.Second, func() bool {
		r.publish("probe", "telemetry", `{"x": 1}`)
		h, _ := s.fleet.Snapshot("probe")
		return h.Health == defs.HealthOnline
	})
	return r
}

func (r *alertsRig) rule(x defs.AlertRule) defs.AlertRule {
	r.t.Helper()
	v, err := r.s.alerts.PutRule(r.ctx, x, "test")
	if err != nil {
		r.t.Fatalf("rule %s: %v", x.Name, err)
	}
	return v
}

func (r *alertsRig) publish(dev, kind, payload string) {
	r.t.Helper()
	tok := r.pub.Publish("ioc/tanan/"+dev+"/"+kind, 1, false, payload)
	if !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		r.t.Fatalf("publish: %v", tok.Error())
	}
}

// alerts returns the alerts of rule for subject, every state.
func (r *alertsRig) alerts(rule, subject string) []defs.Alert {
	all, _, err := r.s.alerts.List(r.ctx, defs.AlertFilter{Rule: rule, States: []defs.AlertState{
		defs.AlertPending, defs.AlertFiring, defs.AlertAcknowledged, defs.AlertResolved}})
	if err != nil {
		r.t.Fatal(err)
	}
	var out []defs.Alert
	for _, a := range all {
		if a.Subject == subject {
			out = append(out, a)
		}
	}
	return out
}

// waitState waits until the one alert of (rule, subject) is in st, and
// returns it with its history.
func (r *alertsRig) waitState(rule, subject string, st defs.AlertState) (defs.Alert, []defs.AlertTransition) {
	r.t.Helper()
	var a defs.Alert
	testrig.WaitFor(r.t, fmt.Sprintf("%s/%s %s", rule, subject, st), 20*time.Second, func() bool {
		as := r.alerts(rule, subject)
		if len(as) > 1 {
			r.t.Errorf("%d alerts for %s/%s, want one", len(as), rule, subject)
			return true
		}
		if len(as) == 1 {
			a = as[0]
		}
		return a.State == st
	})
	got, hist, err := r.s.alerts.Get(r.ctx, a.ID)
	if err != nil {
		r.t.Fatal(err)
	}
	return got, hist
}

// level publishes a water_cm reading and waits until fleet health has it:
// ingest decodes on two workers, and of two readings received in the same
// millisecond (their time when the payload has none) either may be taken
// as the newer, so each waits for the last.
func (r *alertsRig) level(dev string, v float64) {
	r.t.Helper()
	r.publish(dev, "telemetry", fmt.Sprintf(`{"water_cm": %g}`, v))
	testrig.WaitFor(r.t, fmt.Sprintf("%s water_cm %g", dev, v), 10*time.Second, func() bool {
		h, _ := r.s.fleet.Snapshot(defs.DeviceID(dev))
		return h.Values["water_cm"] == v
	})
}

func (r *alertsRig) waitSeverity(rule, subject string, sev defs.Severity) {
	r.t.Helper()
	testrig.WaitFor(r.t, fmt.Sprintf("%s/%s %s", rule, subject, sev), 20*time.Second, func() bool {
		as := r.alerts(rule, subject)
		return len(as) == 1 && as[0].Severity == sev
	})
}

func changes(hist []defs.AlertTransition) []defs.AlertChange {
	var out []defs.AlertChange
	for _, h := range hist {
		out = append(out, h.Change)
	}
	return out
}

func TestAlertsOverMQTT(t *testing.T) {
	r := startAlertsRig(t)

	t.Run("threshold", func(t *testing.T) {
		r.t = t
		r.rule(defs.AlertRule{ID: "water", Name: "Mực nước cao", Kind: defs.RuleThreshold, Field: "water_cm", Op: ">", Value: 200,
			Clear: ptr(190.0), For: defs.Duration(1500 * time.Millisecond), Severity: defs.SeverityCritical,
			Selector: defs.Selector{ID: "wl-t1"}, Message: defs.Messages{VI: "Mực nước {{value}} cm tại {{device}}", EN: "Water {{value}} cm at {{device}}"}})
		r.level("wl-t1", 150)
		r.level("wl-t1", 205)
		_, hist := r.waitState("water", "wl-t1", defs.AlertPending)
		a, hist := r.waitState("water", "wl-t1", defs.AlertFiring) // the tick fires it after `for`
		if d := hist[1].At.Sub(hist[0].At); d < 1500*time.Millisecond {
			t.Errorf("fired %v after pending, want at least the 1.5s `for`", d)
		}
		for _, v := range []float64{230, 195, 191, 220} { // in the band: no new transition, one alert
			r.level("wl-t1", v)
		}
		r.level("wl-t1", 189)
		_, hist = r.waitState("water", "wl-t1", defs.AlertResolved)
		if got := changes(hist); fmt.Sprint(got) != "[pending fired resolved]" {
			t.Errorf("history %v, want pending fired resolved (hysteresis: 195 and 191 do not clear)", got)
		}
		r.level("wl-t1", 240)
		r.waitState("water", "wl-t1", defs.AlertPending)
		b, _ := r.waitState("water", "wl-t1", defs.AlertFiring)
		if b.ID != a.ID || b.Reopened != 1 {
			t.Errorf("re-fired alert %s reopened %d, want the same %s re-opened once", b.ID, b.Reopened, a.ID)
		}
		if _, err := r.s.alerts.Ack(r.ctx, b.ID, "user:lan", "đang xử lý", "user:minh", time.Time{}); err != nil {
			t.Fatal(err)
		}
		c, _ := r.waitState("water", "wl-t1", defs.AlertAcknowledged)
		if c.AckNote != "đang xử lý" || c.AckAssignee != "user:minh" {
			t.Errorf("acked %+v, want the note and assignee kept", c)
		}
		r.level("wl-t1", 100)
		r.waitState("water", "wl-t1", defs.AlertResolved)
	})

	t.Run("levels escalate and de-escalate", func(t *testing.T) {
		r.t = t
		r.rule(defs.AlertRule{ID: "levels", Name: "levels", Kind: defs.RuleThreshold, Field: "water_cm", Op: ">",
			Selector: defs.Selector{ID: "wl-t2"}, Message: defs.Messages{VI: "Cảnh báo {{device}}", EN: "Alert at {{device}}"}, Levels: []defs.AlertLevel{
				{Value: 200, Clear: ptr(190.0), Severity: defs.SeverityWarning},
				{Value: 250, Clear: ptr(240.0), Severity: defs.SeverityCritical}}})
		r.level("wl-t2", 210)
		r.waitState("levels", "wl-t2", defs.AlertFiring)
		r.level("wl-t2", 260)
		r.waitSeverity("levels", "wl-t2", defs.SeverityCritical)
		r.level("wl-t2", 245) // inside critical's band
		r.level("wl-t2", 230)
		r.waitSeverity("levels", "wl-t2", defs.SeverityWarning)
		r.level("wl-t2", 100)
		_, hist := r.waitState("levels", "wl-t2", defs.AlertResolved)
		if got := changes(hist); fmt.Sprint(got) != "[fired escalated deescalated resolved]" {
			t.Errorf("history %v", got)
		}
	})

	t.Run("absence of one field", func(t *testing.T) {
		r.t = t
		r.rule(defs.AlertRule{ID: "nolevel", Name: "no level", Kind: defs.RuleAbsence, Field: "water_cm",
			For: defs.Duration(2 * time.Second), Selector: defs.Selector{ID: "wl-a1"}, Severity: defs.SeverityMajor, Message: defs.Messages{VI: "Cảnh báo {{device}}", EN: "Alert at {{device}}"}})
		r.publish("wl-a1", "telemetry", `{"water_cm": 100, "battery": 3.7}`)
		stop := make(chan struct{})
		go func() { // keeps sending battery only
			for {
				select {
				case <-stop:
					return
				case <-time.After(200 * time.Millisecond):
					r.pub.Publish("ioc/tanan/wl-a1/telemetry", 1, false, `{"battery": 3.7}`)
				}
			}
		}()
		r.waitState("nolevel", "wl-a1", defs.AlertFiring)
		close(stop)
		if h, _ := r.s.fleet.Snapshot("wl-a1"); h.Health != defs.HealthOnline {
			t.Errorf("wl-a1 is %s, want online: it kept sending", h.Health)
		}
		r.publish("wl-a1", "telemetry", `{"water_cm": 100}`)
		r.waitState("nolevel", "wl-a1", defs.AlertResolved)
	})

	t.Run("offline and a reconnect within for", func(t *testing.T) {
		r.t = t
		r.rule(defs.AlertRule{ID: "off", Name: "off", Kind: defs.RuleOffline, For: defs.Duration(3 * time.Second),
			Selector: defs.Selector{Site: "tanan"}, Severity: defs.SeverityMajor, Message: defs.Messages{VI: "Cảnh báo {{device}}", EN: "Alert at {{device}}"}})
		r.publish("wl-o1", "telemetry", `{"x": 1}`)
		r.publish("wl-o2", "telemetry", `{"x": 1}`)
		r.publish("wl-o1", "status", `{"state": "offline"}`) // the last will
		testrig.WaitFor(t, "wl-o1 offline", 10*time.Second, func() bool {
			h, _ := r.s.fleet.Snapshot("wl-o1")
			return h.Health == defs.HealthOffline
		})
		r.publish("wl-o1", "status", `{"state": "online"}`) // reconnected, within `for`
		r.publish("wl-o2", "status", `{"state": "offline"}`)
		r.waitState("off", "wl-o2", defs.AlertFiring)
		for _, a := range r.alerts("off", "wl-o1") {
			if !a.RaisedAt.IsZero() {
				t.Errorf("a reconnect within `for` raised %+v", a)
			}
		}
		r.publish("wl-o2", "status", `{"state": "online"}`)
		r.waitState("off", "wl-o2", defs.AlertResolved)
	})

	t.Run("system condition escalates and clears", func(t *testing.T) {
		r.t = t
		// The shipped disk_low rule watches that condition; the registry
		// is the one serve built for the components that own conditions.
		r.s.conditions.Set(defs.Condition{Code: defs.ConditionDiskLow, Source: "retention", Severity: defs.SeverityWarning, Value: 5e9})
		r.waitState("disk_low", defs.ConditionDiskLow, defs.AlertFiring)
		r.s.conditions.Set(defs.Condition{Code: defs.ConditionDiskLow, Source: "retention", Severity: defs.SeverityCritical, Value: 1e8})
		r.waitSeverity("disk_low", defs.ConditionDiskLow, defs.SeverityCritical)
		r.s.conditions.Clear(defs.ConditionDiskLow, "")
		_, hist := r.waitState("disk_low", defs.ConditionDiskLow, defs.AlertResolved)
		if got := changes(hist); fmt.Sprint(got) != "[fired escalated resolved]" {
			t.Errorf("history %v", got)
		}
	})

	t.Run("rate of rejected messages", func(t *testing.T) {
		r.t = t
		r.rule(defs.AlertRule{ID: "junk", Name: "junk", Kind: defs.RuleRate, Event: "rejected", Count: 3,
			Window: defs.Duration(time.Minute), Per: "device", Severity: defs.SeverityMinor, Message: defs.Messages{VI: "Cảnh báo {{device}}", EN: "Alert at {{device}}"}})
		r.publish("wl-r1", "telemetry", `{"x": 1}`)
		for i := 0; i < 4; i++ {
			r.publish("wl-r1", "telemetry", `not json`)
		}
		a, _ := r.waitState("junk", "wl-r1", defs.AlertFiring)
		if a.Value != 4 {
			t.Errorf("rate value %v, want 4", a.Value)
		}
	})
}

func TestRateOfViolationsOverMQTT(t *testing.T) {
	r := startAlertsRig(t)
	r.rule(defs.AlertRule{ID: "redlights", Name: "red lights", Kind: defs.RuleRate, Event: "violation", ViolationType: "red_light",
		Count: 2, Window: defs.Duration(time.Minute), Per: "site", Severity: defs.SeverityMinor, Message: defs.Messages{VI: "Cảnh báo {{device}}", EN: "Alert at {{device}}"}})
	// Only a registered camera files violations (an auto-registered
	// device is a sensor).
	if _, err := r.s.registry.Create(r.ctx, defs.Device{ID: "cam-v1", Site: "tanan", Kind: defs.KindCamera, Status: defs.StatusActive}); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 3; i++ {
		r.publish("cam-v1", "event", fmt.Sprintf(`{"event_id": "e%d", "type": "speeding", "ts": %q}`, i, time.Now().UTC().Format(time.RFC3339)))
	}
	for i := 0; i < 3; i++ {
		r.publish("cam-v1", "event", fmt.Sprintf(`{"event_id": "r%d", "type": "red_light", "ts": %q}`, i, time.Now().UTC().Format(time.RFC3339)))
	}
	a, _ := r.waitState("redlights", "tanan", defs.AlertFiring)
	if a.Value != 3 || a.Site != "tanan" {
		t.Errorf("rate alert %+v, want 3 red lights at site tanan (speeding not counted)", a)
	}
}

func ptr[T any](v T) *T { return &v }

func testLogger() *slog.Logger {
	if os.Getenv("IOCD_TEST_LOG") == "" {
		return slog.New(slog.DiscardHandler)
	}
	return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
}
