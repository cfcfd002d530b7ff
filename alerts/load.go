package alerts

import (
	"context"
	"fmt"
	"math"
	"strings"
	"time"

	"github.com/iocd/iocd/defs"
)

// load reads the rules (seeding the shipped defaults on first start and
// applying alerts.rules_file), the silences and the open alerts. An open
// alert comes back as it was: a pending one keeps its `for` start, a
// firing one its acknowledgement; the first evaluation then notifies only
// what really changes.
func (e *Engine) load(ctx context.Context) error {
	rules, err := e.store.ListAlertRules(ctx)
	if err != nil {
		return fmt.Errorf("loading rules: %w", err)
	}
	if len(rules) == 0 {
		for _, r := range DefaultRules() {
			if err := e.store.PutAlertRule(ctx, r); err != nil {
				return fmt.Errorf("seeding default rule %s: %w", r.ID, err)
			}
		}
	}
	if e.cfg.RulesFile != "" {
		fromFile, err := LoadRulesFile(e.cfg.RulesFile)
		if err != nil {
			return err
		}
		for _, r := range fromFile {
			if err := e.store.PutAlertRule(ctx, r); err != nil {
				return fmt.Errorf("storing rule %s from %s: %w", r.ID, e.cfg.RulesFile, err)
			}
		}
	}
	if err := e.reloadRules(ctx); err != nil {
		return err
	}
	sil, err := e.store.ListSilences(ctx)
	if err != nil {
		return fmt.Errorf("loading silences: %w", err)
	}
	now := e.d.Now()
	rs := e.rules.Load()
	var reopen time.Duration
	for _, r := range rs.all {
		reopen = max(reopen, r.ReopenWithin.D())
	}
	alerts, err := e.store.LoadAlerts(ctx, now.Add(-reopen))
	if err != nil {
		return fmt.Errorf("loading alerts: %w", err)
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	e.silences = sil
	e.started = now
	for i := range alerts {
		a := alerts[i]
		t := e.trackFor(a.Rule, a.Subject)
		if t.alert != nil && t.alert.State.Open() && !a.State.Open() {
			continue // the open one wins over an older resolved one
		}
		e.restore(t, &a, rs.byID[a.Rule])
		e.markActive(t)
	}
	e.loaded = true
	return nil
}

// restore puts a loaded alert back in its track.
func (e *Engine) restore(t *track, a *defs.Alert, r *rule) {
	t.alert, t.seq, t.restored = a, -1, a.State.Open()
	t.site = a.Site
	t.dev = defs.Device{ID: a.Device, Site: a.Site}
	if strings.HasPrefix(a.Subject, "site:") && a.Device == "" && r != nil && r.Kind == defs.RuleOffline {
		t.group, t.members = true, a.Members
		e.groups[tkey{a.Rule, strings.TrimPrefix(a.Subject, "site:")}] = t
	}
	t.ms = mstate{sev: a.Severity}
	switch a.State {
	case defs.AlertPending:
		t.ms.phase, t.ms.since = phasePending, a.PendingSince
	case defs.AlertFiring, defs.AlertAcknowledged:
		t.ms.phase, t.ms.since = phaseFiring, a.PendingSince
		t.fired = append(t.fired, a.RaisedAt)
	}
	t.value = a.Value
	t.latest.Store(math.Float64bits(a.Value))
	if r == nil {
		return
	}
	if r.Kind == defs.RuleThreshold && a.State.Open() {
		t.level.Store(r.levelOf(a.Severity))
	}
	if dl := t.ms.deadline(r.machineTiming()); !dl.IsZero() {
		t.deadline.Store(dl.UnixNano())
	}
}

// reloadRules reads the rules from the store and puts them in force. A
// stored rule that no longer validates is skipped and logged, not fatal.
func (e *Engine) reloadRules(ctx context.Context) error {
	rules, err := e.store.ListAlertRules(ctx)
	if err != nil {
		return fmt.Errorf("loading rules: %w", err)
	}
	ok := rules[:0]
	for _, r := range rules {
		v, err := ValidateRule(r)
		if err != nil {
			e.log.Error("stored alert rule is invalid; skipped", "rule", r.ID, "err", err)
			continue
		}
		ok = append(ok, v)
	}
	var gen uint64 = 1
	if old := e.rules.Load(); old != nil {
		gen = old.gen + 1
	}
	rs := newRuleSet(gen, ok)
	e.mu.Lock()
	e.rules.Store(rs)
	// A changed rule may have fewer levels: keep each track's level in range.
	e.tmu.Lock()
	for k, t := range e.tracks {
		r := rs.byID[k.rule]
		switch {
		case r == nil && !t.open():
			delete(e.tracks, k) // its rule is gone; an open alert is closed by the tick
			delete(e.active, t)
		case r != nil && int(t.level.Load()) >= len(r.levels):
			t.level.Store(int32(len(r.levels) - 1))
		}
	}
	e.tmu.Unlock()
	e.mu.Unlock()
	return nil
}
