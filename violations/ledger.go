package violations

// The hash chain. Every fact that evidence rests on is sealed by appending
// an entry to an append-only ledger table:
//
//   - a "key" entry introducing the signing key (keys.go), and one for
//     every rotation, endorsed by the outgoing key;
//   - an "evidence" entry when a record's evidence is final (clip written,
//     partial or no_video) and again when retention purges its files: the
//     SHA-256 of the record's sealed form (seal.go), which includes the
//     clip's, snapshot's and raw event's SHA-256, the files' paths, the
//     place and the evidential checks, and the record's identity hash
//     (below);
//   - a "review" entry for each review decision (reviewer, role, time,
//     decision, note);
//   - an "audit" entry for each audit log row.
//
// Each entry's hash covers the previous entry's hash, its kind, violation,
// ref, content and identity hashes, key and time, so altering, deleting or
// reordering any entry breaks every later link; each entry is signed with
// the key (form 2), so an entry appended by someone who can write the
// database but not read the key does not verify. Altering a record, a
// review, an audit row or a file no longer matches its entry, and a
// deleted review or audit row leaves its entry without a row. Verify
// recomputes all of it from the current rows and files.
//
// Every evidence entry also carries the identity hash: the fields that
// must never change once the evidence is first sealed (everything but clip
// status, reason and paths, which a retention purge changes). Verify
// requires every evidence entry of a record, and the record itself, to
// carry the first entry's identity, so even the key's holder (iocd) cannot
// re-seal a changed plate unnoticed.
//
// Someone with write access can still cut entries off the end of the
// chain (the head is signed, but an older head is too); the head hash is
// therefore in every evidence package and printed by `iocd verify`, and
// `iocd verify -head H` checks that a head recorded elsewhere is still in
// the chain and that nothing after it re-sealed a record other than by a
// purge.
//
// Entries written before signing (form 1) verify as they were written:
// their hash is SHA-256(prev_hash, kind, violation_id, ref, content_hash
// [, identity_hash]) over the form-1 record fields below. Once a key entry
// is in the chain, an unsigned entry is reported (entry_unsigned).

import (
	"context"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/iocd/iocd/defs"
)

// evidenceFields is the sealed part of a record in form 1, in a fixed
// field order.
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
	// AuditLog returns every audit entry, oldest first.
	AuditLog(ctx context.Context) ([]defs.AuditEntry, error)
	// RawEvent returns a violation's raw event as stored.
	RawEvent(ctx context.Context, violationID string) ([]byte, error)
	// Timestamps returns the TSA timestamps of ledger heads (tsa.go).
	Timestamps(ctx context.Context) ([]defs.LedgerTimestamp, error)
	// Amendments returns a violation's amendments ("": all), oldest first.
	Amendments(ctx context.Context, violationID string) ([]defs.Amendment, error)
}

// Problem is one mismatch Verify found.
type Problem struct {
	// Kind is one of: chain_broken, entry_altered, entry_unsigned,
	// signature_invalid, key_unendorsed, key_untrusted, timestamp_invalid,
	// timestamp_changed, timestamp_deleted, timestamp_unsealed,
	// record_changed, amendment_changed, amendment_deleted,
	// amendment_unsealed,
	// record_resealed, record_deleted, record_unsealed, review_changed,
	// review_deleted, review_unsealed, reviewer_changed, status_changed,
	// audit_changed, audit_deleted, audit_unsealed, raw_event_changed,
	// file_missing, file_changed, and with a pinned head: head_missing,
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
	Audit      int    `json:"audit"`
	Amendments int    `json:"amendments"`
	Files      int    `json:"files"`
	Head       string `json:"head"`
	// Key is the fingerprint of the key that signs the chain's head, and
	// KeyTrusted whether it is one of the keys Verify was told to trust
	// (false when it was told none).
	Key        string `json:"key"`
	KeyTrusted bool   `json:"key_trusted"`
	// Timestamps is how many RFC 3161 timestamps of heads were checked;
	// StampedHead and StampedAt are the latest valid one's.
	Timestamps  int       `json:"timestamps"`
	StampedHead string    `json:"stamped_head,omitempty"`
	StampedAt   time.Time `json:"stamped_at,omitzero"`
	// PinnedHead is the head Verify was asked to check (-head), if any.
	PinnedHead string    `json:"pinned_head,omitempty"`
	Problems   []Problem `json:"problems"`
}

