package streams

import (
	"fmt"
	"slices"
	"sort"
	"time"

	"github.com/iocd/iocd/defs"
	"github.com/iocd/iocd/hostclock"
)

// CameraStats is one camera's state, as GET /api/v1/cameras shows it.
type CameraStats struct {
	Camera    defs.DeviceID `json:"camera"`
	Site      string        `json:"site"`
	Name      string        `json:"name"`
	RTSPURL   string        `json:"rtsp_url"` // redacted
	Connected bool          `json:"connected"`
	// State is connecting, streaming or backing_off; Reason is the last
	// failure's code (unauthorized, unreachable, no_video, bad_codec,
	// error), kept while the session retries, and Detail its text with
	// credentials scrubbed. Since is when the session entered State;
	// Attempts counts the attempts since it last streamed.
	State       defs.CameraSession `json:"state"`
	Reason      string             `json:"reason,omitempty"`
	Detail      string             `json:"detail,omitempty"`
	Since       time.Time          `json:"since,omitzero"`
	Attempts    int                `json:"attempts"`
	Codec       string             `json:"codec"`
	Width       int                `json:"width"`
	Height      int                `json:"height"`
	FPS         float64            `json:"fps"`
	Kbps        float64            `json:"kbps"`
	LastFrameAt time.Time          `json:"last_frame_at,omitzero"`
	Reconnects  uint64             `json:"reconnects"`
	Frames      uint64             `json:"frames"`
	FramesLost  uint64             `json:"frames_lost"`
	// OversizeFrames counts access units dropped for exceeding
	// streams.max_au_bytes (they are in FramesLost too).
	OversizeFrames uint64  `json:"oversize_frames"`
	PacketsLost    uint64  `json:"packets_lost"`
	BufferSeconds  float64 `json:"buffer_seconds"`
	BufferBytes    int64   `json:"buffer_bytes"`
	// BufferAllocated is the memory the buffer holds for BufferBytes.
	BufferAllocated int64 `json:"buffer_allocated"`
	// The camera's time and the evidential gate (README "Evidence: time
	// and camera health"): ClockReported says whether the camera has sent
	// an RTCP sender report, ClockOffsetMs its clock minus iocd's at the
	// latest; HostClockSynced and HostClockErrorMs iocd's own clock
	// (adjtimex); KeyframeIntervalMs the longest keyframe interval since
	// the last stats interval; Evidential and EvidenceChecks the gate.
	ClockReported      bool                 `json:"clock_reported"`
	ClockOffsetMs      float64              `json:"clock_offset_ms"`
	HostClockSynced    bool                 `json:"host_clock_synced"`
	HostClockErrorMs   float64              `json:"host_clock_error_ms"`
	KeyframeIntervalMs float64              `json:"keyframe_interval_ms"`
	Evidential         bool                 `json:"evidential"`
	EvidenceChecks     []defs.EvidenceCheck `json:"evidence_checks"`
}

// statSample is the counters at the last stats tick, for rates.
type statSample struct {
	at         time.Time
	frames     uint64
	bytes      uint64
	lost       uint64
	reconnects uint64
	formats    uint64
}

// Cameras returns every session's state, ordered by camera id. Rates (fps,
// kbps) are over the time since the last stats interval.
func (m *Manager) Cameras() []CameraStats {
	m.mu.Lock()
	list := make([]*session, 0, len(m.sessions))
	for _, r := range m.sessions {
		list = append(list, r.s)
	}
	prev := make(map[defs.DeviceID]statSample, len(m.prevStats))
	for k, v := range m.prevStats {
		prev[k] = v
	}
	m.mu.Unlock()
	now := time.Now()
	host := m.host()
	out := make([]CameraStats, 0, len(list))
	for _, s := range list {
		out = append(out, s.stats(now, prev[s.dev.ID], m.gate, host))
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Camera < out[j].Camera })
	return out
}

func (s *session) stats(now time.Time, prev statSample, gate Gate, host hostclock.State) CameraStats {
	s.mu.Lock()
	st := CameraStats{
		Camera: s.dev.ID, Site: s.dev.Site, Name: s.dev.Name, RTSPURL: defs.RedactURL(s.dev.RTSPURL),
		Connected: s.connected, State: s.state, Reason: s.reason, Detail: s.detail, Since: s.since, Attempts: s.attempts,
		Codec: s.codec, Width: s.width, Height: s.height,
	}
	s.mu.Unlock()
	frames, bytes := s.frames.Load(), s.bytes.Load()
	if !prev.at.IsZero() {
		if dt := now.Sub(prev.at).Seconds(); dt > 0 {
			st.FPS = float64(frames-prev.frames) / dt
			st.Kbps = float64(bytes-prev.bytes) * 8 / 1000 / dt
		}
	}
	if lf := s.lastFrame.Load(); lf != 0 {
		st.LastFrameAt = time.Unix(0, lf).UTC()
	}
	st.Reconnects = s.reconnects.Load()
	st.Frames = frames
	st.FramesLost = s.lost.Load()
	st.OversizeFrames = s.oversize.Load()
	st.PacketsLost = s.pktsLost.Load()
	rs := s.ring.Stats()
	st.BufferSeconds = rs.Span.Seconds()
	st.BufferBytes = rs.Bytes
	st.BufferAllocated = rs.Allocated

	// The gate over the last stats interval.
	known, off := s.clock()
	keyGap := time.Duration(s.maxKeyGap.Load())
	if lk := s.lastKey.Load(); lk != 0 && st.Connected {
		keyGap = max(keyGap, now.Sub(time.Unix(0, lk)))
	}
	meas := Measures{FPS: st.FPS, FPSKnown: !prev.at.IsZero() && st.Connected, FPSPending: prev.at.IsZero() && st.Connected, KeyframeInterval: keyGap,
		ClockKnown: known, ClockOffset: off, Host: host}
	if n := s.formatChanges.Load(); !prev.at.IsZero() && n > prev.formats {
		meas.FormatChange = fmt.Sprintf("codec or resolution changed %d times in the last interval", n-prev.formats)
	}
	if !prev.at.IsZero() {
		if n := st.Reconnects - prev.reconnects; n > 0 {
			meas.Gaps = append(meas.Gaps, fmt.Sprintf("%d reconnects in the last interval", n))
		}
		if n := st.FramesLost + st.PacketsLost; n > prev.lost {
			meas.Gaps = append(meas.Gaps, fmt.Sprintf("%d frames or packets lost in the last interval", n-prev.lost))
		}
	}
	if !st.Connected {
		meas.Gaps = append(meas.Gaps, "camera not streaming")
	}
	st.ClockReported, st.ClockOffsetMs = known, ms(off)
	st.HostClockSynced, st.HostClockErrorMs = host.Synced, host.ErrorMs
	st.KeyframeIntervalMs = ms(keyGap)
	st.EvidenceChecks = gate.Check(meas)
	st.Evidential = Evidential(st.EvidenceChecks)
	return st
}

