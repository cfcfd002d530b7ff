package alerts

import (
	"time"

	"github.com/iocd/iocd/defs"
)

// silenceFor returns the id of an active silence covering a: its rule
// (if the silence names one) and its subject device, picked by the
// silence's selector. A subject that is not a device (a site, a
// condition) is matched as a device with that id and site.
func (e *Engine) silenceFor(a *defs.Alert, t *track, now time.Time) string {
	if len(e.silences) == 0 {
		return ""
	}
	dev := t.dev
	if dev.ID == "" {
		dev = defs.Device{ID: defs.DeviceID(a.Subject), Site: a.Site}
	}
	for _, s := range e.silences {
		if !now.Before(s.Until) || (s.Rule != "" && s.Rule != a.Rule) {
			continue
		}
		if s.Selector.Matches(dev) {
			return s.ID
		}
	}
	return ""
}

// suppressorFor names what holds t's alert back: the grouped alert of
// its site, or its gateway while that gateway is offline or stale.
func (e *Engine) suppressorFor(t *track, r *rule) string {
	if t.group || t.dev.ID == "" {
		return ""
	}
	if g := e.groups[tkey{r.ID, t.dev.Site}]; g != nil && g.open() && g.alert.State != defs.AlertPending {
		return g.alert.ID
	}
	if gw := t.dev.Tags["gateway"]; gw != "" {
		if h := e.health[defs.DeviceID(gw)]; h == defs.HealthOffline || h == defs.HealthStale {
			return "gateway:" + gw
		}
	}
	return ""
}

// recheckLocked re-derives the silence, suppression and acknowledgement
// expiry of t's open alert, recording a transition when one changed: an
// acknowledgement that expires while the alert fires puts it back to
// firing (notified again); a silence or suppression that ends is
// notified too, since until then the alert was not.
func (e *Engine) recheckLocked(t *track, r *rule, now time.Time) (ch defs.AlertChange, note string) {
	a := t.alert
	if a.State == defs.AlertAcknowledged && !a.AckExpires.IsZero() && !now.Before(a.AckExpires) {
		a.State = defs.AlertFiring
		clearAck(a)
		return defs.ChangeAckExpired, "acknowledgement expired"
	}
	if s := e.silenceFor(a, t, now); s != a.Silenced {
		if s == "" {
			return defs.ChangeSilenced, "silence ended"
		}
		return defs.ChangeSilenced, "silenced by " + s
	}
	if s := e.suppressorFor(t, r); s != a.SuppressedBy {
		if s == "" {
			return defs.ChangeSuppressed, "no longer suppressed by " + a.SuppressedBy
		}
		return defs.ChangeSuppressed, "suppressed by " + s
	}
	return "", ""
}
