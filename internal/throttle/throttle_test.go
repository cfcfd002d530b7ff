package throttle

import (
	"sync"
	"testing"
	"time"
)

func TestThrottleAllowsOncePerPeriod(t *testing.T) {
	th := New(50 * time.Millisecond)
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
	time.Sleep(60 * time.Millisecond)
	if !th.Allow() {
		t.Fatal("a call after the period was refused")
	}
	if th.Allow() {
		t.Fatal("a second call right after was allowed")
	}
}
