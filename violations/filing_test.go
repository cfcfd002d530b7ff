package violations_test

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/iocd/iocd/bus"
	"github.com/iocd/iocd/config"
	"github.com/iocd/iocd/defs"
	"github.com/iocd/iocd/devices"
	"github.com/iocd/iocd/ingest"
	"github.com/iocd/iocd/internal/testrig"
	"github.com/iocd/iocd/sim"
	"github.com/iocd/iocd/store"
	"github.com/iocd/iocd/violations"
)

// refusedCount reads iocd_violation_events_refused_total{reason}.
func refusedCount(t *testing.T, reg *prometheus.Registry, reason string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != "iocd_violation_events_refused_total" {
			continue
		}
		for _, m := range mf.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == "reason" && l.GetValue() == reason {
					return m.GetCounter().GetValue()
				}
			}
		}
	}
	return -1
}

// TestOnlyActiveCamerasFile: a sensor, a device iocd registered by itself,
// a pending and a disabled camera each have their event refused, counted
// by reason, and leave no record; an active camera files.
func TestOnlyActiveCamerasFile(t *testing.T) {
	dir := t.TempDir()
	st, err := store.Open(context.Background(), filepath.Join(dir, "iocd.db"), discard())
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	cfg := config.Default()
	reg := prometheus.NewRegistry()
	svc := violations.New(cfg.Violations, cfg.Retention, cfg.Streams, dir, st, nil, nil, nil, reg, nil)
	auto := map[string]string{"source": "auto"}
	for i, tc := range []struct {
		name   string
		dev    defs.Device
		reason string
	}{
		{"sensor", defs.Device{ID: "s1", Site: "hcm", Kind: defs.KindSensor, Status: defs.StatusActive}, violations.RefusedNotCamera},
		{"controller", defs.Device{ID: "c1", Site: "hcm", Kind: defs.KindController, Status: defs.StatusActive}, violations.RefusedNotCamera},
		{"auto-registered", defs.Device{ID: "ghost", Site: "hcm", Kind: defs.KindSensor, Status: defs.StatusActive, Tags: auto}, violations.RefusedAutoRegistered},
		{"pending camera", defs.Device{ID: "p1", Site: "hcm", Kind: defs.KindCamera, Status: defs.StatusPending}, violations.RefusedPending},
		{"disabled camera", defs.Device{ID: "d1", Site: "hcm", Kind: defs.KindCamera, Status: defs.StatusDisabled}, violations.RefusedInactive},
		{"active camera", defs.Device{ID: "cam", Site: "hcm", Kind: defs.KindCamera, Status: defs.StatusActive}, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			payload := fmt.Sprintf(`{"event_id":"e%d","type":"red_light","ts":%d,"plate":"51F12345"}`, i, time.Now().UnixMilli())
			err := svc.HandleEvent(context.Background(), tc.dev, []byte(payload), time.Now())
			vs, _, lerr := st.ListViolations(context.Background(), defs.ViolationFilter{Camera: tc.dev.ID})
			if lerr != nil {
				t.Fatal(lerr)
			}
			if tc.reason == "" {
				if err != nil || len(vs) != 1 {
					t.Fatalf("want the event filed, got %v and %d records", err, len(vs))
				}
				return
			}
			if defs.ErrorCode(err) != defs.EINVALID || !strings.Contains(err.Error(), tc.reason) || len(vs) != 0 {
				t.Errorf("want the event refused (EINVALID naming %s) and no record, got %v and %d records", tc.reason, err, len(vs))
			}
			if got := refusedCount(t, reg, tc.reason); got < 1 {
				t.Errorf("iocd_violation_events_refused_total{reason=%q} = %v, want counted", tc.reason, got)
			}
		})
	}
	if got := refusedCount(t, reg, violations.RefusedNotCamera); got != 2 {
		t.Errorf("not_camera refusals: want 2, got %v", got)
	}
}

