package alerts

import (
	"context"
	"time"

	"github.com/iocd/iocd/defs"
)

// Store keeps rules, alerts with their history, and silences across
// restarts (*store.SQLite implements it).
type Store interface {
	ListAlertRules(ctx context.Context) ([]defs.AlertRule, error)
	PutAlertRule(ctx context.Context, r defs.AlertRule) error // upsert by ID
	DeleteAlertRule(ctx context.Context, id string) error     // defs.NotFound if absent
	// SaveAlert upserts a and appends ts to its history, in one transaction.
	SaveAlert(ctx context.Context, a defs.Alert, ts []defs.AlertTransition) error
	// LoadAlerts returns every open alert, and those resolved at or after resolvedSince.
	LoadAlerts(ctx context.Context, resolvedSince time.Time) ([]defs.Alert, error)
	// ListAlerts filters (defs.AlertFilter), newest first, with an opaque cursor.
	ListAlerts(ctx context.Context, f defs.AlertFilter) ([]defs.Alert, string, error)
	GetAlert(ctx context.Context, id string) (defs.Alert, []defs.AlertTransition, error) // defs.NotFound
	ListSilences(ctx context.Context) ([]defs.Silence, error)
	PutSilence(ctx context.Context, s defs.Silence) error
	DeleteSilence(ctx context.Context, id string) error
}
