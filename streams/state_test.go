package streams_test

import (
	"context"
	"fmt"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/iocd/iocd/bus"
	"github.com/iocd/iocd/defs"
	"github.com/iocd/iocd/internal/testrig"
	"github.com/iocd/iocd/sim"
	"github.com/iocd/iocd/streams"
)

// closedPort returns a loopback address nothing listens on.
func closedPort(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	return addr
}

// A camera that has never connected since start tells why, on the bus and
// in CameraStates and Cameras, with the reason's code and a scrubbed
// detail: a wrong password is unauthorized (not "context canceled"), a
// closed port unreachable.
func TestNeverConnectedCameraState(t *testing.T) {
	srv := startSim(t)
	cam := addCam(t, srv, "cam", sim.H264, "police", "right-pass")
	tests := []struct {
		name   string
		url    string
		reason string
	}{
		{"wrong password", strings.Replace(cam.URL(), "right-pass", "wrong-pass", 1), defs.CameraReasonUnauthorized},
		{"closed port", fmt.Sprintf("rtsp://police:wrong-pass@%s/cam", closedPort(t)), defs.CameraReasonUnreachable},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			reg := &registry{}
			reg.set(camera("c1", tc.url))
			sc, vc := testConfig()
			bs := bus.New(nil)
			states := bs.Subscribe("test", defs.Mask(defs.EventCamera), 256)
			defer states.Close()
			m := streams.New(sc, vc, reg, bs, nil, nil, nil)
			runManager(t, m)

			testrig.WaitFor(t, "the camera backing off with reason "+tc.reason, 10*time.Second, func() bool {
				st := m.CameraStates()
				return len(st) == 1 && st[0].State == defs.CameraBackingOff && st[0].Reason == tc.reason && st[0].Attempts >= 2
			})
			st := m.CameraStates()[0]
			if st.Connected || st.Detail == "" || st.Since.IsZero() || st.Camera != "c1" || st.Site != "s1" {
				t.Errorf("want a dated, detailed, not connected state of c1 at s1, got %+v", st)
			}
			cs := m.Cameras()[0]
			if cs.State != defs.CameraBackingOff || cs.Reason != tc.reason || cs.Detail == "" || cs.Attempts < 2 {
				t.Errorf("Cameras: want backing_off with reason %s and its detail, got %+v", tc.reason, cs)
			}
			// Every attempt was published: connecting, then backing off
			// with the reason, at least twice, and nothing else.
			seen := map[defs.CameraSession]int{}
			for len(states.C()) > 0 {
				ev := <-states.C()
				c := ev.Camera
				seen[c.State]++
				if c.State == defs.CameraBackingOff && c.Reason != tc.reason {
					t.Errorf("bus: want every failure as %s, got %+v", tc.reason, c)
				}
				for _, bad := range []string{"context canceled", "wrong-pass"} {
					if strings.Contains(c.Detail, bad) {
						t.Errorf("bus: detail %q holds %q", c.Detail, bad)
					}
				}
			}
			if seen[defs.CameraConnecting] < 2 || seen[defs.CameraBackingOff] < 2 || seen[defs.CameraStreaming] != 0 {
				t.Errorf("bus: want each attempt connecting then backing off, got %v", seen)
			}
		})
	}
}

// Stopping the manager (iocd shutting down) publishes only stopped
// states: a healthy camera must not look down on every restart.
func TestStoppingPublishesNothingAlarming(t *testing.T) {
	srv := startSim(t)
	reg := &registry{}
	var devs []defs.Device
	for i := range 3 {
		c := addCam(t, srv, fmt.Sprintf("cam%d", i), sim.H264, "", "")
		devs = append(devs, camera(fmt.Sprintf("c%d", i), c.URL()))
	}
	reg.set(devs...)
	sc, vc := testConfig()
	bs := bus.New(nil)
	states := bs.Subscribe("test", defs.Mask(defs.EventCamera), 256)
	defer states.Close()
	m := streams.New(sc, vc, reg, bs, nil, nil, nil)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- m.Run(ctx) }()
	testrig.WaitFor(t, "three cameras streaming", 10*time.Second, func() bool {
		n := 0
		for _, st := range m.CameraStates() {
			if st.State == defs.CameraStreaming {
				n++
			}
		}
		return n == 3
	})
	for len(states.C()) > 0 {
		<-states.C()
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("manager Run: %v", err)
	}
	stopped := 0
	for len(states.C()) > 0 {
		c := (<-states.C()).Camera
		if c.State != defs.CameraStopped {
			t.Errorf("while stopping: want only stopped states, got %+v", c)
		}
		stopped++
	}
	if stopped != 3 {
		t.Errorf("want one stopped state per camera, got %d", stopped)
	}
}
