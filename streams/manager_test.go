package streams_test

import (
	"fmt"
	"io"
	"net"
	"strings"

	"context"
	"github.com/bluenviron/gortsplib/v4/pkg/auth"
	"github.com/iocd/iocd/bus"
	"sync"
	"testing"
	"time"

	"github.com/iocd/iocd/config"
	"github.com/iocd/iocd/defs"
	"github.com/iocd/iocd/devices"
	"github.com/iocd/iocd/sim"
	"github.com/iocd/iocd/streams"

	"github.com/iocd/iocd/internal/testrig"
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

func TestSessionsStream(t *testing.T) {
	tests := []struct {
		name      string
		codec     sim.Codec
		transport string
		auth      []auth.VerifyMethod
		user      string
	}{
		{"h264 tcp no auth", sim.H264, "tcp", nil, ""},
		{"h265 tcp digest", sim.H265, "tcp", []auth.VerifyMethod{auth.VerifyMethodDigestMD5}, "police"},
		{"h264 udp basic", sim.H264, "udp", []auth.VerifyMethod{auth.VerifyMethodBasic}, "police"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			opts := []sim.ServerOption{sim.WithUDP()}
			if tc.auth != nil {
				opts = append(opts, sim.WithAuth(tc.auth...))
			}
			srv, err := sim.NewCameraServer("127.0.0.1:0", nil, opts...)
			if err != nil {
				t.Fatal(err)
			}
			defer srv.Close()
			cam := addCam(t, srv, "cam", tc.codec, tc.user, "s3cret")
			reg := &registry{}
			reg.set(camera("c1", cam.URL()))
			sc, vc := testConfig()
			sc.Transport = tc.transport
			m := streams.New(sc, vc, reg, nil, nil, nil, nil)
			runManager(t, m)

			testrig.WaitFor(t, "the camera to buffer 2 s", 15*time.Second, func() bool {
				st := m.Cameras()
				return len(st) == 1 && st[0].BufferSeconds > 2
			})
			st := m.Cameras()[0]
			if !st.Connected || st.Codec != string(tc.codec) || st.Width != 640 || st.Height != 360 {
				t.Errorf("want connected %s 640x360, got %+v", tc.codec, st)
			}
			if st.FramesLost != 0 || st.PacketsLost != 0 || st.Reconnects != 0 {
				t.Errorf("want no loss and no reconnects on loopback, got frames %d packets %d reconnects %d", st.FramesLost, st.PacketsLost, st.Reconnects)
			}
			if tc.user != "" {
				if want := "rtsp://police:xxxxx@" + srv.Addr() + "/cam"; st.RTSPURL != want {
					t.Errorf("want the password redacted as %q, got %q", want, st.RTSPURL)
				}
			}
			// The buffer is GOP-aligned: a cut of the last second starts
			// with a keyframe at most one GOP earlier.
			now := time.Now()
			seg, err := m.Clip(context.Background(), "c1", now.Add(-time.Second), now.Add(-500*time.Millisecond))
			if err != nil || len(seg.Samples) == 0 || !seg.Samples[0].Key || !seg.Complete {
				t.Fatalf("want a complete keyframe-first cut, got %d samples complete=%v err %v", len(seg.Samples), seg.Complete, err)
			}
			if first := seg.Samples[0].Wall; first.After(now.Add(-time.Second)) || first.Before(now.Add(-2*time.Second-100*time.Millisecond)) {
				t.Errorf("cut start: want within one GOP before %s, got %s", now.Add(-time.Second), first)
			}
		})
	}
}

