package violations

// Evidence cases. A reviewer puts violations together in a case to hand
// them over as one package that verifies offline (casepackage.go,
// caseverify.go). Making a case seals its definition in the ledger: the
// title, who made it and when, and for each member the ledger entry that
// sealed its record then and its identity hash (case.json in the package,
// a LedgerCase entry whose Ref is the case id), so a package can show that
// the case was made from these records and no other.

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/iocd/iocd/defs"
)

// Audit actions of cases and holds.
const (
	ActionCaseCreate  = "case.create"
	ActionCaseView    = "case.view"
	ActionCasePackage = "case.package"
	ActionHoldPlace   = "hold.place"
	ActionHoldRelease = "hold.release"
)

// MaxCaseViolations bounds a case: a package of 500 clips is already
// gigabytes, and its ledger proof long.
const MaxCaseViolations = 500

const maxTitleLen = 200

// caseStore is what cases and holds need from the store.
type caseStore interface {
	CreateCase(ctx context.Context, c defs.Case, manifest []byte, seal func(prev string) defs.LedgerEntry, audits []defs.AuditEntry) error
	GetCase(ctx context.Context, id string) (defs.Case, []byte, error)
	ListCases(ctx context.Context, cursor string, limit int) ([]defs.Case, string, error)
	AddAudits(ctx context.Context, es []defs.AuditEntry) error
	AuditFor(ctx context.Context, target string) ([]defs.AuditEntry, error)
	PlaceHold(ctx context.Context, h defs.LegalHold, audit defs.AuditEntry) (defs.LegalHold, error)
	ReleaseHold(ctx context.Context, target defs.HoldTarget, id, by, reason string, at time.Time, audit defs.AuditEntry) (defs.LegalHold, error)
	Holds(ctx context.Context, target defs.HoldTarget, id string) ([]defs.LegalHold, error)
	Held(ctx context.Context, violationID string) (bool, error)
	UnheldViolationsWithClip(ctx context.Context, clip []defs.ClipStatus, status defs.ReviewStatus, before time.Time, limit int) ([]defs.Violation, error)
	FirstLedgerSeq(ctx context.Context, violationIDs, targets []string) (int64, error)
	LedgerFrom(ctx context.Context, from int64) ([]defs.LedgerEntry, error)
}

// caseDefinition is case.json: what the LedgerCase entry seals.
type caseDefinition struct {
	Format    string       `json:"format"`
	ID        string       `json:"id"`
	Title     string       `json:"title"`
	CreatedBy string       `json:"created_by"`
	CreatedAt string       `json:"created_at"`
	Members   []caseMember `json:"violations"`
}

// caseMember is one violation of a case as it was sealed when the case
// was made.
type caseMember struct {
	ID string `json:"id"`
	// RecordSeq and RecordHash are the ledger entry sealing the record
	// when the case was made, and its content hash; IdentityHash is the
	// record's first seal's identity.
	RecordSeq    int64  `json:"record_seq"`
	RecordHash   string `json:"record_hash"`
	IdentityHash string `json:"identity_hash"`
}

const caseFormat = "iocd-case/1"

// SealCase is the store's sealer for a case's definition.
func (s *Signer) SealCase(id, contentHash, prev string) defs.LedgerEntry {
	return s.finish(defs.LedgerEntry{Kind: defs.LedgerCase, Ref: id, ContentHash: contentHash, PrevHash: prev, At: time.Now()})
}

// validText checks a one-line text field: valid UTF-8, no control
// characters, at most max bytes, and (if required) not blank.
func validText(field, s string, max int, required bool) error {
	switch {
	case required && strings.TrimSpace(s) == "":
		return defs.Invalid(field, "is required")
	case len(s) > max || !utf8.ValidString(s):
		return defs.Invalid(field, "must be text of at most %d bytes", max)
	case strings.ContainsFunc(s, unicode.IsControl):
		return defs.Invalid(field, "must be one line without control characters")
	}
	return nil
}

