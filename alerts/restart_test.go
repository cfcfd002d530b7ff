package alerts

import (
	"testing"
	"time"

	"github.com/iocd/iocd/defs"
)

// TestRestartKeepsStateAndNotifiesNothingTwice stops an engine with a
// pending, a firing and an acknowledged alert (as a kill -9 would: no
// shutdown step) and starts a new one on the same store.
func TestRestartKeepsStateAndNotifiesNothingTwice(t *testing.T) {
	restartSuite(t, NewMemStore())
}

// restartSuite is shared with the real store's test (store_restart_test.go).
func restartSuite(t *testing.T, st Store) {
	sys := defs.AlertRule{Name: "disk", Kind: defs.RuleSystem, Condition: defs.ConditionDiskLow, Severity: defs.SeverityMajor, Message: defs.Messages{VI: "{{device}} cảnh báo", EN: "{{device}} alert"}}
	cam := defs.AlertRule{Name: "cam down", Kind: defs.RuleCameraDown, For: defs.Duration(30 * time.Second), Severity: defs.SeverityCritical, Message: defs.Messages{VI: "{{device}} cảnh báo", EN: "{{device}} alert"}}
	r := &rig{t: t, rec: &recorder{}, fleet: newFakeFleet(), cams: &fakeCameras{}, clk: &clock{t: t0}, ctx: t.Context()}
	r.conds = newRig(t, Config{}).conds
	for _, x := range []defs.AlertRule{waterRule, sys, cam} {
		v, _ := ValidateRule(x)
		if err := st.PutAlertRule(r.ctx, v); err != nil {
			t.Fatal(err)
		}
	}
	r.e = New(Config{}, Deps{Store: st, Fleet: r.fleet, Cameras: r.cams, Conditions: r.conds, Notifier: r.rec, Now: r.clk.now})
	if err := r.e.load(r.ctx); err != nil {
		t.Fatal(err)
	}
	r.cams.set(defs.CameraState{Camera: "cam-1", State: defs.CameraBackingOff, Reason: defs.CameraReasonUnreachable})
	r.conds.Set(defs.Condition{Code: defs.ConditionDiskLow, Severity: defs.SeverityMajor})
	r.tick()
	r.clk.add(31 * time.Second)
	r.tick()                        // cam-1 fires; disk_low fired at once
	r.read(wl01, "water_cm", 230.0) // pending since t0+31s, `for` 30s
	r.clk.add(10 * time.Second)
	var disk string
	for _, a := range openAlerts(t, st) {
		if a.Rule == "disk" {
			disk = a.ID
		}
	}
	if _, err := r.e.Ack(r.ctx, disk, "user:lan", "thay đĩa", "", time.Time{}); err != nil {
		t.Fatal(err)
	}
	before := openAlerts(t, st)
	states := map[string]defs.AlertState{}
	for _, a := range before {
		states[a.Rule] = a.State
	}
	if states["water-high"] != defs.AlertPending || states["cam-down"] != defs.AlertFiring || states["disk"] != defs.AlertAcknowledged {
		t.Fatalf("before the restart: %v, want pending, firing, acknowledged", states)
	}
	sent := len(r.rec.all())

	// Restart: a new engine, the same store; the conditions registry and
	// the cameras start empty, as after a real restart.
	r.conds = newRig(t, Config{}).conds
	r.cams.set(defs.CameraState{Camera: "cam-1", State: defs.CameraConnecting})
	r.e = New(Config{}, Deps{Store: st, Fleet: r.fleet, Cameras: r.cams, Conditions: r.conds, Notifier: r.rec, Now: r.clk.now})
	if err := r.e.load(r.ctx); err != nil {
		t.Fatal(err)
	}
	r.tick()
	r.read(wl01, "water_cm", 231.0)
	r.conds.Set(defs.Condition{Code: defs.ConditionDiskLow, Severity: defs.SeverityMajor}) // its owner sets it again
	r.tick()
	if got := r.rec.changes()[sent:]; len(got) != 0 {
		t.Fatalf("the restart notified %v, want nothing", got)
	}
	after := map[string]defs.Alert{}
	for _, a := range openAlerts(t, st) {
		after[a.Rule] = a
	}
	for _, a := range before {
		b := after[a.Rule]
		if b.ID != a.ID || b.State != a.State || b.AckedBy != a.AckedBy || b.AckNote != a.AckNote || !b.PendingSince.Equal(a.PendingSince) {
			t.Fatalf("%s after the restart: %+v,\nwant as before: %+v", a.Rule, b, a)
		}
	}
	// The pending `for` kept its start: it fires 30s after t0+31s, not
	// 30s after the restart.
	r.clk.set(t0.Add(60 * time.Second))
	r.tick()
	if got := r.rec.changes()[sent:]; len(got) != 0 {
		t.Fatalf("before the kept `for` ran out: %v", got)
	}
	r.clk.set(t0.Add(61 * time.Second))
	r.tick()
	if got := r.rec.changes()[sent:]; len(got) != 1 || got[0] != "fired:wl-01" {
		t.Fatalf("after the kept `for`: %v, want fired:wl-01", got)
	}
	_, hist, err := st.GetAlert(r.ctx, after["water-high"].ID)
	if err != nil {
		t.Fatal(err)
	}
	for i, tr := range hist {
		if tr.Seq != i+1 {
			t.Fatalf("seqs across the restart: %+v", hist)
		}
	}
}

func openAlerts(t *testing.T, st Store) []defs.Alert {
	t.Helper()
	as, err := st.LoadAlerts(t.Context(), time.Now().Add(100*365*24*time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	return as
}