func TestManagerFollowsRegistry(t *testing.T) {
	srv := startSim(t)
	a := addCam(t, srv, "a", sim.H264, "", "")
	b := addCam(t, srv, "b", sim.H265, "u", "right")
	reg := &registry{}
	reg.set(camera("a", a.URL()))
	sc, vc := testConfig()
	bs := bus.New(nil)
	states := bs.Subscribe("test", defs.Mask(defs.EventCamera), 64)
	defer states.Close()
	m := streams.New(sc, vc, reg, bs, nil, nil, nil)
	runManager(t, m)
	connected := func(id string) func() bool {
		return func() bool {
			for _, s := range m.Cameras() {
				if string(s.Camera) == id {
					return s.Connected
				}
			}
			return false
		}
	}
	changed := func() {
		bs.Publish(defs.Event{Kind: defs.EventDevice, Device: &defs.DeviceChange{Device: defs.Device{Kind: defs.KindCamera}}})
	}
	testrig.WaitFor(t, "camera a", 10*time.Second, connected("a"))

	// Added: b, with a wrong password at first, which never connects.
	wrong := camera("b", strings.Replace(b.URL(), "right", "wrong", 1))
	reg.set(camera("a", a.URL()), wrong)
	changed()
	testrig.WaitFor(t, "camera b refused with the wrong password", 10*time.Second, func() bool {
		st := m.Cameras()
		return len(st) == 2 && st[1].State == defs.CameraBackingOff && st[1].Reason == defs.CameraReasonUnauthorized
	})
	// Changed: the right password.
	reg.set(camera("a", a.URL()), camera("b", b.URL()))
	changed()
	testrig.WaitFor(t, "camera b with the right password", 10*time.Second, connected("b"))
	// Removed: a.
	reg.set(camera("b", b.URL()))
	changed()
	testrig.WaitFor(t, "camera a removed", 5*time.Second, func() bool { return len(m.Cameras()) == 1 && m.Cameras()[0].Camera == "b" })

	// Camera state changes reached the bus: a and b streamed once each,
	// b was refused before, and a's removal stopped its session without
	// saying it was down.
	// The manager drops a from its list before a's session has said it
	// stopped, so the events are gathered until that last one is in,
	// rather than read once: the bus delivers them after the state.
	got := map[string]int{}
	testrig.WaitFor(t, "a's stopped event on the bus", 10*time.Second, func() bool {
		for len(states.C()) > 0 {
			ev := <-states.C()
			got[fmt.Sprintf("%s:%s:%s", ev.Camera.Camera, ev.Camera.State, ev.Camera.Reason)]++
		}
		return got["a:stopped:"] > 0
	})
	if got["a:streaming:"] != 1 || got["b:streaming:"] != 1 || got["a:stopped:"] != 1 || got["a:backing_off:"] != 0 ||
		got["b:backing_off:unauthorized"] == 0 || got["b:stopped:unauthorized"] != 1 {
		t.Errorf("camera events: want a and b streaming once each, b refused, a and the wrong b stopped once, got %v", got)
	}
}

func TestCameraStatsPoints(t *testing.T) {
	srv := startSim(t)
	a := addCam(t, srv, "a", sim.H264, "", "")
	reg := &registry{}
	reg.set(camera("a", a.URL()))
	sc, vc := testConfig()
	pw := &points{}
	m := streams.New(sc, vc, reg, nil, pw, nil, nil)
	runManager(t, m)
	testrig.WaitFor(t, "two camera_stats points while streaming", 10*time.Second, func() bool {
		pw.mu.Lock()
		defer pw.mu.Unlock()
		n := 0
		for _, p := range pw.got {
			if p.fields["connected"] == 1 && p.fields["fps"].(float64) > 20 {
				n++
			}
		}
		return n >= 2
	})
	pw.mu.Lock()
	defer pw.mu.Unlock()
	p := pw.got[len(pw.got)-1]
	if p.measurement != "camera_stats" || p.tags["camera"] != "a" || p.tags["site"] != "s1" {
		t.Errorf("want camera_stats tagged camera a site s1, got %+v", p)
	}
	if kbps := p.fields["kbps"].(float64); kbps < 100 || kbps > 600 {
		t.Errorf("kbps: want the recording's ~250, got %.0f", kbps)
	}
	if lost := p.fields["frames_lost"].(int64); lost != 0 {
		t.Errorf("frames_lost: want 0, got %d", lost)
	}
}

