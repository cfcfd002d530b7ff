package violations

import (
	"archive/zip"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/iocd/iocd/defs"
)

// Actor is who is acting: the authenticated principal's unique subject
// (auth.Principal.Subject(): "user:<name>", "token:<id>",
// "bootstrap-admin"), its display name and role. Decisions and audit
// entries name the subject; a name need not be unique.
type Actor struct {
	Subject string
	Name    string
	Role    defs.Role
}

// id is what records name the actor by: the subject, or for an internal
// actor without one (retention) its name.
func (a Actor) id() string {
	if a.Subject != "" {
		return a.Subject
	}
	return a.Name
}

// Audit actions.
const (
	ActionClip     = "violation.clip"
	ActionSnapshot = "violation.snapshot"
	ActionEvidence = "violation.evidence"
	ActionReview   = "violation.review"
	ActionPurge    = "violation.purge"
	// ActionRefused records a clip or snapshot not served (or packaged)
	// because it does not match its recorded SHA-256.
	ActionRefused = "violation.refused"
	// ActionVerify records a check of the whole chain by `iocd verify`
	// (target "ledger"): a verification of evidence is custody too.
	ActionVerify = "evidence.verify"
)

const maxNoteLen = 2000

// Get returns one violation, with the plate in force, its deadlines and
// whether it is on legal hold.
func (s *Service) Get(ctx context.Context, id string) (defs.Violation, error) {
	v, err := s.store.GetViolation(ctx, id)
	if err != nil {
		return v, err
	}
	vs := []defs.Violation{v}
	if err := s.enrich(ctx, vs); err != nil {
		return vs[0], err
	}
	v = vs[0]
	v.Held, err = s.store.Held(ctx, id)
	return v, err
}

// List returns a page of violations, newest first, and the next cursor,
// each with the plate in force and its deadlines.
func (s *Service) List(ctx context.Context, f defs.ViolationFilter) ([]defs.Violation, string, error) {
	f.Plate = searchPlate(f.Plate)
	vs, next, err := s.store.ListViolations(ctx, f)
	if err != nil {
		return nil, "", err
	}
	return vs, next, s.enrich(ctx, vs)
}

// searchPlate turns what a person types into the plate's stored form:
// "62a12345" finds "62A-123.45".
func searchPlate(q string) string {
	if q == "" {
		return ""
	}
	if p := NormalizePlate(q, false); p.Valid {
		return p.Text
	}
	if p := NormalizePlate(q, true); p.Valid {
		return p.Text
	}
	return strings.ToUpper(strings.TrimSpace(q))
}

// Audit returns a page of the audit log, newest first; admins only.
func (s *Service) Audit(ctx context.Context, a Actor, cursor string, limit int) ([]defs.AuditEntry, string, error) {
	if !a.Role.Allows(defs.RoleAdmin) {
		return nil, "", defs.Errorf(defs.EFORBIDDEN, "the audit log is for admins")
	}
	return s.store.ListAudit(ctx, cursor, limit)
}

func requireReviewer(a Actor) error {
	if !a.Role.Allows(defs.RoleReviewer) {
		return defs.Errorf(defs.EFORBIDDEN, "violation evidence is for reviewers and admins")
	}
	return nil
}

// audit records an access. Evidence is served only once its access is on
// record, so a failure here fails the request.
func (s *Service) audit(ctx context.Context, a Actor, action, target, detail string) error {
	if err := s.OpenLedger(ctx); err != nil {
		return err
	}
	if err := s.store.AddAudit(ctx, auditEntry(a, action, target, detail)); err != nil {
		return err
	}
	s.metrics.audit.WithLabelValues(action).Inc()
	return nil
}

func auditEntry(a Actor, action, target, detail string) defs.AuditEntry {
	return defs.AuditEntry{At: time.Now().UTC(), Actor: a.id(), Role: a.Role, Action: action, Target: target, Detail: detail}
}

