package fleet

import (
	"time"

	"github.com/iocd/iocd/defs"
)

// Reasons a device is not online, as DeviceStatus.Reason says them.
const (
	reasonUnknown = "never heard from"
	reasonSilent  = "silent"
	reasonOffline = "status: offline"
	streamPrefix  = "stream: "
)

// combine decides a device's health from what MQTT says and, for a camera
// with a known session, its stream's state, and says why it is not online
// ("" when it is).
//
// A camera is what it shows: a streaming session leaves the health to
// MQTT (a camera streaming but never heard on MQTT is online, since the
// stream is proof of life); a session backing off after a failure, or
// stopped, makes it offline; one connecting makes it offline if the last
// attempt failed and at best stale if not (the first attempt, or a
// reconnect after a clean end). An offline status message wins over the
// stream's reason only when the stream gives none.
func combine(kind defs.Kind, mqtt defs.Health, cam *defs.CameraState) (defs.Health, string) {
	if kind != defs.KindCamera || cam == nil {
		return mqtt, mqttReason(mqtt)
	}
	if streaming(*cam) {
		if mqtt == defs.HealthUnknown {
			return defs.HealthOnline, ""
		}
		return mqtt, mqttReason(mqtt)
	}
	reason := streamPrefix + string(cam.State)
	if cam.State == "" {
		reason = streamPrefix + "down"
	}
	if cam.Reason != "" {
		reason = streamPrefix + cam.Reason
	}
	switch {
	case mqtt == defs.HealthOffline && cam.Reason == "":
		return defs.HealthOffline, reasonOffline
	case cam.State == defs.CameraConnecting && cam.Reason == "":
		if mqtt == defs.HealthUnknown {
			return defs.HealthUnknown, reason
		}
		if mqtt == defs.HealthOffline {
			return defs.HealthOffline, reason
		}
		return defs.HealthStale, reason
	default:
		return defs.HealthOffline, reason
	}
}

func mqttReason(h defs.Health) string {
	switch h {
	case defs.HealthOnline:
		return ""
	case defs.HealthStale:
		return reasonSilent
	case defs.HealthOffline:
		return reasonOffline
	default:
		return reasonUnknown
	}
}

// cameraChanged applies one camera session state from the bus, unless the
// tracker already holds a newer one (read from the sessions on a tick
// while the event waited in the queue).
func (t *Tracker) cameraChanged(st defs.CameraState) {
	t.mu.Lock()
	e, ok := t.devs[st.Camera]
	var ch *defs.HealthChange
	if ok && e.dev.Kind == defs.KindCamera && (e.cam == nil || !st.At.Before(e.cam.At)) {
		ch = t.setCameraLocked(e, &st, st.At)
	}
	t.mu.Unlock()
	t.store(ch)
}

// recheckCameras re-reads every camera session from the streams manager,
// the owner of that state: a camera whose bus event was dropped is set
// right here, and a camera without a session (removed, or no stream URL)
// is judged by MQTT alone.
func (t *Tracker) recheckCameras(now time.Time) {
	states := t.cams.CameraStates()
	byID := make(map[defs.DeviceID]*defs.CameraState, len(states))
	for i := range states {
		byID[states[i].Camera] = &states[i]
	}
	var chs []*defs.HealthChange
	t.mu.Lock()
	for _, e := range t.devs {
		if e.dev.Kind != defs.KindCamera {
			continue
		}
		st := byID[e.dev.ID]
		if st == nil && e.cam == nil {
			continue
		}
		if st != nil && e.cam != nil && st.State == e.cam.State && st.Reason == e.cam.Reason && st.Connected == e.cam.Connected {
			continue
		}
		if ch := t.setCameraLocked(e, st, now); ch != nil {
			chs = append(chs, ch)
		}
	}
	t.mu.Unlock()
	for _, ch := range chs {
		t.store(ch)
	}
}

// setCameraLocked records a camera's stream state (nil: no session),
// notes the stream going up or down in the recent changes, and applies
// the health that follows.
func (t *Tracker) setCameraLocked(e *entry, st *defs.CameraState, at time.Time) *defs.HealthChange {
	wasUp := e.cam != nil && streaming(*e.cam)
	if st != nil {
		c := *st
		e.cam = &c
	} else {
		e.cam = nil
	}
	isUp := e.cam != nil && streaming(*e.cam)
	if wasUp != isUp && (e.cam != nil || wasUp) {
		rec := defs.CameraState{Camera: e.dev.ID, Site: e.dev.Site, At: at, Connected: isUp}
		if e.cam != nil {
			rec.State, rec.Reason, rec.Since = e.cam.State, e.cam.Reason, e.cam.Since
		} else {
			rec.State = defs.CameraStopped
		}
		t.recent.addCamera(rec)
	}
	return t.applyLocked(e, at, "stream")
}

func streaming(c defs.CameraState) bool {
	return c.State == defs.CameraStreaming || (c.State == "" && c.Connected)
}
