package violations_test

import (
	"context"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/iocd/iocd/bus"
	"github.com/iocd/iocd/conditions"
	"github.com/iocd/iocd/config"
	"github.com/iocd/iocd/defs"
	"github.com/iocd/iocd/hostclock"
	"github.com/iocd/iocd/internal/testrig"
	"github.com/iocd/iocd/sim"
	"github.com/iocd/iocd/store"
	"github.com/iocd/iocd/streams"
	"github.com/iocd/iocd/violations"
)

// The evidence rig's cameras, each a simulated camera over real RTSP.
var evidenceCams = []struct {
	id   string
	spec sim.CameraSpec
}{
	// A healthy camera: its clock is the host's, 25 fps.
	{"ok", sim.CameraSpec{SenderReportEvery: 500 * time.Millisecond}},
	// 2 s ahead, and sends its first sender report only when the test
	// says, so the test knows that frames were timed by receipt until then.
	{"ahead2", sim.CameraSpec{ClockOffset: 2 * time.Second, SenderReportEvery: -1}},
	{"off3", sim.CameraSpec{ClockOffset: 3 * time.Second, SenderReportEvery: 500 * time.Millisecond}},
	{"slow3", sim.CameraSpec{FPS: 3, SenderReportEvery: 500 * time.Millisecond}},
	{"flaky", sim.CameraSpec{SenderReportEvery: 500 * time.Millisecond}},
}

// afterSR is the violation type of the re-timing test, with a longer
// window reaching back across the first sender report.
const (
	afterSR     = "after_sr"
	afterSRPre  = 5 * time.Second
	afterSRPost = 2 * time.Second
)

// reconnectGap finds a reconnect's times in the no_gaps check's detail.
var reconnectGap = regexp.MustCompile(`camera reconnected from (\S+) to (\S+) \(`)

// newEvidenceRig serves evidenceCams, with the host clock synchronised
// (the VM's kernel may say otherwise: the gate's host check has its own
// test) and the gate's other thresholds at their defaults.
func newEvidenceRig(t *testing.T) (*rig, *conditions.Registry) {
	t.Helper()
	r := &rig{t: t, cams: map[string]*sim.Camera{}, devs: map[string]defs.Device{}, dataDir: t.TempDir(), bus: bus.New(nil), points: &points{}}
	cfg := config.Default()
	// Long enough for the 3 fps camera's first keyframe (every 8.3 s).
	cfg.Streams.ReadTimeout = config.Duration(10 * time.Second)
	cfg.Streams.BackoffMin = config.Duration(100 * time.Millisecond)
	cfg.Streams.BackoffMax = config.Duration(time.Second)
	cfg.Streams.BufferSlack = config.Duration(2 * time.Second)
	cfg.Streams.StatsInterval = config.Duration(time.Second)
	cfg.Violations.Pre, cfg.Violations.Post = config.Duration(pre), config.Duration(post)
	cfg.Violations.Windows = map[string]config.Window{afterSR: {Pre: config.Duration(afterSRPre), Post: config.Duration(afterSRPost)}}
	cfg.Retention.MinFreeBytes = 0
	cfg.Retention.Interval = config.Duration(time.Hour)
	r.cfg = cfg
	srv, err := sim.NewCameraServer("127.0.0.1:0", nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Close)
	r.sim = srv
	rec, err := sim.LoadRecording(sim.H264)
	if err != nil {
		t.Fatal(err)
	}
	reg := &registry{}
	r.reg = reg
	for _, c := range evidenceCams {
		spec := c.spec
		spec.Path, spec.Recording = c.id, rec
		cam, err := srv.AddCamera(spec)
		if err != nil {
			t.Fatal(err)
		}
		r.cams[c.id] = cam
		d := defs.Device{ID: defs.DeviceID(c.id), Site: "hcm", Kind: defs.KindCamera, RTSPURL: cam.URL(), Status: defs.StatusActive}
		r.devs[c.id] = d
		reg.devs = append(reg.devs, d)
	}
	st, err := store.Open(context.Background(), filepath.Join(r.dataDir, "iocd.db"), discard())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	r.store = st
	conds := conditions.New()
	gate := streams.DefaultGate()
	gate.MinFPS = cfg.Evidence.MinFPS
	gate.MaxClockOffset = cfg.Evidence.MaxClockOffset.D()
	r.streams = streams.New(cfg.Streams, cfg.Violations, reg, r.bus, nil, nil, nil,
		streams.WithGate(gate), streams.WithConditions(conds),
		streams.WithHostClock(hostclock.Fixed(hostclock.State{Synced: true, ErrorMs: 0.5})))
	r.svc = violations.New(cfg.Violations, cfg.Retention, cfg.Streams, r.dataDir, st, r.streams, r.bus, r.points, nil, nil)
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Add(2)
	go func() { defer wg.Done(); r.streams.Run(ctx) }()
	go func() { defer wg.Done(); r.svc.Run(ctx) }()
	t.Cleanup(func() { cancel(); wg.Wait() })
	return r, conds
}

