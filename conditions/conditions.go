// Package conditions owns the registry of the service's own conditions
// (defs.Condition): each component sets and clears the conditions of the
// state it owns, and the alerts engine reads the current set on a tick.
// There are no edges to lose: what is in the registry is what holds now.
package conditions

import (
	"sort"
	"sync"
	"time"

	"github.com/iocd/iocd/defs"
)

// Registry holds the conditions that hold now. The zero value is not
// usable; call New. It is safe for concurrent use.
type Registry struct {
	now func() time.Time

	mu  sync.Mutex
	set map[key]defs.Condition
}

type key struct{ code, subject string }

// New returns an empty Registry.
func New() *Registry {
	return &Registry{now: time.Now, set: make(map[key]defs.Condition)}
}

// Set records that c holds. A condition already set keeps its Since; the
// rest (severity, message, value) is replaced, so a worsening condition
// can escalate. A zero c.Since is taken as now.
func (r *Registry) Set(c defs.Condition) {
	k := key{c.Code, c.Subject}
	r.mu.Lock()
	defer r.mu.Unlock()
	if old, ok := r.set[k]; ok {
		c.Since = old.Since
	} else if c.Since.IsZero() {
		c.Since = r.now().UTC()
	}
	r.set[k] = c
}

// Clear records that the condition (code, subject) no longer holds. It is
// a no-op when it was not set.
func (r *Registry) Clear(code, subject string) {
	r.mu.Lock()
	delete(r.set, key{code, subject})
	r.mu.Unlock()
}

// List returns the conditions that hold now, ordered by code then subject.
func (r *Registry) List() []defs.Condition {
	r.mu.Lock()
	out := make([]defs.Condition, 0, len(r.set))
	for _, c := range r.set {
		out = append(out, c)
	}
	r.mu.Unlock()
	sort.Slice(out, func(i, j int) bool {
		if out[i].Code != out[j].Code {
			return out[i].Code < out[j].Code
		}
		return out[i].Subject < out[j].Subject
	})
	return out
}

// Discard is a condition sink that keeps nothing, for components built
// without a registry (tools and tests): domain code never checks for nil.
type Discard struct{}

// Set does nothing.
func (Discard) Set(defs.Condition) {}

// Clear does nothing.
func (Discard) Clear(string, string) {}
