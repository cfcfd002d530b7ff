package streams

import (
	"fmt"
	"strings"
	"time"

	"github.com/iocd/iocd/defs"
	"github.com/iocd/iocd/hostclock"
)

// Gate is the evidential health gate's thresholds (config evidence.*).
type Gate struct {
	// MinFPS is the lowest frame rate of evidential video.
	MinFPS float64
	// MaxKeyframeInterval is the longest keyframe interval allowed.
	MaxKeyframeInterval time.Duration
	// MaxClockOffset is how far the camera's clock may be from iocd's.
	MaxClockOffset time.Duration
	// RequireHostSync fails the host_clock check while the kernel says
	// iocd's clock is not synchronised.
	RequireHostSync bool
}

// DefaultGate is the gate with config's defaults.
func DefaultGate() Gate {
	return Gate{MinFPS: 5, MaxKeyframeInterval: 10 * time.Second, MaxClockOffset: time.Second, RequireHostSync: true}
}

// Measures is what the gate checks: measured over a clip's window, or over
// a camera's last stats interval.
type Measures struct {
	// FPS is the frame rate; FPSKnown is false before it could be measured.
	FPS      float64
	FPSKnown bool
	// FPSPending passes the frame-rate check of a camera whose rate is not
	// measured yet (its first stats interval), saying so.
	FPSPending bool
	// KeyframeInterval is the longest keyframe interval seen.
	KeyframeInterval time.Duration
	// FormatChange describes a change of codec or resolution; empty: none.
	FormatChange string
	// Gaps describes the stretches without video; empty: none.
	Gaps []string
	// ClockKnown says whether the camera has sent a sender report;
	// ClockOffset is its clock minus iocd's at the latest one.
	ClockKnown  bool
	ClockOffset time.Duration
	// Host is iocd's clock.
	Host hostclock.State
}

// Check returns every check of the gate, in a fixed order, each with what
// was measured.
func (g Gate) Check(m Measures) []defs.EvidenceCheck {
	out := make([]defs.EvidenceCheck, 0, 6)
	add := func(name string, ok bool, format string, args ...any) {
		out = append(out, defs.EvidenceCheck{Name: name, OK: ok, Detail: fmt.Sprintf(format, args...)})
	}
	switch {
	case m.FPSKnown:
		add(defs.EvidenceCheckFrameRate, m.FPS >= g.MinFPS, "%.1f fps (minimum %g)", m.FPS, g.MinFPS)
	case m.FPSPending:
		add(defs.EvidenceCheckFrameRate, true, "not measured yet (minimum %g fps)", g.MinFPS)
	default:
		add(defs.EvidenceCheckFrameRate, false, "frame rate not measured (minimum %g fps)", g.MinFPS)
	}
	add(defs.EvidenceCheckKeyframes, m.KeyframeInterval <= g.MaxKeyframeInterval,
		"longest keyframe interval %s (maximum %s)", m.KeyframeInterval.Round(time.Millisecond), g.MaxKeyframeInterval)
	if m.FormatChange != "" {
		add(defs.EvidenceCheckFormat, false, "%s", m.FormatChange)
	} else {
		add(defs.EvidenceCheckFormat, true, "unchanged")
	}
	if len(m.Gaps) > 0 {
		add(defs.EvidenceCheckGaps, false, "%s", strings.Join(m.Gaps, "; "))
	} else {
		add(defs.EvidenceCheckGaps, true, "none")
	}
	switch {
	case !m.ClockKnown:
		add(defs.EvidenceCheckClockOffset, false, "the camera has sent no RTCP sender report: its clock cannot be compared with iocd's")
	default:
		off := m.ClockOffset
		add(defs.EvidenceCheckClockOffset, absDur(off) <= g.MaxClockOffset,
			"camera clock %s iocd's (maximum %s)", describeOffset(off), g.MaxClockOffset)
	}
	host := m.Host
	switch {
	case host.Synced:
		add(defs.EvidenceCheckHostClock, true, "synchronised, estimated error %.3f ms", host.ErrorMs)
	case host.Err != "":
		add(defs.EvidenceCheckHostClock, !g.RequireHostSync, "synchronisation state unknown: %s%s", host.Err, notRequired(g))
	default:
		add(defs.EvidenceCheckHostClock, !g.RequireHostSync, "not synchronised (kernel), estimated error %.3f ms%s", host.ErrorMs, notRequired(g))
	}
	return out
}

