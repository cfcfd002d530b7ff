package violations

// The hash chain. Every fact that evidence rests on is sealed by appending
// an entry to an append-only ledger table:
//
//   - an "evidence" entry when a record's evidence is final (clip written,
//     partial or no_video) and again when retention purges its files: the
//     SHA-256 of the canonical JSON of the record's evidence fields, which
//     include the clip's and the snapshot's SHA-256 and paths, and the
//     record's identity hash (below);
//   - a "review" entry for each review decision: the SHA-256 of the
//     canonical JSON of the review row.
//
// Each entry's hash is SHA-256(prev_hash, kind, violation_id, ref,
// content_hash[, identity_hash]), so altering, deleting or reordering any
// entry breaks every later link, and altering a record, a review or a file
// no longer matches its entry. Verify recomputes all of it from the current
// rows and files.
//
// Comparing a record with its latest entry alone is not enough: someone
// who can write the database could change a record and append a fresh seal
// computed the same public way. So every evidence entry also carries the
// identity hash: the fields that must never change once the evidence is
// first sealed (everything but clip status, reason and paths, which a
// retention purge changes). Verify requires every evidence entry of a
// record, and the record itself, to carry the first entry's identity.
//
// A chain kept in the same database can still be rewritten whole by someone
// with write access; the head hash is therefore included in every evidence
// package and printed by `iocd verify`, and `iocd verify -head H` checks
// that a head recorded elsewhere (a court filing, a printed report) is
// still in the chain and that nothing after it re-sealed a record other
// than by a purge.

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/iocd/iocd/defs"
)

// evidenceFields is the sealed part of a record, in a fixed field order.
// Review status is not here: it changes, and each change is sealed by its
// own review entry.
type evidenceFields struct {
	ID              string  `json:"id"`
	Camera          string  `json:"camera"`
	Site            string  `json:"site"`
	EventID         string  `json:"event_id"`
	Type            string  `json:"type"`
	TS              string  `json:"ts"`
	Plate           string  `json:"plate"`
	PlateRaw        string  `json:"plate_raw"`
	PlateValid      bool    `json:"plate_valid"`
	PlateFlag       string  `json:"plate_flag"`
	PlateConfidence float64 `json:"plate_confidence"`
	Vehicle         string  `json:"vehicle"`
	SpeedKmh        float64 `json:"speed_kmh"`
	LimitKmh        float64 `json:"limit_kmh"`
	Lane            int     `json:"lane"`
	ClipStatus      string  `json:"clip_status"`
	ClipReason      string  `json:"clip_reason"`
	ClipSHA256      string  `json:"clip_sha256"`
	ClipBytes       int64   `json:"clip_bytes"`
	ClipStart       string  `json:"clip_start"`
	ClipEnd         string  `json:"clip_end"`
	SnapshotSHA256  string  `json:"snapshot_sha256"`
	CreatedAt       string  `json:"created_at"`
	// The paths are sealed too: otherwise a file could be detached from
	// its record (path cleared, file deleted) without any ledger write.
	// Retention's purge clears them and re-seals, so a purge verifies.
	ClipPath     string `json:"clip_path"`
	SnapshotPath string `json:"snapshot_path"`
}

// stamp formats times the way the store keeps them (nanoseconds, UTC), so
// a value read back hashes the same as the value written.
func stamp(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format("2006-01-02T15:04:05.000000000Z")
}

func contentHash(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		panic(fmt.Sprintf("marshalling ledger content: %v", err)) // plain structs: cannot fail
	}
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

func evidenceHash(v defs.Violation) string {
	return contentHash(evidenceFields{
		ID: v.ID, Camera: string(v.Camera), Site: v.Site, EventID: v.EventID, Type: v.Type, TS: stamp(v.Time),
		Plate: v.Plate, PlateRaw: v.PlateRaw, PlateValid: v.PlateValid, PlateFlag: v.PlateFlag,
		PlateConfidence: v.PlateConfidence, Vehicle: v.Vehicle, SpeedKmh: v.SpeedKmh, LimitKmh: v.LimitKmh, Lane: v.Lane,
		ClipStatus: string(v.ClipStatus), ClipReason: v.ClipReason, ClipSHA256: v.ClipSHA256, ClipBytes: v.ClipBytes,
		ClipStart: stamp(v.ClipStart), ClipEnd: stamp(v.ClipEnd), SnapshotSHA256: v.SnapshotSHA256, CreatedAt: stamp(v.CreatedAt),
		ClipPath: v.ClipPath, SnapshotPath: v.SnapshotPath,
	})
}

