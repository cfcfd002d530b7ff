package alerts

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"time"

	"github.com/iocd/iocd/defs"
)

// applyReading applies a level change (or a deadline reached) that a
// decoder saw in a reading.
func (e *Engine) applyReading(ctx context.Context, o obsItem) {
	t := o.t
	t.queued.Store(false)
	e.mu.Lock()
	defer e.mu.Unlock()
	t.dev, t.site = o.d.dev, o.d.dev.Site
	r := e.rules.Load().byID[t.key.rule]
	if r == nil || r.Disabled || r.Kind != defs.RuleThreshold {
		return
	}
	e.stepLocked(ctx, t, r, r.verdictAt(min(o.level, int32(len(r.levels)-1)), o.value), e.d.Now())
}

// verdictAt is a threshold rule's verdict for level lvl.
func (c *rule) verdictAt(lvl int32, v float64) verdict {
	if lvl < 0 || int(lvl) >= len(c.levels) {
		return verdict{value: v}
	}
	return verdict{holds: true, sev: c.levels[lvl].sev, value: v}
}

// stepLocked advances t by v and applies what the machine did to the
// alert record: persisted, then notified.
func (e *Engine) stepLocked(ctx context.Context, t *track, r *rule, v verdict, now time.Time) {
	tm := r.machineTiming()
	if t.group {
		tm.forD = 0 // its members already held for their own onset
	}
	if e.flapping(t, now) {
		// A flapping subject stays firing, quiet, until its condition has
		// been off for the flap window: a bounded number of notifications.
		tm.keep = max(tm.keep, e.cfg.FlapWindow)
	}
	if v.sev == "" {
		v.sev = r.Severity
	}
	ev := step(&t.ms, v, now, tm)
	defer e.markActive(t)
	if dl := t.ms.deadline(tm); dl.IsZero() {
		t.deadline.Store(0)
	} else {
		t.deadline.Store(dl.UnixNano())
	}
	if v.holds || ev != evNone {
		t.value = v.value
	}
	switch ev {
	case evPending:
		e.openLocked(ctx, t, r, now, defs.AlertPending)
	case evFired:
		t.fired = append(t.fired, now)
		if t.open() && t.alert.State == defs.AlertPending {
			e.fireLocked(ctx, t, r, now)
		} else {
			e.openLocked(ctx, t, r, now, defs.AlertFiring)
		}
	case evEscalated, evDeescalated:
		if !t.open() {
			return
		}
		ch := defs.ChangeEscalated
		if ev == evDeescalated {
			ch = defs.ChangeDeescalated
		}
		t.alert.Severity = t.ms.sev
		e.commitLocked(ctx, t, r, ch, t.alert.State, "", "", now)
	case evResolved, evCancelled:
		if !t.open() {
			return
		}
		ch := defs.ChangeResolved
		if ev == evCancelled {
			ch = defs.ChangeCancelled
		}
		from := t.alert.State
		t.alert.State, t.alert.ResolvedAt = defs.AlertResolved, now
		e.commitLocked(ctx, t, r, ch, from, "", "", now)
	}
}

// markActive puts t in the tick's set if it has anything to do in time.
func (e *Engine) markActive(t *track) {
	if t.ms.phase != phaseIdle || t.open() || len(t.rate) > 0 {
		e.active[t] = struct{}{}
	}
}

// openLocked starts an alert for t in state st (pending or firing):
// re-opening its last alert if that was resolved within reopen_within,
// else a new one.
func (e *Engine) openLocked(ctx context.Context, t *track, r *rule, now time.Time, st defs.AlertState) {
	if t.alert != nil && !t.open() && now.Sub(t.alert.ResolvedAt) <= r.ReopenWithin.D() {
		a := t.alert
		from := a.State
		a.ResolvedAt, a.PendingSince, a.Severity = time.Time{}, t.ms.since, t.ms.sev
		clearAck(a)
		if st == defs.AlertPending {
			a.State = defs.AlertPending
			e.commitLocked(ctx, t, r, defs.ChangePending, from, "", "", now)
			return
		}
		e.fireLocked(ctx, t, r, now)
		return
	}
	if t.alert != nil && t.alert.State.Open() {
		return
	}
	a := &defs.Alert{
		ID: newID(), Rule: r.ID, RuleName: r.Name, Kind: r.Kind, Subject: t.key.subject,
		Site: t.site, Severity: t.ms.sev, State: defs.AlertPending, PendingSince: t.ms.since,
		Labels: labels(t, r),
	}
	if !t.group && r.Kind != defs.RuleSystem && !(r.Kind == defs.RuleRate && r.Per == "site") {
		a.Device = t.dev.ID
	}
	t.alert, t.seq = a, 0
	if st == defs.AlertPending {
		e.commitLocked(ctx, t, r, defs.ChangePending, "", "", "", now)
		return
	}
	a.State = ""
	e.fireLocked(ctx, t, r, now)
}