func notRequired(g Gate) string {
	if g.RequireHostSync {
		return ""
	}
	return " (evidence.require_host_sync is off)"
}

func describeOffset(d time.Duration) string {
	d = d.Round(time.Millisecond)
	switch {
	case d > 0:
		return d.String() + " ahead of"
	case d < 0:
		return (-d).String() + " behind"
	}
	return "within 1ms of"
}

// Evidential reports whether every check passed.
func Evidential(checks []defs.EvidenceCheck) bool {
	for _, c := range checks {
		if !c.OK {
			return false
		}
	}
	return len(checks) > 0
}

// Failed returns the names of the failed checks with their details, for
// a condition's message and a record's reason.
func Failed(checks []defs.EvidenceCheck) string {
	var b strings.Builder
	for _, c := range checks {
		if c.OK {
			continue
		}
		if b.Len() > 0 {
			b.WriteString("; ")
		}
		b.WriteString(c.Name + ": " + c.Detail)
	}
	return b.String()
}

// windowMeasures measures a cut's samples: the frame rate over the video
// it holds (each connection's span; the gaps between them are not
// video), the longest keyframe interval inside one connection, and the
// first change of codec or resolution.
func windowMeasures(c cutResult, from, to time.Time) Measures {
	var m Measures
	ss := c.samples
	if len(ss) == 0 {
		m.Gaps = []string{"no video in the window"}
		return m
	}
	var span time.Duration
	frames := 0
	var lastKey time.Time
	for i, s := range ss {
		if i > 0 && s.Epoch == ss[i-1].Epoch {
			span += s.Wall.Sub(ss[i-1].Wall)
			frames++
		}
		if s.Key {
			if !lastKey.IsZero() && (i == 0 || s.Epoch == ss[i-1].Epoch) {
				m.KeyframeInterval = max(m.KeyframeInterval, s.Wall.Sub(lastKey))
			}
			lastKey = s.Wall
		} else if i > 0 && s.Epoch != ss[i-1].Epoch {
			lastKey = time.Time{}
		}
		if i > 0 && m.FormatChange == "" {
			p := ss[i-1]
			if s.Codec != p.Codec || s.Width != p.Width || s.Height != p.Height {
				m.FormatChange = fmt.Sprintf("changed from %s %dx%d to %s %dx%d at %s",
					p.Codec, p.Width, p.Height, s.Codec, s.Width, s.Height, s.Wall.UTC().Format(time.RFC3339Nano))
			}
		}
	}
	// The open interval after the last keyframe counts too: a camera that
	// stopped sending keyframes has one as long as the rest of the clip.
	if !lastKey.IsZero() {
		m.KeyframeInterval = max(m.KeyframeInterval, ss[len(ss)-1].Wall.Sub(lastKey))
	}
	if frames > 0 && span > 0 {
		m.FPS, m.FPSKnown = float64(frames)/span.Seconds(), true
	}
	if !c.reachesBack {
		m.Gaps = append(m.Gaps, fmt.Sprintf("the buffer starts at %s, after the window's start %s",
			ss[0].Wall.UTC().Format(time.RFC3339Nano), from.UTC().Format(time.RFC3339Nano)))
	}
	for _, g := range c.gaps {
		what := "no frames"
		if g.Reconnect {
			what = "camera reconnected"
		}
		m.Gaps = append(m.Gaps, fmt.Sprintf("%s from %s to %s (%s)", what,
			g.From.UTC().Format(time.RFC3339Nano), g.To.UTC().Format(time.RFC3339Nano), g.To.Sub(g.From).Round(time.Millisecond)))
	}
	if c.codecStop != "" {
		m.Gaps = append(m.Gaps, c.codecStop)
	} else if !c.reachesEnd {
		m.Gaps = append(m.Gaps, fmt.Sprintf("the video ends before the window's end %s", to.UTC().Format(time.RFC3339Nano)))
	}
	return m
}