// identityFields is the part of a record that never changes after its
// first seal. The first seal happens only when the evidence is final (clip
// written, partial or no_video), so the clip's hash, size and span are
// fixed from then on; later seals (retention purges) change only clip
// status, reason and paths.
type identityFields struct {
	ID              string  `json:"id"`
	Camera          string  `json:"camera"`
	Site            string  `json:"site"`
	EventID         string  `json:"event_id"`
	Type            string  `json:"type"`
	TS              string  `json:"ts"`
	Plate           string  `json:"plate"`
	PlateRaw        string  `json:"plate_raw"`
	PlateValid      bool    `json:"plate_valid"`
	PlateFlag       string  `json:"plate_flag"`
	PlateConfidence float64 `json:"plate_confidence"`
	Vehicle         string  `json:"vehicle"`
	SpeedKmh        float64 `json:"speed_kmh"`
	LimitKmh        float64 `json:"limit_kmh"`
	Lane            int     `json:"lane"`
	ClipSHA256      string  `json:"clip_sha256"`
	ClipBytes       int64   `json:"clip_bytes"`
	ClipStart       string  `json:"clip_start"`
	ClipEnd         string  `json:"clip_end"`
	SnapshotSHA256  string  `json:"snapshot_sha256"`
	CreatedAt       string  `json:"created_at"`
}

func identityHash(v defs.Violation) string {
	return contentHash(identityFields{
		ID: v.ID, Camera: string(v.Camera), Site: v.Site, EventID: v.EventID, Type: v.Type, TS: stamp(v.Time),
		Plate: v.Plate, PlateRaw: v.PlateRaw, PlateValid: v.PlateValid, PlateFlag: v.PlateFlag,
		PlateConfidence: v.PlateConfidence, Vehicle: v.Vehicle, SpeedKmh: v.SpeedKmh, LimitKmh: v.LimitKmh, Lane: v.Lane,
		ClipSHA256: v.ClipSHA256, ClipBytes: v.ClipBytes, ClipStart: stamp(v.ClipStart), ClipEnd: stamp(v.ClipEnd),
		SnapshotSHA256: v.SnapshotSHA256, CreatedAt: stamp(v.CreatedAt),
	})
}

func reviewHash(r defs.Review) string {
	return contentHash(struct {
		ID          int64  `json:"id"`
		ViolationID string `json:"violation_id"`
		Decision    string `json:"decision"`
		Previous    string `json:"previous"`
		Note        string `json:"note"`
		Actor       string `json:"actor"`
		Role        string `json:"role"`
		At          string `json:"at"`
	}{r.ID, r.ViolationID, string(r.Decision), string(r.Previous), r.Note, r.Actor, r.Role.String(), stamp(r.At)})
}

// linkHash chains an entry to the previous entry's hash. The identity hash
// is appended only when set, so review entries hash as they always have.
func linkHash(prev string, e defs.LedgerEntry) string {
	h := sha256.New()
	fmt.Fprintf(h, "%s\n%s\n%s\n%s\n%s", prev, e.Kind, e.ViolationID, e.Ref, e.ContentHash)
	if e.IdentityHash != "" {
		fmt.Fprintf(h, "\n%s", e.IdentityHash)
	}
	return hex.EncodeToString(h.Sum(nil))
}

// refPurge is the Ref of an evidence entry sealed by a retention purge.
const refPurge = "purge"

// LedgerStore is what Verify needs from the store.
type LedgerStore interface {
	Ledger(ctx context.Context, violationID string) ([]defs.LedgerEntry, error)
	Reviews(ctx context.Context, violationID string) ([]defs.Review, error)
	ListViolations(ctx context.Context, f defs.ViolationFilter) ([]defs.Violation, string, error)
}

// sealEvidence is the store.Sealer for a record's final evidence.
func sealEvidence(v defs.Violation, prev string) defs.LedgerEntry {
	e := defs.LedgerEntry{ViolationID: v.ID, Kind: defs.LedgerEvidence, ContentHash: evidenceHash(v), IdentityHash: identityHash(v),
		PrevHash: prev, At: time.Now().UTC()}
	e.Hash = linkHash(prev, e)
	return e
}

// sealPurge is the store.Sealer for a retention purge: an evidence entry
// marked as a purge, so `iocd verify -head` can tell it from other re-seals.
func sealPurge(v defs.Violation, prev string) defs.LedgerEntry {
	e := defs.LedgerEntry{ViolationID: v.ID, Kind: defs.LedgerEvidence, Ref: refPurge, ContentHash: evidenceHash(v),
		IdentityHash: identityHash(v), PrevHash: prev, At: time.Now().UTC()}
	e.Hash = linkHash(prev, e)
	return e
}

// sealReview is the store.Sealer for a review decision.
func sealReview(r defs.Review, prev string) defs.LedgerEntry {
	e := defs.LedgerEntry{ViolationID: r.ViolationID, Kind: defs.LedgerReview, Ref: fmt.Sprint(r.ID), ContentHash: reviewHash(r), PrevHash: prev, At: time.Now().UTC()}
	e.Hash = linkHash(prev, e)
	return e
}