// Decision is a reviewer's decision as the desk sends it: confirmed or
// rejected, a reason code from review.reasons allowed for it, a free
// note, and the version of the case the reviewer saw when they opened it
// (Open; "" from clients that do not send one).
type Decision struct {
	Decision defs.ReviewStatus
	Reason   string
	Note     string
	Version  string
}

// Decide records a decision on a violation and returns it as it is now,
// with its new version. The reason must be one configured for the
// decision. A confirmation needs a complete clip, a plate (detected or
// corrected) and a reviewer who has played the clip, and is refused
// (ECONFLICT) saying which is missing. The decision is refused (ECONFLICT)
// if the case changed since Version, or another reviewer holds a claim on
// it; it releases the case's claim. Who may decide what: a reviewer
// decides pending cases; with review.require_second a confirmation of a
// pending case leaves it awaiting_second, which a different reviewer
// confirms (confirmed) or rejects (disputed); disputed cases, and
// changes to a decision, are for admins. Every decision is kept, sealed in
// the ledger and audited.
func (s *Service) Decide(ctx context.Context, a Actor, id string, d Decision) (defs.Violation, string, error) {
	return s.decide(ctx, a, id, d, true)
}

// decide is Decide; desk false skips the reason and confirmation checks,
// for tests of what follows a decision (export_test.go), never for a
// request.
func (s *Service) decide(ctx context.Context, a Actor, id string, d Decision, desk bool) (defs.Violation, string, error) {
	if err := requireReviewer(a); err != nil {
		return defs.Violation{}, "", err
	}
	if d.Decision != defs.ReviewConfirmed && d.Decision != defs.ReviewRejected {
		return defs.Violation{}, "", defs.Invalid("decision", "must be confirmed or rejected")
	}
	if len(d.Note) > maxNoteLen || !utf8.ValidString(d.Note) {
		return defs.Violation{}, "", defs.Invalid("note", "must be text of at most %d bytes", maxNoteLen)
	}
	v, err := s.store.GetViolation(ctx, id)
	if err != nil {
		return v, "", err
	}
	now := s.desk.now()
	// A case that changed since the reviewer saw it, or that another
	// holds, is refused before the rules of who may decide what: the
	// reviewer is told what happened, not that the case is now beyond
	// them. The store checks both again in the decision's transaction.
	if err := s.checkGuard(ctx, a, id, d.Version, desk, now); err != nil {
		return v, "", err
	}
	next, err := s.nextStatus(ctx, a, v, d.Decision)
	if err != nil {
		return v, "", err
	}
	if desk {
		if err := s.desk.checkReason(d.Decision, d.Reason); err != nil {
			return v, "", err
		}
	}
	if desk && d.Decision == defs.ReviewConfirmed {
		if err := s.canConfirm(ctx, a, v); err != nil {
			return v, "", err
		}
	}
	if err := s.OpenLedger(ctx); err != nil {
		return v, "", err
	}
	detail := fmt.Sprintf("%s -> %s", v.Status, next)
	if d.Reason != "" {
		detail += " (" + d.Reason + ")"
	}
	// The audit entry commits with the decision: a decision cannot stand
	// unaudited. The guard is checked in the same transaction, so a change
	// or another's claim landing meanwhile still refuses it.
	r := defs.Review{ViolationID: id, Decision: next, Previous: v.Status, Reason: d.Reason, Note: d.Note, Actor: a.id(), Role: a.Role, At: now}
	g := defs.ReviewGuard{Version: d.Version, Now: now, Release: true}
	if desk {
		g.Actor = a.id()
	}
	_, err = s.store.DecideReview(ctx, r, func(r defs.Review, prev string) defs.LedgerEntry { return s.signer.Load().SealReview(r, prev) },
		deskAudit(a, ActionReview, id, detail, now), g)
	if err != nil {
		return v, "", err
	}
	s.metrics.audit.WithLabelValues(ActionReview).Inc()
	return s.current(ctx, id)
}

