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

	// level is a threshold rule's current level after hysteresis (-1:
	// the condition is off); deadline is when the machine changes with
	// no new reading (unix ns, 0: never); lastSeen is when an absence
	// rule's field was last read (unix ns); queued says the track is
	// waiting in Engine.obs, with latest the newest value (float bits).
	level    atomic.Int32
	deadline atomic.Int64
	lastSeen atomic.Int64
	queued   atomic.Bool
	latest   atomic.Uint64

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

func newTrack(k tkey) *track {
	t := &track{key: k, seq: 0}
	t.level.Store(-1)
	return t
}

// trackLocked returns the track of k, creating it. Callers hold tmu.
func (e *Engine) trackLocked(k tkey) *track {
	t, ok := e.tracks[k]
	if !ok {
		t = newTrack(k)
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

// snapshotTracks returns every track, for the tick.
func (e *Engine) snapshotTracks(buf []*track) []*track {
	e.tmu.Lock()
	defer e.tmu.Unlock()
	buf = buf[:0]
	for _, t := range e.tracks {
		buf = append(buf, t)
	}
	return buf
}

// open reports whether the track has an open alert.
func (t *track) open() bool { return t.alert != nil && t.alert.State.Open() }