// Problem is one mismatch Verify found.
type Problem struct {
	// Kind is one of: chain_broken, entry_altered, record_changed,
	// record_resealed, record_deleted, record_unsealed, review_changed,
	// review_deleted, review_unsealed, status_changed, file_missing,
	// file_changed, and with a pinned head: head_missing,
	// resealed_after_head.
	Kind        string `json:"kind"`
	ViolationID string `json:"violation_id,omitempty"`
	Seq         int64  `json:"seq,omitempty"`
	Detail      string `json:"detail"`
}

// Report is the outcome of Verify.
type Report struct {
	Entries    int    `json:"entries"`
	Violations int    `json:"violations"`
	Reviews    int    `json:"reviews"`
	Files      int    `json:"files"`
	Head       string `json:"head"`
	// PinnedHead is the head Verify was asked to check (-head), if any.
	PinnedHead string    `json:"pinned_head,omitempty"`
	Problems   []Problem `json:"problems"`
}

// OK reports whether Verify found nothing wrong.
func (r Report) OK() bool { return len(r.Problems) == 0 }

// Verify checks the hash chain link by link, every record and review
// against its latest ledger entry, every record's evidence entries against
// its first (identity), and every clip and snapshot file against its
// recorded SHA-256, and reports each mismatch. The error is for failures
// to read, not for mismatches.
func Verify(ctx context.Context, st LedgerStore, dataDir string) (Report, error) {
	return VerifyPinned(ctx, st, dataDir, "")
}

// VerifyPinned is Verify that also checks a head recorded earlier: an
// entry with hash head must be in the chain (head_missing if not), and no
// evidence entry after it may re-seal a record other than by a retention
// purge (resealed_after_head). head "" pins nothing.
func VerifyPinned(ctx context.Context, st LedgerStore, dataDir, head string) (Report, error) {
	rep := Report{PinnedHead: head}
	add := func(kind, id string, seq int64, format string, args ...any) {
		rep.Problems = append(rep.Problems, Problem{Kind: kind, ViolationID: id, Seq: seq, Detail: fmt.Sprintf(format, args...)})
	}
	entries, err := st.Ledger(ctx, "")
	if err != nil {
		return rep, err
	}
	rep.Entries = len(entries)
	prev, prevSeq := "", int64(0)
	firstEvidence := map[string]defs.LedgerEntry{}
	lastEvidence := map[string]defs.LedgerEntry{}
	reviewEntries := map[string]defs.LedgerEntry{}
	headSeq := int64(-1) // -1: the pinned head has not been seen (yet)
	for _, e := range entries {
		if e.PrevHash != prev || e.Seq != prevSeq+1 {
			add("chain_broken", e.ViolationID, e.Seq, "entry %d does not follow entry %d: an entry was removed, inserted or reordered", e.Seq, prevSeq)
		}
		if linkHash(e.PrevHash, e) != e.Hash {
			add("entry_altered", e.ViolationID, e.Seq, "entry %d does not hash to its recorded hash", e.Seq)
		}
		prev, prevSeq = e.Hash, e.Seq
		switch e.Kind {
		case defs.LedgerEvidence:
			first, resealed := firstEvidence[e.ViolationID]
			if !resealed {
				firstEvidence[e.ViolationID] = e
			} else if e.IdentityHash != first.IdentityHash {
				add("record_resealed", e.ViolationID, e.Seq, "entry %d re-seals the record with an identity (plate, speed, time, file hashes, ...) other than entry %d sealed first",
					e.Seq, first.Seq)
			}
			if resealed && headSeq >= 0 && (e.Ref != refPurge || e.IdentityHash != first.IdentityHash) {
				add("resealed_after_head", e.ViolationID, e.Seq, "entry %d re-seals the record after the pinned head (entry %d), and not as a retention purge",
					e.Seq, headSeq)
			}
			lastEvidence[e.ViolationID] = e
		case defs.LedgerReview:
			reviewEntries[e.Ref] = e
		}
		// Set after the entry's own checks: only entries after the pinned
		// head are held to it.
		if head != "" && headSeq < 0 && e.Hash == head {
			headSeq = e.Seq
		}
	}
	rep.Head = prev
	if head != "" && headSeq < 0 {
		add("head_missing", "", 0, "no ledger entry has the pinned head hash %s: the chain was rewritten, or the hash is not from this ledger", head)
	}

	reviews, err := st.Reviews(ctx, "")
	if err != nil {
		return rep, err
	}
	rep.Reviews = len(reviews)
	lastDecision := map[string]defs.ReviewStatus{}
	seenReview := map[string]bool{}
	for _, r := range reviews {
		ref := fmt.Sprint(r.ID)
		seenReview[ref] = true
		lastDecision[r.ViolationID] = r.Decision
		e, ok := reviewEntries[ref]
		if !ok {
			add("review_unsealed", r.ViolationID, 0, "review %d has no ledger entry", r.ID)
		} else if reviewHash(r) != e.ContentHash {
			add("review_changed", r.ViolationID, e.Seq, "review %d differs from what entry %d sealed", r.ID, e.Seq)
		}
	}
	for ref, e := range reviewEntries {
		if !seenReview[ref] {
			add("review_deleted", e.ViolationID, e.Seq, "review %s sealed by entry %d is missing", ref, e.Seq)
		}
	}

	seen := map[string]bool{}
	f := defs.ViolationFilter{Limit: 1000}
	for {
		page, next, err := st.ListViolations(ctx, f)
		if err != nil {
			return rep, err
		}
		for _, v := range page {
			rep.Violations++
			seen[v.ID] = true
			verifyRecord(v, firstEvidence[v.ID], lastEvidence, lastDecision, dataDir, &rep, add)
		}
		if next == "" {
			break
		}
		f.Cursor = next
	}
	for id, e := range lastEvidence {
		if !seen[id] {
			add("record_deleted", id, e.Seq, "violation sealed by entry %d is missing", e.Seq)
		}
	}
	return rep, nil
}

