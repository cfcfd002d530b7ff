package testrig

import (
	"testing"
	"time"
)

// WaitFor polls cond until it holds, failing t with what was awaited if it
// does not within limit. Servers and pipelines under test settle
// asynchronously; this is the one way tests wait for them. Call it from
// the test goroutine only.
func WaitFor(t testing.TB, what string, limit time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(limit)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", limit, what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
