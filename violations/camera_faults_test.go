package violations_test

import (
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/iocd/iocd/config"
	"github.com/iocd/iocd/defs"
	"github.com/iocd/iocd/internal/testrig"
	"github.com/iocd/iocd/sim"
	"github.com/iocd/iocd/streams"
)

// A camera that misbehaves (garbage RTP, a codec it did not announce, a
// 50 MB or an oversized access unit, a stall in the middle of a frame) is
// isolated: its buffer stays bounded, its session recovers once it
// behaves, and a healthy camera's clip cut during the fault is whole
// (ffprobe: it decodes, starts on a keyframe, lasts the window and holds
// a frame every 40 ms).
func TestCameraFaultsIsolated(t *testing.T) {
	const maxAU = 1 << 20
	r := newRig(t, func(c *config.Config) { c.Streams.MaxAUBytes = maxAU })
	faulty, err := sim.NewFaultyCamera()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(faulty.Close)
	dev := defs.Device{ID: "faulty", Site: "hcm", Kind: defs.KindCamera, RTSPURL: faulty.URL(), Status: defs.StatusActive}
	r.devs["faulty"] = dev
	r.reg.mu.Lock()
	r.reg.devs = append(r.reg.devs, dev)
	r.reg.mu.Unlock()
	r.bus.Publish(defs.Event{Kind: defs.EventDevice, Device: &defs.DeviceChange{Device: dev}})
	stats := func(id string) streams.CameraStats {
		for _, s := range r.streams.Cameras() {
			if string(s.Camera) == id {
				return s
			}
		}
		return streams.CameraStats{}
	}
	r.waitBuffered("faulty", time.Second)
	r.waitBuffered("cam264", pre+time.Second)

	tests := []struct {
		fault sim.Fault
		huge  int
		// isolated is what shows the fault reached the session.
		isolated func(before, now streams.CameraStats) bool
	}{
		{sim.FaultGarbage, 0, func(b, n streams.CameraStats) bool { return n.FramesLost > b.FramesLost }},
		{sim.FaultUnannounced, 0, func(b, n streams.CameraStats) bool {
			return n.State == defs.CameraBackingOff && n.Reason == defs.CameraReasonBadCodec
		}},
		{sim.FaultHugeAU, 50 << 20, func(b, n streams.CameraStats) bool { return n.FramesLost > b.FramesLost }},
		{sim.FaultHugeAU, 2 * maxAU, func(b, n streams.CameraStats) bool { return n.OversizeFrames > b.OversizeFrames }},
		{sim.FaultStall, 0, func(b, n streams.CameraStats) bool {
			return n.State == defs.CameraBackingOff && n.Reason == defs.CameraReasonNoVideo
		}},
	}
	for i, tc := range tests {
		name := string(tc.fault)
		if tc.huge > 0 {
			name = fmt.Sprintf("%s %d bytes", tc.fault, tc.huge)
		}
		t.Run(name, func(t *testing.T) {
			r.t = t
			before := stats("faulty")
			faulty.SetFault(tc.fault, tc.huge)
			// A healthy camera's clip, cut while the fault plays.
			ts := time.Now().Add(-300 * time.Millisecond)
			id := fmt.Sprintf("during-%d", i)
			r.fire("cam264", id, "red_light", ts, "")
			var last streams.CameraStats
			defer func() {
				if t.Failed() {
					t.Logf("faulty session at the end: %+v", last)
				}
			}()
			testrig.WaitFor(t, "the fault to reach the faulty session", 30*time.Second, func() bool {
				last = stats("faulty")
				if !tc.isolated(before, last) {
					return false
				}
				t.Logf("faulty session: %s %s %q, frames lost %d→%d, oversize %d→%d", last.State, last.Reason, last.Detail,
					before.FramesLost, last.FramesLost, before.OversizeFrames, last.OversizeFrames)
				return true
			})
			if s := stats("faulty"); s.BufferBytes > r.cfg.Streams.BufferMaxBytes {
				t.Errorf("faulty buffer: want at most %d bytes, got %d", r.cfg.Streams.BufferMaxBytes, s.BufferBytes)
			}
			v := r.final("cam264", id)
			if v.ClipStatus != defs.ClipComplete {
				t.Fatalf("healthy camera during the fault: want a complete clip, got %s (%s)", v.ClipStatus, v.ClipReason)
			}
			frames := probe(t, filepath.Join(r.dataDir, v.ClipPath))
			if len(frames) == 0 || !frames[0].Key {
				t.Fatalf("want the clip to start with a keyframe, got %d frames", len(frames))
			}
			span := frames[len(frames)-1].PTS - frames[0].PTS + 0.04
			if span < (pre + post).Seconds() {
				t.Errorf("clip duration: want at least %s, ffprobe says %.2fs", pre+post, span)
			}
			if want := int(span/0.04 + 0.5); len(frames) < want-1 || len(frames) > want+1 {
				t.Errorf("clip frames: want %d (one per 40 ms over %.2fs), got %d", want, span, len(frames))
			}
			// The faulty camera behaves again: its session recovers.
			faulty.SetFault(sim.FaultNone, 0)
			framesBefore := stats("faulty").Frames
			testrig.WaitFor(t, "the faulty camera streaming again", 30*time.Second, func() bool {
				s := stats("faulty")
				return s.State == defs.CameraStreaming && s.Frames > framesBefore+25
			})
		})
	}
}
