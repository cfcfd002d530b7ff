package alerts

import (
	"context"
	"math"
	"time"

	"github.com/iocd/iocd/defs"
)

// devState is one device as the fleet reported it on this tick.
type devState struct {
	dev      defs.Device
	health   defs.Health
	lastSeen time.Time
}

// tickLocked re-evaluates the state rules against the state their owners
// hold now, and applies the time-driven transitions of every open
// alert. Nothing here depends on a bus event having arrived.
func (e *Engine) tickLocked(ctx context.Context, now time.Time) {
	rs := e.rules.Load()
	if rs == nil {
		return
	}
	e.m.ticks.Inc()
	epoch := e.epochs.Add(1)
	if epoch%30 == 0 {
		e.cache.reset() // catches a registry change whose bus event was dropped
	}
	devs := e.fleetSnapshot()
	var cams []defs.CameraState
	var conds []defs.Condition
	for _, r := range rs.all {
		if r.Disabled {
			continue
		}
		switch r.Kind {
		case defs.RuleOffline:
			e.tickOffline(ctx, r, devs, now, epoch)
		case defs.RuleAbsence:
			e.tickAbsence(ctx, r, devs, now, epoch)
		case defs.RuleCameraDown:
			if cams == nil {
				cams = e.d.Cameras.CameraStates()
			}
			e.tickCameras(ctx, r, cams, now, epoch)
		case defs.RuleSystem:
			if conds == nil {
				conds = e.d.Conditions.List()
			}
			e.tickSystem(ctx, r, conds, now, epoch)
		}
	}
	e.tickTracks(ctx, rs, now, epoch)
}

// fleetSnapshot reads every device's health and refreshes the health
// map that gateway suppression reads.
func (e *Engine) fleetSnapshot() []devState {
	var devs []devState
	e.d.Fleet.EachDevice(func(d defs.Device, h defs.Health, seen time.Time) {
		devs = append(devs, devState{d, h, seen})
	})
	clear(e.health)
	clear(e.devices)
	for _, d := range devs {
		e.health[d.dev.ID] = d.health
		e.devices[d.dev.ID] = d.dev
	}
	return devs
}

// settling reports whether the engine started less than the settle time
// ago: state owners (conditions, camera sessions) re-establish their
// state after a restart, so an alert loaded open is not resolved for
// their silence until then (that would notify a resolution, then the
// same alert again).
func (e *Engine) settling(now time.Time) bool {
	return now.Sub(e.started) < settle(e.cfg.Tick)
}

func settle(tick time.Duration) time.Duration { return max(30*time.Second, 5*tick) }

// observe steps the (rule, subject) track with a verdict from the tick;
// a subject with nothing open and a condition that does not hold costs
// no track.
func (e *Engine) observe(ctx context.Context, r *rule, subject string, dev defs.Device, site string, lbl map[string]string, v verdict, now time.Time, epoch uint64) *track {
	var t *track
	if v.holds {
		t = e.trackFor(r.ID, subject)
	} else if t = e.existing(r.ID, subject); t == nil {
		return nil
	}
	t.epoch = epoch
	if dev.ID != "" {
		t.dev = dev
	}
	if site != "" {
		t.site = site
	}
	if v.holds {
		t.lbl = lbl
	}
	if !v.holds && t.restored && e.settling(now) {
		return t
	}
	e.stepLocked(ctx, t, r, v, now)
	return t
}

func (e *Engine) tickOffline(ctx context.Context, r *rule, devs []devState, now time.Time, epoch uint64) {
	e.groupSites(ctx, r, devs, now, epoch)
	for _, d := range devs {
		if d.dev.Status != defs.StatusActive || !r.Selector.Matches(d.dev) {
			continue
		}
		if d.health == defs.HealthUnknown {
			// Unknown is no news (a restart forgets health): an alert
			// loaded open stays as it was until the device is heard of.
			if t := e.existing(r.ID, string(d.dev.ID)); t != nil {
				t.epoch = epoch
			}
			continue
		}
		holds := offlineHolds(r.Condition, d.health)
		var lbl map[string]string
		if holds {
			lbl = map[string]string{"health": string(d.health)}
		}
		e.observe(ctx, r, string(d.dev.ID), d.dev, d.dev.Site, lbl, verdict{holds: holds, sev: r.Severity}, now, epoch)
	}
}

func (e *Engine) tickAbsence(ctx context.Context, r *rule, devs []devState, now time.Time, epoch uint64) {
	for _, d := range devs {
		if d.dev.Status != defs.StatusActive || !r.Selector.Matches(d.dev) {
			continue
		}
		subject := string(d.dev.ID)
		t := e.existing(r.ID, subject)
		var last time.Time
		if r.Field == "" {
			last = d.lastSeen
		} else if t != nil && t.lastSeen.Load() != 0 {
			last = time.Unix(0, t.lastSeen.Load())
		}
		var holds bool
		switch {
		case !last.IsZero():
			holds = now.Sub(last) >= r.For.D()
		case t != nil && t.open():
			holds = true // loaded open after a restart, and not heard since
		default:
			holds = now.Sub(e.started) >= r.For.D() // never heard since start
		}
		var silent float64
		if !last.IsZero() {
			silent = now.Sub(last).Round(time.Second).Seconds()
		}
		e.observe(ctx, r, subject, d.dev, d.dev.Site, nil, verdict{holds: holds, sev: r.Severity, value: silent}, now, epoch)
	}
}

