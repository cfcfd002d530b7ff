package alerts

import (
	"testing"
	"time"

	"github.com/iocd/iocd/defs"
)

var waterRule = defs.AlertRule{
	Name: "water high", Kind: defs.RuleThreshold, Field: "water_cm", Op: ">", Value: 200, Clear: f64(190),
	For: defs.Duration(30 * time.Second), Severity: defs.SeverityCritical,
	Selector: defs.Selector{Site: "tanan", Tags: map[string]string{"river": "vam-co"}},
	Message:  defs.Messages{VI: "Mực nước {{value}} cm tại {{device}}", EN: "Water at {{value}} cm at {{device}}"},
}

func TestThresholdForHysteresisAndDedup(t *testing.T) {
	r := newRig(t, Config{}, waterRule)
	r.read(wl01, "water_cm", 150.0)
	r.read(wl01, "water_cm", 205.0)
	r.wantChanges("pending:wl-01")
	r.clk.add(10 * time.Second)
	r.read(wl01, "water_cm", 210.0)
	r.tick()
	r.wantChanges("pending:wl-01") // `for` not reached: still pending, nothing new
	r.clk.add(25 * time.Second)
	r.tick() // no reading: the tick fires it once `for` has passed
	r.wantChanges("pending:wl-01", "fired:wl-01")
	a := r.open()["water-high/wl-01"]
	if a.State != defs.AlertFiring || a.Message != "Mực nước 210 cm tại wl-01" || a.MessageEN != "Water at 210 cm at wl-01" {
		t.Fatalf("alert = %+v, want firing with the filled messages", a)
	}
	for _, v := range []float64{220, 195, 191, 205} { // inside the band: no change, no new alert
		r.read(wl01, "water_cm", v)
	}
	r.wantChanges("pending:wl-01", "fired:wl-01")
	r.read(wl01, "water_cm", 189)
	r.wantChanges("pending:wl-01", "fired:wl-01", "resolved:wl-01")
	if n := len(r.store.alerts); n != 1 {
		t.Fatalf("%d alert records, want 1", n)
	}
}

func TestThresholdPendingCancelledAndReopened(t *testing.T) {
	rule := waterRule
	rule.For = 0
	r := newRig(t, Config{}, rule)
	r.read(wl01, "water_cm", 201.0)
	r.read(wl01, "water_cm", 100.0)
	r.clk.add(time.Minute)
	r.read(wl01, "water_cm", 230.0) // within reopen_within (5m): the same alert
	r.wantChanges("fired:wl-01", "resolved:wl-01", "reopened:wl-01")
	if len(r.store.alerts) != 1 {
		t.Fatalf("%d alerts, want the one re-opened", len(r.store.alerts))
	}
	a := r.open()["water-high/wl-01"]
	if a.Reopened != 1 {
		t.Fatalf("reopened = %d, want 1", a.Reopened)
	}
	r.read(wl01, "water_cm", 100.0)
	r.clk.add(6 * time.Minute)
	r.read(wl01, "water_cm", 230.0) // past reopen_within: a new alert
	if len(r.store.alerts) != 2 {
		t.Fatalf("%d alerts, want a new one after reopen_within", len(r.store.alerts))
	}
	hist := r.store.history[a.ID]
	for i, tr := range hist {
		if tr.Seq != i+1 {
			t.Fatalf("history seqs %+v, want 1, 2, 3, ...", hist)
		}
	}

	// A pending alert that goes away before `for` is cancelled.
	r2 := newRig(t, Config{}, waterRule)
	r2.read(wl01, "water_cm", 201.0)
	r2.clk.add(10 * time.Second)
	r2.read(wl01, "water_cm", 150.0)
	r2.wantChanges("pending:wl-01", "cancelled:wl-01")
}

