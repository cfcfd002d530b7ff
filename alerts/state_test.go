package alerts

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/iocd/iocd/bus"
	"github.com/iocd/iocd/defs"
	"github.com/iocd/iocd/internal/testrig"
)

var offlineRule = defs.AlertRule{Name: "offline", Kind: defs.RuleOffline, For: defs.Duration(time.Minute), Severity: defs.SeverityWarning,
	Message: defs.Messages{VI: "{{device}} mất kết nối", EN: "{{device}} offline"}}

func TestOfflineReconnectWithinForRaisesNothing(t *testing.T) {
	r := newRig(t, Config{}, offlineRule)
	r.fleet.set(wl01, defs.HealthOnline, t0)
	r.tick()
	r.fleet.set(wl01, defs.HealthOffline, t0) // last will
	r.clk.add(time.Second)
	r.tick()
	r.fleet.set(wl01, defs.HealthOnline, r.clk.now()) // back online
	r.clk.add(time.Second)
	r.tick()
	for _, n := range r.rec.all() {
		if n.Alert.State != defs.AlertPending && n.Alert.State != defs.AlertResolved {
			t.Fatalf("a reconnect within `for` notified %s", n.Transition.Change)
		}
	}
	if s := r.rec.sent(); s > 2 {
		t.Fatalf("%d notifications", s)
	}
	r.fleet.set(wl01, defs.HealthStale, r.clk.now())
	r.tick()
	r.clk.add(61 * time.Second)
	r.tick()
	if a := r.open()["offline/wl-01"]; a.State != defs.AlertFiring || a.Labels["health"] != "stale" {
		t.Fatalf("stale for a minute: %+v, want firing with health stale", a)
	}
}

func TestCameraDown(t *testing.T) {
	rule := defs.AlertRule{Name: "cam down", Kind: defs.RuleCameraDown, For: defs.Duration(30 * time.Second), Severity: defs.SeverityCritical, Message: defs.Messages{VI: "{{device}} cảnh báo", EN: "{{device}} alert"}}
	r := newRig(t, Config{}, rule)
	r.cams.set(defs.CameraState{Camera: "cam-1", Site: "tanan", State: defs.CameraBackingOff, Reason: defs.CameraReasonUnauthorized},
		defs.CameraState{Camera: "cam-2", Site: "tanan", State: defs.CameraStreaming, Connected: true})
	r.tick()
	r.clk.add(31 * time.Second)
	r.tick()
	a := r.open()["cam-down/cam-1"]
	if a.State != defs.AlertFiring || a.Labels["reason"] != defs.CameraReasonUnauthorized {
		t.Fatalf("cam-1 = %+v, want firing with reason unauthorized", a)
	}
	// A stopping iocd reports every camera stopped: that raises nothing
	// and resolves nothing.
	r.cams.set(defs.CameraState{Camera: "cam-1", State: defs.CameraStopped}, defs.CameraState{Camera: "cam-2", State: defs.CameraStopped})
	before := len(r.rec.all())
	r.clk.add(time.Minute)
	r.tick()
	if n := len(r.rec.all()); n != before {
		t.Fatalf("stopped cameras notified %v", r.rec.changes()[before:])
	}
	r.cams.set(defs.CameraState{Camera: "cam-1", State: defs.CameraStreaming, Connected: true})
	r.tick()
	r.wantChanges("pending:cam-1", "fired:cam-1", "resolved:cam-1")
}

