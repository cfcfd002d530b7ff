package violations_test

import (
	"archive/zip"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/iocd/iocd/defs"
	"github.com/iocd/iocd/violations"
)

func TestReviewEvidenceAndVerify(t *testing.T) {
	r := newRig(t, nil)
	r.waitBuffered("cam265", pre+time.Second)
	ts := time.Now().Add(-100 * time.Millisecond)
	r.fire("cam265", "rv", "no_helmet", ts, `,"snapshot_jpeg":"/9j/4AAQSkZJRgABAQ=="`)
	r.fire("dead", "rv2", "illegal_parking", ts, "")
	v := r.final("cam265", "rv")
	r.final("dead", "rv2")
	ctx := context.Background()
	viewer := violations.Actor{Name: "wall", Role: defs.RoleViewer}
	reviewer := violations.Actor{Name: "officer", Role: defs.RoleReviewer}
	admin := violations.Actor{Name: "chief", Role: defs.RoleAdmin}

	if _, err := r.svc.Review(ctx, viewer, v.ID, defs.ReviewConfirmed, ""); defs.ErrorCode(err) != defs.EFORBIDDEN {
		t.Errorf("viewer review: want forbidden, got %v", err)
	}
	if _, _, err := r.svc.OpenClip(ctx, viewer, v.ID); defs.ErrorCode(err) != defs.EFORBIDDEN {
		t.Errorf("viewer clip: want forbidden, got %v", err)
	}
	if err := r.svc.WriteEvidence(ctx, viewer, v.ID, io.Discard); defs.ErrorCode(err) != defs.EFORBIDDEN {
		t.Errorf("viewer evidence: want forbidden, got %v", err)
	}
	got, err := r.svc.Review(ctx, reviewer, v.ID, defs.ReviewConfirmed, "helmet visibly missing")
	if err != nil || got.Status != defs.ReviewConfirmed {
		t.Fatalf("reviewer confirm: want confirmed, got %v %v", got.Status, err)
	}
	if _, err := r.svc.Review(ctx, reviewer, v.ID, defs.ReviewRejected, "changed my mind"); defs.ErrorCode(err) != defs.EFORBIDDEN {
		t.Errorf("reviewer changing a decision: want forbidden, got %v", err)
	}
	if got, err := r.svc.Review(ctx, admin, v.ID, defs.ReviewRejected, "passenger, not rider"); err != nil || got.Status != defs.ReviewRejected {
		t.Errorf("admin change: want rejected, got %v %v", got.Status, err)
	}
	if got, err := r.svc.Review(ctx, admin, v.ID, defs.ReviewConfirmed, "rider after all"); err != nil || got.Status != defs.ReviewConfirmed {
		t.Errorf("admin change back: want confirmed, got %v %v", got.Status, err)
	}

	var zbuf bytes.Buffer
	if err := r.svc.WriteEvidence(ctx, reviewer, v.ID, &zbuf); err != nil {
		t.Fatalf("evidence: %v", err)
	}
	zr, err := zip.NewReader(bytes.NewReader(zbuf.Bytes()), int64(zbuf.Len()))
	if err != nil {
		t.Fatal(err)
	}
	files := map[string][]byte{}
	for _, f := range zr.File {
		rc, _ := f.Open()
		b, _ := io.ReadAll(rc)
		rc.Close()
		files[f.Name] = b
	}
	var meta struct {
		Files []struct {
			Name           string
			SHA256         string
			RecordedSHA256 string `json:"recorded_sha256"`
		}
		Reviews    []defs.Review
		LedgerHead string `json:"ledger_head"`
	}
	if err := json.Unmarshal(files["metadata.json"], &meta); err != nil {
		t.Fatalf("metadata.json: %v", err)
	}
	if len(meta.Files) != 3 || len(meta.Reviews) != 3 {
		t.Errorf("metadata: want 3 files (clip, snapshot, raw event) and 3 reviews, got %d and %d", len(meta.Files), len(meta.Reviews))
	}
	for _, f := range meta.Files {
		s := sha256.Sum256(files[f.Name])
		if hex.EncodeToString(s[:]) != f.SHA256 {
			t.Errorf("%s: metadata SHA-256 does not match the packaged file", f.Name)
		}
	}
	if len(meta.Files) > 0 && meta.Files[0].SHA256 != v.ClipSHA256 {
		t.Errorf("clip.mp4: want the recorded hash %s, got %s", v.ClipSHA256, meta.Files[0].SHA256)
	}
	audit, _, err := r.svc.Audit(ctx, admin, "", 100)
	if err != nil {
		t.Fatal(err)
	}
	actions := map[string]int{}
	for _, a := range audit {
		actions[a.Action+"/"+a.Actor]++
	}
	if actions["violation.review/officer"] != 1 || actions["violation.review/chief"] != 2 || actions["violation.evidence/officer"] != 1 {
		t.Errorf("audit: want officer's review and evidence and chief's 2 reviews, got %v", actions)
	}
	if _, _, err := r.svc.Audit(ctx, reviewer, "", 10); defs.ErrorCode(err) != defs.EFORBIDDEN {
		t.Errorf("reviewer reading audit: want forbidden, got %v", err)
	}

	rep, err := violations.Verify(ctx, r.store, r.dataDir)
	if err != nil || !rep.OK() {
		t.Fatalf("verify before tampering: want OK, got %+v %v", rep.Problems, err)
	}
	if meta.LedgerHead != rep.Head || rep.Head == "" {
		t.Errorf("evidence ledger head: want the chain's head %s, got %q", rep.Head, meta.LedgerHead)
	}
	// The key, 2 evidence entries, 3 reviews and 4 audit entries (the
	// reviews' and the package's).
	if rep.Entries != 10 || rep.Violations != 2 || rep.Audit != 4 {
		t.Errorf("verify: want 10 ledger entries, 4 audit entries and 2 records, got %d, %d and %d", rep.Entries, rep.Audit, rep.Violations)
	}

	// Tamper: change a plate in the database, flip a byte of the clip.
	if _, err := r.store.DB().Exec(`UPDATE violations SET plate = '51F-999.99' WHERE id = ?`, v.ID); err != nil {
		t.Fatal(err)
	}
	clip := filepath.Join(r.dataDir, v.ClipPath)
	os.Chmod(clip, 0o600)
	b, _ := os.ReadFile(clip)
	b[len(b)-10] ^= 0xff
	if err := os.WriteFile(clip, b, 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := r.store.DB().Exec(`DELETE FROM violations WHERE event_id = 'rv2'`); err != nil {
		t.Fatal(err)
	}
	rep, err = violations.Verify(ctx, r.store, r.dataDir)
	if err != nil {
		t.Fatal(err)
	}
	kinds := map[string]int{}
	for _, p := range rep.Problems {
		kinds[p.Kind]++
	}
	want := map[string]int{"record_changed": 1, "file_changed": 1, "record_deleted": 1}
	if fmt.Sprint(kinds) != fmt.Sprint(want) {
		t.Errorf("verify after tampering: want %v, got %v (%+v)", want, kinds, rep.Problems)
	}
}

// TestDecisionsCommitWithTheirAudit breaks the audit log and checks that a
// review decision and a retention purge do not stand without their audit
// entries, and that they are audited once it works again.
func TestDecisionsCommitWithTheirAudit(t *testing.T) {
	r := newRig(t, nil)
	ctx := context.Background()
	r.fire("dead", "a", "red_light", time.Now(), `,"snapshot_jpeg":"/9j/4AAQSkZJRgABAQ=="`)
	a := r.final("dead", "a")
	admin := violations.Actor{Name: "chief", Role: defs.RoleAdmin}
	r.exec(t, `ALTER TABLE audit_log RENAME TO audit_log_away`)
	if _, err := r.svc.Review(ctx, admin, a.ID, defs.ReviewRejected, "not a violation"); err == nil {
		t.Fatalf("review with the audit log broken: want an error, got none")
	}
	if v, err := r.store.GetViolation(ctx, a.ID); err != nil || v.Status != defs.ReviewPending {
		t.Errorf("after the failed review: want status pending, got %s %v", v.Status, err)
	}
	r.exec(t, `ALTER TABLE audit_log_away RENAME TO audit_log`)
	if _, err := r.svc.Review(ctx, admin, a.ID, defs.ReviewRejected, "not a violation"); err != nil {
		t.Fatalf("review: %v", err)
	}

	// Retention: the rejected record's files are due at once.
	cfg := r.cfg
	cfg.Retention.RejectedDays = 0
	purge := func() {
		svc := violations.New(cfg.Violations, cfg.Retention, cfg.Streams, r.dataDir, r.store, nil, nil, nil, nil, nil)
		rctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		defer cancel()
		svc.Run(rctx)
	}
	r.exec(t, `ALTER TABLE audit_log RENAME TO audit_log_away`)
	purge()
	if v, err := r.store.GetViolation(ctx, a.ID); err != nil || v.SnapshotPath == "" {
		t.Errorf("after a purge with the audit log broken: want the record's files kept, got path %q %v", v.SnapshotPath, err)
	}
	// Files go only once the purge is sealed.
	if _, err := os.Stat(filepath.Join(r.dataDir, a.SnapshotPath)); err != nil {
		t.Errorf("after a purge that failed to seal: want the snapshot file kept, got %v", err)
	}
	r.exec(t, `ALTER TABLE audit_log_away RENAME TO audit_log`)
	purge()
	if v, err := r.store.GetViolation(ctx, a.ID); err != nil || v.SnapshotPath != "" {
		t.Errorf("after the purge: want the record's files gone, got path %q %v", v.SnapshotPath, err)
	}
	audit, _, err := r.svc.Audit(ctx, admin, "", 100)
	if err != nil {
		t.Fatal(err)
	}
	actions := map[string]int{}
	for _, e := range audit {
		actions[e.Action]++
	}
	if actions[violations.ActionReview] != 1 || actions[violations.ActionPurge] != 1 {
		t.Errorf("audit: want one review and one purge, got %v", actions)
	}
	if rep, err := violations.Verify(ctx, r.store, r.dataDir); err != nil || !rep.OK() {
		t.Errorf("verify: want OK, got %+v %v", rep.Problems, err)
	}
}
