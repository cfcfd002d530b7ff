package bus

import (
	"sync"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/iocd/iocd/defs"
)

func TestBusDeliversSelectedKinds(t *testing.T) {
	b := New(nil)
	health := b.Subscribe("alerts", defs.Mask(defs.EventHealth), 4)
	all := b.Subscribe("dashboard", defs.Mask(defs.EventHealth, defs.EventReading), 4)
	defer health.Close()
	defer all.Close()

	b.Publish(defs.Event{Kind: defs.EventReading, Reading: &defs.Reading{Device: "d1"}})
	b.Publish(defs.Event{Kind: defs.EventHealth, Health: &defs.HealthChange{Device: "d1", To: defs.HealthOnline}})

	if got := len(health.C()); got != 1 {
		t.Fatalf("health subscriber queued %d events, want 1 (readings must be filtered out)", got)
	}
	if ev := <-health.C(); ev.Kind != defs.EventHealth || ev.Health.To != defs.HealthOnline {
		t.Fatalf("health subscriber got %+v, want the health change", ev)
	}
	if got := len(all.C()); got != 2 {
		t.Fatalf("dashboard subscriber queued %d events, want 2", got)
	}
	if !b.Wants(defs.EventReading) || b.Wants(defs.EventViolation) {
		t.Fatalf("Wants: reading=%v violation=%v, want true,false", b.Wants(defs.EventReading), b.Wants(defs.EventViolation))
	}
}

func TestBusDropsForSlowSubscriberOnly(t *testing.T) {
	reg := prometheus.NewRegistry()
	b := New(reg)
	slow := b.Subscribe("slow", defs.Mask(defs.EventReading), 2)
	fast := b.Subscribe("fast", defs.Mask(defs.EventReading), 100)
	defer slow.Close()
	defer fast.Close()

	done := make(chan struct{})
	var got int
	go func() {
		defer close(done)
		for range fast.C() {
			got++
		}
	}()
	for i := 0; i < 50; i++ {
		b.Publish(defs.Event{Kind: defs.EventReading})
	}
	fast.Close()
	<-done

	if got != 50 {
		t.Errorf("fast subscriber got %d events, want all 50", got)
	}
	if slow.Dropped() != 48 {
		t.Errorf("slow subscriber dropped %d, want 48 (queue of 2)", slow.Dropped())
	}
	if v := testutil.ToFloat64(b.dropped.WithLabelValues("slow")); v != 48 {
		t.Errorf("drop metric for slow = %v, want 48", v)
	}
	stats := b.Stats()
	if len(stats) != 1 || stats[0].Name != "slow" || stats[0].Queued != 2 || stats[0].Dropped != 48 {
		t.Errorf("Stats() = %+v, want only slow with 2 queued and 48 dropped", stats)
	}
}

func TestBusCloseWhilePublishing(t *testing.T) {
	b := New(nil)
	var wg sync.WaitGroup
	stop := make(chan struct{})
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			select {
			case <-stop:
				return
			default:
				b.Publish(defs.Event{Kind: defs.EventHealth})
			}
		}
	}()
	for i := 0; i < 100; i++ {
		s := b.Subscribe("churn", defs.Mask(defs.EventHealth), 1)
		s.Close()
		s.Close() // idempotent
		if _, ok := <-s.C(); ok {
			// A queued event may be read once; the channel must then be closed.
			if _, ok := <-s.C(); ok {
				t.Fatal("channel still open after Close")
			}
		}
	}
	close(stop)
	wg.Wait()
}
