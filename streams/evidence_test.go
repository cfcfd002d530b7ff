package streams

import (
	"strings"
	"testing"
	"time"

	"github.com/iocd/iocd/defs"
	"github.com/iocd/iocd/hostclock"
)

func TestGateChecks(t *testing.T) {
	healthy := Measures{FPS: 25, FPSKnown: true, KeyframeInterval: time.Second, ClockKnown: true,
		ClockOffset: 20 * time.Millisecond, Host: hostclock.State{Synced: true, ErrorMs: 1}}
	tests := []struct {
		name       string
		gate       func(*Gate)
		meas       func(*Measures)
		wantFailed string // the one failed check, "" for none
		wantDetail string
	}{
		{"healthy", nil, nil, "", ""},
		{"slow camera", nil, func(m *Measures) { m.FPS = 3 }, defs.EvidenceCheckFrameRate, "3.0 fps (minimum 5)"},
		{"rate not measured", nil, func(m *Measures) { m.FPSKnown = false }, defs.EvidenceCheckFrameRate, "not measured"},
		{"rate pending", nil, func(m *Measures) { m.FPSKnown, m.FPSPending = false, true }, "", ""},
		{"rare keyframes", nil, func(m *Measures) { m.KeyframeInterval = 12 * time.Second }, defs.EvidenceCheckKeyframes, "12s (maximum 10s)"},
		{"resolution changed", nil, func(m *Measures) { m.FormatChange = "changed from h264 1280x720" }, defs.EvidenceCheckFormat, "1280x720"},
		{"gap", nil, func(m *Measures) { m.Gaps = []string{"camera reconnected", "no frames"} }, defs.EvidenceCheckGaps, "camera reconnected; no frames"},
		{"clock ahead", nil, func(m *Measures) { m.ClockOffset = 3 * time.Second }, defs.EvidenceCheckClockOffset, "3s ahead of iocd's (maximum 1s)"},
		{"clock behind", nil, func(m *Measures) { m.ClockOffset = -1500 * time.Millisecond }, defs.EvidenceCheckClockOffset, "1.5s behind"},
		{"clock at the limit", nil, func(m *Measures) { m.ClockOffset = time.Second }, "", ""},
		{"no sender report", nil, func(m *Measures) { m.ClockKnown = false }, defs.EvidenceCheckClockOffset, "no RTCP sender report"},
		{"host unsynchronised", nil, func(m *Measures) { m.Host = hostclock.State{ErrorMs: 16000} }, defs.EvidenceCheckHostClock, "not synchronised"},
		{"host state unknown", nil, func(m *Measures) { m.Host = hostclock.State{Err: "adjtimex: EPERM"} }, defs.EvidenceCheckHostClock, "EPERM"},
		{"host sync not required", func(g *Gate) { g.RequireHostSync = false }, func(m *Measures) { m.Host = hostclock.State{} }, "", ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			g, m := DefaultGate(), healthy
			if tc.gate != nil {
				tc.gate(&g)
			}
			if tc.meas != nil {
				tc.meas(&m)
			}
			checks := g.Check(m)
			if len(checks) != 6 {
				t.Fatalf("want all 6 checks, got %+v", checks)
			}
			var failed []defs.EvidenceCheck
			for _, c := range checks {
				if !c.OK {
					failed = append(failed, c)
				}
			}
			if tc.wantFailed == "" {
				if len(failed) != 0 || !Evidential(checks) {
					t.Fatalf("want every check passed, got failed %+v", failed)
				}
				return
			}
			if len(failed) != 1 || failed[0].Name != tc.wantFailed || Evidential(checks) {
				t.Fatalf("want only %s failed, got %+v", tc.wantFailed, failed)
			}
			if !strings.Contains(failed[0].Detail, tc.wantDetail) {
				t.Errorf("detail: want it to contain %q, got %q", tc.wantDetail, failed[0].Detail)
			}
			if got := Failed(checks); !strings.HasPrefix(got, tc.wantFailed+": ") {
				t.Errorf("Failed: want it to name %s, got %q", tc.wantFailed, got)
			}
		})
	}
}

// TestNTPTime: RFC 3550 timestamps decode to the time they encode, to
// well under a microsecond, over a range of fractions (seeded, not random).
func TestNTPTime(t *testing.T) {
	base := time.Date(2026, 12, 2, 1, 0, 0, 0, time.UTC)
	for i := range 1000 {
		want := base.Add(time.Duration(i) * 7_919_999 * time.Nanosecond)
		secs := uint64(want.Unix() + 2208988800)
		frac := (uint64(want.Nanosecond()) << 32) / uint64(time.Second)
		got := ntpToTime(secs<<32 | frac)
		if d := got.Sub(want); d < -time.Microsecond || d > time.Microsecond {
			t.Fatalf("%s: decoded as %s (%s off)", want, got, d)
		}
	}
	// Half a second is 2^31 in the fraction; gortsplib's reading would
	// make it 2.147483648 s.
	if got := ntpToTime(uint64(2208988800+10)<<32 | 1<<31); !got.Equal(time.Unix(10, 500_000_000)) {
		t.Errorf("want 10.5 s after the epoch, got %s", got)
	}
}

// TestWindowMeasures: a cut's rate counts video, not the gap between
// connections, and a format change is named.
func TestWindowMeasures(t *testing.T) {
	t0 := time.Unix(1_700_000_000, 0)
	at := func(frame int) time.Time { return t0.Add(time.Duration(frame) * 40 * time.Millisecond) }
	r := NewRing(time.Minute, 1<<30)
	r.SetFormat(CodecH264, 1280, 720)
	fill(r, t0, 0, 100, 25, 1, 10)
	r.SetFormat(CodecH264, 640, 360)
	fill(r, t0, 150, 100, 25, 2, 10)
	m := windowMeasures(r.cut(at(10), at(200)), at(10), at(200))
	if !m.FPSKnown || m.FPS < 24.9 || m.FPS > 25.1 {
		t.Errorf("fps: want 25 over the video held, got %v (known %v)", m.FPS, m.FPSKnown)
	}
	if m.KeyframeInterval != time.Second {
		t.Errorf("keyframe interval: want 1s, got %s", m.KeyframeInterval)
	}
	if !strings.Contains(m.FormatChange, "h264 1280x720 to h264 640x360") {
		t.Errorf("format change: want it named, got %q", m.FormatChange)
	}
	if len(m.Gaps) != 1 || !strings.HasPrefix(m.Gaps[0], "camera reconnected from") {
		t.Errorf("gaps: want the reconnect, got %q", m.Gaps)
	}
}
