package fleet

import (
	"slices"
	"strings"
	"time"

	"github.com/iocd/iocd/defs"
)

// Cameras is the camera sessions' state as the tracker re-reads it on
// every check tick (*streams.Manager implements it).
type Cameras interface {
	CameraStates() []defs.CameraState
}

type noCameras struct{}

func (noCameras) CameraStates() []defs.CameraState { return nil }

// Option adds an optional collaborator to a Tracker.
type Option func(*Tracker)

// WithCameras makes camera health include the stream's state, read from c.
func WithCameras(c Cameras) Option {
	return func(t *Tracker) {
		if c != nil {
			t.cams = c
		}
	}
}

// WithHistory writes every health change to h (see History).
func WithHistory(h History) Option {
	return func(t *Tracker) {
		if h != nil {
			t.history = h
		}
	}
}

// Devices returns every known device as the wall and the fleet page show
// it: its registry entry's public part, health (a camera's includes its
// stream), why it is not online, when it was last heard from, its
// firmware (the "fw" key of its last status message) and latest values;
// sorted by site, then id. Pending and disabled devices are included with
// their status, for the fleet page to filter.
func (t *Tracker) Devices() []defs.DeviceStatus {
	t.mu.Lock()
	out := make([]defs.DeviceStatus, 0, len(t.devs))
	for _, e := range t.devs {
		out = append(out, e.statusLocked())
	}
	t.mu.Unlock()
	slices.SortFunc(out, func(a, b defs.DeviceStatus) int {
		if c := strings.Compare(a.Site, b.Site); c != 0 {
			return c
		}
		return strings.Compare(string(a.ID), string(b.ID))
	})
	return out
}

// Device returns one device as Devices does.
func (t *Tracker) Device(id defs.DeviceID) (defs.DeviceStatus, bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	e, ok := t.devs[id]
	if !ok {
		return defs.DeviceStatus{}, false
	}
	return e.statusLocked(), true
}

func (e *entry) statusLocked() defs.DeviceStatus {
	s := defs.DeviceStatus{
		ID: e.dev.ID, Name: e.dev.Name, Site: e.dev.Site, Kind: e.dev.Kind, Status: e.dev.Status,
		Lat: e.dev.Lat, Lon: e.dev.Lon, Health: e.health, Reason: e.reason, LastSeen: e.lastSeen,
		Firmware: e.meta["fw"],
	}
	if len(e.values) > 0 {
		s.Values = make(map[string]any, len(e.values))
		for _, f := range e.values {
			s.Values[f.Key] = f.Value()
		}
	}
	return s
}

// How many changes the recent ring keeps: enough for a wall's "last 15
// minutes" through a site-wide outage, bounded whatever happens.
const (
	recentHealth  = 2048
	recentCameras = 512
)

// recentRing keeps the latest health changes and camera stream ups and
// downs, oldest overwritten first. It is guarded by the tracker's mutex.
type recentRing struct {
	health  []defs.HealthChange
	hNext   int
	cameras []defs.CameraState
	cNext   int
}

func newRecentRing(nh, nc int) recentRing {
	return recentRing{health: make([]defs.HealthChange, 0, nh), cameras: make([]defs.CameraState, 0, nc)}
}

func (r *recentRing) addHealth(ch defs.HealthChange) {
	if len(r.health) < cap(r.health) {
		r.health = append(r.health, ch)
		return
	}
	r.health[r.hNext] = ch
	r.hNext = (r.hNext + 1) % len(r.health)
}

func (r *recentRing) addCamera(c defs.CameraState) {
	if len(r.cameras) < cap(r.cameras) {
		r.cameras = append(r.cameras, c)
		return
	}
	r.cameras[r.cNext] = c
	r.cNext = (r.cNext + 1) % len(r.cameras)
}

// HealthChangesSince returns the health changes at or after since that
// the tracker still holds (the latest 2048 since it started), newest
// first.
func (t *Tracker) HealthChangesSince(since time.Time) []defs.HealthChange {
	t.mu.Lock()
	var out []defs.HealthChange
	for _, ch := range t.recent.health {
		if !ch.At.Before(since) {
			out = append(out, ch)
		}
	}
	t.mu.Unlock()
	slices.SortStableFunc(out, func(a, b defs.HealthChange) int { return b.At.Compare(a.At) })
	return out
}

// CameraChangesSince returns the times a camera's stream went up
// (Connected) or down at or after since, the latest 512 since the tracker
// started, newest first. At is when the tracker saw the change.
func (t *Tracker) CameraChangesSince(since time.Time) []defs.CameraState {
	t.mu.Lock()
	var out []defs.CameraState
	for _, c := range t.recent.cameras {
		if !c.At.Before(since) {
			out = append(out, c)
		}
	}
	t.mu.Unlock()
	slices.SortStableFunc(out, func(a, b defs.CameraState) int { return b.At.Compare(a.At) })
	return out
}
