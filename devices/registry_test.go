package devices_test

import (
	"context"
	"fmt"
	"log/slog"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/iocd/iocd/bus"
	"github.com/iocd/iocd/config"
	"github.com/iocd/iocd/defs"
	"github.com/iocd/iocd/devices"
	"github.com/iocd/iocd/store"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

const camURL = "rtsp://admin:s3cr3t@10.0.0.7:554/live"

type fixture struct {
	reg   *devices.Registry
	store *store.SQLite
	sub   *bus.Subscription
	prom  *prometheus.Registry
	path  string
}

func open(t *testing.T, policy string, path string) fixture {
	t.Helper()
	return openTB(t, policy, path)
}

func openB(b *testing.B, policy string) fixture {
	b.Helper()
	return openTB(b, policy, "")
}

func openTB(t testing.TB, policy string, path string) fixture {
	t.Helper()
	log := slog.New(slog.DiscardHandler)
	if path == "" {
		path = filepath.Join(t.TempDir(), "iocd.db")
	}
	st, err := store.Open(context.Background(), path, log)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	prom := prometheus.NewRegistry()
	b := bus.New(prom)
	sub := b.Subscribe("test", defs.Mask(defs.EventDevice), 1024)
	t.Cleanup(sub.Close)
	cfg := config.Default()
	cfg.UnknownDevices = policy
	reg, err := devices.New(context.Background(), cfg, st, b, prom, log)
	if err != nil {
		t.Fatal(err)
	}
	return fixture{reg: reg, store: st, sub: sub, prom: prom, path: path}
}

func (f fixture) unknownCount(t *testing.T, outcome string) float64 {
	t.Helper()
	mfs, err := f.prom.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != "iocd_registry_unknown_devices_total" {
			continue
		}
		for _, m := range mf.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == "outcome" && l.GetValue() == outcome {
					return m.GetCounter().GetValue()
				}
			}
		}
	}
	t.Fatalf("no iocd_registry_unknown_devices_total{outcome=%q}", outcome)
	return 0
}

func TestUnknownPolicies(t *testing.T) {
	cases := []struct {
		policy     string
		wantOK     bool
		wantStatus defs.Status // "" = not recorded
		outcome    string
	}{
		{config.UnknownPending, false, defs.StatusPending, "recorded"},
		{config.UnknownRegister, true, defs.StatusActive, "registered"},
		{config.UnknownReject, false, "", "rejected"},
	}
	for _, c := range cases {
		t.Run(c.policy, func(t *testing.T) {
			f := open(t, c.policy, "")
			ctx := context.Background()
			for i := 0; i < 3; i++ { // repeated calls decide the same, once
				d, ok, err := f.reg.Unknown(ctx, "hue-1", "wl-9")
				if err != nil || ok != c.wantOK {
					t.Fatalf("call %d: want ok=%v and no error, got %v, %v", i, c.wantOK, ok, err)
				}
				if c.wantStatus != "" && (d.ID != "wl-9" || d.Status != c.wantStatus) {
					t.Fatalf("call %d: want wl-9 %s, got %+v", i, c.wantStatus, d)
				}
			}
			got, inMem := f.reg.Lookup("wl-9")
			if c.wantStatus == "" {
				if inMem {
					t.Errorf("reject recorded the device: %+v", got)
				}
				if n := f.unknownCount(t, "rejected"); n != 3 {
					t.Errorf("rejected count: want 3, got %v", n)
				}
				return
			}
			if !inMem || got.Status != c.wantStatus || got.Site != "hue-1" || got.Kind != defs.KindSensor || got.Tags["source"] != "auto" {
				t.Errorf("Lookup: want %s sensor at hue-1 tagged source=auto, got %+v", c.wantStatus, got)
			}
			if n := f.unknownCount(t, c.outcome); n != 1 {
				t.Errorf("%s count: want 1 (recorded once), got %v", c.outcome, n)
			}
			// It survives a restart: it is in the store, not only memory.
			stored, err := f.store.GetDevice(ctx, "wl-9")
			if err != nil || stored.Status != c.wantStatus {
				t.Errorf("store: want wl-9 %s, got %+v, %v", c.wantStatus, stored, err)
			}
		})
	}
}