func TestSystemConditionEscalatesAndClears(t *testing.T) {
	rule := defs.AlertRule{Name: "disk", Kind: defs.RuleSystem, Condition: defs.ConditionDiskLow, Severity: defs.SeverityMajor,
		Message: defs.Messages{VI: "Đĩa còn {{value}} byte", EN: "Disk {{value}} bytes free"}}
	r := newRig(t, Config{}, rule)
	r.clk.add(time.Hour) // past the settle time after start
	r.conds.Set(defs.Condition{Code: defs.ConditionDiskLow, Source: "retention", Severity: defs.SeverityWarning, Value: 5e9})
	r.tick()
	r.conds.Set(defs.Condition{Code: defs.ConditionDiskLow, Source: "retention", Severity: defs.SeverityCritical, Value: 1e8})
	r.tick()
	r.conds.Set(defs.Condition{Code: defs.ConditionDiskLow, Source: "retention", Severity: defs.SeverityWarning, Value: 4e9})
	r.tick()
	r.conds.Clear(defs.ConditionDiskLow, "")
	r.tick()
	r.wantChanges("fired:disk_low", "escalated:disk_low", "deescalated:disk_low", "resolved:disk_low")
	if m := r.rec.all()[1].Alert.Message; m != "Đĩa còn 100000000 byte" {
		t.Fatalf("message %q", m)
	}
}

func TestAbsenceOfOneField(t *testing.T) {
	rule := defs.AlertRule{Name: "no level", Kind: defs.RuleAbsence, Field: "water_cm", For: defs.Duration(2 * time.Minute), Severity: defs.SeverityMinor, Message: defs.Messages{VI: "{{device}} cảnh báo", EN: "{{device}} alert"}}
	r := newRig(t, Config{}, rule)
	r.fleet.set(wl01, defs.HealthOnline, t0)
	for i := 0; i < 10; i++ { // keeps sending both fields
		r.read(wl01, "water_cm", 100.0, "battery", 3.7)
		r.clk.add(20 * time.Second)
		r.tick()
	}
	r.wantChanges()
	for i := 0; i < 7; i++ { // water_cm stops; battery goes on
		r.read(wl01, "battery", 3.7)
		r.fleet.set(wl01, defs.HealthOnline, r.clk.now())
		r.clk.add(20 * time.Second)
		r.tick()
	}
	r.wantChanges("fired:wl-01")
	r.read(wl01, "water_cm", 100.0)
	r.tick()
	r.wantChanges("fired:wl-01", "resolved:wl-01")
}

func TestRateOfViolations(t *testing.T) {
	rule := defs.AlertRule{Name: "red lights", Kind: defs.RuleRate, Event: EventViolation, ViolationType: "red_light",
		Count: 3, Window: defs.Duration(time.Minute), Per: "camera", Severity: defs.SeverityMinor, Message: defs.Messages{VI: "{{device}} cảnh báo", EN: "{{device}} alert"}}
	r := newRig(t, Config{}, rule)
	v := defs.Violation{Camera: "cam-1", Site: "tanan", Type: "red_light"}
	for i := 0; i < 3; i++ {
		r.e.ObserveViolation(v)
		r.e.ObserveViolation(defs.Violation{Camera: "cam-1", Type: "speeding"})
		r.clk.add(time.Second)
	}
	r.drain()
	r.wantChanges()
	r.e.ObserveViolation(v)
	r.drain()
	r.wantChanges("fired:cam-1")
	r.clk.add(time.Minute)
	r.tick()
	r.wantChanges("fired:cam-1", "resolved:cam-1")
}

func TestSilencedAlertsAreRecordedNotSent(t *testing.T) {
	rule := waterRule
	rule.For = 0
	r := newRig(t, Config{}, rule)
	s, err := r.e.AddSilence(r.ctx, defs.Silence{Selector: defs.Selector{ID: "wl-01"}, Until: t0.Add(time.Hour), Reason: "bảo trì", By: "user:lan"})
	if err != nil {
		t.Fatal(err)
	}
	r.read(wl01, "water_cm", 230.0)
	a := r.open()["water-high/wl-01"]
	if a.Silenced != s.ID || r.rec.sent() != 0 {
		t.Fatalf("alert %+v, %d sent: want recorded, silenced by %s, none sent", a, r.rec.sent(), s.ID)
	}
	r.clk.add(2 * time.Hour) // the silence ends while it still fires: now it is sent
	r.tick()
	if r.rec.sent() != 1 || r.open()["water-high/wl-01"].Silenced != "" {
		t.Fatalf("after the silence: %d sent, %+v", r.rec.sent(), r.open())
	}
}

