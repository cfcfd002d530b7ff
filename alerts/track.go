package alerts

import (
	"sync/atomic"
	"time"

	"github.com/iocd/iocd/defs"
)

// tkey is the identity of a (rule, subject): at most one open alert each.
type tkey struct{ rule, subject string }

// track is the state of one (rule, subject). The atomics are what the
// ingest decoders read without a lock to decide, per reading, whether
// anything may change; everything else is owned by the engine, under
// Engine.mu.
type track struct {
	key tkey

	*hot

	ms      mstate
	dev     defs.Device // the subject device (ID only for unregistered ones)
	site    string
	alert   *defs.Alert // the open alert, or the last resolved one (for re-opening)
	seq     int         // the alert's last transition seq; -1 unknown (read from the store)
	value   float64
	lbl     map[string]string // labels from the state's owner (health, reason)
	fired   []time.Time       // recent fired transitions, for the flap limit
	rate    []time.Time       // rate rules: recent events, oldest first
	group   bool              // a grouped site alert
	members []string          // a grouped alert's devices
	epoch   uint64            // the tick that last saw the subject
	// restored: loaded open at start, with no transition since.
	restored bool
}

// hot is the part of a track the ingest decoders read for every
// reading, without a lock: kept apart, and allocated side by side for
// one device's tracks, so a reading touches a few cache lines rather
// than one per rule. level is a threshold rule's current level after
// hysteresis (-1: the condition is off); deadline is when the machine
// changes with no new reading (unix ns, 0: never); lastSeen is when an
// absence rule's field was last read (unix ns); queued says a deadline
// the track reached is waiting in Engine.obs; latest is the newest value
// (float bits) of a track whose condition is on, for the tick. The
// decoders move level themselves (see ObserveReading); the engine sets it
// only on load, rule changes and closing.
type hot struct {
	level    atomic.Int32
	queued   atomic.Bool
	deadline atomic.Int64
	lastSeen atomic.Int64
	latest   atomic.Uint64
	t        *track // the track this is part of
}

func newTrack(k tkey, h *hot) *track {
	if h == nil {
		h = new(hot)
	}
	t := &track{key: k, hot: h}
	h.t = t
	t.level.Store(-1)
	return t
}

// trackLocked returns the track of k, creating it. Callers hold tmu.
func (e *Engine) trackLocked(k tkey) *track {
	return e.trackLockedIn(k, nil)
}

// trackLockedIn is trackLocked, a new track taking its hot part from
// slab (nil: its own).
func (e *Engine) trackLockedIn(k tkey, slab *[]hot) *track {
	t, ok := e.tracks[k]
	if !ok {
		var h *hot
		if slab != nil && len(*slab) > 0 {
			h = &(*slab)[0]
			*slab = (*slab)[1:]
		}
		t = newTrack(k, h)
		e.tracks[k] = t
	}
	return t
}

// trackFor returns the track of (rule, subject), creating it.
func (e *Engine) trackFor(rule, subject string) *track {
	e.tmu.Lock()
	defer e.tmu.Unlock()
	return e.trackLocked(tkey{rule, subject})
}

// existing returns the track of (rule, subject) if there is one.
func (e *Engine) existing(rule, subject string) *track {
	e.tmu.Lock()
	defer e.tmu.Unlock()
	return e.tracks[tkey{rule, subject}]
}

// open reports whether the track has an open alert.
func (t *track) open() bool { return t.alert != nil && t.alert.State.Open() }
