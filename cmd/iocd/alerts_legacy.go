package main

// TEMPORARY (branch alertsapi): the API now speaks the rules engine's
// interface (api.AlertService), which the engine of the alertsengine
// branch implements. Until that lands, this adapter serves the old
// built-in engine through it. At the merge: delete this file and wire
// `Alerts: s.alerts` again in serve.go.

import (
	"context"
	"time"

	"github.com/iocd/iocd/alerts"
	"github.com/iocd/iocd/api"
	"github.com/iocd/iocd/defs"
	"github.com/iocd/iocd/store"
)

type legacyAlerts struct{ e *alerts.Engine }

var _ api.AlertService = legacyAlerts{}

func errNoRules() error {
	return defs.Errorf(defs.EUNAVAILABLE, "alert rules need the rules engine, which this build lacks")
}

func (l legacyAlerts) Rules(context.Context) ([]defs.AlertRule, error) { return nil, errNoRules() }
func (l legacyAlerts) Rule(context.Context, string) (defs.AlertRule, error) {
	return defs.AlertRule{}, errNoRules()
}
func (l legacyAlerts) PutRule(context.Context, defs.AlertRule, string) (defs.AlertRule, error) {
	return defs.AlertRule{}, errNoRules()
}
func (l legacyAlerts) DeleteRule(context.Context, string, string) error { return errNoRules() }

func (l legacyAlerts) List(_ context.Context, f defs.AlertFilter) ([]defs.Alert, string, error) {
	var out []defs.Alert
	for _, a := range l.e.List(true) {
		st := a.State
		if st == "" && a.ResolvedAt.IsZero() {
			st = defs.AlertFiring
		}
		if (len(f.States) == 0 && st.Open() || containsState(f.States, st)) && (f.Rule == "" || a.Rule == f.Rule) &&
			(f.Site == "" || a.Site == f.Site) && (f.Device == "" || defs.DeviceID(a.Subject) == f.Device) {
			out = append(out, a)
		}
	}
	return out, "", nil
}

func containsState(ss []defs.AlertState, s defs.AlertState) bool {
	for _, x := range ss {
		if x == s {
			return true
		}
	}
	return false
}

func (l legacyAlerts) Get(_ context.Context, id string) (defs.Alert, []defs.AlertTransition, error) {
	for _, a := range l.e.List(true) {
		if a.ID == id {
			return a, nil, nil
		}
	}
	return defs.Alert{}, nil, defs.NotFound("no alert %q", id)
}

func (l legacyAlerts) Ack(_ context.Context, id, by, _, _ string, _ time.Time) (defs.Alert, error) {
	return l.e.Ack(id, by)
}

func (l legacyAlerts) Silences(context.Context) ([]defs.Silence, error) { return nil, errNoRules() }
func (l legacyAlerts) AddSilence(context.Context, defs.Silence) (defs.Silence, error) {
	return defs.Silence{}, errNoRules()
}
func (l legacyAlerts) DeleteSilence(context.Context, string, string) error { return errNoRules() }
func (l legacyAlerts) DryRun(context.Context, defs.AlertRule, time.Time, time.Time) (alerts.DryRunResult, error) {
	return alerts.DryRunResult{}, errNoRules()
}

// The store is the alerts engine's Store (kept after the merge, in serve.go's
// wiring of the engine).
var _ alerts.Store = (*store.SQLite)(nil)
