package alerts

import (
	"context"
	"slices"
	"sort"
	"sync"
	"time"

	"github.com/iocd/iocd/defs"
)

// MemStore is a Store in memory, for tools, tests and an iocd built
// without the SQLite alert tables; it is safe for concurrent use.
type MemStore struct {
	mu       sync.Mutex
	rules    map[string]defs.AlertRule
	alerts   map[string]defs.Alert
	history  map[string][]defs.AlertTransition
	silences map[string]defs.Silence
}

// NewMemStore returns an empty MemStore.
func NewMemStore() *MemStore {
	return &MemStore{rules: map[string]defs.AlertRule{}, alerts: map[string]defs.Alert{},
		history: map[string][]defs.AlertTransition{}, silences: map[string]defs.Silence{}}
}

// ListAlertRules returns every rule, by id.
func (s *MemStore) ListAlertRules(context.Context) ([]defs.AlertRule, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []defs.AlertRule
	for _, r := range s.rules {
		out = append(out, r)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out, nil
}

// PutAlertRule upserts r.
func (s *MemStore) PutAlertRule(_ context.Context, r defs.AlertRule) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.rules[r.ID] = r
	return nil
}

// DeleteAlertRule removes a rule.
func (s *MemStore) DeleteAlertRule(_ context.Context, id string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.rules[id]; !ok {
		return defs.NotFound("no rule %q", id)
	}
	delete(s.rules, id)
	return nil
}

// SaveAlert upserts a and appends ts to its history.
func (s *MemStore) SaveAlert(_ context.Context, a defs.Alert, ts []defs.AlertTransition) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	a.Members = slices.Clone(a.Members)
	s.alerts[a.ID] = a
	s.history[a.ID] = append(s.history[a.ID], ts...)
	return nil
}

// LoadAlerts returns the open alerts and those resolved since.
func (s *MemStore) LoadAlerts(_ context.Context, since time.Time) ([]defs.Alert, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []defs.Alert
	for _, a := range s.alerts {
		if a.State.Open() || !a.ResolvedAt.Before(since) {
			out = append(out, a)
		}
	}
	return out, nil
}

// ListAlerts returns the alerts f picks, newest first (no pagination).
func (s *MemStore) ListAlerts(_ context.Context, f defs.AlertFilter) ([]defs.Alert, string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []defs.Alert
	for _, a := range s.alerts {
		if f.Rule != "" && a.Rule != f.Rule {
			continue
		}
		if len(f.States) > 0 && !slices.Contains(f.States, a.State) || len(f.States) == 0 && !a.State.Open() {
			continue
		}
		if f.Device != "" && a.Device != f.Device || f.Site != "" && a.Site != f.Site {
			continue
		}
		out = append(out, a)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].UpdatedAt.After(out[j].UpdatedAt) })
	if f.Limit > 0 && len(out) > f.Limit {
		out = out[:f.Limit]
	}
	return out, "", nil
}

// GetAlert returns an alert with its history.
func (s *MemStore) GetAlert(_ context.Context, id string) (defs.Alert, []defs.AlertTransition, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	a, ok := s.alerts[id]
	if !ok {
		return defs.Alert{}, nil, defs.NotFound("no alert %q", id)
	}
	return a, slices.Clone(s.history[id]), nil
}

// ListSilences returns every silence.
func (s *MemStore) ListSilences(context.Context) ([]defs.Silence, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []defs.Silence
	for _, x := range s.silences {
		out = append(out, x)
	}
	return out, nil
}

// PutSilence upserts a silence.
func (s *MemStore) PutSilence(_ context.Context, x defs.Silence) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.silences[x.ID] = x
	return nil
}

// DeleteSilence removes a silence.
func (s *MemStore) DeleteSilence(_ context.Context, id string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.silences, id)
	return nil
}
