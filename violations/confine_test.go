package violations_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/iocd/iocd/defs"
	"github.com/iocd/iocd/violations"
)

// TestEvidenceCannotLeaveTheClipsDir plants a symlink inside clips/ that
// leads out of the data dir, to a copy of a record's snapshot (same bytes,
// so its hash matches): iocd must neither serve it, nor count it as
// verified, nor delete what the link points at.
func TestEvidenceCannotLeaveTheClipsDir(t *testing.T) {
	r := newRig(t, nil)
	ctx := context.Background()
	r.fire("dead", "ev1", "red_light", time.Now(), `,"snapshot_jpeg":"/9j/4AAQSkZJRgABAQ=="`)
	v := r.final("dead", "ev1")
	if v.SnapshotPath == "" {
		t.Fatal("want a snapshot")
	}
	reviewer := violations.Actor{Name: "police", Role: defs.RoleReviewer}
	f, _, err := r.svc.OpenSnapshot(ctx, reviewer, v.ID)
	if err != nil {
		t.Fatalf("before: %v", err)
	}
	f.Close()

	// Move the snapshot's day directory outside the data dir and leave a
	// symlink in its place.
	dayDir := filepath.Dir(filepath.Join(r.dataDir, v.SnapshotPath))
	outside := filepath.Join(t.TempDir(), "elsewhere")
	if err := os.Rename(dayDir, outside); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(outside, dayDir); err != nil {
		t.Fatal(err)
	}
	target := filepath.Join(outside, filepath.Base(v.SnapshotPath))

	if f, _, err := r.svc.OpenSnapshot(ctx, reviewer, v.ID); err == nil {
		f.Close()
		t.Fatal("a snapshot behind a symlink out of clips/ was served")
	}
	if rep, err := violations.Verify(ctx, r.store, r.dataDir); err != nil || rep.OK() {
		t.Errorf("verify: want a problem for the file outside clips/, got %+v %v", rep.Problems, err)
	}
	// Retention for space would remove it: it must refuse instead.
	cfg := r.cfg
	cfg.Retention.MinFreeBytes = 1 << 62
	svc := violations.New(cfg.Violations, cfg.Retention, cfg.Streams, r.dataDir, r.store, nil, r.bus, nil, nil, nil)
	sub := r.bus.Subscribe("test", defs.Mask(defs.EventNotice), 16)
	defer sub.Close()
	rctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() { defer close(done); svc.Run(rctx) }()
	select {
	case <-sub.C(): // retention has run its pass (disk_low: nothing it could remove)
	case <-time.After(20 * time.Second):
		t.Error("retention did not run")
	}
	cancel()
	<-done
	if _, err := os.Stat(target); errors.Is(err, os.ErrNotExist) {
		t.Fatal("retention deleted a file outside clips/ through a symlink")
	}

	// clips/ itself may be a symlink to another disk: that is allowed.
	r2 := newRig(t, nil)
	real := filepath.Join(t.TempDir(), "bigdisk")
	if err := os.MkdirAll(real, 0o750); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(real, filepath.Join(r2.dataDir, "clips")); err != nil {
		t.Fatal(err)
	}
	r2.fire("dead", "ev2", "red_light", time.Now(), `,"snapshot_jpeg":"/9j/4AAQSkZJRgABAQ=="`)
	v2 := r2.final("dead", "ev2")
	f2, _, err := r2.svc.OpenSnapshot(ctx, reviewer, v2.ID)
	if err != nil {
		t.Fatalf("clips/ as a symlink to another disk: want served, got %v", err)
	}
	f2.Close()
}