func TestGatewaySuppression(t *testing.T) {
	rule := offlineRule
	rule.For = 0
	r := newRig(t, Config{}, rule)
	gw := defs.Device{ID: "gw-01", Site: "tanan", Kind: defs.KindGateway}
	child := wl01
	child.Tags = map[string]string{"gateway": "gw-01"}
	r.fleet.set(gw, defs.HealthOffline, t0)
	r.fleet.set(child, defs.HealthOffline, t0)
	r.tick()
	if a := r.open()["offline/wl-01"]; a.SuppressedBy != "gateway:gw-01" {
		t.Fatalf("child alert %+v, want suppressed by gateway:gw-01", a)
	}
	if r.rec.sent() != 1 {
		t.Fatalf("%d sent, want only the gateway's", r.rec.sent())
	}
}

func TestFlappingIsBounded(t *testing.T) {
	rule := waterRule
	rule.For, rule.Clear = 0, nil
	r := newRig(t, Config{FlapMax: 3, FlapWindow: 10 * time.Minute}, rule)
	for i := 0; i < 50; i++ {
		r.read(wl01, "water_cm", 230.0)
		r.clk.add(5 * time.Second)
		r.read(wl01, "water_cm", 100.0)
		r.clk.add(5 * time.Second)
		r.tick()
	}
	fired := 0
	for _, n := range r.rec.all() {
		if n.Transition.Change == defs.ChangeFired || n.Transition.Change == defs.ChangeReopened {
			fired++
		}
	}
	if fired != 3 {
		t.Fatalf("%d fired notifications over 50 flaps, want the limit 3", fired)
	}
	r.clk.add(11 * time.Minute) // quiet for the window: it resolves
	r.tick()
	if len(r.open()) != 0 {
		t.Fatalf("still open after a quiet window: %+v", r.open())
	}
}

func TestStormGivesOneSiteAlert(t *testing.T) {
	r := newRig(t, Config{}, offlineRule)
	for i := 0; i < 1000; i++ {
		r.fleet.set(defs.Device{ID: defs.DeviceID(fmt.Sprintf("s-%04d", i)), Site: "tanan", Kind: defs.KindSensor}, defs.HealthOnline, t0)
	}
	r.tick()
	for i := 0; i < 1000; i++ {
		r.fleet.set(defs.Device{ID: defs.DeviceID(fmt.Sprintf("s-%04d", i)), Site: "tanan", Kind: defs.KindSensor}, defs.HealthOffline, t0)
	}
	r.clk.add(time.Second)
	r.tick()
	r.clk.add(2 * time.Minute)
	r.tick()
	g := r.open()["offline/site:tanan"]
	if g.State != defs.AlertFiring || len(g.Members) != 1000 {
		t.Fatalf("group alert %+v (%d members), want firing with 1000", g.State, len(g.Members))
	}
	if s := r.rec.sent(); s > 3 {
		t.Fatalf("%d notifications sent for one storm, want a handful", s)
	}
	for k, a := range r.open() {
		if k != "offline/site:tanan" && a.SuppressedBy != g.ID {
			t.Fatalf("%s: suppressed by %q, want the group %s", k, a.SuppressedBy, g.ID)
		}
	}
	for i := 0; i < 1000; i++ {
		r.fleet.set(defs.Device{ID: defs.DeviceID(fmt.Sprintf("s-%04d", i)), Site: "tanan", Kind: defs.KindSensor}, defs.HealthOnline, r.clk.now())
	}
	r.tick()
	if len(r.open()) != 0 || r.rec.sent() > 4 {
		t.Fatalf("after recovery: %d open, %d sent", len(r.open()), r.rec.sent())
	}
}

