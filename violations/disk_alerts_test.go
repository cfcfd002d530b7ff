package violations_test

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/iocd/iocd/alerts"
	"github.com/iocd/iocd/conditions"
	"github.com/iocd/iocd/config"
	"github.com/iocd/iocd/defs"
	"github.com/iocd/iocd/internal/testrig"
	"github.com/iocd/iocd/violations"
)

// notes records what the alerts engine notifies.
type notes struct {
	mu  sync.Mutex
	got []defs.AlertNotification
}

func (n *notes) Notify(x defs.AlertNotification, _ defs.AlertRule) {
	n.mu.Lock()
	n.got = append(n.got, x)
	n.mu.Unlock()
}

func (n *notes) changes(subject string) []defs.AlertChange {
	n.mu.Lock()
	defer n.mu.Unlock()
	var out []defs.AlertChange
	for _, x := range n.got {
		if x.Alert.Subject == subject {
			out = append(out, x.Transition.Change)
		}
	}
	return out
}

// The clip disk filling and freeing fires and then resolves the shipped
// disk_low rule through the real alerts engine: the retention check sets
// the condition in the registry, the engine's tick reads it, and its
// clearing resolves the alert (no clearing notice needed).
func TestDiskLowFiresAndClearsThroughAlerts(t *testing.T) {
	var free atomic.Int64
	var full atomic.Bool
	free.Store(10 << 30)
	conds := conditions.New()
	const minFree = 1 << 30
	r := newRigWith(t, func(c *config.Config) {
		c.Retention.MinFreeBytes = minFree
		c.Retention.Interval = config.Duration(100 * time.Millisecond)
	}, nil, violations.WithConditions(conds), violations.WithDisk(free.Load, full.Load))

	n := &notes{}
	eng := alerts.New(alerts.Config{Tick: 100 * time.Millisecond}, alerts.Deps{
		Store: r.store, Conditions: conds, Notifier: n, Bus: r.bus, Logger: discard(),
	})
	ctx, cancel := context.WithCancel(context.Background())
	if err := eng.Load(ctx); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- eng.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("engine: %v", err)
		}
	})

	rule, err := eng.Rule(ctx, defs.ConditionDiskLow)
	if err != nil {
		t.Fatalf("the shipped disk_low rule: %v", err)
	}
	if rule.Disabled || rule.Kind != defs.RuleSystem {
		t.Fatalf("disk_low rule %+v, want an enabled system rule", rule)
	}
	list := func() []defs.Alert {
		as, _, err := eng.List(ctx, defs.AlertFilter{Rule: defs.ConditionDiskLow, States: []defs.AlertState{
			defs.AlertPending, defs.AlertFiring, defs.AlertAcknowledged, defs.AlertResolved}})
		if err != nil {
			t.Fatal(err)
		}
		return as
	}
	if as := list(); len(as) != 0 {
		t.Fatalf("alerts with room on the disk: %+v", as)
	}

	// The disk fills below retention.min_free_bytes.
	free.Store(minFree / 4)
	var a defs.Alert
	testrig.WaitFor(t, "disk_low firing", 10*time.Second, func() bool {
		as := list()
		if len(as) == 1 {
			a = as[0]
		}
		return a.State == defs.AlertFiring
	})
	if a.Value != minFree/4 || a.Subject != defs.ConditionDiskLow || a.Severity != defs.SeverityCritical {
		t.Errorf("disk_low alert %+v, want value %d (the free bytes), critical", a, minFree/4)
	}

	// Space returns: the condition clears and the alert resolves.
	free.Store(10 << 30)
	testrig.WaitFor(t, "disk_low resolved", 10*time.Second, func() bool {
		as := list()
		return len(as) == 1 && as[0].State == defs.AlertResolved
	})
	_, hist, err := eng.Get(ctx, a.ID)
	if err != nil {
		t.Fatal(err)
	}
	var got []defs.AlertChange
	for _, h := range hist {
		got = append(got, h.Change)
	}
	if len(got) != 2 || got[0] != defs.ChangeFired || got[1] != defs.ChangeResolved {
		t.Errorf("history %v, want fired resolved", got)
	}
	testrig.WaitFor(t, "fired and resolved notified", 10*time.Second, func() bool {
		c := n.changes(defs.ConditionDiskLow)
		return len(c) == 2 && c[0] == defs.ChangeFired && c[1] == defs.ChangeResolved
	})
}
