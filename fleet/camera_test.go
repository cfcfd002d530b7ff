package fleet

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/iocd/iocd/bus"
	"github.com/iocd/iocd/config"
	"github.com/iocd/iocd/defs"
	"github.com/iocd/iocd/internal/testrig"
	"github.com/iocd/iocd/store"
)

func TestCombine(t *testing.T) {
	cam := func(s defs.CameraSession, reason string) *defs.CameraState {
		return &defs.CameraState{State: s, Reason: reason, Connected: s == defs.CameraStreaming}
	}
	for _, tc := range []struct {
		name       string
		kind       defs.Kind
		mqtt       defs.Health
		cam        *defs.CameraState
		want       defs.Health
		wantReason string
	}{
		{"sensor online", defs.KindSensor, defs.HealthOnline, nil, defs.HealthOnline, ""},
		{"sensor stale", defs.KindSensor, defs.HealthStale, nil, defs.HealthStale, "silent"},
		{"sensor offline", defs.KindSensor, defs.HealthOffline, nil, defs.HealthOffline, "status: offline"},
		{"sensor unknown", defs.KindSensor, defs.HealthUnknown, nil, defs.HealthUnknown, "never heard from"},
		{"a stream state on a sensor is ignored", defs.KindSensor, defs.HealthOnline, cam(defs.CameraBackingOff, "unreachable"), defs.HealthOnline, ""},
		{"camera without a session: MQTT alone", defs.KindCamera, defs.HealthOnline, nil, defs.HealthOnline, ""},
		{"streaming, MQTT online", defs.KindCamera, defs.HealthOnline, cam(defs.CameraStreaming, ""), defs.HealthOnline, ""},
		{"streaming, MQTT never heard", defs.KindCamera, defs.HealthUnknown, cam(defs.CameraStreaming, ""), defs.HealthOnline, ""},
		{"streaming, MQTT silent", defs.KindCamera, defs.HealthStale, cam(defs.CameraStreaming, ""), defs.HealthStale, "silent"},
		{"streaming, status offline", defs.KindCamera, defs.HealthOffline, cam(defs.CameraStreaming, ""), defs.HealthOffline, "status: offline"},
		{"MQTT online, stream refused", defs.KindCamera, defs.HealthOnline, cam(defs.CameraBackingOff, defs.CameraReasonUnauthorized), defs.HealthOffline, "stream: unauthorized"},
		{"MQTT online, retrying after no video", defs.KindCamera, defs.HealthOnline, cam(defs.CameraConnecting, defs.CameraReasonNoVideo), defs.HealthOffline, "stream: no_video"},
		{"MQTT online, first connect", defs.KindCamera, defs.HealthOnline, cam(defs.CameraConnecting, ""), defs.HealthStale, "stream: connecting"},
		{"MQTT never heard, first connect", defs.KindCamera, defs.HealthUnknown, cam(defs.CameraConnecting, ""), defs.HealthUnknown, "stream: connecting"},
		{"status offline, stream down without reason", defs.KindCamera, defs.HealthOffline, cam(defs.CameraBackingOff, ""), defs.HealthOffline, "status: offline"},
		{"status offline, stream unreachable", defs.KindCamera, defs.HealthOffline, cam(defs.CameraBackingOff, defs.CameraReasonUnreachable), defs.HealthOffline, "stream: unreachable"},
		{"stopped", defs.KindCamera, defs.HealthOnline, cam(defs.CameraStopped, ""), defs.HealthOffline, "stream: stopped"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h, reason := combine(tc.kind, tc.mqtt, tc.cam)
			if h != tc.want || reason != tc.wantReason {
				t.Errorf("combine(%s, %s, %+v) = %s %q, want %s %q", tc.kind, tc.mqtt, tc.cam, h, reason, tc.want, tc.wantReason)
			}
		})
	}
}

// fakeCameras is a streams manager whose sessions the test sets.
type fakeCameras struct {
	mu     sync.Mutex
	states []defs.CameraState
}

func (f *fakeCameras) set(st ...defs.CameraState) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.states = st
}

func (f *fakeCameras) CameraStates() []defs.CameraState {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]defs.CameraState(nil), f.states...)
}

