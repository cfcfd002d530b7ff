package violations

import (
	"context"
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/iocd/iocd/defs"
)

// Retention. Clip files of rejected violations go retention.rejected_days
// after the decision, confirmed ones retention.confirmed_days after it
// (0, the default: never); pending ones are kept. A violation on legal
// hold, directly or through a held case (case.go), is never removed, by
// age or for space. When free space on the data dir's disk falls
// below retention.min_free_bytes, the oldest rejected clips go first, then
// the oldest pending ones (the condition clips_removed_low_disk: evidence
// nobody has reviewed is being lost). Confirmed clips are never removed
// for space; if space is still short, the condition disk_low says so. Both
// hold until free space is back above the threshold, and are then cleared.
// A purged record keeps its row and its files' hashes, is re-sealed in the
// ledger with status purged, and the removal is audited.

// errHeld says a record was put on hold after retention listed it.
var errHeld = errors.New("put on legal hold")

var fileClips = []defs.ClipStatus{defs.ClipComplete, defs.ClipPartial, defs.ClipNoVideo}

func (s *Service) applyRetention(ctx context.Context) {
	now := time.Now()
	for _, r := range []struct {
		status defs.ReviewStatus
		days   int
	}{{defs.ReviewRejected, s.retention.RejectedDays}, {defs.ReviewConfirmed, s.retention.ConfirmedDays}} {
		if r.status == defs.ReviewConfirmed && r.days <= 0 {
			continue // retention.confirmed_days 0: kept forever
		}
		n, err := s.purgeWhile(ctx, r.status, retentionCutoff(now, r.days), func() bool { return true }, "age")
		if err != nil {
			s.log.Error("retention", "status", r.status, "error", err)
		}
		if n > 0 {
			sev := defs.SeverityInfo
			s.notice("clips_expired", sev, fmt.Sprintf("%d %s violation clips older than %d days removed", n, r.status, r.days),
				map[string]string{"status": string(r.status), "count": fmt.Sprint(n)})
		}
	}
	s.makeSpace(ctx)
}

// makeSpace removes the oldest rejected, then pending clips while the clip
// disk has less than retention.min_free_bytes free, and sets or clears the
// disk conditions from what is free afterwards.
func (s *Service) makeSpace(ctx context.Context) {
	if s.retention.MinFreeBytes <= 0 {
		return
	}
	free, short, ok := s.diskShort()
	if !ok {
		return
	}
	if !short {
		s.spaceReturned(free)
		return
	}
	stillShort := func() bool {
		_, short, ok := s.diskShort()
		return ok && short
	}
	removed := map[defs.ReviewStatus]int{}
	for _, st := range []defs.ReviewStatus{defs.ReviewRejected, defs.ReviewPending} {
		n, err := s.purgeWhile(ctx, st, time.Time{}, stillShort, "low_disk")
		if err != nil {
			s.log.Error("retention for space", "status", st, "err", err)
		}
		removed[st] = n
	}
	if n := removed[defs.ReviewRejected] + removed[defs.ReviewPending]; n > 0 {
		s.conds.raise(defs.ConditionClipsRemovedSpace, defs.SeverityWarning,
			fmt.Sprintf("disk below %d bytes free: removed %d rejected and %d pending violation clips, oldest first",
				s.retention.MinFreeBytes, removed[defs.ReviewRejected], removed[defs.ReviewPending]),
			float64(n), map[string]string{"rejected": fmt.Sprint(removed[defs.ReviewRejected]), "pending": fmt.Sprint(removed[defs.ReviewPending])})
	}
	if free, short, ok = s.diskShort(); !ok {
		return
	}
	if short {
		s.conds.raise(defs.ConditionDiskLow, defs.SeverityCritical,
			fmt.Sprintf("only %d bytes free on the clip disk after removing every rejected and pending clip; confirmed evidence is kept and new clips may fail", free),
			float64(free), map[string]string{"free_bytes": fmt.Sprint(free)})
	} else {
		s.spaceReturned(free)
	}
}

// diskShort reads the clip disk's free space and whether it is below
// retention.min_free_bytes; ok is false, and the error logged, when it
// cannot be read.
func (s *Service) diskShort() (free int64, short, ok bool) {
	free, err := s.disk.free(s.dataDir)
	if err != nil {
		s.log.Error("reading free disk space", "err", err)
		return 0, false, false
	}
	return free, free < s.retention.MinFreeBytes, true
}

// retentionCutoff is days before now. time.Duration(days)*24h overflows
// past 106,751 days and wrapped into the future, which purged clips
// confirmed seconds earlier; AddDate counts in calendar days and cannot
// (config bounds the days at 36,500 besides).
func retentionCutoff(now time.Time, days int) time.Time {
	return now.AddDate(0, 0, -days)
}

