package overview

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"path/filepath"
	"testing"
	"time"

	"github.com/iocd/iocd/defs"
	"github.com/iocd/iocd/store"
)

type fleetList []defs.DeviceStatus

func (f fleetList) Devices() []defs.DeviceStatus { return f }

type cameraList []defs.CameraState

func (c cameraList) CameraStates() []defs.CameraState { return c }

type fixedRate float64

func (r fixedRate) PerSecond() float64 { return float64(r) }

type recent struct {
	health  []defs.HealthChange
	cameras []defs.CameraState
}

func (r recent) HealthChangesSince(since time.Time) []defs.HealthChange {
	var out []defs.HealthChange
	for _, h := range r.health {
		if !h.At.Before(since) {
			out = append(out, h)
		}
	}
	return out
}

func (r recent) CameraChangesSince(since time.Time) []defs.CameraState {
	var out []defs.CameraState
	for _, c := range r.cameras {
		if !c.At.Before(since) {
			out = append(out, c)
		}
	}
	return out
}

type failingAlerts struct{}

func (failingAlerts) CountOpenAlerts(context.Context) (map[defs.Severity]int, error) {
	return nil, errors.New("store busy")
}

func openStore(t *testing.T) *store.SQLite {
	t.Helper()
	st, err := store.Open(context.Background(), filepath.Join(t.TempDir(), "iocd.db"), slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

func TestMidnight(t *testing.T) {
	hcm, err := time.LoadLocation("Asia/Ho_Chi_Minh")
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		now  time.Time
		want time.Time
	}{
		// 23:30 UTC on the 1st is 06:30 on the 2nd in Ho Chi Minh City.
		{time.Date(2026, 12, 1, 23, 30, 0, 0, time.UTC), time.Date(2026, 12, 1, 17, 0, 0, 0, time.UTC)},
		// 16:59 UTC is 23:59 local: still the 1st.
		{time.Date(2026, 12, 1, 16, 59, 0, 0, time.UTC), time.Date(2026, 11, 30, 17, 0, 0, 0, time.UTC)},
	} {
		if got := Midnight(tc.now, hcm); !got.Equal(tc.want) {
			t.Errorf("Midnight(%s): want %s, got %s", tc.now, tc.want, got.UTC())
		}
	}
}

// TestOverviewComposes builds an overview over a real store: devices by
// health (active only, per site), cameras streaming, violations since
// local midnight by type, open alerts by severity, readings per second.
func TestOverviewComposes(t *testing.T) {
	ctx := context.Background()
	st := openStore(t)
	hcm, _ := time.LoadLocation("Asia/Ho_Chi_Minh")
	now := time.Date(2026, 12, 2, 1, 0, 0, 0, time.UTC) // 08:00 local
	midnight := time.Date(2026, 12, 1, 17, 0, 0, 0, time.UTC)
	for i, at := range []time.Time{midnight.Add(-time.Minute), midnight, midnight.Add(time.Hour), midnight.Add(2 * time.Hour)} {
		typ := []string{"red_light", "red_light", "speeding", "red_light"}[i]
		v := defs.Violation{ID: fmt.Sprint("v", i), Camera: "cam-1", Site: "a", EventID: fmt.Sprint(i), Type: typ, Time: at,
			Status: defs.ReviewPending, ClipStatus: defs.ClipNoVideo, CreatedAt: at, UpdatedAt: at}
		if _, _, err := st.InsertViolation(ctx, v); err != nil {
			t.Fatal(err)
		}
	}
	if err := st.SaveAlert(ctx, defs.Alert{ID: "al1", Rule: "r", Subject: "x", Severity: defs.SeverityCritical,
		State: defs.AlertFiring, PendingSince: now}, nil); err != nil {
		t.Fatal(err)
	}
	devs := fleetList{
		{ID: "s1", Site: "a", Kind: defs.KindSensor, Status: defs.StatusActive, Health: defs.HealthOnline},
		{ID: "s2", Site: "a", Kind: defs.KindSensor, Status: defs.StatusActive, Health: defs.HealthStale},
		{ID: "cam-1", Site: "a", Kind: defs.KindCamera, Status: defs.StatusActive, Health: defs.HealthOffline, Reason: "stream: unauthorized"},
		{ID: "s3", Site: "b", Kind: defs.KindSensor, Status: defs.StatusActive, Health: defs.HealthUnknown},
		{ID: "p1", Site: "b", Kind: defs.KindSensor, Status: defs.StatusPending, Health: defs.HealthOnline},
	}
	cams := cameraList{
		{Camera: "cam-1", Site: "a", State: defs.CameraBackingOff, Reason: "unauthorized"},
		{Camera: "cam-2", Site: "b", State: defs.CameraStreaming, Connected: true},
	}
	svc := New(Config{Location: hcm, Now: func() time.Time { return now }}, Deps{
		Fleet: devs, Cameras: cams, Violations: st, Alerts: st, Readings: fixedRate(1234.5),
	})
	o, err := svc.Overview(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if want := (defs.HealthCounts{Online: 1, Stale: 1, Offline: 1, Unknown: 1}); o.Devices != want {
		t.Errorf("devices: want %+v (the pending one left out), got %+v", want, o.Devices)
	}
	if want := (defs.CameraCounts{Streaming: 1, Total: 2}); o.Cameras != want {
		t.Errorf("cameras: want %+v, got %+v", want, o.Cameras)
	}
	wantSites := []defs.SiteOverview{
		{Site: "a", Devices: defs.HealthCounts{Online: 1, Stale: 1, Offline: 1}, Cameras: defs.CameraCounts{Total: 1}},
		{Site: "b", Devices: defs.HealthCounts{Unknown: 1}, Cameras: defs.CameraCounts{Streaming: 1, Total: 1}},
	}
	if fmt.Sprint(o.Sites) != fmt.Sprint(wantSites) {
		t.Errorf("sites: want %+v, got %+v", wantSites, o.Sites)
	}
	if !o.Since.Equal(midnight) || o.ViolationsToday["red_light"] != 2 || o.ViolationsToday["speeding"] != 1 || len(o.ViolationsToday) != 2 {
		t.Errorf("violations today: want red_light 2, speeding 1 since %s, got %v since %s", midnight, o.ViolationsToday, o.Since)
	}
	if len(o.AlertsOpen) != 1 || o.AlertsOpen[defs.SeverityCritical] != 1 {
		t.Errorf("open alerts: want critical 1, got %v", o.AlertsOpen)
	}
	if o.ReadingsPerSecond != 1234.5 || !o.At.Equal(now) {
		t.Errorf("readings per second / at: got %v at %s", o.ReadingsPerSecond, o.At)
	}

	// A failing owner costs its own figure only, and says so.
	svc = New(Config{Location: hcm, Now: func() time.Time { return now }}, Deps{Fleet: devs, Alerts: failingAlerts{}})
	o, err = svc.Overview(ctx)
	if err == nil || o.Devices.Online != 1 || o.AlertsOpen == nil {
		t.Errorf("failing alert counts: want an error and the rest filled, got %+v, %v", o, err)
	}

	// Nothing wired: zeros, never nil maps.
	o, err = New(Config{}, Deps{}).Overview(ctx)
	if err != nil || o.ViolationsToday == nil || o.AlertsOpen == nil || o.Sites == nil {
		t.Errorf("unwired: want empty figures, got %+v, %v", o, err)
	}
}

// TestChangesMergedNewestFirstBounded merges health changes, camera ups and
// downs and alert transitions from a real store, in shuffled order.
func TestChangesMergedNewestFirstBounded(t *testing.T) {
	ctx := context.Background()
	st := openStore(t)
	t0 := time.Date(2026, 12, 2, 8, 0, 0, 0, time.UTC)
	rng := rand.New(rand.NewPCG(8, 15))
	var rc recent
	at := func(i int) time.Time { return t0.Add(time.Duration(i) * time.Second) }
	for i := range 30 {
		switch i % 3 {
		case 0:
			rc.health = append(rc.health, defs.HealthChange{Device: defs.DeviceID(fmt.Sprint("d", i)), From: defs.HealthOnline,
				To: defs.HealthStale, Reason: "silent", At: at(i)})
		case 1:
			rc.cameras = append(rc.cameras, defs.CameraState{Camera: defs.DeviceID(fmt.Sprint("c", i)), State: defs.CameraBackingOff,
				Reason: "unreachable", At: at(i)})
		case 2:
			a := defs.Alert{ID: fmt.Sprint("al", i), Rule: "r", Subject: fmt.Sprint("s", i), Severity: defs.SeverityMajor,
				State: defs.AlertFiring, Message: "mất kết nối", PendingSince: at(i)}
			if err := st.SaveAlert(ctx, a, []defs.AlertTransition{
				{Seq: 1, Change: defs.ChangeFired, To: defs.AlertFiring, Severity: a.Severity, At: at(i)},
				{Seq: 2, Change: defs.ChangeAcknowledged, From: defs.AlertFiring, To: defs.AlertAcknowledged, At: at(i)},
			}); err != nil {
				t.Fatal(err)
			}
		}
	}
	rng.Shuffle(len(rc.health), func(i, j int) { rc.health[i], rc.health[j] = rc.health[j], rc.health[i] })
	rng.Shuffle(len(rc.cameras), func(i, j int) { rc.cameras[i], rc.cameras[j] = rc.cameras[j], rc.cameras[i] })
	svc := New(Config{MaxChanges: 12}, Deps{HealthChanges: rc, AlertChanges: st})
	got, err := svc.Changes(ctx, at(5))
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 12 {
		t.Fatalf("want 12 changes (the bound), got %d", len(got))
	}
	for i, c := range got {
		if want := at(29 - i); !c.At.Equal(want) {
			t.Fatalf("change %d: want the one at %s (newest first, one a second), got %+v", i, want, c)
		}
		switch c.Kind {
		case ChangeHealth:
			if c.To != "stale" || c.Reason != "silent" {
				t.Errorf("health change: got %+v", c)
			}
		case ChangeCamera:
			if c.To != "down" || c.Reason != "unreachable" {
				t.Errorf("camera change: got %+v", c)
			}
		case ChangeAlert:
			if c.Reason != "fired" || c.Severity != defs.SeverityMajor || c.Message == "" || c.Alert == "" {
				t.Errorf("alert change: want a fired alert with its message (acknowledgements left out), got %+v", c)
			}
		default:
			t.Errorf("unknown kind in %+v", c)
		}
	}
	if got, err := svc.Changes(ctx, at(30)); err != nil || got == nil || len(got) != 0 {
		t.Errorf("nothing since: want an empty list, got %v %v", got, err)
	}
}

func TestMeter(t *testing.T) {
	m := NewMeter()
	t0 := time.Unix(1_700_000_000, 0)
	if m.PerSecond() != 0 {
		t.Fatal("want 0 before any sample")
	}
	m.Sample(t0)
	for s := 1; s <= 10; s++ {
		for range 100 * s {
			m.ObserveReading(defs.Device{}, t0, nil)
		}
		m.ObserveRejected("x", "bad", t0)
		m.Sample(t0.Add(time.Duration(s) * time.Second))
	}
	// The last 5 s held 600+700+800+900+1000 readings.
	if got := m.PerSecond(); got != 800 {
		t.Errorf("per second over the last 5 s: want 800, got %v", got)
	}
	if m.Total() != 5500 {
		t.Errorf("total: want 5500, got %d", m.Total())
	}
}