// nextStatus is the status a decision moves v to, or why a may not make
// it.
func (s *Service) nextStatus(ctx context.Context, a Actor, v defs.Violation, decision defs.ReviewStatus) (defs.ReviewStatus, error) {
	admin := a.Role.Allows(defs.RoleAdmin)
	switch v.Status {
	case defs.ReviewPending:
		if decision == defs.ReviewConfirmed && s.desk.RequireSecond {
			return defs.ReviewAwaitingSecond, nil
		}
		return decision, nil
	case defs.ReviewAwaitingSecond:
		rs, err := s.store.Reviews(ctx, v.ID)
		if err != nil {
			return "", err
		}
		for i := len(rs) - 1; i >= 0; i-- {
			if rs[i].Decision == defs.ReviewAwaitingSecond {
				if rs[i].Actor == a.id() {
					return "", defs.Errorf(defs.EFORBIDDEN, "you made the first confirmation of violation %s; a second, different reviewer must decide it", v.ID)
				}
				break
			}
		}
		if decision == defs.ReviewConfirmed {
			return defs.ReviewConfirmed, nil
		}
		return defs.ReviewDisputed, nil
	case defs.ReviewDisputed:
		if !admin {
			return "", defs.Errorf(defs.EFORBIDDEN, "violation %s is disputed: the second reviewer disagreed with the first, and an admin decides it", v.ID)
		}
		return decision, nil
	}
	if !admin {
		return "", defs.Errorf(defs.EFORBIDDEN, "violation %s is already %s; only an admin may change a decision", v.ID, v.Status)
	}
	if v.Status == decision {
		return "", defs.Errorf(defs.ECONFLICT, "violation %s is already %s", v.ID, decision)
	}
	return decision, nil
}

// canConfirm says why a may not confirm v, if they may not: a
// confirmation rests on a complete clip, a plate and a reviewer who
// watched the clip.
func (s *Service) canConfirm(ctx context.Context, a Actor, v defs.Violation) error {
	if v.ClipStatus != defs.ClipComplete {
		why := string(v.ClipStatus)
		if v.ClipReason != "" {
			why += ": " + v.ClipReason
		}
		return defs.Errorf(defs.ECONFLICT, "violation %s cannot be confirmed: its clip is not complete (%s); a confirmation needs the whole clip", v.ID, why)
	}
	if v.Plate == "" {
		plates, err := s.store.PlateCorrections(ctx, []string{v.ID})
		if err != nil {
			return err
		}
		if plates[v.ID] == "" {
			return defs.Errorf(defs.ECONFLICT, "violation %s cannot be confirmed: it has no plate; correct the plate first", v.ID)
		}
	}
	opened, err := s.openedClip(ctx, a, v.ID)
	if err != nil {
		return err
	}
	if !opened {
		return defs.Errorf(defs.ECONFLICT, "violation %s cannot be confirmed: you have not opened its clip; play it first", v.ID)
	}
	return nil
}

// current returns a violation as the desk shows it, with its version.
// The version is read first: a change landing between the two reads then
// makes the version older than what is shown, which refuses a decision
// rather than letting one through on unseen data.
func (s *Service) current(ctx context.Context, id string) (defs.Violation, string, error) {
	version, err := s.store.ViolationVersion(ctx, id)
	if err != nil {
		return defs.Violation{}, "", err
	}
	v, err := s.Get(ctx, id)
	if err != nil {
		return v, "", err
	}
	s.publish(v)
	return v, version, nil
}

// Reviews returns a violation's review history, for reviewers.
func (s *Service) Reviews(ctx context.Context, a Actor, id string) ([]defs.Review, error) {
	if err := requireReviewer(a); err != nil {
		return nil, err
	}
	if _, err := s.store.GetViolation(ctx, id); err != nil {
		return nil, err
	}
	return s.store.Reviews(ctx, id)
}

// OpenClip checks a violation's clip against its recorded SHA-256, audits
// the access and opens the clip for serving (the caller closes it; an
// *os.File seeks, for HTTP Range requests). A clip that does not match is
// refused with a defs ECONFLICT error, and the refusal audited.
func (s *Service) OpenClip(ctx context.Context, a Actor, id string) (*os.File, defs.Violation, error) {
	return s.open(ctx, a, id, ActionClip, func(v defs.Violation) (string, string, string) { return v.ClipPath, v.ClipSHA256, "clip" })
}

