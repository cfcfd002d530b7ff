// Package throttle owns the one rate limit iocd puts on repetitive log
// lines: bad input and failing writes can repeat thousands of times a
// second, and a flood must not fill the disk with the same warning.
package throttle

import (
	"sync"
	"time"
)

// Throttle lets one call through per period. The zero value is not usable;
// call New.
type Throttle struct {
	mu     sync.Mutex
	period time.Duration
	last   time.Time
	now    func() time.Time // time.Now; tests set their own clock
}

// New returns a Throttle that allows one call per period.
func New(period time.Duration) *Throttle { return &Throttle{period: period, now: time.Now} }

// Allow reports whether a period has passed since the last allowed call,
// and if so counts this one as allowed.
func (t *Throttle) Allow() bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	now := t.now()
	if !t.last.IsZero() && now.Sub(t.last) < t.period {
		return false
	}
	t.last = now
	return true
}

// Do runs f if Allow says so.
func (t *Throttle) Do(f func()) {
	if t.Allow() {
		f()
	}
}