// checkSpace re-reads the free space between retention passes: the disk
// conditions clear as soon as space returns, and a disk running short
// gets space made now rather than at the next interval.
func (s *Service) checkSpace(ctx context.Context) { s.makeSpace(ctx) }

// spaceReturned clears the disk conditions: the disk has
// retention.min_free_bytes free again. clips_removed_low_disk is cleared
// too: it says clips are being removed for space, which no longer happens.
func (s *Service) spaceReturned(free int64) {
	s.conds.clear(defs.ConditionDiskLow, fmt.Sprintf("the clip disk has %d bytes free again", free))
	s.conds.clear(defs.ConditionClipsRemovedSpace, "clips are no longer removed for space")
}

// purgeWhile removes the files of violations with status, decided (or
// created) before `before` if set, oldest first, while more() holds. A
// record that cannot be purged is logged and skipped: one bad record must
// not stop retention, least of all the low-disk safety valve.
func (s *Service) purgeWhile(ctx context.Context, status defs.ReviewStatus, before time.Time, more func() bool, reason string) (int, error) {
	n := 0
	failed := map[string]bool{}
	for more() {
		// Held evidence is not even listed: retention never sees it.
		vs, err := s.store.UnheldViolationsWithClip(ctx, fileClips, status, before, 50+len(failed))
		if err != nil {
			return n, err
		}
		vs = withFiles(vs, failed)
		if len(vs) == 0 {
			return n, nil
		}
		for _, v := range vs {
			if err := s.purge(ctx, v, reason); err != nil {
				if ctx.Err() != nil {
					return n, err
				}
				if errors.Is(err, errHeld) {
					failed[v.ID] = true // not a failure: skipped for this pass
					continue
				}
				failed[v.ID] = true
				s.metrics.purgeFailed.Inc()
				s.log.Error("purging violation files; skipped", "violation", v.ID, "reason", reason, "error", err)
				continue
			}
			n++
			if !more() {
				break
			}
		}
	}
	return n, nil
}

// withFiles keeps the violations that still have a file to remove and
// have not failed to purge in this pass.
func withFiles(vs []defs.Violation, failed map[string]bool) []defs.Violation {
	out := vs[:0]
	for _, v := range vs {
		if (v.ClipPath != "" || v.SnapshotPath != "") && !failed[v.ID] {
			out = append(out, v)
		}
	}
	return out
}

// purge seals the record as purged (with its audit entry) and only then
// removes its files: a failed seal leaves record and files as they were,
// so Verify never sees a sealed file missing. A file that cannot be
// removed after the seal is reported in the error and left on disk.
func (s *Service) purge(ctx context.Context, v defs.Violation, reason string) error {
	// A hold placed since the record was listed wins.
	if held, err := s.store.Held(ctx, v.ID); err != nil || held {
		if err == nil {
			err = errHeld
		}
		return err
	}
	var paths []string
	for _, rel := range []string{v.ClipPath, v.SnapshotPath} {
		if rel == "" {
			continue
		}
		p, err := evidencePath(s.dataDir, rel)
		if err != nil {
			return err
		}
		paths = append(paths, p)
	}
	if v.ClipPath != "" {
		v.ClipStatus = defs.ClipPurged
		v.ClipReason = "removed by retention (" + reason + ")"
	}
	v.ClipPath, v.SnapshotPath = "", ""
	a := auditEntry(Actor{Subject: "system:retention", Name: "retention", Role: defs.RoleAdmin}, ActionPurge, v.ID, reason)
	if err := s.seal(ctx, v, func(v defs.Violation, prev string) defs.LedgerEntry { return s.signer.Load().SealPurge(v, prev) }, &a); err != nil {
		return err
	}
	s.metrics.purged.WithLabelValues(reason).Inc()
	s.metrics.audit.WithLabelValues(ActionPurge).Inc()
	for _, p := range paths {
		if err := os.Remove(p); err != nil && !os.IsNotExist(err) {
			return fmt.Errorf("removing %s after sealing its purge: %w", p, err)
		}
	}
	return nil
}

func (s *Service) notice(code string, sev defs.Severity, msg string, labels map[string]string) {
	s.log.Warn(msg, "code", code)
	if s.bus != nil {
		n := defs.Notice{Source: "violations", Code: code, Severity: sev, Message: msg, Labels: labels, At: time.Now().UTC()}
		s.bus.Publish(defs.Event{Kind: defs.EventNotice, Time: n.At, Notice: &n})
	}
}