// TestAutoRegisteredDeviceCannotFileOverMQTT plays any MQTT client
// inventing a device id with unknown_devices=register, and a registered
// sensor, publishing violation events through a real Mosquitto and
// ingest: iocd registers the inventor (as an active sensor), and files
// neither's events.
func TestAutoRegisteredDeviceCannotFileOverMQTT(t *testing.T) {
	mq := testrig.Mosquitto(t)
	dir := t.TempDir()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	st, err := store.Open(ctx, filepath.Join(dir, "iocd.db"), discard())
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	cfg := config.Default()
	cfg.UnknownDevices = config.UnknownRegister
	registry, err := devices.New(ctx, cfg, st, nil, nil, discard())
	if err != nil {
		t.Fatal(err)
	}
	sensor := defs.Device{ID: "sensor-1", Site: "hcm", Kind: defs.KindSensor, Status: defs.StatusActive}
	if _, err := registry.Create(ctx, sensor); err != nil {
		t.Fatal(err)
	}
	reg := prometheus.NewRegistry()
	svc := violations.New(cfg.Violations, cfg.Retention, cfg.Streams, dir, st, nil, nil, nil, reg, nil)
	mcfg := cfg.MQTT
	mcfg.URL, mcfg.ClientID = mq.URL(), "iocd-filing-test"
	in, err := ingest.New(mcfg, cfg.Ingest, ingest.Deps{Registry: registry, Events: svc, Bus: bus.New(nil), Logger: discard()})
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { defer wg.Done(); in.Run(ctx) }()
	defer func() { cancel(); wg.Wait() }()
	testrig.WaitFor(t, "ingest to have its subscriptions confirmed", 15*time.Second, func() bool { return in.Ready(ctx) == nil })

	pctx, pcancel := context.WithCancel(ctx)
	defer pcancel()
	pubErr := make(chan error, 1)
	ghost := defs.Device{ID: "ghost-42", Site: "hcm", Kind: defs.KindCamera} // what the inventor claims; iocd decides
	go func() {
		pubErr <- sim.NewEvents(sim.EventsConfig{URL: mq.URL(), Every: 200 * time.Millisecond, Seed: 7}, []defs.Device{ghost, sensor}, nil).Run(pctx)
	}()
	testrig.WaitFor(t, "both devices' events refused", 30*time.Second, func() bool {
		return refusedCount(t, reg, violations.RefusedAutoRegistered) >= 1 && refusedCount(t, reg, violations.RefusedNotCamera) >= 1
	})
	pcancel()
	if err := <-pubErr; err != nil {
		t.Fatal(err)
	}
	if d, ok := registry.Lookup("ghost-42"); !ok || d.Status != defs.StatusActive || d.Kind != defs.KindSensor {
		t.Errorf("the inventor: want auto-registered as an active sensor, got %+v (found %v)", d, ok)
	}
	vs, _, err := st.ListViolations(ctx, defs.ViolationFilter{})
	if err != nil || len(vs) != 0 {
		t.Errorf("want no violation recorded, got %d (%v)", len(vs), err)
	}
}

// TestPlaceAsItWas: the camera's name, address, coordinates and site are
// copied into the record when the event arrives and sealed with it, and
// the event's own JSON is kept byte for byte; renaming or moving the
// camera in the registry later changes no past record.
func TestPlaceAsItWas(t *testing.T) {
	dir := t.TempDir()
	st, err := store.Open(context.Background(), filepath.Join(dir, "iocd.db"), discard())
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	cfg := config.Default()
	cfg.Violations.Pre, cfg.Violations.Post = 0, 0
	svc := violations.New(cfg.Violations, cfg.Retention, cfg.Streams, dir, st, nil, nil, nil, nil, nil)
	ctx := context.Background()
	cam := defs.Device{ID: "cam-7", Site: "tan-an", Kind: defs.KindCamera, Status: defs.StatusActive, Name: "Ngã tư Tân An",
		Address: "QL1A, Tân An, Long An", Lat: 10.5363, Lon: 106.4131}
	// Keys iocd does not read (radar samples, signal phase) and odd
	// spacing: kept as sent.
	raw := fmt.Sprintf(`{"event_id":"p1", "type":"speeding","ts":%d,"plate":"62A12345","speed_kmh":71.5,"radar":{"samples":[70.9,71.5,71.2]},"phase":"red"}`,
		time.Now().UnixMilli())
	if err := svc.HandleEvent(ctx, cam, []byte(raw), time.Now()); err != nil {
		t.Fatal(err)
	}
	// The registry is edited: the camera renamed and moved.
	moved := cam
	moved.Name, moved.Address, moved.Lat, moved.Lon = "Cổng B", "elsewhere", 11, 107
	raw2 := fmt.Sprintf(`{"event_id":"p2","type":"speeding","ts":%d}`, time.Now().UnixMilli())
	if err := svc.HandleEvent(ctx, moved, []byte(raw2), time.Now()); err != nil {
		t.Fatal(err)
	}
	var vs []defs.Violation
	testrig.WaitFor(t, "both records sealed", 20*time.Second, func() bool {
		vs, _, err = st.ListViolations(ctx, defs.ViolationFilter{})
		return err == nil && len(vs) == 2 && vs[0].ClipStatus != defs.ClipRecording && vs[1].ClipStatus != defs.ClipRecording
	})
	byEvent := map[string]defs.Violation{}
	for _, v := range vs {
		byEvent[v.EventID] = v
	}
	first, err := st.GetViolation(ctx, byEvent["p1"].ID)
	if err != nil {
		t.Fatal(err)
	}
	if first.CameraName != cam.Name || first.Address != cam.Address || first.Lat != cam.Lat || first.Lon != cam.Lon || first.Site != cam.Site {
		t.Errorf("first record's place: want %q %q %v,%v at %s, got %q %q %v,%v at %s", cam.Name, cam.Address, cam.Lat, cam.Lon, cam.Site,
			first.CameraName, first.Address, first.Lat, first.Lon, first.Site)
	}
	if string(first.RawEvent) != raw {
		t.Errorf("raw event: want the event as sent\n%s\ngot\n%s", raw, first.RawEvent)
	}
	if second := byEvent["p2"]; second.CameraName != "Cổng B" || second.Address != "elsewhere" {
		t.Errorf("second record's place: want the edited registry's, got %q %q", second.CameraName, second.Address)
	}
	rep, err := violations.Verify(ctx, st, dir)
	if err != nil || !rep.OK() {
		t.Errorf("verify: want OK, got %+v %v", rep.Problems, err)
	}
	// A viewer's copy carries no raw event (it holds the plate).
	if v := violations.ForRole(first, defs.RoleViewer); v.RawEvent != nil {
		t.Errorf("viewer copy: want no raw event, got %s", v.RawEvent)
	}
}