func verifyRecord(v defs.Violation, first defs.LedgerEntry, lastEvidence map[string]defs.LedgerEntry, lastDecision map[string]defs.ReviewStatus,
	dataDir string, rep *Report, add func(kind, id string, seq int64, format string, args ...any)) {
	want := defs.ReviewPending
	if d, ok := lastDecision[v.ID]; ok {
		want = d
	}
	if v.Status != want {
		add("status_changed", v.ID, 0, "status is %s but the review history says %s", v.Status, want)
	}
	e, sealed := lastEvidence[v.ID]
	switch {
	case !sealed && v.ClipStatus != defs.ClipRecording:
		add("record_unsealed", v.ID, 0, "record has final evidence (%s) but no ledger entry", v.ClipStatus)
	case sealed && evidenceHash(v) != e.ContentHash:
		add("record_changed", v.ID, e.Seq, "record differs from what entry %d sealed", e.Seq)
	case sealed && e.IdentityHash == first.IdentityHash && identityHash(v) != e.IdentityHash:
		// The latest entry matches the record but claims an identity the
		// record does not have: a forged re-seal copying the first
		// entry's identity hash. (A differing identity on the latest
		// entry was already reported while walking the chain.)
		add("record_resealed", v.ID, e.Seq, "record's identity differs from what entry %d sealed first", first.Seq)
	}
	check := func(what, rel, want string) {
		rep.Files++
		path, err := evidencePath(dataDir, rel)
		if err != nil {
			add("file_missing", v.ID, 0, "%s: %v", what, err)
			return
		}
		got, err := hashFile(path)
		if os.IsNotExist(err) {
			add("file_missing", v.ID, 0, "%s %s is missing", what, rel)
			return
		}
		if err != nil {
			add("file_missing", v.ID, 0, "%s %s cannot be read: %v", what, rel, err)
			return
		}
		if got != want {
			add("file_changed", v.ID, 0, "%s %s has SHA-256 %s, recorded %s", what, rel, got, want)
		}
	}
	if (v.ClipStatus == defs.ClipComplete || v.ClipStatus == defs.ClipPartial) && v.ClipSHA256 != "" {
		check("clip", v.ClipPath, v.ClipSHA256)
	}
	if v.SnapshotSHA256 != "" && v.SnapshotPath != "" {
		check("snapshot", v.SnapshotPath, v.SnapshotSHA256)
	}
}

// WriteText prints the report for a person, as `iocd verify` shows it: one
// line per problem, the pinned head if one was checked, then a summary
// with the chain's head hash (record it elsewhere and pass it to
// `iocd verify -head` later to pin everything up to now).
func (r Report) WriteText(w io.Writer) {
	for _, p := range r.Problems {
		where := p.ViolationID
		if where == "" {
			where = "ledger" // head_missing concerns the whole chain
		}
		if p.Seq != 0 {
			where += fmt.Sprintf(" (ledger entry %d)", p.Seq)
		}
		fmt.Fprintf(w, "MISMATCH %-16s %s: %s\n", p.Kind, where, p.Detail)
	}
	if r.PinnedHead != "" {
		fmt.Fprintf(w, "pinned head: %s\n", r.PinnedHead)
	}
	verdict := "OK"
	if !r.OK() {
		verdict = fmt.Sprintf("FAILED: %d mismatches", len(r.Problems))
	}
	fmt.Fprintf(w, "%s: %d ledger entries, %d violations, %d reviews, %d files checked\nledger head: %s\n",
		verdict, r.Entries, r.Violations, r.Reviews, r.Files, r.Head)
}
