// Package alerts owns what iocd tells operators needs them: it watches the
// event stream (device health, camera sessions, operational notices), keeps
// the set of firing alerts, resolves them when their condition clears, and
// lets an operator acknowledge one. Raised, resolved and acknowledged alerts
// go back on the bus for the dashboard.
//
// The rules are built in for now; the alerts issue adds configurable rules
// over readings and persistence in the store behind the same Engine.
package alerts

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"log/slog"
	"sort"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/iocd/iocd/bus"
	"github.com/iocd/iocd/defs"
)

// Built-in rule names.
const (
	RuleDeviceOffline = "device_offline"
	RuleDeviceStale   = "device_stale"
	RuleCameraDown    = "camera_down"
)

// maxResolved bounds the resolved alerts kept for the API.
const maxResolved = 1000

// Engine evaluates the built-in rules over bus events.
type Engine struct {
	bus *bus.Bus
	sub *bus.Subscription
	log *slog.Logger
	now func() time.Time

	mu       sync.Mutex
	firing   map[string]*defs.Alert // by rule + "/" + subject
	resolved []defs.Alert           // oldest first, at most maxResolved

	firingGauge *prometheus.GaugeVec
	raised      *prometheus.CounterVec
}

// New returns an Engine subscribed to b. Run must be called for it to act.
func New(b *bus.Bus, log *slog.Logger, reg prometheus.Registerer) *Engine {
	e := &Engine{
		bus:    b,
		sub:    b.Subscribe("alerts", defs.Mask(defs.EventHealth, defs.EventCamera, defs.EventNotice), 8192),
		log:    log,
		now:    time.Now,
		firing: make(map[string]*defs.Alert),
		firingGauge: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "iocd_alerts_firing", Help: "Alerts firing now, by severity.",
		}, []string{"severity"}),
		raised: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "iocd_alerts_raised_total", Help: "Alerts raised, by rule.",
		}, []string{"rule"}),
	}
	if reg != nil {
		reg.MustRegister(e.firingGauge, e.raised)
	}
	return e
}

// Run applies events until ctx ends.
func (e *Engine) Run(ctx context.Context) error {
	defer e.sub.Close()
	for {
		select {
		case <-ctx.Done():
			return nil
		case ev, ok := <-e.sub.C():
			if !ok {
				return nil
			}
			e.apply(ev)
		}
	}
}

func (e *Engine) apply(ev defs.Event) {
	switch ev.Kind {
	case defs.EventHealth:
		h := ev.Health
		subject := string(h.Device)
		labels := map[string]string{"device": subject, "kind": string(h.Kind)}
		switch h.To {
		case defs.HealthOffline:
			e.resolve(RuleDeviceStale, subject)
			e.raise(RuleDeviceOffline, subject, h.Site, defs.SeverityWarning, "device "+subject+" reported offline", labels)
		case defs.HealthStale:
			e.raise(RuleDeviceStale, subject, h.Site, defs.SeverityWarning, "device "+subject+" has gone silent", labels)
		case defs.HealthOnline:
			e.resolve(RuleDeviceOffline, subject)
			e.resolve(RuleDeviceStale, subject)
		}
	case defs.EventCamera:
		c := ev.Camera
		subject := string(c.Camera)
		if c.Connected {
			e.resolve(RuleCameraDown, subject)
		} else {
			msg := "camera " + subject + " is not streaming"
			if c.Reason != "" {
				msg += ": " + c.Reason
			}
			e.raise(RuleCameraDown, subject, c.Site, defs.SeverityCritical, msg, map[string]string{"camera": subject})
		}
	case defs.EventNotice:
		n := ev.Notice
		subject := n.Labels["subject"]
		if subject == "" {
			subject = n.Source
		}
		// A notice of severity info clears the condition its code names;
		// any other raises or refreshes it.
		if n.Severity == defs.SeverityInfo {
			e.resolve(n.Code, subject)
		} else {
			e.raise(n.Code, subject, n.Labels["site"], n.Severity, n.Message, n.Labels)
		}
	}
}