type point struct {
	measurement string
	tags        map[string]string
	fields      map[string]any
}

type points struct {
	mu  sync.Mutex
	got []point
}

func (p *points) WritePoint(m string, tags map[string]string, fields map[string]any, _ time.Time) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.got = append(p.got, point{m, tags, fields})
}

// The registry must serve the manager exactly.
var _ streams.Registry = (*devices.Registry)(nil)

// A clip whose end is far ahead (a future-dated event) is given up when
// its caller's ctx ends, and must not leave a waiter in the ring that
// every frame would scan from then on.
func TestClipGivenUpLeavesNoWaiter(t *testing.T) {
	srv := startSim(t)
	a := addCam(t, srv, "a", sim.H264, "", "")
	reg := &registry{}
	reg.set(camera("a", a.URL()))
	sc, vc := testConfig()
	m := streams.New(sc, vc, reg, nil, nil, nil, nil)
	runManager(t, m)
	testrig.WaitFor(t, "camera a streaming", 10*time.Second, func() bool {
		st := m.Cameras()
		return len(st) == 1 && st[0].Connected && st[0].Frames > 0
	})
	const calls = 200
	var wg sync.WaitGroup
	reasons := make(chan string, calls)
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range calls / 4 {
				ctx, cancel := context.WithTimeout(context.Background(), 5*time.Millisecond)
				now := time.Now()
				seg, err := m.Clip(ctx, "a", now.Add(-time.Second), now.Add(time.Hour))
				cancel()
				if err != nil {
					reasons <- err.Error()
					continue
				}
				reasons <- seg.Reason
			}
		}()
	}
	wg.Wait()
	close(reasons)
	for r := range reasons {
		// The reason starts with why the wait ended, then says what the
		// buffer lacks.
		if !strings.HasPrefix(r, "timed out waiting for the end of the clip window") {
			t.Fatalf("want every clip timed out waiting, got %q", r)
		}
	}
	if n := m.ClipWaiters("a"); n != 0 {
		t.Errorf("want no clip waiters left after %d given-up clips, got %d", calls, n)
	}
}

// blackHole is a camera whose RTSP service has hung: it accepts TCP
// connections and never answers. It returns the camera's URL and the
// connections it accepted.
func blackHole(t *testing.T) (string, <-chan net.Conn) {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	conns := make(chan net.Conn, 64)
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			select {
			case conns <- c:
			default:
				c.Close()
			}
		}
	}()
	t.Cleanup(func() {
		l.Close()
		<-done
		close(conns)
		for c := range conns {
			c.Close()
		}
	})
	return "rtsp://" + l.Addr().String() + "/cam", conns
}

// A session stuck waiting for a hung camera's answer stops as soon as it
// is told to, not when the read timeout runs out: removing the camera or
// shutting down must not wait 30 s per dead camera.
func TestHungCameraStopsPromptly(t *testing.T) {
	const bound = 3 * time.Second // a liveness bound, far below the 30 s read timeout
	tests := []struct {
		name string
		stop func(reg *registry, bs *bus.Bus, cancel context.CancelFunc)
	}{
		{"camera removed", func(reg *registry, bs *bus.Bus, _ context.CancelFunc) {
			reg.set()
			bs.Publish(defs.Event{Kind: defs.EventDevice, Device: &defs.DeviceChange{Device: defs.Device{Kind: defs.KindCamera}, Deleted: true}})
		}},
		{"manager shut down", func(_ *registry, _ *bus.Bus, cancel context.CancelFunc) { cancel() }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			url, conns := blackHole(t)
			reg := &registry{}
			reg.set(camera("hung", url))
			sc, vc := testConfig()
			sc.ReadTimeout = config.Duration(30 * time.Second)
			bs := bus.New(nil)
			m := streams.New(sc, vc, reg, bs, nil, nil, nil)
			ctx, cancel := context.WithCancel(context.Background())
			runDone := make(chan error, 1)
			go func() { runDone <- m.Run(ctx) }()
			defer func() {
				cancel()
				<-runDone
			}()
			var conn net.Conn
			select {
			case conn = <-conns:
			case <-time.After(10 * time.Second):
				t.Fatal("want the session to connect to the hung camera, got no connection in 10 s")
			}
			// The client has sent its first request and waits for the answer.
			conn.SetReadDeadline(time.Now().Add(10 * time.Second))
			if _, err := io.ReadFull(conn, make([]byte, 8)); err != nil {
				t.Fatalf("want the session's first request, got %v", err)
			}

			start := time.Now()
			tc.stop(reg, bs, cancel)
			// The session is stopped once it closes its connection. Reading
			// drains the request; nothing is ever answered.
			conn.SetReadDeadline(start.Add(10 * time.Second))
			_, err := io.Copy(io.Discard, conn)
			if elapsed := time.Since(start); err != nil || elapsed > bound {
				t.Fatalf("want the hung camera's connection closed within %s, got closed=%v after %s", bound, err == nil, elapsed.Round(time.Millisecond))
			}
			if tc.name == "manager shut down" {
				select {
				case <-runDone:
					runDone <- nil // for the deferred cleanup
				case <-time.After(bound):
					t.Fatalf("want Run to return within %s of shutdown, got still running", bound)
				}
			}
		})
	}
}