// OpenSnapshot is OpenClip for the snapshot; for a violation whose
// camera sent none, the still taken from its clip (SnapshotDerived).
// Either answers a clip still being recorded with a *RecordingError.
func (s *Service) OpenSnapshot(ctx context.Context, a Actor, id string) (*os.File, defs.Violation, error) {
	return s.open(ctx, a, id, ActionSnapshot, func(v defs.Violation) (string, string, string) {
		return v.SnapshotPath, v.SnapshotSHA256, "snapshot"
	})
}

func (s *Service) open(ctx context.Context, a Actor, id, action string, pick func(defs.Violation) (string, string, string)) (*os.File, defs.Violation, error) {
	if err := requireReviewer(a); err != nil {
		return nil, defs.Violation{}, err
	}
	v, err := s.store.GetViolation(ctx, id)
	if err != nil {
		return nil, v, err
	}
	if v.ClipStatus == defs.ClipRecording {
		return nil, v, s.stillRecording(v)
	}
	rel, recorded, what := pick(v)
	if rel == "" && action == ActionSnapshot {
		return s.openStill(ctx, a, v) // no camera snapshot: a still from the clip (media.go)
	}
	if rel == "" {
		return nil, v, defs.NotFound("violation %s has no %s (%s)", id, what, v.ClipStatus)
	}
	f, err := s.openChecked(ctx, a, v, what, rel, recorded)
	if err != nil {
		return nil, v, err
	}
	if err := s.audit(ctx, a, action, id, ""); err != nil {
		f.Close()
		return nil, v, err
	}
	return f, v, nil
}

// evidenceFile describes one file of an evidence package.
type evidenceFile struct {
	Name string `json:"name"`
	// SHA256 is the hash of the file as packaged; RecordedSHA256 is the
	// one recorded (and sealed) when the file was written. They match
	// unless the file was altered.
	SHA256         string `json:"sha256"`
	RecordedSHA256 string `json:"recorded_sha256"`
	Bytes          int64  `json:"bytes"`
}

// evidenceMetadata is metadata.json in an evidence package.
type evidenceMetadata struct {
	Violation defs.Violation `json:"violation"`
	Files     []evidenceFile `json:"files"`
	Reviews   []defs.Review  `json:"reviews"`
	// Amendments are reviewers' sealed corrections (the plate in force);
	// their ledger entries are in Ledger.
	Amendments []defs.Amendment   `json:"amendments"`
	Ledger     []defs.LedgerEntry `json:"ledger"`
	LedgerHead string             `json:"ledger_head"`
	// Keys are the ledger's public keys (the last one signs the head).
	Keys        []defs.EvidenceKey `json:"keys"`
	GeneratedAt time.Time          `json:"generated_at"`
	GeneratedBy string             `json:"generated_by"`
}