func TestThresholdLevelsEscalateAndDeescalate(t *testing.T) {
	rule := defs.AlertRule{Name: "water levels", Kind: defs.RuleThreshold, Field: "water_cm", Op: ">",
		Levels: []defs.AlertLevel{
			{Value: 250, Clear: f64(240), Severity: defs.SeverityCritical},
			{Value: 200, Clear: f64(190), Severity: defs.SeverityWarning},
		}, Message: defs.Messages{VI: "{{device}} cảnh báo", EN: "{{device}} alert"}}
	r := newRig(t, Config{}, rule)
	r.read(wl01, "water_cm", 210.0)
	r.read(wl01, "water_cm", 260.0)
	r.read(wl01, "water_cm", 245.0) // inside critical's band: stays critical
	r.read(wl01, "water_cm", 230.0)
	r.read(wl01, "water_cm", 180.0)
	r.wantChanges("fired:wl-01", "escalated:wl-01", "deescalated:wl-01", "resolved:wl-01")
	var sevs []defs.Severity
	for _, n := range r.rec.all() {
		sevs = append(sevs, n.Transition.Severity)
	}
	want := []defs.Severity{defs.SeverityWarning, defs.SeverityCritical, defs.SeverityWarning, defs.SeverityWarning}
	for i := range want {
		if sevs[i] != want[i] {
			t.Fatalf("severities %v, want %v", sevs, want)
		}
	}
	if len(r.store.alerts) != 1 {
		t.Fatalf("%d alerts, want one that changed severity", len(r.store.alerts))
	}
}

func TestThresholdKeepFiringFor(t *testing.T) {
	rule := waterRule
	rule.For, rule.KeepFiringFor = 0, defs.Duration(time.Minute)
	r := newRig(t, Config{}, rule)
	r.read(wl01, "water_cm", 201.0)
	r.read(wl01, "water_cm", 100.0)
	r.clk.add(30 * time.Second)
	r.tick()
	r.wantChanges("fired:wl-01") // held firing
	r.read(wl01, "water_cm", 201.0)
	r.read(wl01, "water_cm", 100.0) // back above: the minute starts again
	r.clk.add(59 * time.Second)
	r.tick()
	r.wantChanges("fired:wl-01")
	r.clk.add(2 * time.Second)
	r.tick()
	r.wantChanges("fired:wl-01", "resolved:wl-01")
}

func TestThresholdSelectorAndNonNumeric(t *testing.T) {
	r := newRig(t, Config{}, waterRule)
	other := wl01
	other.ID, other.Tags = "wl-02", map[string]string{"river": "tien"}
	r.read(other, "water_cm", 500.0)
	r.e.ObserveReading(wl01, r.clk.now(), []defs.Field{{Key: "water_cm", Type: defs.FieldString, Str: "high"}})
	r.drain()
	r.wantChanges()
}

func TestAckNoteAssigneeAndExpiry(t *testing.T) {
	rule := waterRule
	rule.For = 0
	r := newRig(t, Config{}, rule)
	r.read(wl01, "water_cm", 201.0)
	id := r.open()["water-high/wl-01"].ID
	a, err := r.e.Ack(r.ctx, id, "user:lan", "đang xử lý", "user:minh", r.clk.now().Add(10*time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	if a.State != defs.AlertAcknowledged || a.AckNote != "đang xử lý" || a.AckAssignee != "user:minh" || a.AckedBy != "user:lan" {
		t.Fatalf("acked alert = %+v", a)
	}
	got, hist, _ := r.e.Get(r.ctx, id)
	if got.AckNote != "đang xử lý" || hist[len(hist)-1].Note != "đang xử lý" || hist[len(hist)-1].Actor != "user:lan" {
		t.Fatalf("stored %+v / %+v: the note and actor must be kept", got, hist)
	}
	r.clk.add(11 * time.Minute)
	r.tick()
	r.wantChanges("fired:wl-01", "acknowledged:wl-01", "ack_expired:wl-01")
	if s := r.open()["water-high/wl-01"].State; s != defs.AlertFiring {
		t.Fatalf("after expiry state = %s, want firing", s)
	}
	r.read(wl01, "water_cm", 100.0)
	if _, err := r.e.Ack(r.ctx, id, "user:lan", "", "", time.Time{}); err == nil {
		t.Fatal("ack of a resolved alert succeeded")
	}
}

// TestOutOfOrderReadingIsNotEvaluated: ingest decodes on several workers,
// so an older reading may arrive after a newer one; it must not undo it.
func TestOutOfOrderReadingIsNotEvaluated(t *testing.T) {
	rule := waterRule
	rule.For = 0
	r := newRig(t, Config{})
	r.e.PutRule(r.ctx, rule, "test")
	newer := r.clk.now()
	r.e.ObserveReading(wl01, newer, []defs.Field{{Key: "water_cm", Type: defs.FieldFloat, Num: 230}})
	r.e.ObserveReading(wl01, newer.Add(-time.Second), []defs.Field{{Key: "water_cm", Type: defs.FieldFloat, Num: 100}})
	r.drain()
	r.wantChanges("fired:wl-01")
}
