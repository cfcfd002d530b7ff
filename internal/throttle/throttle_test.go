package throttle

import (
	"sync"
	"testing"
	"time"
)

// clock is a hand-moved clock, so the test says when a period has passed
// rather than sleeping through one (and failing when a loaded machine
// spreads 100 goroutines over more than a period).
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }

func (c *clock) advance(d time.Duration) { c.mu.Lock(); c.t = c.t.Add(d); c.mu.Unlock() }

func TestThrottleAllowsOncePerPeriod(t *testing.T) {
	c := &clock{t: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
	th := New(50 * time.Millisecond)
	th.now = c.now
	var n int
	var mu sync.Mutex
	var wg sync.WaitGroup
	for range 100 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			th.Do(func() { mu.Lock(); n++; mu.Unlock() })
		}()
	}
	wg.Wait()
	if n != 1 {
		t.Fatalf("100 concurrent calls within one period ran %d times, want 1", n)
	}
	c.advance(49 * time.Millisecond)
	if th.Allow() {
		t.Fatal("a call 49 ms into a 50 ms period was allowed")
	}
	c.advance(time.Millisecond)
	if !th.Allow() {
		t.Fatal("a call a whole period after the last allowed one was refused")
	}
	if th.Allow() {
		t.Fatal("a second call at the same instant was allowed")
	}
	c.advance(50 * time.Millisecond)
	if !th.Allow() {
		t.Fatal("a call in the next period was refused")
	}
}