func (r *rig) camera(id string) streams.CameraStats {
	for _, s := range r.streams.Cameras() {
		if string(s.Camera) == id {
			return s
		}
	}
	return streams.CameraStats{}
}

// failedChecks returns the names of the checks that failed.
func failedChecks(checks []defs.EvidenceCheck) []string {
	var out []string
	for _, c := range checks {
		if !c.OK {
			out = append(out, c.Name)
		}
	}
	return out
}

func check(checks []defs.EvidenceCheck, name string) defs.EvidenceCheck {
	for _, c := range checks {
		if c.Name == name {
			return c
		}
	}
	return defs.EvidenceCheck{}
}

// probeSpan returns the clip's duration by its own timeline, as ffprobe
// lists its frames (the last frame lasts one 25 fps interval).
func probeSpan(t *testing.T, path string) (float64, []probedFrame) {
	t.Helper()
	frames := probe(t, path)
	if len(frames) == 0 || !frames[0].Key {
		t.Fatalf("want a clip starting with a keyframe, got %d frames", len(frames))
	}
	return frames[len(frames)-1].PTS - frames[0].PTS + 0.04, frames
}

func TestEvidenceFromSimulatedCameras(t *testing.T) {
	r, conds := newEvidenceRig(t)
	all := []string{defs.EvidenceCheckFrameRate, defs.EvidenceCheckKeyframes, defs.EvidenceCheckFormat,
		defs.EvidenceCheckGaps, defs.EvidenceCheckClockOffset, defs.EvidenceCheckHostClock}

	// The case: a camera 2 s ahead connects, streams timed by
	// receipt, then sends its first sender report; an event 2 s later (by
	// the camera's clock) asks for 5 s before it. Without re-timing, the
	// frames before the report sit 2 s early on the timeline and the clip
	// comes out 2 s short.
	t.Run("clip cut 2 s after the first sender report covers the window", func(t *testing.T) {
		r.t = t
		r.waitBuffered("ahead2", afterSRPre+time.Second)
		if c := r.camera("ahead2"); c.ClockReported {
			t.Fatal("want no sender report before the test sends one")
		}
		if err := r.cams["ahead2"].SendSenderReport(); err != nil {
			t.Fatal(err)
		}
		sentAt := time.Now()
		testrig.WaitFor(t, "the camera's clock to be known", 10*time.Second, func() bool {
			c := r.camera("ahead2")
			return c.ClockReported && c.LastFrameAt.After(sentAt)
		})
		// The event's time is the camera's: 2 s after the report.
		ts := sentAt.Add(2 * time.Second).Add(2 * time.Second)
		r.fire("ahead2", "after-sr", afterSR, ts, "")
		v := r.final("ahead2", "after-sr")
		if v.ClipStatus != defs.ClipComplete {
			t.Fatalf("want a complete clip, got %s (%s)", v.ClipStatus, v.ClipReason)
		}
		from, to := ts.Add(-afterSRPre), ts.Add(afterSRPost)
		if v.ClipStart.After(from) || v.ClipEnd.Before(to) {
			t.Errorf("want the clip to span [%s, %s], got [%s, %s]", from.Format(time.RFC3339Nano), to.Format(time.RFC3339Nano),
				v.ClipStart.Format(time.RFC3339Nano), v.ClipEnd.Format(time.RFC3339Nano))
		}
		// What the clip holds, by its own timeline: the whole window.
		span, _ := probeSpan(t, filepath.Join(r.dataDir, v.ClipPath))
		// Reported, not asserted beyond the window: the figures for the report.
		t.Logf("clip %.2f s by ffprobe for a %s window; camera clock offset %.0f ms", span, afterSRPre+afterSRPost, v.ClockOffsetMs)
		if want := (afterSRPre + afterSRPost).Seconds(); span < want-0.04 {
			t.Errorf("ffprobe: want at least %.2f s of video, got %.2f s", want, span)
		}
		// The camera is 2 s off: the record says so, and is not evidential.
		if v.ClockOffsetMs < 1500 || v.ClockOffsetMs > 2500 {
			t.Errorf("clock offset: want about 2000 ms, got %.0f", v.ClockOffsetMs)
		}
		if v.Evidential || !slices.Equal(failedChecks(v.EvidenceChecks), []string{defs.EvidenceCheckClockOffset}) {
			t.Errorf("want not evidential for the clock offset only, got evidential=%v checks %+v", v.Evidential, v.EvidenceChecks)
		}
	})

	t.Run("clip spanning a reconnect holds both connections", func(t *testing.T) {
		r.t = t
		r.waitBuffered("flaky", pre+time.Second)
		ts := time.Now()
		r.fire("flaky", "reconnect", "red_light", ts, "")
		testrig.WaitFor(t, "flaky to stream past ts", 10*time.Second, func() bool { return r.camera("flaky").LastFrameAt.After(ts) })
		cam := r.cams["flaky"]
		if err := cam.SetDown(true); err != nil {
			t.Fatal(err)
		}
		// Away until the session has tried again and been refused: the
		// camera makes no frames while down, so by its own clock the gap
		// spans at least the session's first backoff (100 ms), two frame
		// intervals, whatever the load. Put back as soon as the drop was
		// noticed, the camera's gap was only the wait for its next
		// keyframe (one a second, on the second), which the event's place
		// in the second decided: the last frame was held 0.96 s for an
		// event at .02 s, 0.16 s at .82 s (118 frames, the failure seen
		// under load) and 0.12 s at .86 s, where the old check wanted
		// more than 0.2 s. Run alone, the subtest's event always fell
		// early in the second (the rig starts on a keyframe), so it
		// failed only after the subtests before it.
		testrig.WaitFor(t, "the session to be refused while the camera is down", 10*time.Second, func() bool {
			c := r.camera("flaky")
			return c.State == defs.CameraBackingOff && c.Attempts >= 1
		})
		if err := cam.SetDown(false); err != nil {
			t.Fatal(err)
		}
		v := r.final("flaky", "reconnect")
		if v.ClipStatus != defs.ClipPartial || !strings.Contains(v.ClipReason, "camera reconnected from") {
			t.Fatalf("want a partial clip naming the reconnect's gap, got %s %q", v.ClipStatus, v.ClipReason)
		}
		gaps := check(v.EvidenceChecks, defs.EvidenceCheckGaps)
		if gaps.OK || !strings.Contains(gaps.Detail, "camera reconnected") {
			t.Errorf("want the no_gaps check failed naming the reconnect, got %+v", gaps)
		}
		from, to := ts.Add(-pre), ts.Add(post)
		if v.ClipStart.After(from) || v.ClipEnd.Before(to) {
			t.Errorf("want the clip to span [%s, %s] across the gap, got [%s, %s]", from, to, v.ClipStart, v.ClipEnd)
		}
		// Both connections decode, in order: keyframe-first video before
		// the gap and a keyframe after it, where the first connection's
		// last frame is held. What the clip promises is the gap as the
		// record names it, by the camera's clock: the second connection
		// starts on the clip's timeline where it started by wall time.
		m := reconnectGap.FindStringSubmatch(gaps.Detail)
		if m == nil {
			t.Fatalf("want the gap's times in %q", gaps.Detail)
		}
		back, err := time.Parse(time.RFC3339Nano, m[2])
		if err != nil {
			t.Fatalf("gap end %q: %v", m[2], err)
		}
		_, frames := probeSpan(t, filepath.Join(r.dataDir, v.ClipPath))
		gapAt := -1
		for i := 1; i < len(frames); i++ {
			// Longer than 1.5 frame intervals at 25 fps: the held
			// frame lasts at least two, as the camera was away 100 ms.
			if frames[i].PTS-frames[i-1].PTS > 0.06 {
				gapAt = i
				break
			}
		}
		if gapAt < 0 {
			t.Fatalf("want a held frame where the camera was away (%s), got none in %d frames", gaps.Detail, len(frames))
		}
		if !frames[gapAt].Key || gapAt < 25 || len(frames)-gapAt < 5 {
			t.Errorf("want the second connection to start on a keyframe with frames of both connections, got gap at frame %d of %d (key %v)",
				gapAt, len(frames), frames[gapAt].Key)
		}
		got, want := frames[gapAt].PTS-frames[0].PTS, back.Sub(v.ClipStart).Seconds()
		if got < want-0.002 || got > want+0.002 {
			t.Errorf("want the second connection at %.3f s into the clip (%s), got %.3f s", want, gaps.Detail, got)
		}
		t.Logf("held frame %.3f s at frame %d of %d: %s", frames[gapAt].PTS-frames[gapAt-1].PTS, gapAt, len(frames), gaps.Detail)
	})

	t.Run("camera 3 s off is not evidential", func(t *testing.T) {
		r.t = t
		r.waitBuffered("off3", pre+time.Second)
		testrig.WaitFor(t, "off3's clock to be known", 10*time.Second, func() bool { return r.camera("off3").ClockReported })
		ts := time.Now().Add(3 * time.Second).Add(-300 * time.Millisecond) // the camera's clock
		r.fire("off3", "off3", "red_light", ts, "")
		v := r.final("off3", "off3")
		if v.ClipStatus != defs.ClipComplete {
			t.Fatalf("want a complete clip, got %s (%s)", v.ClipStatus, v.ClipReason)
		}
		if v.Evidential || !slices.Equal(failedChecks(v.EvidenceChecks), []string{defs.EvidenceCheckClockOffset}) {
			t.Fatalf("want not evidential for the clock offset only, got evidential=%v checks %+v", v.Evidential, v.EvidenceChecks)
		}
		if c := check(v.EvidenceChecks, defs.EvidenceCheckClockOffset); !strings.Contains(c.Detail, "ahead of iocd's") {
			t.Errorf("want the reason to say the camera's clock is ahead, got %q", c.Detail)
		}
		if !v.HostClockSynced || v.HostClockErrorMs != 0.5 {
			t.Errorf("want the host clock recorded synchronised with 0.5 ms error, got %v %v", v.HostClockSynced, v.HostClockErrorMs)
		}
		// The camera as the API shows it, and its system condition.
		testrig.WaitFor(t, "off3's condition", 10*time.Second, func() bool {
			for _, c := range conds.List() {
				if c.Code == defs.ConditionCameraNotEvidential && c.Subject == "off3" && strings.Contains(c.Message, "clock_offset") {
					return true
				}
			}
			return false
		})
		if c := r.camera("off3"); c.Evidential || c.ClockOffsetMs < 2500 || c.ClockOffsetMs > 3500 {
			t.Errorf("want off3 shown not evidential about 3000 ms ahead, got evidential=%v offset %.0f ms", c.Evidential, c.ClockOffsetMs)
		}
	})

	t.Run("camera at 3 fps is not evidential", func(t *testing.T) {
		r.t = t
		r.waitBuffered("slow3", pre+time.Second)
		testrig.WaitFor(t, "slow3's clock to be known", 10*time.Second, func() bool { return r.camera("slow3").ClockReported })
		ts := time.Now().Add(-300 * time.Millisecond)
		r.fire("slow3", "slow3", "red_light", ts, "")
		v := r.final("slow3", "slow3")
		if v.ClipStatus != defs.ClipComplete {
			t.Fatalf("want a complete clip, got %s (%s)", v.ClipStatus, v.ClipReason)
		}
		if v.Evidential || !slices.Equal(failedChecks(v.EvidenceChecks), []string{defs.EvidenceCheckFrameRate}) {
			t.Fatalf("want not evidential for the frame rate only, got evidential=%v checks %+v", v.Evidential, v.EvidenceChecks)
		}
		if c := check(v.EvidenceChecks, defs.EvidenceCheckFrameRate); !strings.HasPrefix(c.Detail, "3.0 fps") {
			t.Errorf("want the frame rate measured as 3.0 fps, got %q", c.Detail)
		}
	})

	// The control: a healthy camera passes every check, so the failures
	// above are the cameras', not the gate's.
	t.Run("healthy camera is evidential", func(t *testing.T) {
		r.t = t
		r.waitBuffered("ok", pre+time.Second)
		testrig.WaitFor(t, "ok's clock to be known", 10*time.Second, func() bool { return r.camera("ok").ClockReported })
		ts := time.Now().Add(-300 * time.Millisecond)
		r.fire("ok", "ok", "red_light", ts, "")
		v := r.final("ok", "ok")
		if !v.Evidential || len(v.EvidenceChecks) != len(all) {
			t.Fatalf("want evidential with all %d checks, got evidential=%v checks %+v", len(all), v.Evidential, v.EvidenceChecks)
		}
		for i, c := range v.EvidenceChecks {
			if c.Name != all[i] || !c.OK || c.Detail == "" {
				t.Errorf("check %d: want %s passed with what was measured, got %+v", i, all[i], c)
			}
		}
		for _, c := range conds.List() {
			if c.Code == defs.ConditionCameraNotEvidential && c.Subject == "ok" {
				t.Errorf("want no condition for the healthy camera, got %+v", c)
			}
		}
	})
}