func (e *Engine) raise(rule, subject, site string, sev defs.Severity, msg string, labels map[string]string) {
	key := rule + "/" + subject
	e.mu.Lock()
	if a, ok := e.firing[key]; ok {
		// Already firing: keep the first raise time and any
		// acknowledgement; take the newest message and severity, and say
		// so when either changed.
		if a.Message == msg && a.Severity == sev {
			e.mu.Unlock()
			return
		}
		old := a.Severity
		a.Message, a.Severity = msg, sev
		snap := *a
		e.mu.Unlock()
		if old != sev {
			e.firingGauge.WithLabelValues(string(old)).Dec()
			e.firingGauge.WithLabelValues(string(sev)).Inc()
		}
		e.bus.Publish(defs.Event{Kind: defs.EventAlert, Time: e.now().UTC(), Alert: &snap})
		return
	}
	a := &defs.Alert{
		ID: newID(), Rule: rule, Subject: subject, Site: site, Severity: sev,
		Message: msg, Labels: labels, State: defs.AlertFiring, RaisedAt: e.now().UTC(),
	}
	e.firing[key] = a
	snap := *a
	e.mu.Unlock()
	e.raised.WithLabelValues(rule).Inc()
	e.firingGauge.WithLabelValues(string(sev)).Inc()
	e.log.Info("alert raised", "rule", rule, "subject", subject, "severity", sev)
	e.bus.Publish(defs.Event{Kind: defs.EventAlert, Time: snap.RaisedAt, Alert: &snap})
}

func (e *Engine) resolve(rule, subject string) {
	key := rule + "/" + subject
	e.mu.Lock()
	a, ok := e.firing[key]
	if !ok {
		e.mu.Unlock()
		return
	}
	delete(e.firing, key)
	a.State, a.ResolvedAt = defs.AlertResolved, e.now().UTC()
	e.resolved = append(e.resolved, *a)
	if len(e.resolved) > maxResolved {
		e.resolved = append(e.resolved[:0:0], e.resolved[len(e.resolved)-maxResolved:]...)
	}
	snap := *a
	e.mu.Unlock()
	e.firingGauge.WithLabelValues(string(snap.Severity)).Dec()
	e.log.Info("alert resolved", "rule", rule, "subject", subject)
	e.bus.Publish(defs.Event{Kind: defs.EventAlert, Time: snap.ResolvedAt, Alert: &snap})
}

// List returns the firing alerts, most severe and then newest first, and
// with includeResolved also the recently resolved ones after them.
func (e *Engine) List(includeResolved bool) []defs.Alert {
	e.mu.Lock()
	out := make([]defs.Alert, 0, len(e.firing))
	for _, a := range e.firing {
		out = append(out, *a)
	}
	var res []defs.Alert
	if includeResolved {
		res = append(res, e.resolved...)
	}
	e.mu.Unlock()
	rank := map[defs.Severity]int{defs.SeverityCritical: 0, defs.SeverityWarning: 1, defs.SeverityInfo: 2}
	sort.Slice(out, func(i, j int) bool {
		if rank[out[i].Severity] != rank[out[j].Severity] {
			return rank[out[i].Severity] < rank[out[j].Severity]
		}
		return out[i].RaisedAt.After(out[j].RaisedAt)
	})
	for i := len(res) - 1; i >= 0; i-- {
		out = append(out, res[i])
	}
	return out
}

// Ack records that by has taken charge of the firing alert id.
func (e *Engine) Ack(id, by string) (defs.Alert, error) {
	e.mu.Lock()
	var found *defs.Alert
	for _, a := range e.firing {
		if a.ID == id {
			found = a
			break
		}
	}
	if found == nil {
		e.mu.Unlock()
		return defs.Alert{}, defs.NotFound("no firing alert %q", id)
	}
	if found.AckedBy == "" {
		found.AckedBy, found.AckedAt = by, e.now().UTC()
	}
	snap := *found
	e.mu.Unlock()
	e.bus.Publish(defs.Event{Kind: defs.EventAlert, Time: snap.AckedAt, Alert: &snap})
	return snap, nil
}

func newID() string {
	var b [8]byte
	rand.Read(b[:])
	return "al_" + hex.EncodeToString(b[:])
}
