package conditions

import (
	"testing"
	"time"

	"github.com/iocd/iocd/defs"
)

func TestSetKeepsSinceAndClearRemoves(t *testing.T) {
	r := New()
	t0 := time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)
	r.now = func() time.Time { return t0 }
	r.Set(defs.Condition{Code: defs.ConditionDiskLow, Severity: defs.SeverityMajor, Value: 10})
	r.now = func() time.Time { return t0.Add(time.Minute) }
	r.Set(defs.Condition{Code: defs.ConditionDiskLow, Severity: defs.SeverityCritical, Value: 5})
	r.Set(defs.Condition{Code: defs.ConditionBusDrops, Subject: "alerts"})

	got := r.List()
	if len(got) != 2 {
		t.Fatalf("List() = %d conditions, want 2: %+v", len(got), got)
	}
	if got[0].Code != defs.ConditionBusDrops || got[1].Code != defs.ConditionDiskLow {
		t.Fatalf("List() order = %s, %s; want bus_drops, disk_low", got[0].Code, got[1].Code)
	}
	if d := got[1]; !d.Since.Equal(t0) || d.Severity != defs.SeverityCritical || d.Value != 5 {
		t.Errorf("disk_low after re-set = since %v severity %s value %v; want since %v, critical, 5", d.Since, d.Severity, d.Value, t0)
	}
	r.Clear(defs.ConditionDiskLow, "")
	r.Clear("never_set", "")
	if got := r.List(); len(got) != 1 || got[0].Code != defs.ConditionBusDrops {
		t.Errorf("after Clear(disk_low) List() = %+v, want only bus_drops", got)
	}
}
