package violations_test

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/iocd/iocd/config"
	"github.com/iocd/iocd/defs"
	"github.com/iocd/iocd/violations"
)

func TestRetentionForSpaceKeepsConfirmed(t *testing.T) {
	r := newRig(t, nil)
	ctx := context.Background()
	sub := r.bus.Subscribe("test", defs.Mask(defs.EventNotice), 16)
	defer sub.Close()
	ts := time.Now()
	// Three records with snapshots only (no camera video needed).
	for _, id := range []string{"a", "b", "c"} {
		r.fire("dead", id, "red_light", ts, `,"snapshot_jpeg":"/9j/4AAQSkZJRgABAQ=="`)
	}
	a, b := r.final("dead", "a"), r.final("dead", "b")
	r.final("dead", "c")
	admin := violations.Actor{Name: "chief", Role: defs.RoleAdmin}
	if _, err := r.svc.Review(ctx, admin, a.ID, defs.ReviewConfirmed, ""); err != nil {
		t.Fatal(err)
	}
	if _, err := r.svc.Review(ctx, admin, b.ID, defs.ReviewRejected, ""); err != nil {
		t.Fatal(err)
	}
	// Demand more free space than the disk has: everything but the
	// confirmed record must go, and the alerts must hear of it.
	cfg := r.cfg
	cfg.Retention.MinFreeBytes = 1 << 62
	svc := violations.New(cfg.Violations, cfg.Retention, cfg.Streams, r.dataDir, r.store, nil, r.bus, nil, nil, nil)
	rctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() { defer close(done); svc.Run(rctx) }()
	codes := map[string]bool{}
	timeout := time.After(20 * time.Second)
	for !codes["clips_removed_low_disk"] || !codes["disk_low"] {
		select {
		case ev := <-sub.C():
			codes[ev.Notice.Code] = true
		case <-timeout:
			t.Fatalf("want notices clips_removed_low_disk and disk_low, got %v", codes)
		}
	}
	cancel()
	<-done
	vs, _, err := r.store.ListViolations(ctx, defs.ViolationFilter{Camera: "dead"})
	if err != nil {
		t.Fatal(err)
	}
	for _, v := range vs {
		kept := v.SnapshotPath != ""
		if want := v.Status == defs.ReviewConfirmed; kept != want {
			t.Errorf("%s (%s): want files kept=%v, got %v", v.EventID, v.Status, want, kept)
		}
	}
	rep, err := violations.Verify(ctx, r.store, r.dataDir)
	if err != nil || !rep.OK() {
		t.Errorf("verify after retention: want OK, got %+v %v", rep.Problems, err)
		l, _ := r.store.Ledger(ctx, "")
		for _, e := range l {
			t.Logf("%+v", e)
		}
		for _, v := range vs {
			t.Logf("%+v", v)
		}
	}
	var e *defs.Error
	_, _, err = r.svc.OpenSnapshot(ctx, admin, b.ID)
	if !errors.As(err, &e) || e.Code != defs.ENOTFOUND {
		t.Errorf("purged snapshot: want not found, got %v", err)
	}
}

