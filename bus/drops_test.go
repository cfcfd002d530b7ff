package bus

import (
	"testing"
	"time"

	"github.com/iocd/iocd/conditions"
	"github.com/iocd/iocd/defs"
)

// TestDropsSetAndClearTheCondition: a subscriber whose queue overflows
// raises bus_drops with the number lost since the last look, and the
// condition clears once it has dropped nothing for the quiet period.
func TestDropsSetAndClearTheCondition(t *testing.T) {
	b := New(nil)
	slow := b.Subscribe("slow", defs.Mask(defs.EventNotice), 1)
	fast := b.Subscribe("fast", defs.Mask(defs.EventNotice), 16)
	defer slow.Close()
	defer fast.Close()
	reg := conditions.New()
	last, lastDrop := map[string]uint64{}, map[string]time.Time{}
	t0 := time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)
	check := func(at time.Duration) { b.checkDrops(reg, last, lastDrop, t0.Add(at), time.Minute) }
	publish := func(n int) {
		for range n {
			b.Publish(defs.Event{Kind: defs.EventNotice, Notice: &defs.Notice{Code: "x"}})
		}
	}

	check(0)   // the first look takes the counts as they are
	publish(5) // slow keeps 1, drops 4; fast keeps all 5
	check(10 * time.Second)
	got := reg.List()
	if len(got) != 1 || got[0].Code != defs.ConditionBusDrops || got[0].Subject != "slow" || got[0].Value != 4 {
		t.Fatalf("after 4 drops: conditions %+v, want bus_drops for slow with value 4", got)
	}
	<-slow.C() // the slow subscriber catches up
	check(40 * time.Second)
	if len(reg.List()) != 1 {
		t.Fatalf("30 s after the drops the condition should still hold: %+v", reg.List())
	}
	check(70 * time.Second)
	if got := reg.List(); len(got) != 0 {
		t.Fatalf("a minute without drops: conditions %+v, want none", got)
	}
}
