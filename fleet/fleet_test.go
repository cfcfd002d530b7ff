package fleet

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/iocd/iocd/bus"
	"github.com/iocd/iocd/config"
	"github.com/iocd/iocd/defs"
)

// recordingSink keeps the device_status points the tracker writes.
type recordingSink struct {
	mu     sync.Mutex
	points []map[string]any
}

func (s *recordingSink) WritePoint(m string, tags map[string]string, fields map[string]any, ts time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	p := map[string]any{"measurement": m, "device": tags["device"]}
	for k, v := range fields {
		p[k] = v
	}
	s.points = append(s.points, p)
}

func newTracker(t *testing.T, devs ...defs.Device) (*Tracker, *bus.Bus, *recordingSink) {
	t.Helper()
	b := bus.New(nil)
	sink := &recordingSink{}
	cfg := config.Fleet{MinStale: config.Duration(150 * time.Millisecond), CheckInterval: config.Duration(20 * time.Millisecond)}
	return New(cfg, devs, b, sink, slog.New(slog.NewTextHandler(io.Discard, nil)), nil), b, sink
}

func dev(id, site string, kind defs.Kind) defs.Device {
	return defs.Device{ID: defs.DeviceID(id), Site: site, Kind: kind, Status: defs.StatusActive}
}

func TestHealthLifecycle(t *testing.T) {
	a := dev("aq-01", "tan-an", defs.KindSensor)
	tr, b, sink := newTracker(t, a, dev("tl-01", "tan-an", defs.KindController))
	sub := b.Subscribe("test", defs.Mask(defs.EventHealth), 16)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- tr.Run(ctx) }()
	defer func() { cancel(); <-done }()

	next := func(want defs.Health) {
		t.Helper()
		select {
		case ev := <-sub.C():
			if ev.Health.To != want || ev.Health.Device != a.ID {
				t.Fatalf("health event: want %s→%s, got %s→%s", a.ID, want, ev.Health.Device, ev.Health.To)
			}
		case <-time.After(5 * time.Second):
			t.Fatalf("no health event, want %s", want)
		}
	}
	if s, _ := tr.Snapshot(a.ID); s.Health != defs.HealthUnknown {
		t.Fatalf("before any message: want unknown, got %s", s.Health)
	}
	tr.Seen(a, time.Now(), []defs.Field{{Key: "pm25", Type: defs.FieldFloat, Num: 35}})
	next(defs.HealthOnline)
	tr.Seen(a, time.Now(), []defs.Field{{Key: "pm25", Type: defs.FieldFloat, Num: 36}, {Key: "ok", Type: defs.FieldBool, Bool: true}})
	s, _ := tr.Snapshot(a.ID)
	if s.Values["pm25"] != 36.0 || s.Values["ok"] != true {
		t.Errorf("latest values: want pm25=36 ok=true, got %v", s.Values)
	}
	next(defs.HealthStale) // silent past min_stale
	tr.Status(a, "offline", map[string]string{"fw": "1.2.3"}, time.Now())
	next(defs.HealthOffline)
	if s, _ := tr.Snapshot(a.ID); s.Meta["fw"] != "1.2.3" {
		t.Errorf("meta: want fw=1.2.3, got %v", s.Meta)
	}

	want := map[defs.Health]int{defs.HealthOffline: 1, defs.HealthUnknown: 1}
	for _, c := range tr.Counts() {
		if c.Site != "tan-an" || want[c.Health] != c.Count {
			t.Errorf("count %+v not expected; want %v", c, want)
		}
	}
	sink.mu.Lock()
	defer sink.mu.Unlock()
	var got []any
	for _, p := range sink.points {
		got = append(got, p["health"], p["online"])
	}
	wantPoints := []any{"online", 1, "stale", 0, "offline", 0}
	if len(got) != len(wantPoints) {
		t.Fatalf("device_status points: want %v, got %v", wantPoints, got)
	}
	for i := range got {
		if got[i] != wantPoints[i] {
			t.Fatalf("device_status points: want %v, got %v", wantPoints, got)
		}
	}
}

func TestCountsFollowRegistry(t *testing.T) {
	tr, b, _ := newTracker(t)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- tr.Run(ctx) }()
	defer func() { cancel(); <-done }()

	d := dev("wl-01", "ben-luc", defs.KindSensor)
	b.Publish(defs.Event{Kind: defs.EventDevice, Device: &defs.DeviceChange{Device: d}})
	pending := dev("wl-02", "ben-luc", defs.KindSensor)
	pending.Status = defs.StatusPending
	b.Publish(defs.Event{Kind: defs.EventDevice, Device: &defs.DeviceChange{Device: pending}})
	waitCounts(t, tr, []defs.FleetCount{{Site: "ben-luc", Kind: defs.KindSensor, Health: defs.HealthUnknown, Count: 1}})
	b.Publish(defs.Event{Kind: defs.EventDevice, Device: &defs.DeviceChange{Device: d, Deleted: true}})
	waitCounts(t, tr, []defs.FleetCount{})
}

func waitCounts(t *testing.T, tr *Tracker, want []defs.FleetCount) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		got := tr.Counts()
		same := len(got) == len(want)
		for i := 0; same && i < len(got); i++ {
			same = got[i] == want[i]
		}
		if same {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("counts: want %v, got %v", want, got)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestLatestValuesBounded feeds a device whose key names change with every
// message, as firmware that puts a counter in its keys does: the tracker
// keeps the first 256 keys, updates them, and counts the rest.
func TestLatestValuesBounded(t *testing.T) {
	d := dev("aq-01", "tan-an", defs.KindSensor)
	tr, _, _ := newTracker(t, d)
	now := time.Now()
	for i := range 300 {
		tr.Seen(d, now, []defs.Field{{Key: fmt.Sprintf("k%03d", i), Type: defs.FieldFloat, Num: float64(i)}, {Key: "pm25", Type: defs.FieldFloat, Num: float64(i)}})
	}
	s, _ := tr.Snapshot(d.ID)
	if len(s.Values) != maxValues {
		t.Fatalf("kept %d latest values, want %d", len(s.Values), maxValues)
	}
	if s.Values["pm25"] != float64(299) {
		t.Errorf("pm25 = %v, want the latest 299: known keys keep updating past the bound", s.Values["pm25"])
	}
	if got := testutil.ToFloat64(tr.valuesDropped); got != 300-(maxValues-1) {
		t.Errorf("dropped keys counted = %v, want %d", got, 300-(maxValues-1))
	}
}
