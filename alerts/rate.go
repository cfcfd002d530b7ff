package alerts

import (
	"context"
	"time"

	"github.com/iocd/iocd/defs"
)

// Rate rule events.
const (
	EventViolation = "violation"
	EventRejected  = "rejected"
)

// rateEvent is one violation or refused message, for rate rules.
type rateEvent struct {
	event, typ string // typ: the violation type or the rejection reason
	device     defs.DeviceID
	site       string
	at         time.Time
}

// ObserveViolation counts a violation for the rate rules; the violations
// service calls it when it records one. It never blocks: a full queue
// drops the event, counted.
func (e *Engine) ObserveViolation(v defs.Violation) {
	e.offer(rateEvent{event: EventViolation, typ: v.Type, device: v.Camera, site: v.Site, at: e.d.Now()})
}

// ObserveRejected counts a refused message for the rate rules; it
// implements ingest.Observer.
func (e *Engine) ObserveRejected(device defs.DeviceID, reason string, at time.Time) {
	e.offer(rateEvent{event: EventRejected, typ: reason, device: device, at: e.d.Now()})
}

func (e *Engine) offer(ev rateEvent) {
	select {
	case e.events <- ev:
	default:
		e.m.dropped.Inc()
	}
}

// maxRateKept bounds the event times a rate track keeps.
const maxRateKept = 10000

// applyRate counts ev in every rate rule that selects it.
func (e *Engine) applyRate(ctx context.Context, ev rateEvent) {
	rs := e.rules.Load()
	if rs == nil {
		return
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	now := e.d.Now()
	for _, r := range rs.all {
		if r.Disabled || r.Kind != defs.RuleRate || r.Event != ev.event {
			continue
		}
		if want := r.ViolationType + r.Reason; want != "" && want != ev.typ {
			continue
		}
		dev := defs.Device{ID: ev.device, Site: ev.site}
		if ds, ok := e.devices[ev.device]; ok {
			dev = ds
		}
		if !r.Selector.Matches(dev) {
			continue
		}
		subject := string(dev.ID)
		if r.Per == "site" {
			subject = dev.Site
		}
		t := e.trackFor(r.ID, subject)
		t.dev, t.site = dev, dev.Site
		if r.Per == "site" {
			t.dev = defs.Device{}
		}
		t.rate = append(t.rate, ev.at)
		if len(t.rate) > maxRateKept {
			t.rate = append(t.rate[:0], t.rate[len(t.rate)-maxRateKept:]...)
		}
		e.stepLocked(ctx, t, r, e.rateVerdict(t, r, now), now)
	}
}

// rateVerdict drops the events older than the rule's window and holds
// when more than Count remain.
func (e *Engine) rateVerdict(t *track, r *rule, now time.Time) verdict {
	i := 0
	for i < len(t.rate) && now.Sub(t.rate[i]) > r.Window.D() {
		i++
	}
	t.rate = append(t.rate[:0], t.rate[i:]...)
	n := len(t.rate)
	return verdict{holds: n > r.Count, sev: r.Severity, value: float64(n)}
}