// WriteEvidence checks the clip and snapshot against their recorded
// SHA-256 (refusing the package with a defs ECONFLICT error, audited, if
// either does not match), audits the access and writes a violation's
// evidence package to w as a zip: clip.mp4, snapshot.jpg (those that exist),
// event.json (the raw event as the detector sent it), reviews.json and
// metadata.json with each file's SHA-256, the review
// history and the violation's ledger entries with the chain's head.
func (s *Service) WriteEvidence(ctx context.Context, a Actor, id string, w io.Writer) error {
	if err := requireReviewer(a); err != nil {
		return err
	}
	v, err := s.store.GetViolation(ctx, id)
	if err != nil {
		return err
	}
	reviews, err := s.store.Reviews(ctx, id)
	if err != nil {
		return err
	}
	amendments, err := s.store.Amendments(ctx, id)
	if err != nil {
		return err
	}
	if amendments == nil {
		amendments = []defs.Amendment{}
	}
	ledger, err := s.store.Ledger(ctx, id)
	if err != nil {
		return err
	}
	keys, err := s.Keys(ctx)
	if err != nil {
		return err
	}
	if v.RawEventSHA256 != "" && sha256Hex(v.RawEvent) != v.RawEventSHA256 {
		detail := fmt.Sprintf("raw event has SHA-256 %s, recorded %s", sha256Hex(v.RawEvent), v.RawEventSHA256)
		if err := s.audit(ctx, a, ActionRefused, v.ID, detail); err != nil {
			return err
		}
		return defs.Errorf(defs.ECONFLICT, "violation %s's raw event does not match its recorded hash; it may have been altered (run iocd verify)", v.ID)
	}
	// Check every file before the first byte of the zip: an altered file
	// must refuse the whole package, not appear in it.
	type part struct {
		name, recorded string
		f              *os.File
		at             time.Time
	}
	var parts []part
	defer func() {
		for _, p := range parts {
			p.f.Close()
		}
	}()
	// Each entry carries the time its content came to be: the clip's
	// end, the snapshot's and raw event's arrival, the package's making.
	clipAt := v.ClipEnd
	if clipAt.IsZero() {
		clipAt = v.CreatedAt
	}
	for _, c := range []struct {
		name, what, rel, recorded string
		at                        time.Time
	}{
		{"clip.mp4", "clip", v.ClipPath, v.ClipSHA256, clipAt},
		{"snapshot.jpg", "snapshot", v.SnapshotPath, v.SnapshotSHA256, v.CreatedAt},
	} {
		if c.rel == "" {
			continue
		}
		f, err := s.openChecked(ctx, a, v, c.what, c.rel, c.recorded)
		if err != nil {
			return err
		}
		parts = append(parts, part{c.name, c.recorded, f, c.at})
	}
	if err := s.audit(ctx, a, ActionEvidence, id, ""); err != nil {
		return err
	}
	// The head after this access's own audit entry: it seals the package's
	// making too.
	head, err := s.store.LedgerHead(ctx)
	if err != nil {
		return err
	}
	raw := v.RawEvent
	v.RawEvent = nil // event.json carries it
	meta := evidenceMetadata{Violation: v, Reviews: reviews, Amendments: amendments, Ledger: ledger, LedgerHead: head, Keys: keys, GeneratedAt: time.Now().UTC(), GeneratedBy: a.id()}
	if meta.Reviews == nil {
		meta.Reviews = []defs.Review{}
	}
	zw := zip.NewWriter(w)
	add := func(name, recorded string, f io.Reader, at time.Time) error {
		// Store, not deflate: video does not compress, and a stored entry
		// is byte-identical to the file on disk.
		zf, err := zw.CreateHeader(&zip.FileHeader{Name: name, Method: zip.Store, Modified: at.UTC()})
		if err != nil {
			return err
		}
		cw := &countWriter{w: zf}
		h := newHasher()
		if _, err := io.Copy(io.MultiWriter(cw, h), f); err != nil {
			return fmt.Errorf("packaging %s: %w", name, err)
		}
		meta.Files = append(meta.Files, evidenceFile{Name: name, SHA256: h.hex(), RecordedSHA256: recorded, Bytes: cw.n})
		return nil
	}
	for _, p := range parts {
		if err := add(p.name, p.recorded, p.f, p.at); err != nil {
			return err
		}
	}
	if v.RawEventSHA256 != "" {
		if err := add("event.json", v.RawEventSHA256, bytes.NewReader(raw), v.CreatedAt); err != nil {
			return err
		}
	}
	for _, j := range []struct {
		name string
		v    any
	}{{"reviews.json", meta.Reviews}, {"metadata.json", meta}} {
		zf, err := zw.CreateHeader(&zip.FileHeader{Name: j.name, Method: zip.Deflate, Modified: meta.GeneratedAt})
		if err != nil {
			return err
		}
		enc := json.NewEncoder(zf)
		enc.SetIndent("", "  ")
		if err := enc.Encode(j.v); err != nil {
			return err
		}
	}
	return zw.Close()
}
