package streams_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/iocd/iocd/conditions"
	"github.com/iocd/iocd/defs"
	"github.com/iocd/iocd/hostclock"
	"github.com/iocd/iocd/internal/testrig"
	"github.com/iocd/iocd/streams"
)

// An unsynchronised host clock is one condition for the host, not one per
// camera: a healthy camera raises nothing of its own, and the host's
// condition goes once the clock is synchronised.
func TestHostClockIsTheHostsCondition(t *testing.T) {
	srv := startSim(t)
	cam := addCam(t, srv, "a", "h264", "", "")
	reg := &registry{}
	reg.set(camera("a", cam.URL()))
	var mu sync.Mutex
	host := hostclock.State{ErrorMs: 16000}
	src := func() hostclock.State { mu.Lock(); defer mu.Unlock(); return host }
	conds := conditions.New()
	sc, vc := testConfig()
	m := streams.New(sc, vc, reg, nil, nil, nil, nil, streams.WithHostClock(src), streams.WithConditions(conds))
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); m.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })

	has := func(code, subject string) bool {
		for _, c := range conds.List() {
			if c.Code == code && c.Subject == subject {
				return true
			}
		}
		return false
	}
	// Streaming, its clock reported, and gated over a measured interval.
	// (Until its first sender report a camera fails clock_offset.)
	testrig.WaitFor(t, "the camera gated with its clock known", 15*time.Second, func() bool {
		cs := m.CameraStates()
		if len(cs) != 1 || len(cs[0].EvidenceChecks) != 6 || !has(defs.ConditionHostClockUnsynced, "") {
			return false
		}
		for _, c := range cs[0].EvidenceChecks {
			if c.Name == defs.EvidenceCheckClockOffset {
				return c.OK
			}
		}
		return false
	})
	st := m.Cameras()[0]
	if st.Evidential || st.HostClockSynced {
		t.Errorf("want the camera shown not evidential with the host unsynchronised, got evidential=%v synced=%v", st.Evidential, st.HostClockSynced)
	}
	if has(defs.ConditionCameraNotEvidential, "a") {
		t.Errorf("want no camera condition for the host's clock, got %+v", conds.List())
	}
	mu.Lock()
	host = hostclock.State{Synced: true, ErrorMs: 1}
	mu.Unlock()
	testrig.WaitFor(t, "the host's condition cleared", 10*time.Second, func() bool {
		return !has(defs.ConditionHostClockUnsynced, "") && m.Cameras()[0].Evidential
	})
}
