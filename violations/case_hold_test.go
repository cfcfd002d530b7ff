package violations_test

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/iocd/iocd/defs"
	"github.com/iocd/iocd/internal/testrig"
	"github.com/iocd/iocd/violations"
)

// TestHeldAndConfirmedSurviveFullDisk fills the clip disk (the service
// sees less free space than it wants) with five clipped violations:
// confirmed, held directly, held through a case, pending and rejected.
// Retention removes the pending and rejected ones' clips and keeps the
// other three; holds are audited; once the hold is released, the
// violation is removed like any other.
func TestHeldAndConfirmedSurviveFullDisk(t *testing.T) {
	r := newRig(t, nil)
	ctx := context.Background()
	r.waitBuffered("cam264", pre+time.Second)
	ts := time.Now().Add(-100 * time.Millisecond)
	names := []string{"confirmed", "held", "in-held-case", "pending", "rejected"}
	v := map[string]defs.Violation{}
	for _, n := range names {
		r.fire("cam264", n, "red_light", ts, "")
	}
	for _, n := range names {
		v[n] = r.final("cam264", n)
		if v[n].ClipPath == "" {
			t.Fatalf("%s: want a clip, got %s %q", n, v[n].ClipStatus, v[n].ClipReason)
		}
	}
	officer := violations.Actor{Subject: "user:officer", Name: "officer", Role: defs.RoleReviewer}
	if _, err := r.svc.Review(ctx, officer, v["confirmed"].ID, defs.ReviewConfirmed, ""); err != nil {
		t.Fatal(err)
	}
	if _, err := r.svc.Review(ctx, officer, v["rejected"].ID, defs.ReviewRejected, ""); err != nil {
		t.Fatal(err)
	}
	if _, err := r.svc.PlaceHold(ctx, violations.Actor{Role: defs.RoleOperator}, defs.HoldViolation, v["held"].ID, "x"); defs.ErrorCode(err) != defs.EFORBIDDEN {
		t.Errorf("operator hold: want forbidden, got %v", err)
	}
	if _, err := r.svc.PlaceHold(ctx, officer, defs.HoldViolation, v["held"].ID, ""); defs.ErrorCode(err) != defs.EINVALID {
		t.Errorf("hold without a reason: want invalid, got %v", err)
	}
	if _, err := r.svc.PlaceHold(ctx, officer, defs.HoldViolation, v["held"].ID, "khiếu nại của chủ xe"); err != nil {
		t.Fatal(err)
	}
	if _, err := r.svc.PlaceHold(ctx, officer, defs.HoldViolation, v["held"].ID, "again"); defs.ErrorCode(err) != defs.ECONFLICT {
		t.Errorf("second hold: want conflict, got %v", err)
	}
	c, err := r.svc.CreateCase(ctx, officer, "Vụ việc đang điều tra", []string{v["in-held-case"].ID})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := r.svc.PlaceHold(ctx, officer, defs.HoldCase, c.ID, "yêu cầu của tòa án"); err != nil {
		t.Fatal(err)
	}
	for _, n := range []string{"held", "in-held-case"} {
		if got, err := r.svc.Get(ctx, v[n].ID); err != nil || !got.Held {
			t.Errorf("%s: want held, got %v %v", n, got.Held, err)
		}
	}
	if got, _ := r.svc.Get(ctx, v["pending"].ID); got.Held {
		t.Errorf("pending: want not held")
	}

	// The disk is full: retention makes space until none is left to make.
	fill := func(ids ...string) {
		t.Helper()
		cfg := r.cfg
		cfg.Retention.MinFreeBytes = 1 << 62
		svc := violations.New(cfg.Violations, cfg.Retention, cfg.Streams, r.dataDir, r.store, nil, nil, nil, nil, nil)
		rctx, cancel := context.WithCancel(ctx)
		done := make(chan struct{})
		go func() { defer close(done); svc.Run(rctx) }()
		defer func() { cancel(); <-done }()
		for _, id := range ids {
			testrig.WaitFor(t, id+"'s clip removed for space", 20*time.Second, func() bool {
				got, err := r.store.GetViolation(ctx, id)
				return err == nil && got.ClipStatus == defs.ClipPurged
			})
		}
	}
	fill(v["pending"].ID, v["rejected"].ID)
	for _, n := range []string{"confirmed", "held", "in-held-case"} {
		got, _ := r.svc.Get(ctx, v[n].ID)
		if got.ClipPath == "" || got.ClipStatus != defs.ClipComplete {
			t.Errorf("%s: want its clip kept on a full disk, got %s %q", n, got.ClipStatus, got.ClipReason)
		}
	}
	if rep, err := violations.Verify(ctx, r.store, r.dataDir); err != nil || !rep.OK() {
		t.Errorf("verify after retention: want OK, got %+v %v", rep.Problems, err)
	}

	// Holds are audited, and a released hold keeps no more.
	if _, err := r.svc.ReleaseHold(ctx, officer, defs.HoldViolation, v["held"].ID, "khiếu nại đã giải quyết"); err != nil {
		t.Fatal(err)
	}
	if _, err := r.svc.ReleaseHold(ctx, officer, defs.HoldViolation, v["held"].ID, "again"); defs.ErrorCode(err) != defs.ENOTFOUND {
		t.Errorf("releasing twice: want not found, got %v", err)
	}
	for target, want := range map[string][]string{
		v["held"].ID: {violations.ActionHoldPlace, violations.ActionHoldRelease},
		c.ID:         {violations.ActionCaseCreate, violations.ActionHoldPlace},
	} {
		log, err := r.store.AuditFor(ctx, target)
		if err != nil {
			t.Fatal(err)
		}
		var actions []string
		for _, a := range log {
			actions = append(actions, a.Action)
		}
		for _, w := range want {
			if !slices.Contains(actions, w) {
				t.Errorf("custody of %s: want %s, got %v", target, w, actions)
			}
		}
	}
	fill(v["held"].ID)
	for _, n := range []string{"confirmed", "in-held-case"} {
		if got, _ := r.svc.Get(ctx, v[n].ID); got.ClipPath == "" {
			t.Errorf("%s: want its clip still kept, got %s", n, got.ClipStatus)
		}
	}
}