// writeStats writes camera_stats for every camera and advances the rate
// baseline.
func (m *Manager) writeStats(now time.Time) {
	stats := m.Cameras()
	m.mu.Lock()
	prev := m.prevStats
	m.prevStats = make(map[defs.DeviceID]statSample, len(m.sessions))
	for _, r := range m.sessions {
		s := r.s
		m.prevStats[s.dev.ID] = statSample{at: now, frames: s.frames.Load(), bytes: s.bytes.Load(), lost: s.lost.Load() + s.pktsLost.Load(),
			reconnects: s.reconnects.Load(), formats: s.formatChanges.Load()}
		s.maxKeyGap.Store(0)
	}
	m.mu.Unlock()
	m.gateCameras(stats)
	if m.points == nil {
		return
	}
	for _, st := range stats {
		connected := 0
		if st.Connected {
			connected = 1
		}
		lost := st.FramesLost + st.PacketsLost
		if p, ok := prev[st.Camera]; ok && lost >= p.lost {
			lost -= p.lost
		}
		m.points.WritePoint("camera_stats",
			map[string]string{"camera": string(st.Camera), "site": st.Site},
			map[string]any{"fps": st.FPS, "kbps": st.Kbps, "connected": connected, "frames_lost": int64(lost),
				"clock_offset_ms": st.ClockOffsetMs, "evidential": st.Evidential},
			now)
	}
}

// gateCameras keeps each camera's gate (for CameraStates) and its
// not-evidential condition in line with the stats just taken. A camera
// that is not streaming has its state said by its session state and the
// camera-down rules, so only a streaming camera raises the condition.
func (m *Manager) gateCameras(stats []CameraStats) {
	host := m.host()
	seen := make(map[defs.DeviceID]bool, len(stats))
	failing, maxOffset := 0, 0.0
	if m.gate.RequireHostSync && !host.Synced {
		msg := fmt.Sprintf("iocd's clock is not synchronised (adjtimex; estimated error %.0f ms): violations are not evidential", host.ErrorMs)
		if host.Err != "" {
			msg = "iocd's clock synchronisation cannot be read (" + host.Err + "): violations are not evidential"
		}
		m.conds.Set(defs.Condition{Code: defs.ConditionHostClockUnsynced, Source: "streams", Severity: defs.SeverityMajor,
			Message: msg, Value: host.ErrorMs})
	} else {
		m.conds.Clear(defs.ConditionHostClockUnsynced, "")
	}
	for _, st := range stats {
		seen[st.Camera] = true
		if st.ClockReported {
			maxOffset = max(maxOffset, abs(st.ClockOffsetMs)/1000)
		}
		// The host's clock is the host's condition (below), not each
		// camera's: one unsynchronised clock must not raise one alert per
		// camera.
		camChecks := slices.DeleteFunc(slices.Clone(st.EvidenceChecks), func(c defs.EvidenceCheck) bool {
			return c.Name == defs.EvidenceCheckHostClock
		})
		fail := st.Connected && !Evidential(camChecks)
		if st.Connected && !st.Evidential {
			failing++
		}
		if fail {
			m.conds.Set(defs.Condition{Code: defs.ConditionCameraNotEvidential, Subject: string(st.Camera), Source: "streams",
				Severity: defs.SeverityWarning, Message: "camera " + string(st.Camera) + " is not evidential: " + Failed(camChecks),
				Labels: map[string]string{"camera": string(st.Camera), "site": st.Site}, Value: st.ClockOffsetMs})
		} else if m.failing[st.Camera] {
			m.conds.Clear(defs.ConditionCameraNotEvidential, string(st.Camera))
		}
		m.failing[st.Camera] = fail
		// The state shows the gate once its condition says the same.
		if s := m.session(st.Camera); s != nil {
			s.mu.Lock()
			was := s.checks != nil && Evidential(s.checks)
			s.checks, s.host = st.EvidenceChecks, host
			cs := s.stateLocked()
			s.mu.Unlock()
			if was != st.Evidential {
				// The feed shows the camera's gate: tell it when it turns.
				m.publishState(cs)
			}
		}
	}
	for id := range m.failing {
		if !seen[id] {
			m.conds.Clear(defs.ConditionCameraNotEvidential, string(id))
			delete(m.failing, id)
		}
	}
	m.metrics.notEvidential.Set(float64(failing))
	m.metrics.maxClockOffset.Set(maxOffset)
}

func abs(f float64) float64 {
	if f < 0 {
		return -f
	}
	return f
}