// OK reports whether Verify found nothing wrong.
func (r Report) OK() bool { return len(r.Problems) == 0 }

// VerifyOptions are what Verify checks beyond the chain itself.
type VerifyOptions struct {
	// Head is a ledger head recorded earlier: an entry with this hash
	// must be in the chain (head_missing if not), and no evidence entry
	// after it may re-seal a record other than by a retention purge
	// (resealed_after_head). "" pins nothing.
	Head string
	// TrustedKeys are key fingerprints the chain's current key must be
	// one of (key_untrusted if not): the key iocd signs with, read from
	// its key file, or one pinned with -key. Empty trusts the chain's own
	// key history, which only a rewrite of the whole chain can fake.
	TrustedKeys []string
}

// Verify checks the hash chain link by link, every entry's signature,
// every record, review and audit entry against its ledger entry, every
// record's evidence entries against its first (identity), and every clip,
// snapshot and raw event against its recorded SHA-256, and reports each
// mismatch. The error is for failures to read, not for mismatches.
func Verify(ctx context.Context, st LedgerStore, dataDir string) (Report, error) {
	return VerifyWith(ctx, st, dataDir, VerifyOptions{})
}

// VerifyPinned is Verify that also checks a head recorded earlier (see
// VerifyOptions.Head).
func VerifyPinned(ctx context.Context, st LedgerStore, dataDir, head string) (Report, error) {
	return VerifyWith(ctx, st, dataDir, VerifyOptions{Head: head})
}

