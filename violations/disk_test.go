package violations_test

import (
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/iocd/iocd/conditions"
	"github.com/iocd/iocd/config"
	"github.com/iocd/iocd/defs"
	"github.com/iocd/iocd/internal/testrig"
	"github.com/iocd/iocd/violations"
)

func holding(c *conditions.Registry) []string {
	var codes []string
	for _, x := range c.List() {
		codes = append(codes, x.Code)
	}
	return codes
}

// The clip disk fills, then frees: violations are still recorded (no_video,
// without the snapshot that could not be written), clip_disk_full,
// disk_low and clips_removed_low_disk are set while they hold, and all
// three clear once space returns and a clip is written again.
func TestClipDiskFullAndFreed(t *testing.T) {
	var free atomic.Int64
	var full atomic.Bool
	free.Store(10 << 30)
	conds := conditions.New()
	r := newRigWith(t, func(c *config.Config) {
		c.Retention.MinFreeBytes = 1 << 30
		c.Retention.Interval = config.Duration(100 * time.Millisecond)
	}, nil, violations.WithConditions(conds), violations.WithDisk(free.Load, full.Load))
	const snap = `,"snapshot_jpeg":"/9j/4AAQSkZJRgABAQ=="`
	r.waitBuffered("cam264", pre+time.Second)

	// An unreviewed record with a snapshot, written while there is room.
	r.fire("dead", "before", "red_light", time.Now(), snap)
	if v := r.final("dead", "before"); v.SnapshotPath == "" {
		t.Fatalf("want the snapshot written while the disk has room, got %+v", v)
	}

	// The disk fills.
	full.Store(true)
	free.Store(0)
	r.fire("cam264", "full", "red_light", time.Now().Add(-300*time.Millisecond), snap) // fails the test if refused
	v := r.final("cam264", "full")
	if v.ClipStatus != defs.ClipNoVideo || !strings.Contains(v.ClipReason, "disk is full") || v.SnapshotPath != "" || v.Plate == "" {
		t.Errorf("on a full disk: want the record kept, no_video for a full disk, without its snapshot; got %s %q snapshot %q plate %q",
			v.ClipStatus, v.ClipReason, v.SnapshotPath, v.Plate)
	}
	testrig.WaitFor(t, "clip_disk_full, disk_low and clips_removed_low_disk set", 10*time.Second, func() bool {
		c := holding(conds)
		return slices.Contains(c, defs.ConditionClipDiskFull) && slices.Contains(c, defs.ConditionDiskLow) &&
			slices.Contains(c, defs.ConditionClipsRemovedSpace)
	})
	if v := r.final("dead", "before"); v.SnapshotPath != "" {
		t.Errorf("want the unreviewed snapshot removed for space, got %+v", v)
	}

	// Space returns: the disk conditions clear on the next check, and
	// clip_disk_full with the next clip written.
	free.Store(10 << 30)
	full.Store(false)
	testrig.WaitFor(t, "disk_low and clips_removed_low_disk cleared", 10*time.Second, func() bool {
		c := holding(conds)
		return !slices.Contains(c, defs.ConditionDiskLow) && !slices.Contains(c, defs.ConditionClipsRemovedSpace)
	})
	r.fire("cam264", "after", "red_light", time.Now().Add(-300*time.Millisecond), snap)
	if v := r.final("cam264", "after"); v.ClipStatus != defs.ClipComplete || v.SnapshotPath == "" {
		t.Errorf("after space returned: want a complete clip and its snapshot, got %s %q snapshot %q", v.ClipStatus, v.ClipReason, v.SnapshotPath)
	}
	if c := holding(conds); len(c) != 0 {
		t.Errorf("want every condition cleared, got %v", c)
	}
}
