package hostclock_test

import (
	"testing"

	"github.com/iocd/iocd/hostclock"
)

// The kernel answers on Linux: either synchronised or not, never an error,
// and a synchronised clock has a finite estimated error.
func TestKernelAnswers(t *testing.T) {
	s := hostclock.Kernel()
	if s.Err != "" {
		t.Fatalf("want adjtimex to answer, got %s", s.Err)
	}
	if s.At.IsZero() {
		t.Error("want the time of reading set")
	}
	if s.ErrorMs < 0 || s.MaxErrorMs < 0 {
		t.Errorf("want non-negative errors, got est %v max %v", s.ErrorMs, s.MaxErrorMs)
	}
	t.Logf("host clock: synced=%v esterror=%.3fms maxerror=%.3fms", s.Synced, s.ErrorMs, s.MaxErrorMs)
}