// TestDroppedBusEventsCannotStickAnAlert runs the engine with a
// one-event bus queue and floods it so events are dropped; the tick
// still sees the device back online and resolves the alert.
func TestDroppedBusEventsCannotStickAnAlert(t *testing.T) {
	st := NewMemStore()
	v, _ := ValidateRule(defs.AlertRule{Name: "offline", Kind: defs.RuleOffline, Severity: defs.SeverityWarning, Message: defs.Messages{VI: "{{device}} cảnh báo", EN: "{{device}} alert"}})
	st.PutAlertRule(context.Background(), v)
	b := bus.New(nil)
	fl := newFakeFleet()
	rec := &recorder{}
	e := New(Config{Tick: 20 * time.Millisecond, BusQueue: 1}, Deps{Store: st, Fleet: fl, Bus: b, Notifier: rec})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); e.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })

	fl.set(wl01, defs.HealthOffline, time.Now())
	testrig.WaitFor(t, "the offline alert", 10*time.Second, func() bool { return len(rec.all()) == 1 })
	fl.set(wl01, defs.HealthOnline, time.Now())
	for i := 0; i < 1000; i++ { // the "online" event among a flood: most are dropped
		b.Publish(defs.Event{Kind: defs.EventHealth, Health: &defs.HealthChange{Device: "wl-01", To: defs.HealthOnline}})
	}
	if e.sub.Dropped() == 0 {
		t.Fatal("no bus event was dropped: the test proves nothing")
	}
	testrig.WaitFor(t, "the alert resolved by the tick", 10*time.Second, func() bool {
		ns := rec.all()
		return len(ns) == 2 && ns[1].Transition.Change == defs.ChangeResolved
	})
}

func TestDeletedDeviceResolvesItsAlert(t *testing.T) {
	rule := offlineRule
	rule.For = 0
	r := newRig(t, Config{}, rule)
	r.fleet.set(wl01, defs.HealthOffline, t0)
	r.tick()
	r.fleet.mu.Lock()
	delete(r.fleet.devs, wl01.ID)
	r.fleet.mu.Unlock()
	r.tick()
	r.wantChanges("fired:wl-01", "resolved:wl-01")
}

// A camera on its first attempt (every camera, on a restart) has no
// verdict until it streams or fails: connecting then raises nothing, not
// even pending. A failure starts the `for`; a first attempt that hangs
// past the settle time counts as down.
func TestCameraFirstAttemptIsNoVerdict(t *testing.T) {
	rule := defs.AlertRule{Name: "cam down", Kind: defs.RuleCameraDown, For: defs.Duration(30 * time.Second), Severity: defs.SeverityCritical,
		Message: defs.Messages{VI: "{{device}} cảnh báo", EN: "{{device}} alert"}}
	r := newRig(t, Config{}, rule)
	connecting := func(id defs.DeviceID) defs.CameraState {
		return defs.CameraState{Camera: id, Site: "tanan", State: defs.CameraConnecting, Since: t0, Attempts: 1}
	}
	streaming := defs.CameraState{Camera: "cam-1", Site: "tanan", State: defs.CameraStreaming, Connected: true}
	r.cams.set(connecting("cam-1"), connecting("cam-2"), connecting("cam-3"))
	for range 5 {
		r.tick()
		r.clk.add(time.Second)
	}
	r.cams.set(streaming, connecting("cam-2"), connecting("cam-3"))
	r.tick()
	if len(r.rec.all()) != 0 || len(r.open()) != 0 {
		t.Fatalf("first attempts notified %v, open %v; want nothing before a failure", r.rec.changes(), r.open())
	}
	// cam-2 fails at t0+6s: pending from then; its retry keeps the reason.
	r.clk.set(t0.Add(6 * time.Second))
	r.cams.set(streaming, defs.CameraState{Camera: "cam-2", Site: "tanan", State: defs.CameraBackingOff, Reason: defs.CameraReasonUnauthorized},
		connecting("cam-3"))
	r.tick()
	r.cams.set(streaming, defs.CameraState{Camera: "cam-2", Site: "tanan", State: defs.CameraConnecting, Reason: defs.CameraReasonUnauthorized,
		Since: t0.Add(6 * time.Second), Attempts: 2}, connecting("cam-3"))
	// cam-3's first attempt hangs past the settle time: down from then.
	r.clk.set(t0.Add(31 * time.Second))
	r.tick()
	r.clk.set(t0.Add(36 * time.Second))
	r.tick()
	r.clk.set(t0.Add(61 * time.Second))
	r.tick()
	r.wantChanges("pending:cam-2", "pending:cam-3", "fired:cam-2", "fired:cam-3")
}