func waitDevice(t *testing.T, tr *Tracker, id defs.DeviceID, want defs.Health, wantReason string) defs.DeviceStatus {
	t.Helper()
	var got defs.DeviceStatus
	testrig.WaitFor(t, string(id)+" "+string(want)+" "+wantReason, 10*time.Second, func() bool {
		got, _ = tr.Device(id)
		return got.Health == want && got.Reason == wantReason
	})
	return got
}

// TestCameraStreamDownIsNotOnline is the case: a camera that
// reports on MQTT while its stream is refused counts as offline, with the
// stream's reason, in Devices, Device and Counts. No camera event is
// published on the bus (as if it were dropped): the tracker finds the
// stream's state by asking the sessions' owner on its tick. When the
// stream comes back, the camera is online again and the change is
// published, written to the history store and listed as recent.
func TestCameraStreamDownIsNotOnline(t *testing.T) {
	ctx := context.Background()
	st, err := store.Open(ctx, filepath.Join(t.TempDir(), "iocd.db"), slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	c := dev("cam-01", "tan-an", defs.KindCamera)
	c.Name, c.Lat, c.Lon = "Ngã tư Tân An", 10.53, 106.41
	s := dev("aq-01", "tan-an", defs.KindSensor)
	cams := &fakeCameras{}
	cams.set(defs.CameraState{Camera: c.ID, Site: c.Site, State: defs.CameraBackingOff, Reason: defs.CameraReasonUnauthorized})
	b := bus.New(nil)
	cfg := config.Fleet{MinStale: config.Duration(time.Hour), CheckInterval: config.Duration(20 * time.Millisecond)}
	sub := b.Subscribe("test", defs.Mask(defs.EventHealth), 64)
	tr := New(cfg, []defs.Device{c, s}, b, nil, slog.New(slog.NewTextHandler(io.Discard, nil)), nil,
		WithCameras(cams), WithHistory(st))
	runCtx, cancel := context.WithCancel(ctx)
	done := make(chan error)
	go func() { done <- tr.Run(runCtx) }()
	defer func() { cancel(); <-done }()

	now := time.Now()
	tr.Status(c, "online", map[string]string{"fw": "cam-2.4.1"}, now)
	tr.Seen(c, now, []defs.Field{{Key: "temp_c", Type: defs.FieldFloat, Num: 41}})
	tr.Seen(s, now, []defs.Field{{Key: "pm25", Type: defs.FieldFloat, Num: 12}})

	got := waitDevice(t, tr, c.ID, defs.HealthOffline, "stream: unauthorized")
	if got.Firmware != "cam-2.4.1" || got.Values["temp_c"] != 41.0 || got.Name != c.Name || got.Lat != c.Lat || !got.LastSeen.Equal(now) {
		t.Errorf("device status: want firmware, latest values, name, position and last seen, got %+v", got)
	}
	for _, c := range tr.Counts() {
		if c.Kind == defs.KindCamera && c.Health == defs.HealthOnline {
			t.Errorf("counts: a camera whose stream is refused counted online: %+v", tr.Counts())
		}
	}
	// MQTT telemetry keeps arriving: the camera stays offline.
	tr.Seen(c, time.Now(), nil)
	if d, _ := tr.Device(c.ID); d.Health != defs.HealthOffline {
		t.Fatalf("after more telemetry: want offline, got %s (%s)", d.Health, d.Reason)
	}
	// The alerts engine reads MQTT health: it judges streams on its own.
	tr.EachDevice(func(d defs.Device, h defs.Health, _ time.Time) {
		if d.ID == c.ID && h != defs.HealthOnline {
			t.Errorf("EachDevice: want the MQTT health online, got %s", h)
		}
	})

	cams.set(defs.CameraState{Camera: c.ID, Site: c.Site, State: defs.CameraStreaming, Connected: true})
	waitDevice(t, tr, c.ID, defs.HealthOnline, "")

	var seen []defs.HealthChange
	testrig.WaitFor(t, "the camera's change to online on the bus", 5*time.Second, func() bool {
		select {
		case ev := <-sub.C():
			if ev.Health.Device == c.ID {
				seen = append(seen, *ev.Health)
			}
		default:
		}
		return len(seen) > 0 && seen[len(seen)-1].To == defs.HealthOnline
	})
	if seen[0].To != defs.HealthOffline || seen[0].Reason != "stream: unauthorized" {
		t.Errorf("first camera change: want offline for stream: unauthorized, got %+v", seen[0])
	}
	var hist []defs.HealthChange
	testrig.WaitFor(t, "the history store to hold the camera's changes", 5*time.Second, func() bool {
		hist, err = st.HealthHistory(ctx, c.ID, time.Time{}, time.Time{}, 0)
		return err == nil && len(hist) == len(seen)
	})
	if hist[0].To != defs.HealthOnline || hist[len(hist)-1].Reason != "stream: unauthorized" {
		t.Errorf("history: want newest first, online last and the refusal first, got %+v", hist)
	}
	recent := tr.CameraChangesSince(now.Add(-time.Minute))
	if len(recent) == 0 || !recent[0].Connected || recent[0].Camera != c.ID {
		t.Errorf("recent camera changes: want the stream coming up first, got %+v", recent)
	}
	if hs := tr.HealthChangesSince(now.Add(-time.Minute)); len(hs) < 3 || hs[0].Device != c.ID || hs[0].To != defs.HealthOnline {
		t.Errorf("recent health changes: want the camera's online newest, got %+v", hs)
	}
}

// TestCameraEventAppliesAtOnce: a camera event on the bus applies without
// waiting for the tick (set an hour long here).
func TestCameraEventAppliesAtOnce(t *testing.T) {
	c := dev("cam-02", "ben-luc", defs.KindCamera)
	b := bus.New(nil)
	cfg := config.Fleet{MinStale: config.Duration(time.Hour), CheckInterval: config.Duration(time.Hour)}
	tr := New(cfg, []defs.Device{c}, b, nil, slog.New(slog.DiscardHandler), nil, WithCameras(&fakeCameras{}))
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- tr.Run(ctx) }()
	defer func() { cancel(); <-done }()
	sub := b.Subscribe("test", defs.Mask(defs.EventHealth), 64)
	tr.Seen(c, time.Now(), nil)
	waitDevice(t, tr, c.ID, defs.HealthOnline, "")
	now := time.Now()
	b.Publish(defs.Event{Kind: defs.EventCamera, Camera: &defs.CameraState{
		Camera: c.ID, State: defs.CameraBackingOff, Reason: defs.CameraReasonNoVideo, At: now}})
	waitDevice(t, tr, c.ID, defs.HealthOffline, "stream: no_video")
	// An event older than the state held (it waited in a queue) is not
	// applied: the camera must not flap online on the way to the next one.
	b.Publish(defs.Event{Kind: defs.EventCamera, Camera: &defs.CameraState{
		Camera: c.ID, State: defs.CameraStreaming, Connected: true, At: now.Add(-time.Second)}})
	b.Publish(defs.Event{Kind: defs.EventCamera, Camera: &defs.CameraState{
		Camera: c.ID, State: defs.CameraBackingOff, Reason: defs.CameraReasonUnreachable, At: now.Add(time.Second)}})
	waitDevice(t, tr, c.ID, defs.HealthOffline, "stream: unreachable")
	var tos []defs.Health
	for len(sub.C()) > 0 {
		tos = append(tos, (<-sub.C()).Health.To)
	}
	if fmt.Sprint(tos) != "[online offline]" {
		t.Errorf("health changes: want [online offline], got %v", tos)
	}
}

// TestRecentChangesBounded: the ring keeps the latest changes only.
func TestRecentChangesBounded(t *testing.T) {
	r := newRecentRing(3, 2)
	t0 := time.Unix(1_700_000_000, 0)
	for i := range 5 {
		r.addHealth(defs.HealthChange{At: t0.Add(time.Duration(i) * time.Second)})
		r.addCamera(defs.CameraState{At: t0.Add(time.Duration(i) * time.Second)})
	}
	tr := &Tracker{recent: r}
	hs := tr.HealthChangesSince(time.Time{})
	if len(hs) != 3 || !hs[0].At.Equal(t0.Add(4*time.Second)) || !hs[2].At.Equal(t0.Add(2*time.Second)) {
		t.Errorf("health ring: want the latest 3 newest first, got %+v", hs)
	}
	if cs := tr.CameraChangesSince(t0.Add(4 * time.Second)); len(cs) != 1 {
		t.Errorf("camera ring since the last: want 1, got %d", len(cs))
	}
}