func (e *Engine) tickCameras(ctx context.Context, r *rule, cams []defs.CameraState, now time.Time, epoch uint64) {
	for _, c := range cams {
		if c.State == defs.CameraStopped {
			// Removed from the registry or iocd stopping: never an alarm,
			// and not a recovery either.
			if t := e.existing(r.ID, string(c.Camera)); t != nil {
				t.epoch = epoch
			}
			continue
		}
		dev := defs.Device{ID: c.Camera, Site: c.Site, Kind: defs.KindCamera}
		if !r.Selector.Matches(dev) {
			continue
		}
		if firstAttempt(c, now, settle(e.cfg.Tick)) {
			// No verdict yet: the session's first attempt (iocd starting,
			// the camera added or changed) has neither streamed nor
			// failed. Every camera is connecting on a restart; alarming
			// then put each one whose PLAY takes longer than a tick
			// pending (told, then cancelled) on every restart. An alert
			// loaded open stays as it was.
			if t := e.existing(r.ID, string(c.Camera)); t != nil {
				t.epoch = epoch
			}
			continue
		}
		holds := c.State != defs.CameraStreaming && c.State != ""
		if c.State == "" {
			holds = !c.Connected
		}
		var lbl map[string]string
		if c.Reason != "" {
			lbl = map[string]string{"reason": c.Reason}
		}
		e.observe(ctx, r, string(c.Camera), dev, c.Site, lbl, verdict{holds: holds, sev: r.Severity}, now, epoch)
	}
}

// firstAttempt reports whether c is a session's first attempt, begun less
// than grace ago: connecting with no failure yet (a failure sets the
// reason, which a retry keeps). One that hangs longer than grace counts as
// down.
func firstAttempt(c defs.CameraState, now time.Time, grace time.Duration) bool {
	return c.State == defs.CameraConnecting && c.Reason == "" && !c.Since.IsZero() && now.Sub(c.Since) < grace
}

func (e *Engine) tickSystem(ctx context.Context, r *rule, conds []defs.Condition, now time.Time, epoch uint64) {
	for _, c := range conds {
		if r.Condition != "" && r.Condition != c.Code {
			continue
		}
		subject := c.Code
		if c.Subject != "" {
			subject += "/" + c.Subject
		}
		sev := c.Severity
		if sev.Rank() == 0 {
			sev = r.Severity
		}
		lbl := map[string]string{"condition": c.Code, "source": c.Source}
		if c.Message != "" {
			lbl["reason"] = c.Message
		}
		e.observe(ctx, r, subject, defs.Device{}, c.Labels["site"], lbl, verdict{holds: true, sev: sev, value: c.Value}, now, epoch)
	}
}

// tickTracks visits the active tracks (anything but idle with nothing
// open: a few, whatever the number of rules and devices) and applies
// what no state owner reports: a subject of a state
// rule gone from its owner's list (a device deleted, a condition
// cleared) goes off; threshold and rate rules advance in time (`for`
// reached, keep_firing_for or a rate window run out); and every open
// alert's acknowledgement expiry, silence and suppression are checked.
func (e *Engine) tickTracks(ctx context.Context, rs *ruleSet, now time.Time, epoch uint64) {
	e.scratch = e.scratch[:0]
	for t := range e.active {
		if t.ms.phase == phaseIdle && !t.open() && len(t.rate) == 0 {
			delete(e.active, t) // nothing left to do in time
			continue
		}
		e.scratch = append(e.scratch, t)
	}
	for _, t := range e.scratch {
		r := rs.byID[t.key.rule]
		if r == nil || r.Disabled {
			if t.open() {
				e.closeLocked(ctx, t, r, now, "rule removed or disabled")
			}
			if r == nil {
				e.tmu.Lock()
				delete(e.tracks, t.key)
				e.tmu.Unlock()
				delete(e.groups, tkey{t.key.rule, t.site})
			}
			continue
		}
		if t.group {
			continue
		}
		switch r.Kind {
		case defs.RuleThreshold:
			if dl := t.deadline.Load(); dl != 0 && now.UnixNano() >= dl {
				e.stepLocked(ctx, t, r, r.verdictAt(t.level.Load(), math.Float64frombits(t.latest.Load())), now)
			}
		case defs.RuleRate:
			if t.ms.phase != phaseIdle {
				e.stepLocked(ctx, t, r, e.rateVerdict(t, r, now), now)
			}
		case defs.RuleSystem, defs.RuleCameraDown, defs.RuleOffline, defs.RuleAbsence:
			// Gone from its owner's list: a device deleted or disabled, a
			// condition cleared, a camera removed.
			if t.epoch != epoch && t.ms.phase != phaseIdle && !(t.restored && e.settling(now)) {
				e.stepLocked(ctx, t, r, verdict{}, now)
			}
		}
		if t.open() && t.alert.State != defs.AlertPending {
			from := t.alert.State
			if ch, note := e.recheckLocked(t, r, now); ch != "" {
				e.commitLocked(ctx, t, r, ch, from, "", note, now)
			}
		}
	}
}

// closeLocked resolves t's open alert outside the machine (its rule was
// deleted or disabled).
func (e *Engine) closeLocked(ctx context.Context, t *track, r *rule, now time.Time, note string) {
	from := t.alert.State
	t.alert.State, t.alert.ResolvedAt = defs.AlertResolved, now
	t.ms = mstate{}
	t.level.Store(-1)
	t.deadline.Store(0)
	if r == nil {
		r = &rule{AlertRule: defs.AlertRule{ID: t.key.rule}}
	}
	e.commitLocked(ctx, t, r, defs.ChangeResolved, from, "", note, now)
}

// offlineHolds reports whether health h is what an offline rule with
// condition cond watches: offline, stale, or either ("").
func offlineHolds(cond string, h defs.Health) bool {
	switch cond {
	case OfflineOnly:
		return h == defs.HealthOffline
	case OfflineStale:
		return h == defs.HealthStale
	}
	return h == defs.HealthOffline || h == defs.HealthStale
}