// CreateCase makes a case of the given violations (reviewers and admins):
// each must exist and have final, sealed evidence. The case's definition
// is sealed in the ledger, and the creation audited on the case and on
// every violation, in one transaction.
func (s *Service) CreateCase(ctx context.Context, a Actor, title string, ids []string) (defs.Case, error) {
	if err := requireReviewer(a); err != nil {
		return defs.Case{}, err
	}
	title = strings.TrimSpace(title)
	if err := validText("title", title, maxTitleLen, true); err != nil {
		return defs.Case{}, err
	}
	if len(ids) == 0 || len(ids) > MaxCaseViolations {
		return defs.Case{}, defs.Invalid("violations", "must list 1 to %d violation ids, got %d", MaxCaseViolations, len(ids))
	}
	seen := make(map[string]bool, len(ids))
	for _, id := range ids {
		if seen[id] {
			return defs.Case{}, defs.Invalid("violations", "lists %q twice", id)
		}
		seen[id] = true
	}
	if err := s.OpenLedger(ctx); err != nil {
		return defs.Case{}, err
	}
	now := time.Now().UTC()
	c := defs.Case{ID: newCaseID(now), Title: title, CreatedBy: a.id(), CreatedAt: now, Violations: ids}
	def := caseDefinition{Format: caseFormat, ID: c.ID, Title: title, CreatedBy: c.CreatedBy, CreatedAt: canonicalTime(now)}
	for _, id := range ids {
		if _, err := s.store.GetViolation(ctx, id); err != nil {
			if defs.ErrorCode(err) == defs.ENOTFOUND {
				return defs.Case{}, defs.Invalid("violations", "violation %q not found", id)
			}
			return defs.Case{}, err
		}
		first, last, err := s.evidenceEntries(ctx, id)
		if err != nil {
			return defs.Case{}, err
		}
		if last.Seq == 0 {
			return defs.Case{}, defs.Errorf(defs.ECONFLICT, "violation %s has no sealed evidence yet (its clip is being cut); make the case once it is sealed", id)
		}
		def.Members = append(def.Members, caseMember{ID: id, RecordSeq: last.Seq, RecordHash: last.ContentHash, IdentityHash: first.IdentityHash})
	}
	manifest := canonicalJSON(def)
	c.ManifestSHA256 = sha256Hex(manifest)
	audits := []defs.AuditEntry{auditEntry(a, ActionCaseCreate, c.ID, fmt.Sprintf("%d violations: %s", len(ids), title))}
	for _, id := range ids {
		audits = append(audits, auditEntry(a, ActionCaseCreate, id, "in case "+c.ID))
	}
	err := s.store.CreateCase(ctx, c, manifest, func(prev string) defs.LedgerEntry {
		return s.signer.Load().SealCase(c.ID, c.ManifestSHA256, prev)
	}, audits)
	if err != nil {
		return defs.Case{}, err
	}
	s.metrics.audit.WithLabelValues(ActionCaseCreate).Add(float64(len(audits)))
	return c, nil
}

// evidenceEntries returns a record's first and latest evidence entries
// (zero if it has none).
func (s *Service) evidenceEntries(ctx context.Context, id string) (first, last defs.LedgerEntry, err error) {
	entries, err := s.store.Ledger(ctx, id)
	if err != nil {
		return first, last, err
	}
	for _, e := range entries {
		if e.Kind != defs.LedgerEvidence {
			continue
		}
		if first.Seq == 0 {
			first = e
		}
		last = e
	}
	return first, last, nil
}

// ListCases returns a page of cases, newest first, for reviewers.
func (s *Service) ListCases(ctx context.Context, a Actor, cursor string, limit int) ([]defs.Case, string, error) {
	if err := requireReviewer(a); err != nil {
		return nil, "", err
	}
	return s.store.ListCases(ctx, cursor, limit)
}

// GetCase returns one case with its members, for reviewers; the view is
// audited.
func (s *Service) GetCase(ctx context.Context, a Actor, id string) (defs.Case, error) {
	if err := requireReviewer(a); err != nil {
		return defs.Case{}, err
	}
	c, _, err := s.store.GetCase(ctx, id)
	if err != nil {
		return c, err
	}
	return c, s.audit(ctx, a, ActionCaseView, id, "")
}

func newCaseID(t time.Time) string {
	var r [4]byte
	rand.Read(r[:])
	return fmt.Sprintf("c%012x%s", t.UnixMilli(), hex.EncodeToString(r[:]))
}

// PlaceHold puts a violation or a case on legal hold (reviewers and
// admins): its evidence is never removed by retention or disk pressure
// until the hold is released. Audited on the target.
func (s *Service) PlaceHold(ctx context.Context, a Actor, target defs.HoldTarget, id, reason string) (defs.LegalHold, error) {
	if err := requireReviewer(a); err != nil {
		return defs.LegalHold{}, err
	}
	reason = strings.TrimSpace(reason)
	if err := validText("reason", reason, maxNoteLen, true); err != nil {
		return defs.LegalHold{}, err
	}
	if err := s.OpenLedger(ctx); err != nil {
		return defs.LegalHold{}, err
	}
	h := defs.LegalHold{Target: target, TargetID: id, Reason: reason, PlacedBy: a.id(), PlacedAt: time.Now().UTC()}
	h, err := s.store.PlaceHold(ctx, h, auditEntry(a, ActionHoldPlace, id, reason))
	if err != nil {
		return h, err
	}
	s.metrics.audit.WithLabelValues(ActionHoldPlace).Inc()
	return h, nil
}

// ReleaseHold lifts the hold on a violation or case (reviewers and
// admins), saying why. Audited on the target.
func (s *Service) ReleaseHold(ctx context.Context, a Actor, target defs.HoldTarget, id, reason string) (defs.LegalHold, error) {
	if err := requireReviewer(a); err != nil {
		return defs.LegalHold{}, err
	}
	reason = strings.TrimSpace(reason)
	if err := validText("reason", reason, maxNoteLen, true); err != nil {
		return defs.LegalHold{}, err
	}
	if err := s.OpenLedger(ctx); err != nil {
		return defs.LegalHold{}, err
	}
	h, err := s.store.ReleaseHold(ctx, target, id, a.id(), reason, time.Now().UTC(), auditEntry(a, ActionHoldRelease, id, reason))
	if err != nil {
		return h, err
	}
	s.metrics.audit.WithLabelValues(ActionHoldRelease).Inc()
	return h, nil
}