func TestRetentionByAge(t *testing.T) {
	// Confirmed clips expire only when a period is set (0, the default,
	// keeps them forever: checked below).
	r := newRig(t, func(c *config.Config) { c.Retention.ConfirmedDays = 365 })
	ctx := context.Background()
	sub := r.bus.Subscribe("test", defs.Mask(defs.EventNotice), 16)
	defer sub.Close()
	for _, id := range []string{"rej", "conf", "pend"} {
		r.fire("dead", id, "red_light", time.Now(), `,"snapshot_jpeg":"/9j/4AAQSkZJRgABAQ=="`)
	}
	rej, conf, pend := r.final("dead", "rej"), r.final("dead", "conf"), r.final("dead", "pend")
	admin := violations.Actor{Name: "chief", Role: defs.RoleAdmin}
	if _, err := r.svc.Review(ctx, admin, rej.ID, defs.ReviewRejected, ""); err != nil {
		t.Fatal(err)
	}
	if _, err := r.svc.Review(ctx, admin, conf.ID, defs.ReviewConfirmed, ""); err != nil {
		t.Fatal(err)
	}
	// Age the decisions by 40 days (reviewed_at is the row's copy of the
	// latest decision time). It is a tamper Verify reports
	// (reviewer_changed), ignored below; created_at is sealed too.
	old := time.Now().Add(-40 * 24 * time.Hour).UTC().Format("2006-01-02T15:04:05.000000000Z")
	if _, err := r.store.DB().Exec(`UPDATE violations SET reviewed_at = ? WHERE reviewed_at != ''`, old); err != nil {
		t.Fatal(err)
	}
	runRetention := func() {
		svc := violations.New(r.cfg.Violations, r.cfg.Retention, r.cfg.Streams, r.dataDir, r.store, nil, r.bus, nil, nil, nil)
		rctx, cancel := context.WithCancel(ctx)
		done := make(chan struct{})
		go func() { defer close(done); svc.Run(rctx) }()
		select {
		case ev := <-sub.C():
			if ev.Notice.Code != "clips_expired" {
				t.Errorf("want a clips_expired notice, got %+v", ev.Notice)
			}
		case <-time.After(10 * time.Second):
			t.Errorf("want a clips_expired notice, got none")
		}
		cancel()
		<-done
	}
	// Purges after a pinned head are legitimate re-seals.
	pinned, err := violations.Verify(ctx, r.store, r.dataDir)
	pinned.Problems = slices.DeleteFunc(pinned.Problems, func(p violations.Problem) bool { return p.Kind == "reviewer_changed" })
	if err != nil || !pinned.OK() {
		t.Fatalf("verify before retention: want OK, got %+v %v", pinned.Problems, err)
	}
	runRetention()
	kept := func(id string) bool {
		v, err := r.store.GetViolation(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		return v.SnapshotPath != ""
	}
	if kept(rej.ID) || !kept(conf.ID) || !kept(pend.ID) {
		t.Errorf("after 40 days: want rejected gone, confirmed and pending kept; got kept %v %v %v", kept(rej.ID), kept(conf.ID), kept(pend.ID))
	}
	// The record itself, with its hashes, stays.
	if v, _ := r.store.GetViolation(ctx, rej.ID); v.SnapshotSHA256 == "" {
		t.Errorf("want the purged record's snapshot hash kept")
	}
	older := time.Now().Add(-400 * 24 * time.Hour).UTC().Format("2006-01-02T15:04:05.000000000Z")
	if _, err := r.store.DB().Exec(`UPDATE violations SET reviewed_at = ? WHERE id = ?`, older, conf.ID); err != nil {
		t.Fatal(err)
	}
	forever := r.cfg.Retention
	forever.ConfirmedDays = 0
	violations.New(r.cfg.Violations, forever, r.cfg.Streams, r.dataDir, r.store, nil, nil, nil, nil, nil).ApplyRetention(ctx)
	if !kept(conf.ID) {
		t.Errorf("confirmed_days 0: want a confirmed clip decided 400 days ago kept, it was removed")
	}
	runRetention()
	if kept(conf.ID) || !kept(pend.ID) {
		t.Errorf("after 400 days: want confirmed gone (with a notice) and pending kept; got %v %v", kept(conf.ID), kept(pend.ID))
	}
	rep, err := violations.VerifyPinned(ctx, r.store, r.dataDir, pinned.Head)
	rep.Problems = slices.DeleteFunc(rep.Problems, func(p violations.Problem) bool { return p.Kind == "reviewer_changed" })
	if err != nil || !rep.OK() {
		t.Errorf("verify after retention, pinned to the head before it: want OK, got %+v %v", rep.Problems, err)
	}
}

// TestRetentionSkipsABadRecord: a record retention cannot purge (its path
// is not one iocd made) is skipped; the records after it are still purged.
func TestRetentionSkipsABadRecord(t *testing.T) {
	r := newRig(t, nil)
	ctx := context.Background()
	admin := violations.Actor{Name: "chief", Role: defs.RoleAdmin}
	var ids []string
	for _, e := range []string{"bad", "good"} { // oldest first
		r.fire("dead", e, "red_light", time.Now(), `,"snapshot_jpeg":"/9j/4AAQSkZJRgABAQ=="`)
		v := r.final("dead", e)
		if _, err := r.svc.Review(ctx, admin, v.ID, defs.ReviewRejected, ""); err != nil {
			t.Fatal(err)
		}
		ids = append(ids, v.ID)
	}
	r.exec(t, `UPDATE violations SET snapshot_path = 'elsewhere/x.jpg' WHERE id = '`+ids[0]+`'`)
	cfg := r.cfg
	cfg.Retention.RejectedDays = 0
	svc := violations.New(cfg.Violations, cfg.Retention, cfg.Streams, r.dataDir, r.store, nil, nil, nil, nil, nil)
	rctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	svc.Run(rctx)
	for i, want := range []string{"elsewhere/x.jpg", ""} {
		if v, err := r.store.GetViolation(ctx, ids[i]); err != nil || v.SnapshotPath != want {
			t.Errorf("%s: want snapshot path %q, got %q %v", ids[i], want, v.SnapshotPath, err)
		}
	}
}

// TestRetentionHugeDaysKeepsFreshClips: rejected_days of 200,000 (past
// what time.Duration holds) once wrapped the cutoff into the future and
// purged a clip decided seconds earlier. The aged confirmed record's
// notice, which retention sends after the rejected pass, says it ran.
func TestRetentionHugeDaysKeepsFreshClips(t *testing.T) {
	r := newRig(t, nil)
	ctx := context.Background()
	sub := r.bus.Subscribe("test", defs.Mask(defs.EventNotice), 16)
	defer sub.Close()
	for _, id := range []string{"fresh", "aged"} {
		r.fire("dead", id, "red_light", time.Now(), `,"snapshot_jpeg":"/9j/4AAQSkZJRgABAQ=="`)
	}
	fresh, aged := r.final("dead", "fresh"), r.final("dead", "aged")
	admin := violations.Actor{Name: "chief", Role: defs.RoleAdmin}
	if _, err := r.svc.Review(ctx, admin, fresh.ID, defs.ReviewRejected, ""); err != nil {
		t.Fatal(err)
	}
	if _, err := r.svc.Review(ctx, admin, aged.ID, defs.ReviewConfirmed, ""); err != nil {
		t.Fatal(err)
	}
	old := time.Now().Add(-40 * 24 * time.Hour).UTC().Format("2006-01-02T15:04:05.000000000Z")
	if _, err := r.store.DB().Exec(`UPDATE violations SET reviewed_at = ? WHERE id = ?`, old, aged.ID); err != nil {
		t.Fatal(err)
	}
	cfg := r.cfg
	cfg.Retention.RejectedDays, cfg.Retention.ConfirmedDays = 200000, 30
	svc := violations.New(cfg.Violations, cfg.Retention, cfg.Streams, r.dataDir, r.store, nil, r.bus, nil, nil, nil)
	rctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() { defer close(done); svc.Run(rctx) }()
	defer func() { cancel(); <-done }()
	timeout := time.After(20 * time.Second)
	for {
		select {
		case ev := <-sub.C():
			if ev.Notice.Code == "clips_expired" && ev.Notice.Labels["status"] == string(defs.ReviewConfirmed) {
				v, err := r.store.GetViolation(ctx, fresh.ID)
				if err != nil {
					t.Fatal(err)
				}
				if v.SnapshotPath == "" {
					t.Fatalf("a rejected clip decided seconds ago was purged with rejected_days=200000")
				}
				return
			}
		case <-timeout:
			t.Fatal("retention did not run: no clips_expired notice for the aged confirmed record")
		}
	}
}
