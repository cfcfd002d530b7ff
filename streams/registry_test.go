package streams_test

import (
	"context"
	"log/slog"
	"path/filepath"
	"testing"
	"time"

	"github.com/iocd/iocd/bus"
	"github.com/iocd/iocd/config"
	"github.com/iocd/iocd/defs"
	"github.com/iocd/iocd/devices"
	"github.com/iocd/iocd/sim"
	"github.com/iocd/iocd/store"
	"github.com/iocd/iocd/streams"

	"github.com/iocd/iocd/internal/testrig"
)

// TestManagerFollowsTheDeviceRegistry drives the real registry (SQLite,
// bus events with redacted devices) and checks that cameras created,
// re-pointed and deleted through it are picked up by the manager at once,
// well before its periodic re-list.
func TestManagerFollowsTheDeviceRegistry(t *testing.T) {
	ctx := context.Background()
	log := slog.New(slog.DiscardHandler)
	st, err := store.Open(ctx, filepath.Join(t.TempDir(), "iocd.db"), log)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	b := bus.New(nil)
	reg, err := devices.New(ctx, config.Default(), st, b, nil, log)
	if err != nil {
		t.Fatal(err)
	}
	srv := startSim(t)
	a := addCam(t, srv, "a", sim.H264, "op", "pw-a")
	c := addCam(t, srv, "c", sim.H265, "op", "pw-c")
	sc, vc := testConfig()
	m := streams.New(sc, vc, reg, b, nil, nil, nil)
	runManager(t, m)

	state := func() map[defs.DeviceID]streams.CameraStats {
		out := map[defs.DeviceID]streams.CameraStats{}
		for _, s := range m.Cameras() {
			out[s.Camera] = s
		}
		return out
	}
	if _, err := reg.Create(ctx, defs.Device{ID: "cam-x", Site: "hcm", Kind: defs.KindCamera, RTSPURL: a.URL()}); err != nil {
		t.Fatal(err)
	}
	testrig.WaitFor(t, "cam-x streaming from a", 5*time.Second, func() bool {
		s := state()["cam-x"]
		return s.Connected && s.Codec == streams.CodecH264
	})
	url := c.URL()
	if _, err := reg.Update(ctx, "cam-x", devices.Patch{RTSPURL: &url}); err != nil {
		t.Fatal(err)
	}
	testrig.WaitFor(t, "cam-x streaming from c", 5*time.Second, func() bool {
		s := state()["cam-x"]
		return s.Connected && s.Codec == streams.CodecH265
	})
	if err := reg.Delete(ctx, "cam-x"); err != nil {
		t.Fatal(err)
	}
	testrig.WaitFor(t, "cam-x gone", 5*time.Second, func() bool { return len(state()) == 0 })
}