// VerifyWith is Verify with options.
func VerifyWith(ctx context.Context, st LedgerStore, dataDir string, opts VerifyOptions) (Report, error) {
	head := opts.Head
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
	auditEntries := map[string]defs.LedgerEntry{}
	stampEntries := map[string]defs.LedgerEntry{}
	amendEntries := map[string]defs.LedgerEntry{}
	keys := map[string]ed25519.PublicKey{}
	current := ""        // the fingerprint of the key that signs from here on
	headSeq := int64(-1) // -1: the pinned head has not been seen (yet)
	inChain := make(map[string]bool, len(entries))
	for _, e := range entries {
		inChain[e.Hash] = true
		if e.PrevHash != prev || e.Seq != prevSeq+1 {
			add("chain_broken", e.ViolationID, e.Seq, "entry %d does not follow entry %d: an entry was removed, inserted or reordered", e.Seq, prevSeq)
		}
		if entryHash(e) != e.Hash {
			add("entry_altered", e.ViolationID, e.Seq, "entry %d does not hash to its recorded hash", e.Seq)
		}
		prev, prevSeq = e.Hash, e.Seq
		if e.Kind == defs.LedgerKey && e.Form >= formSigned {
			if fpr, pub, ok := checkKeyEntry(e, keys[current], current, add); ok {
				keys[fpr] = pub
				current = fpr
			}
		}
		switch {
		case e.Form < formSigned && current != "":
			add("entry_unsigned", e.ViolationID, e.Seq, "entry %d is not signed, but the chain is signed since a key was introduced: it was not written by iocd", e.Seq)
		case e.Form >= formSigned && (current == "" || e.KeyID != current):
			add("signature_invalid", e.ViolationID, e.Seq, "entry %d names key %q, but the key signing the chain there is %q", e.Seq, e.KeyID, current)
		case e.Form >= formSigned:
			sig, err := base64.StdEncoding.DecodeString(e.Signature)
			if err != nil || !ed25519.Verify(keys[current], signedMessage(e.Hash), sig) {
				add("signature_invalid", e.ViolationID, e.Seq, "entry %d's signature does not verify with key %s: it was not written by iocd", e.Seq, current)
			}
		}
		switch e.Kind {
		case defs.LedgerEvidence:
			first, resealed := firstEvidence[e.ViolationID]
			if !resealed {
				firstEvidence[e.ViolationID] = e
			} else if e.Form == first.Form && e.IdentityHash != first.IdentityHash {
				add("record_resealed", e.ViolationID, e.Seq, "entry %d re-seals the record with an identity (plate, speed, time, place, file hashes, ...) other than entry %d sealed first",
					e.Seq, first.Seq)
			}
			if resealed && headSeq >= 0 && (e.Ref != refPurge || (e.Form == first.Form && e.IdentityHash != first.IdentityHash)) {
				add("resealed_after_head", e.ViolationID, e.Seq, "entry %d re-seals the record after the pinned head (entry %d), and not as a retention purge",
					e.Seq, headSeq)
			}
			lastEvidence[e.ViolationID] = e
		case defs.LedgerReview:
			reviewEntries[e.Ref] = e
		case defs.LedgerAudit:
			auditEntries[e.Ref] = e
		case defs.LedgerStamp:
			stampEntries[e.Ref] = e
		case defs.LedgerAmendment:
			amendEntries[e.Ref] = e
		}
		// Set after the entry's own checks: only entries after the pinned
		// head are held to it.
		if head != "" && headSeq < 0 && e.Hash == head {
			headSeq = e.Seq
		}
	}
	rep.Head, rep.Key = prev, current
	if head != "" && headSeq < 0 {
		add("head_missing", "", 0, "no ledger entry has the pinned head hash %s: the chain was rewritten, or the hash is not from this ledger", head)
	}
	if len(opts.TrustedKeys) > 0 {
		rep.KeyTrusted = slices.Contains(opts.TrustedKeys, current)
		if !rep.KeyTrusted {
			add("key_untrusted", "", 0, "the chain is signed by key %q, which is not the trusted key %s", current, strings.Join(opts.TrustedKeys, ", "))
		}
	}

	tss, err := st.Timestamps(ctx)
	if err != nil {
		return rep, err
	}
	verifyTimestamps(tss, stampEntries, inChain, &rep, add)

	reviews, err := st.Reviews(ctx, "")
	if err != nil {
		return rep, err
	}
	rep.Reviews = len(reviews)
	lastReview := map[string]defs.Review{}
	seenReview := map[string]bool{}
	for _, r := range reviews {
		ref := fmt.Sprint(r.ID)
		seenReview[ref] = true
		lastReview[r.ViolationID] = r
		e, ok := reviewEntries[ref]
		if !ok {
			add("review_unsealed", r.ViolationID, 0, "review %d has no ledger entry", r.ID)
		} else if sha256Hex(SealedReview(r)) != e.ContentHash {
			add("review_changed", r.ViolationID, e.Seq, "review %d differs from what entry %d sealed", r.ID, e.Seq)
		}
	}
	for ref, e := range reviewEntries {
		if !seenReview[ref] {
			add("review_deleted", e.ViolationID, e.Seq, "review %s sealed by entry %d is missing", ref, e.Seq)
		}
	}
	if err := verifyAudit(ctx, st, auditEntries, &rep, add); err != nil {
		return rep, err
	}
	if err := verifyAmendments(ctx, st, amendEntries, &rep, add); err != nil {
		return rep, err
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
			verifyRecord(v, firstEvidence[v.ID], lastEvidence, lastReview, dataDir, &rep, add)
			if v.RawEventSHA256 != "" {
				raw, err := st.RawEvent(ctx, v.ID)
				if err != nil {
					return rep, err
				}
				if got := sha256Hex(raw); got != v.RawEventSHA256 {
					add("raw_event_changed", v.ID, 0, "the stored raw event has SHA-256 %s, recorded %s", got, v.RawEventSHA256)
				}
			}
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

// checkKeyEntry checks a key entry: its payload hashes to its content, it
// names the key it carries, and (unless it is the first key) the
// outgoing key endorsed it. It returns the key, and false if the entry is
// unusable (then the chain keeps its key).
func checkKeyEntry(e defs.LedgerEntry, outgoing ed25519.PublicKey, outgoingFpr string, add func(kind, id string, seq int64, format string, args ...any)) (string, ed25519.PublicKey, bool) {
	var p keyPayload
	perr := json.Unmarshal([]byte(e.Payload), &p)
	raw, _ := base64.StdEncoding.DecodeString(p.PublicKey)
	if perr != nil || sha256Hex([]byte(e.Payload)) != e.ContentHash || len(raw) != ed25519.PublicKeySize || Fingerprint(raw) != p.Fingerprint ||
		p.Fingerprint != e.Ref || p.Fingerprint != e.KeyID {
		add("entry_altered", "", e.Seq, "key entry %d does not carry the key it names", e.Seq)
		return "", nil, false
	}
	pub := ed25519.PublicKey(raw)
	if outgoingFpr != "" {
		sig, err := base64.StdEncoding.DecodeString(p.Endorsement)
		if p.Previous != outgoingFpr || err != nil || !ed25519.Verify(outgoing, endorsementMessage(p.Fingerprint, e.PrevHash), sig) {
			add("key_unendorsed", "", e.Seq, "key entry %d introduces key %s without an endorsement by the key it replaces (%s)", e.Seq, p.Fingerprint, outgoingFpr)
		}
	}
	return p.Fingerprint, pub, true
}

// verifyAudit checks every audit row against the entry that sealed it.
// Rows older than the first sealed one were written before audit entries
// were sealed and are not held to it.
func verifyAudit(ctx context.Context, st LedgerStore, sealed map[string]defs.LedgerEntry, rep *Report,
	add func(kind, id string, seq int64, format string, args ...any)) error {
	rows, err := st.AuditLog(ctx)
	if err != nil {
		return err
	}
	rep.Audit = len(rows)
	firstSealed := int64(-1)
	for ref := range sealed {
		if n, err := strconv.ParseInt(ref, 10, 64); err == nil && (firstSealed < 0 || n < firstSealed) {
			firstSealed = n
		}
	}
	seen := map[string]bool{}
	for _, a := range rows {
		ref := strconv.FormatInt(a.ID, 10)
		seen[ref] = true
		e, ok := sealed[ref]
		switch {
		case !ok && firstSealed >= 0 && a.ID > firstSealed:
			add("audit_unsealed", "", 0, "audit entry %d (%s %s by %s) has no ledger entry", a.ID, a.Action, a.Target, a.Actor)
		case ok && sha256Hex(SealedAudit(a)) != e.ContentHash:
			add("audit_changed", "", e.Seq, "audit entry %d differs from what ledger entry %d sealed", a.ID, e.Seq)
		}
	}
	for ref, e := range sealed {
		if !seen[ref] {
			add("audit_deleted", "", e.Seq, "audit entry %s sealed by ledger entry %d is missing", ref, e.Seq)
		}
	}
	return nil
}

func verifyRecord(v defs.Violation, first defs.LedgerEntry, lastEvidence map[string]defs.LedgerEntry, lastReview map[string]defs.Review,
	dataDir string, rep *Report, add func(kind, id string, seq int64, format string, args ...any)) {
	want, by, at := defs.ReviewPending, "", time.Time{}
	if r, ok := lastReview[v.ID]; ok {
		want, by, at = r.Decision, r.Actor, r.At
	}
	if v.Status != want {
		add("status_changed", v.ID, 0, "status is %s but the review history says %s", v.Status, want)
	}
	if v.ReviewedBy != by || canonicalTime(v.ReviewedAt) != canonicalTime(at) {
		add("reviewer_changed", v.ID, 0, "reviewed by %q at %s, but the sealed review history says %q at %s",
			v.ReviewedBy, canonicalTime(v.ReviewedAt), by, canonicalTime(at))
	}
	e, sealed := lastEvidence[v.ID]
	if sealed {
		content, _ := recordHashes(e.Form, v)
		_, identity := recordHashes(first.Form, v)
		switch {
		case content != e.ContentHash:
			add("record_changed", v.ID, e.Seq, "record differs from what entry %d sealed", e.Seq)
		case first.IdentityHash != "" && identity != first.IdentityHash && (e.Form != first.Form || e.IdentityHash == first.IdentityHash):
			// The latest entry matches the record but the record's
			// identity is not the first entry's: a forged re-seal
			// copying the first identity hash, or one in another form.
			// (A differing identity in the same form was already
			// reported while walking the chain; entries from before
			// identity hashes have none to compare.)
			add("record_resealed", v.ID, e.Seq, "record's identity differs from what entry %d sealed first", first.Seq)
		}
	} else if v.ClipStatus != defs.ClipRecording {
		add("record_unsealed", v.ID, 0, "record has final evidence (%s) but no ledger entry", v.ClipStatus)
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
	fmt.Fprintf(w, "%s: %d ledger entries, %d violations, %d reviews, %d audit entries, %d files checked\nledger head: %s\n",
		verdict, r.Entries, r.Violations, r.Reviews, r.Audit, r.Files, r.Head)
	trust := "not checked against a trusted key (pass -key, or run where the signing key is readable)"
	if r.KeyTrusted {
		trust = "trusted"
	}
	fmt.Fprintf(w, "signing key: %s (%s)\n", r.Key, trust)
	if r.StampedHead != "" {
		fmt.Fprintf(w, "timestamped: head %s at %s by the TSA (%d timestamps)\n", r.StampedHead, r.StampedAt.Format(time.RFC3339), r.Timestamps)
	}
}
