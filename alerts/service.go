package alerts

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"time"

	"github.com/iocd/iocd/defs"
)

// Rules returns every rule, by id.
func (e *Engine) Rules(ctx context.Context) ([]defs.AlertRule, error) {
	rs, err := e.store.ListAlertRules(ctx)
	if err != nil {
		return nil, fmt.Errorf("listing rules: %w", err)
	}
	return rs, nil
}

// Rule returns one rule, or a defs.NotFound error.
func (e *Engine) Rule(ctx context.Context, id string) (defs.AlertRule, error) {
	rs, err := e.Rules(ctx)
	if err != nil {
		return defs.AlertRule{}, err
	}
	for _, r := range rs {
		if r.ID == id {
			return r, nil
		}
	}
	return defs.AlertRule{}, defs.NotFound("no alert rule %q", id)
}

// PutRule validates r, stores it (created or replaced by id) and puts it
// in force at once. A shipped rule stays marked builtin.
func (e *Engine) PutRule(ctx context.Context, r defs.AlertRule, by string) (defs.AlertRule, error) {
	v, err := ValidateRule(r)
	if err != nil {
		return defs.AlertRule{}, err
	}
	now := e.d.Now().UTC()
	v.UpdatedAt = now
	if old, err := e.Rule(ctx, v.ID); err == nil {
		v.CreatedAt, v.Builtin = old.CreatedAt, old.Builtin
	} else {
		v.CreatedAt = now
	}
	if err := e.store.PutAlertRule(ctx, v); err != nil {
		return defs.AlertRule{}, fmt.Errorf("storing rule: %w", err)
	}
	e.log.Info("alert rule saved", "rule", v.ID, "by", by)
	return v, e.reloadRules(ctx)
}

// DeleteRule removes a rule (a shipped one is disabled instead); its open
// alerts resolve at the next tick.
func (e *Engine) DeleteRule(ctx context.Context, id, by string) error {
	r, err := e.Rule(ctx, id)
	if err != nil {
		return err
	}
	if r.Builtin {
		r.Disabled, r.UpdatedAt = true, e.d.Now().UTC()
		err = e.store.PutAlertRule(ctx, r)
	} else {
		err = e.store.DeleteAlertRule(ctx, id)
	}
	if err != nil {
		return fmt.Errorf("deleting rule: %w", err)
	}
	e.log.Info("alert rule deleted", "rule", id, "by", by)
	return e.reloadRules(ctx)
}

// List returns alerts as the filter picks them, newest first.
func (e *Engine) List(ctx context.Context, f defs.AlertFilter) ([]defs.Alert, string, error) {
	return e.store.ListAlerts(ctx, f)
}

// Get returns one alert with its history.
func (e *Engine) Get(ctx context.Context, id string) (defs.Alert, []defs.AlertTransition, error) {
	return e.store.GetAlert(ctx, id)
}

// Ack records that by has taken charge of the firing alert id, with a
// note, an optional assignee and an optional expiry (zero: none). An
// acknowledgement that expires while the alert still fires puts it back
// to firing and notifies again. Acknowledging an acknowledged alert
// replaces its note, assignee and expiry.
func (e *Engine) Ack(ctx context.Context, id, by, note, assignee string, expires time.Time) (defs.Alert, error) {
	now := e.d.Now().UTC()
	if !expires.IsZero() && !expires.After(now) {
		return defs.Alert{}, defs.Invalid("expires", "must be in the future")
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	var t *track
	e.tmu.Lock()
	for _, c := range e.tracks {
		if c.alert != nil && c.alert.ID == id {
			t = c
			break
		}
	}
	e.tmu.Unlock()
	if t == nil || !t.open() {
		if _, _, err := e.store.GetAlert(ctx, id); err != nil {
			return defs.Alert{}, err
		}
		return defs.Alert{}, defs.Errorf(defs.ECONFLICT, "alert %s is resolved", id)
	}
	if t.alert.State == defs.AlertPending {
		return defs.Alert{}, defs.Errorf(defs.ECONFLICT, "alert %s is pending: it has not fired", id)
	}
	r := e.rules.Load().byID[t.key.rule]
	if r == nil {
		r = &rule{AlertRule: defs.AlertRule{ID: t.key.rule}}
	}
	a := t.alert
	from := a.State
	a.State, a.AckedBy, a.AckedAt, a.AckNote, a.AckAssignee, a.AckExpires = defs.AlertAcknowledged, by, now, note, assignee, expires.UTC()
	e.commitLocked(ctx, t, r, defs.ChangeAcknowledged, from, by, note, now)
	return *a, nil
}

// Silences returns the silences, expired ones included.
func (e *Engine) Silences(ctx context.Context) ([]defs.Silence, error) {
	return e.store.ListSilences(ctx)
}

// AddSilence stores s (an id is given if it has none) and applies it to
// the open alerts at the next tick.
func (e *Engine) AddSilence(ctx context.Context, s defs.Silence) (defs.Silence, error) {
	now := e.d.Now().UTC()
	if !s.Until.After(now) {
		return defs.Silence{}, defs.Invalid("until", "must be in the future")
	}
	if s.ID == "" {
		var b [6]byte
		rand.Read(b[:])
		s.ID = "si_" + hex.EncodeToString(b[:])
	}
	if s.CreatedAt.IsZero() {
		s.CreatedAt = now
	}
	if err := e.store.PutSilence(ctx, s); err != nil {
		return defs.Silence{}, fmt.Errorf("storing silence: %w", err)
	}
	return s, e.reloadSilences(ctx)
}

// DeleteSilence removes a silence; the alerts it covered are notified at
// the next tick.
func (e *Engine) DeleteSilence(ctx context.Context, id, by string) error {
	if err := e.store.DeleteSilence(ctx, id); err != nil {
		return err
	}
	e.log.Info("silence deleted", "silence", id, "by", by)
	return e.reloadSilences(ctx)
}

func (e *Engine) reloadSilences(ctx context.Context) error {
	sil, err := e.store.ListSilences(ctx)
	if err != nil {
		return fmt.Errorf("loading silences: %w", err)
	}
	e.mu.Lock()
	e.silences = sil
	e.mu.Unlock()
	return nil
}