func TestUnknownRefusesBadTopicLevels(t *testing.T) {
	f := open(t, config.UnknownRegister, "")
	cases := []struct {
		site string
		id   defs.DeviceID
	}{
		{"hue-1", "+"}, {"hue-1", "#"}, {"hue-1", ""}, {"", "a"}, {"hue 1", "a"}, {"hue-1", defs.DeviceID(strings.Repeat("x", 65))},
	}
	for _, c := range cases {
		t.Run(fmt.Sprintf("%q/%q", c.site, c.id), func(t *testing.T) {
			_, ok, err := f.reg.Unknown(context.Background(), c.site, c.id)
			if ok || defs.ErrorCode(err) != defs.EINVALID {
				t.Errorf("want refused with EINVALID, got ok=%v err=%v", ok, err)
			}
		})
	}
	if ds, _ := f.reg.List(context.Background(), devices.Filter{}); len(ds) != 0 {
		t.Errorf("bad ids were registered: %+v", ds)
	}
}

func TestUnknownConcurrentRecordsOnce(t *testing.T) {
	f := open(t, config.UnknownPending, "")
	var wg sync.WaitGroup
	errs := make(chan error, 64)
	for i := 0; i < 64; i++ {
		wg.Go(func() {
			if _, _, err := f.reg.Unknown(context.Background(), "hue-1", defs.DeviceID(fmt.Sprintf("s%d", i%4))); err != nil {
				errs <- err
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Errorf("Unknown: %v", err)
	}
	if n := f.unknownCount(t, "recorded"); n != 4 {
		t.Errorf("recorded: want 4 (one per id), got %v", n)
	}
}

func TestUnknownAfterStoreFailure(t *testing.T) {
	f := open(t, config.UnknownPending, "")
	f.store.Close()
	_, ok, err := f.reg.Unknown(context.Background(), "hue-1", "s1")
	if ok || err == nil {
		t.Fatalf("with the store closed: want an error, got ok=%v err=%v", ok, err)
	}
	// The next calls are turned away without touching the store.
	_, _, err = f.reg.Unknown(context.Background(), "hue-1", "s2")
	if defs.ErrorCode(err) != defs.EUNAVAILABLE {
		t.Errorf("right after a failure: want EUNAVAILABLE, got %v", err)
	}
	if n := f.unknownCount(t, "failed"); n != 2 {
		t.Errorf("failed count: want 2, got %v", n)
	}
}

func TestRegistryReloadsFromStore(t *testing.T) {
	path := filepath.Join(t.TempDir(), "iocd.db")
	f := open(t, config.UnknownPending, path)
	ctx := context.Background()
	if _, err := f.reg.Create(ctx, defs.Device{ID: "cam-1", Site: "hanoi-1", Kind: defs.KindCamera, RTSPURL: camURL, Tags: map[string]string{"a": "b"}}); err != nil {
		t.Fatal(err)
	}
	if _, err := f.reg.Update(ctx, "cam-1", devices.Patch{Name: ptr("Gate")}); err != nil {
		t.Fatal(err)
	}
	want, _ := f.reg.Lookup("cam-1")
	f.store.Close()

	g := open(t, config.UnknownPending, path)
	got, ok := g.reg.Lookup("cam-1")
	if !ok || got.Name != "Gate" || got.RTSPURL != camURL || got.Tags["a"] != "b" || !got.UpdatedAt.Equal(want.UpdatedAt) || !got.CreatedAt.Equal(want.CreatedAt) {
		t.Errorf("after reopen: want %+v, got %+v", want, got)
	}
	cams, err := g.reg.Cameras(ctx)
	if err != nil || len(cams) != 1 || cams[0].RTSPURL != camURL {
		t.Errorf("Cameras: want cam-1 with its full URL, got %+v, %v", cams, err)
	}
}

func TestCamerasOnlyActive(t *testing.T) {
	f := open(t, config.UnknownPending, "")
	ctx := context.Background()
	for _, d := range []defs.Device{
		{ID: "c1", Site: "s", Kind: defs.KindCamera, RTSPURL: camURL},
		{ID: "c2", Site: "s", Kind: defs.KindCamera, Status: defs.StatusPending},
		{ID: "c3", Site: "s", Kind: defs.KindCamera, Status: defs.StatusDisabled},
		{ID: "s1", Site: "s", Kind: defs.KindSensor},
	} {
		if _, err := f.reg.Create(ctx, d); err != nil {
			t.Fatal(err)
		}
	}
	cams, _ := f.reg.Cameras(ctx)
	if len(cams) != 1 || cams[0].ID != "c1" {
		t.Errorf("Cameras: want only c1, got %+v", cams)
	}
}

func TestEventsAreRedacted(t *testing.T) {
	f := open(t, config.UnknownPending, "")
	ctx := context.Background()
	if _, err := f.reg.Create(ctx, defs.Device{ID: "cam-1", Site: "s", Kind: defs.KindCamera, RTSPURL: camURL, Status: defs.StatusPending}); err != nil {
		t.Fatal(err)
	}
	if _, err := f.reg.Update(ctx, "cam-1", devices.Patch{Name: ptr("x")}); err != nil {
		t.Fatal(err)
	}
	if _, err := f.reg.Approve(ctx, "cam-1"); err != nil {
		t.Fatal(err)
	}
	if _, err := f.reg.Import(ctx, []defs.Device{{ID: "cam-2", Site: "s", Kind: defs.KindCamera, RTSPURL: camURL}}); err != nil {
		t.Fatal(err)
	}
	if err := f.reg.Delete(ctx, "cam-1"); err != nil {
		t.Fatal(err)
	}
	want := []struct {
		id      defs.DeviceID
		status  defs.Status
		deleted bool
	}{
		{"cam-1", defs.StatusPending, false}, {"cam-1", defs.StatusPending, false}, {"cam-1", defs.StatusActive, false},
		{"cam-2", defs.StatusActive, false}, {"cam-1", defs.StatusActive, true},
	}
	for i, w := range want {
		select {
		case ev := <-f.sub.C():
			c := ev.Device
			if ev.Kind != defs.EventDevice || c == nil || c.Device.ID != w.id || c.Device.Status != w.status || c.Deleted != w.deleted {
				t.Errorf("event %d: want %s %s deleted=%v, got %+v", i, w.id, w.status, w.deleted, c)
				continue
			}
			if strings.Contains(c.Device.RTSPURL, "s3cr3t") || c.Device.RTSPURL == "" {
				t.Errorf("event %d: want a redacted URL, got %q", i, c.Device.RTSPURL)
			}
		case <-time.After(5 * time.Second):
			t.Fatalf("event %d: none arrived", i)
		}
	}
	// The event's redaction must not have touched the registry's copy.
	if d, _ := f.reg.Lookup("cam-2"); d.RTSPURL != camURL {
		t.Errorf("Lookup after publishing: want the full URL, got %q", d.RTSPURL)
	}
}

func TestMetricsRegistered(t *testing.T) {
	f := open(t, config.UnknownPending, "")
	if _, err := f.reg.Create(context.Background(), defs.Device{ID: "s1", Site: "s", Kind: defs.KindSensor}); err != nil {
		t.Fatal(err)
	}
	if err := testutil.GatherAndCompare(f.prom, strings.NewReader(`
# HELP iocd_registry_devices Devices in the registry.
# TYPE iocd_registry_devices gauge
iocd_registry_devices 1
`), "iocd_registry_devices"); err != nil {
		t.Error(err)
	}
}

func ptr[T any](v T) *T { return &v }