// A clip asked for while its camera is reconnecting from a drop inside the
// window (the event was handled after the drop, as a busy iocd may) waits
// for the reconnection and holds both connections, as it does when it was
// asked for before the drop.
func TestClipAskedDuringReconnectWaits(t *testing.T) {
	srv := startSim(t)
	a := addCam(t, srv, "a", sim.H264, "", "")
	reg := &registry{}
	reg.set(camera("a", a.URL()))
	sc, vc := testConfig()
	m := streams.New(sc, vc, reg, nil, nil, nil, nil)
	runManager(t, m)
	testrig.WaitFor(t, "camera a to buffer 1.5 s", 10*time.Second, func() bool {
		st := m.Cameras()
		return len(st) == 1 && st[0].Connected && st[0].BufferSeconds >= 1.5
	})
	from, to := time.Now().Add(-time.Second), time.Now().Add(time.Second)
	if err := a.SetDown(true); err != nil {
		t.Fatal(err)
	}
	testrig.WaitFor(t, "the session to notice the drop", 10*time.Second, func() bool { return !m.Connected("a") })
	type result struct {
		seg streams.Segment
		err error
	}
	done := make(chan result, 1)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	go func() {
		seg, err := m.Clip(ctx, "a", from, to)
		done <- result{seg, err}
	}()
	var early *result
	testrig.WaitFor(t, "the clip to wait on the buffer", 10*time.Second, func() bool {
		select {
		case r := <-done:
			early = &r
			return true
		default:
		}
		return m.ClipWaiters("a") == 1
	})
	if early != nil {
		t.Fatalf("want the clip to wait for the reconnect, got it cut at once: %q (err %v)", early.seg.Reason, early.err)
	}
	if err := a.SetDown(false); err != nil {
		t.Fatal(err)
	}
	r := <-done
	if r.err != nil {
		t.Fatal(r.err)
	}
	ss := r.seg.Samples
	if len(ss) == 0 || ss[0].Epoch == ss[len(ss)-1].Epoch {
		t.Fatalf("want samples of both connections, got %d samples (%q)", len(ss), r.seg.Reason)
	}
	if last := ss[len(ss)-1].Wall; last.Before(to.Add(-100 * time.Millisecond)) {
		t.Errorf("want the clip to reach its window's end %s, got its last frame at %s (%q)", to, last, r.seg.Reason)
	}
	if len(r.seg.Gaps) != 1 || !r.seg.Gaps[0].Reconnect || !strings.Contains(r.seg.Reason, "camera reconnected") {
		t.Errorf("want the reconnect named as the one gap, got %+v (%q)", r.seg.Gaps, r.seg.Reason)
	}
}