// fireLocked moves t's alert to firing: "fired" the first time,
// "reopened" for an alert that had fired before.
func (e *Engine) fireLocked(ctx context.Context, t *track, r *rule, now time.Time) {
	a := t.alert
	from := a.State
	ch := defs.ChangeFired
	if !a.RaisedAt.IsZero() {
		ch = defs.ChangeReopened
		a.Reopened++
	} else {
		a.RaisedAt = now
	}
	if a.PendingSince.IsZero() {
		a.PendingSince = t.ms.since
	}
	a.State, a.ResolvedAt, a.Severity = defs.AlertFiring, time.Time{}, t.ms.sev
	e.commitLocked(ctx, t, r, ch, from, "", "", now)
}

// commitLocked records one transition of t's alert: fills its messages,
// its silence and suppression, persists it with the transition, then
// notifies and publishes it. Persistence comes first so that a restart
// never notifies a transition twice; if the store fails, the
// transition is still notified (a missed alert is worse than a repeat)
// and the failure logged and counted.
func (e *Engine) commitLocked(ctx context.Context, t *track, r *rule, ch defs.AlertChange, from defs.AlertState, actor, note string, now time.Time) {
	a := t.alert
	t.restored = false
	a.Value, a.UpdatedAt, a.Labels = t.value, now, labels(t, r)
	a.Message, a.MessageEN = fill(r, t, a)
	if t.group {
		a.Members = t.members
	}
	// The end of an alert that was never notified (silenced or
	// suppressed) is not notified either: it keeps what held it back.
	if end := ch == defs.ChangeResolved || ch == defs.ChangeCancelled; !end || a.Silenced == "" {
		a.Silenced = e.silenceFor(a, t, now)
	}
	if end := ch == defs.ChangeResolved || ch == defs.ChangeCancelled; !end || a.SuppressedBy == "" {
		a.SuppressedBy = e.suppressorFor(t, r)
	}
	if t.seq < 0 {
		t.seq = e.lastSeq(ctx, a.ID)
	}
	t.seq++
	tr := defs.AlertTransition{
		Alert: a.ID, Seq: t.seq, Change: ch, From: from, To: a.State, Severity: a.Severity,
		Value: a.Value, Actor: actor, Note: note, At: now,
	}
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	err := e.store.SaveAlert(sctx, *a, []defs.AlertTransition{tr})
	cancel()
	if err != nil {
		e.m.storeErrors.Inc()
		e.log.Error("saving alert", "alert", a.ID, "rule", a.Rule, "change", ch, "err", err)
	}
	snap := *a
	e.d.Notifier.Notify(defs.AlertNotification{Transition: tr, Alert: snap}, r.AlertRule)
	if e.d.Bus != nil {
		e.d.Bus.Publish(defs.Event{Kind: defs.EventAlert, Time: now, Alert: &snap})
	}
	e.m.transitions.WithLabelValues(string(ch)).Inc()
	e.log.Debug("alert transition", "alert", a.ID, "rule", a.Rule, "subject", a.Subject, "change", ch, "state", a.State)
}

// saveLocked persists a change of t's alert that is not a transition
// (a grouped alert's members).
func (e *Engine) saveLocked(ctx context.Context, t *track) {
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	if err := e.store.SaveAlert(sctx, *t.alert, nil); err != nil {
		e.m.storeErrors.Inc()
		e.log.Error("saving alert", "alert", t.alert.ID, "err", err)
	}
}

// lastSeq reads an alert's last transition seq from the store (an alert
// loaded at start).
func (e *Engine) lastSeq(ctx context.Context, id string) int {
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	_, ts, err := e.store.GetAlert(sctx, id)
	if err != nil {
		e.log.Error("reading alert history", "alert", id, "err", err)
	}
	n := 0
	for _, tr := range ts {
		n = max(n, tr.Seq)
	}
	return n
}

// flapping reports whether t fired FlapMax times within the flap window.
func (e *Engine) flapping(t *track, now time.Time) bool {
	i := 0
	for i < len(t.fired) && now.Sub(t.fired[i]) > e.cfg.FlapWindow {
		i++
	}
	t.fired = append(t.fired[:0], t.fired[i:]...)
	return len(t.fired) >= e.cfg.FlapMax
}

func clearAck(a *defs.Alert) {
	a.AckedBy, a.AckedAt, a.AckNote, a.AckAssignee, a.AckExpires = "", time.Time{}, "", "", time.Time{}
}

func labels(t *track, r *rule) map[string]string {
	l := map[string]string{}
	if t.dev.Kind != "" {
		l["kind"] = string(t.dev.Kind)
	}
	if r.Field != "" {
		l["field"] = r.Field
	}
	for k, v := range t.lbl {
		l[k] = v
	}
	if len(l) == 0 {
		return nil
	}
	return l
}

func newID() string {
	var b [8]byte
	rand.Read(b[:])
	return "al_" + hex.EncodeToString(b[:])
}
