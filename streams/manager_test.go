package streams_test

import (
	"context"
	"log/slog"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/iocd/iocd/config"
	"github.com/iocd/iocd/defs"
	"github.com/iocd/iocd/devices"
	"github.com/iocd/iocd/sim"
	"github.com/iocd/iocd/streams"
)

// registry is an in-test device registry.
type registry struct {
	mu   sync.Mutex
	devs []defs.Device
}

func (r *registry) Cameras(context.Context) ([]defs.Device, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]defs.Device(nil), r.devs...), nil
}

func (r *registry) set(devs ...defs.Device) {
	r.mu.Lock()
	r.devs = devs
	r.mu.Unlock()
}

func camera(id, url string) defs.Device {
	return defs.Device{ID: defs.DeviceID(id), Site: "s1", Kind: defs.KindCamera, RTSPURL: url, Status: defs.StatusActive}
}

func startSim(t *testing.T) *sim.CameraServer {
	t.Helper()
	srv, err := sim.NewCameraServer("127.0.0.1:0", nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Close)
	return srv
}

func addCam(t *testing.T, srv *sim.CameraServer, path string, codec sim.Codec, user, pass string) *sim.Camera {
	t.Helper()
	rec, err := sim.LoadRecording(codec)
	if err != nil {
		t.Fatal(err)
	}
	c, err := srv.AddCamera(sim.CameraSpec{Path: path, Recording: rec, User: user, Pass: pass})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func testConfig() (config.Streams, config.Violations) {
	c := config.Default()
	c.Streams.ReadTimeout = config.Duration(2 * time.Second)
	c.Streams.BackoffMin = config.Duration(200 * time.Millisecond)
	c.Streams.BackoffMax = config.Duration(time.Second)
	c.Streams.StatsInterval = config.Duration(500 * time.Millisecond)
	c.Violations.Pre = config.Duration(2 * time.Second)
	c.Violations.Post = config.Duration(time.Second)
	c.Violations.Windows = nil
	return c.Streams, c.Violations
}

func runManager(t *testing.T, m *streams.Manager) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- m.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("manager Run: %v", err)
		}
	})
}

// waitFor polls cond until it holds or the deadline passes.
func waitFor(t *testing.T, what string, d time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", d, what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func TestSessionsStreamBothCodecsWithAuth(t *testing.T) {
	srv := startSim(t)
	c264 := addCam(t, srv, "cam264", sim.H264, "", "")
	c265 := addCam(t, srv, "cam265", sim.H265, "police", "s3cret")
	reg := &registry{}
	reg.set(camera("c1", c264.URL()), camera("c2", c265.URL()))
	sc, vc := testConfig()
	m := streams.New(sc, vc, reg, nil, nil, nil, slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug})))
	runManager(t, m)

	waitFor(t, "both cameras to buffer 2 s", 15*time.Second, func() bool {
		st := m.Cameras()
		return len(st) == 2 && st[0].BufferSeconds > 2 && st[1].BufferSeconds > 2
	})
	for i, want := range []string{streams.CodecH264, streams.CodecH265} {
		st := m.Cameras()[i]
		if !st.Connected || st.Codec != want || st.Width != 640 || st.Height != 360 {
			t.Errorf("camera %s: want connected %s 640x360, got %+v", st.Camera, want, st)
		}
		if st.FramesLost != 0 || st.PacketsLost != 0 {
			t.Errorf("camera %s: want no loss on loopback, got frames %d packets %d", st.Camera, st.FramesLost, st.PacketsLost)
		}
	}
	if got := m.Cameras()[1].RTSPURL; got != "rtsp://police:xxxxx@"+srv.Addr()+"/cam265" {
		t.Errorf("want the password redacted, got %q", got)
	}
}

// The registry must serve the manager exactly.
var _ streams.Registry = (*devices.Registry)(nil)
