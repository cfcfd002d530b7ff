package auth

import (
	"sync"
	"time"
)

// limiter counts login failures per key (a user name, or a remote
// address) in fixed windows, and refuses a key that has failed `limit`
// times in its window until the window ends.
//
// Its memory is bounded: at most `capacity` keys are tracked. When it is
// full (a flood of distinct names or addresses) keys it does not track
// share one overflow bucket, so a flood is limited as a whole and cannot
// evict, and so reset, a key already being tracked. Expired windows are
// dropped when space is needed and on prune.
type limiter struct {
	limit    int
	window   time.Duration
	capacity int

	mu       sync.Mutex
	keys     map[string]*bucket
	overflow bucket
}

type bucket struct {
	start    time.Time
	failures int
}

func newLimiter(limit int, window time.Duration, capacity int) *limiter {
	return &limiter{limit: limit, window: window, capacity: capacity, keys: map[string]*bucket{}}
}

// retryAfter reports how long key must wait before another attempt;
// zero if it may try now.
func (l *limiter) retryAfter(key string, now time.Time) time.Duration {
	l.mu.Lock()
	defer l.mu.Unlock()
	b := l.find(key)
	if b == nil || now.Sub(b.start) >= l.window || b.failures < l.limit {
		return 0
	}
	return b.start.Add(l.window).Sub(now)
}

// fail records a failed attempt by key.
func (l *limiter) fail(key string, now time.Time) {
	l.mu.Lock()
	defer l.mu.Unlock()
	b, ok := l.keys[key]
	if !ok {
		if len(l.keys) >= l.capacity {
			l.pruneLocked(now)
		}
		if len(l.keys) < l.capacity {
			b = &bucket{start: now}
			l.keys[key] = b
		} else {
			b = &l.overflow
		}
	}
	if now.Sub(b.start) >= l.window {
		b.start, b.failures = now, 0
	}
	b.failures++
}

// reset forgets key's failures (after a successful login).
func (l *limiter) reset(key string) {
	l.mu.Lock()
	delete(l.keys, key)
	l.mu.Unlock()
}

// find returns key's bucket, the overflow bucket if key is untracked
// while the limiter is full, or nil.
func (l *limiter) find(key string) *bucket {
	if b, ok := l.keys[key]; ok {
		return b
	}
	if len(l.keys) >= l.capacity {
		return &l.overflow
	}
	return nil
}

// prune drops the keys whose window has ended.
func (l *limiter) prune(now time.Time) {
	l.mu.Lock()
	l.pruneLocked(now)
	l.mu.Unlock()
}

func (l *limiter) pruneLocked(now time.Time) {
	for k, b := range l.keys {
		if now.Sub(b.start) >= l.window {
			delete(l.keys, k)
		}
	}
}

// size reports how many keys are tracked.
func (l *limiter) size() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.keys)
}
