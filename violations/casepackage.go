package violations

// A case package: one zip that a court or the owner's local police can
// check with nothing but the zip (`iocd verify-case`, caseverify.go).
//
//	report.html              the case for a person, in Vietnamese
//	case.json                the case as sealed when it was made (LedgerCase entry)
//	custody.json             the case's own custody log (audit entries)
//	ledger.json              ledger entries from the first one sealing anything
//	                         of the case to the head, and every key entry
//	public_key.pem           the key that signs the head and the manifest,
//	public_key.fingerprint   and its fingerprint (GET /api/v1/evidence/keys)
//	<violation id>/clip.mp4          the original clip, bit-exact
//	<violation id>/snapshot.jpg      the camera's snapshot
//	<violation id>/event.json        the event as the detector sent it
//	<violation id>/record.json       the record in the traffic police's layout
//	<violation id>/sealed_record.json  the exact bytes the record's ledger entry seals
//	<violation id>/checks.json       the evidential health gate's checks
//	<violation id>/reviews.json      the review history
//	<violation id>/amendments.json   reviewers' corrections (the plate in force)
//	<violation id>/custody.json      the violation's custody log
//	manifest.json            every file above with its SHA-256 and size
//	manifest.sig             Ed25519 signature of the manifest
//
// The clips and snapshots are checked against their sealed SHA-256 before
// the first byte, and hashed again while they are written.

import (
	"archive/zip"
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"time"

	"github.com/iocd/iocd/defs"
)

// Names in a case package.
const (
	CaseManifestFile  = "manifest.json"
	CaseSignatureFile = "manifest.sig"
	caseDefFile       = "case.json"
	caseCustodyFile   = "custody.json"
	caseLedgerFile    = "ledger.json"
	caseKeyFile       = "public_key.pem"
	caseFprFile       = "public_key.fingerprint"
	CaseReportFile    = "report.html"
)

// caseFile is one file of a case package as the manifest lists it.
type caseFile struct {
	Name   string `json:"name"`
	SHA256 string `json:"sha256"`
	Bytes  int64  `json:"bytes"`
}

// caseManifest is manifest.json.
type caseManifest struct {
	Format      string    `json:"format"`
	CaseID      string    `json:"case_id"`
	Title       string    `json:"title"`
	GeneratedAt time.Time `json:"generated_at"`
	GeneratedBy string    `json:"generated_by"`
	// LedgerHead is the hash of the last entry of ledger.json, signed by
	// the key KeyFingerprint names (which signs this manifest too).
	LedgerHead     string     `json:"ledger_head"`
	KeyFingerprint string     `json:"key_fingerprint"`
	Files          []caseFile `json:"files"`
}

// ledgerProof is ledger.json: Entries run without a gap from the first
// entry sealing anything of the case to Head; Keys are every key entry of
// the chain, so that entries signed by an earlier key verify too.
type ledgerProof struct {
	Head    string             `json:"head"`
	Entries []defs.LedgerEntry `json:"entries"`
	Keys    []defs.LedgerEntry `json:"keys"`
}

// caseManifestMessage is what a manifest's signature signs.
func caseManifestMessage(manifest []byte) []byte {
	return []byte("iocd case manifest\n" + sha256Hex(manifest))
}

// SignCaseManifest returns the base64 Ed25519 signature of a case
// manifest, as manifest.sig holds it.
func (s *Signer) SignCaseManifest(manifest []byte) string {
	return b64(ed25519.Sign(s.priv, caseManifestMessage(manifest)))
}

// sealedBytes are the bytes a record's evidence entry of the given form
// hashes.
func sealedBytes(form int, v defs.Violation) []byte {
	if form >= formSigned {
		return SealedRecord(v)
	}
	return canonicalJSON(evidenceFieldsOf(v))
}

// caseMemberData is one violation of a case as packaged.
type caseMemberData struct {
	v          defs.Violation
	sealed     []byte
	record     policeRecord
	reviews    []defs.Review
	amendments []defs.Amendment
	custody    []defs.AuditEntry
}

// WriteCasePackage checks every member's record against its seal and its
// clip and snapshot against their sealed SHA-256 (refusing the package
// with a defs ECONFLICT error, audited, if any does not match), audits
// the download on the case and on every violation, and writes the case
// package to w as a zip.
func (s *Service) WriteCasePackage(ctx context.Context, a Actor, id string, w io.Writer) error {
	if err := requireReviewer(a); err != nil {
		return err
	}
	c, def, err := s.store.GetCase(ctx, id)
	if err != nil {
		return err
	}
	members := make([]*caseMemberData, 0, len(c.Violations))
	for _, vid := range c.Violations {
		m, err := s.checkMember(ctx, a, vid)
		if err != nil {
			return err
		}
		members = append(members, m)
	}
	audits := []defs.AuditEntry{auditEntry(a, ActionCasePackage, c.ID, fmt.Sprintf("%d violations", len(members)))}
	for _, m := range members {
		audits = append(audits, auditEntry(a, ActionCasePackage, m.v.ID, "in case "+c.ID))
	}
	if err := s.OpenLedger(ctx); err != nil {
		return err
	}
	if err := s.store.AddAudits(ctx, audits); err != nil {
		return err
	}
	s.metrics.audit.WithLabelValues(ActionCasePackage).Add(float64(len(audits)))

	// Histories read after the download's own audit entries: they and
	// the ledger proof include it.
	for _, m := range members {
		if m.reviews, err = s.store.Reviews(ctx, m.v.ID); err != nil {
			return err
		}
		if m.amendments, err = s.store.Amendments(ctx, m.v.ID); err != nil {
			return err
		}
		if m.custody, err = s.store.AuditFor(ctx, m.v.ID); err != nil {
			return err
		}
	}
	caseCustody, err := s.store.AuditFor(ctx, c.ID)
	if err != nil {
		return err
	}
	from, err := s.store.FirstLedgerSeq(ctx, c.Violations, append(append([]string(nil), c.Violations...), c.ID))
	if err != nil {
		return err
	}
	entries, err := s.store.LedgerFrom(ctx, from)
	if err != nil {
		return err
	}
	keys, err := s.store.KeyEntries(ctx)
	if err != nil {
		return err
	}
	if len(entries) == 0 {
		return fmt.Errorf("case %s: the ledger has no entries", c.ID)
	}
	head := entries[len(entries)-1]
	signer := s.signer.Load()
	if head.KeyID != signer.Fingerprint() {
		// A key rotation between the audit and now: the next download
		// is signed throughout by the new key.
		return defs.Errorf(defs.EUNAVAILABLE, "the signing key changed while the package was made; download it again")
	}
	now := time.Now().UTC()
	pubDER, err := x509.MarshalPKIXPublicKey(signer.PublicKey())
	if err != nil {
		return fmt.Errorf("encoding public key: %w", err)
	}
	report, err := s.caseReport(c, members, caseCustody, head, signer.Fingerprint(), now, a)
	if err != nil {
		return err
	}

	zw := zip.NewWriter(w)
	man := caseManifest{Format: caseFormat, CaseID: c.ID, Title: c.Title, GeneratedAt: now, GeneratedBy: a.id(),
		LedgerHead: head.Hash, KeyFingerprint: signer.Fingerprint()}
	add := func(name string, at time.Time, method uint16, r io.Reader) (string, error) {
		zf, err := zw.CreateHeader(&zip.FileHeader{Name: name, Method: method, Modified: at.UTC()})
		if err != nil {
			return "", err
		}
		cw := &countWriter{w: zf}
		h := newHasher()
		if _, err := io.Copy(io.MultiWriter(cw, h), r); err != nil {
			return "", fmt.Errorf("packaging %s: %w", name, err)
		}
		man.Files = append(man.Files, caseFile{Name: name, SHA256: h.hex(), Bytes: cw.n})
		return h.hex(), nil
	}
	addBytes := func(name string, at time.Time, b []byte) error {
		_, err := add(name, at, zip.Deflate, bytes.NewReader(b))
		return err
	}
	for _, f := range []struct {
		name string
		b    []byte
	}{
		{CaseReportFile, report}, {caseDefFile, def}, {caseCustodyFile, indentJSON(caseCustody)},
		{caseLedgerFile, indentJSON(ledgerProof{Head: head.Hash, Entries: entries, Keys: keys})},
		{caseKeyFile, pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: pubDER})},
		{caseFprFile, []byte(signer.Fingerprint() + "\n")},
	} {
		if err := addBytes(f.name, now, f.b); err != nil {
			return err
		}
	}
	for _, m := range members {
		if err := s.writeMember(ctx, a, m, add, addBytes, now); err != nil {
			return err
		}
	}
	mb := indentJSON(man)
	if err := addBytes(CaseManifestFile, now, mb); err != nil {
		return err
	}
	zf, err := zw.CreateHeader(&zip.FileHeader{Name: CaseSignatureFile, Method: zip.Store, Modified: now})
	if err != nil {
		return err
	}
	if _, err := io.WriteString(zf, signer.SignCaseManifest(mb)+"\n"); err != nil {
		return err
	}
	return zw.Close()
}

// checkMember reads one violation of a case and checks its record, raw
// event, clip and snapshot against their seals; a mismatch refuses the
// package, audited.
func (s *Service) checkMember(ctx context.Context, a Actor, id string) (*caseMemberData, error) {
	v, err := s.Get(ctx, id)
	if err != nil {
		return nil, err
	}
	refuse := func(detail, what string) error {
		if err := s.audit(ctx, a, ActionRefused, v.ID, detail); err != nil {
			return err
		}
		return defs.Errorf(defs.ECONFLICT, "violation %s's %s does not match its seal; it may have been altered (run iocd verify)", v.ID, what)
	}
	if v.RawEventSHA256 != "" && sha256Hex(v.RawEvent) != v.RawEventSHA256 {
		return nil, refuse(fmt.Sprintf("raw event has SHA-256 %s, recorded %s", sha256Hex(v.RawEvent), v.RawEventSHA256), "raw event")
	}
	_, last, err := s.evidenceEntries(ctx, id)
	if err != nil {
		return nil, err
	}
	if last.Seq == 0 {
		return nil, defs.Errorf(defs.ECONFLICT, "violation %s has no sealed evidence", id)
	}
	sealed := sealedBytes(last.Form, v)
	if got := sha256Hex(sealed); got != last.ContentHash {
		return nil, refuse(fmt.Sprintf("record hashes to %s, ledger entry %d sealed %s", got, last.Seq, last.ContentHash), "record")
	}
	for _, f := range []struct{ what, rel, sum string }{{"clip", v.ClipPath, v.ClipSHA256}, {"snapshot", v.SnapshotPath, v.SnapshotSHA256}} {
		if f.rel == "" {
			continue
		}
		fh, err := s.openChecked(ctx, a, v, f.what, f.rel, f.sum)
		if err != nil {
			return nil, err
		}
		fh.Close()
	}
	return &caseMemberData{v: v, sealed: sealed, record: s.policeRecord(v)}, nil
}

// writeMember writes one violation's folder.
func (s *Service) writeMember(ctx context.Context, a Actor, m *caseMemberData,
	add func(string, time.Time, uint16, io.Reader) (string, error), addBytes func(string, time.Time, []byte) error, now time.Time) error {
	v, dir := m.v, m.v.ID+"/"
	clipAt := v.ClipEnd
	if clipAt.IsZero() {
		clipAt = v.CreatedAt
	}
	for _, f := range []struct{ name, what, rel, sum string }{
		{"clip.mp4", "clip", v.ClipPath, v.ClipSHA256}, {"snapshot.jpg", "snapshot", v.SnapshotPath, v.SnapshotSHA256},
	} {
		if f.rel == "" {
			continue
		}
		at := v.CreatedAt
		if f.what == "clip" {
			at = clipAt
		}
		fh, err := openEvidence(s.dataDir, f.rel)
		if err != nil {
			return fmt.Errorf("opening %s of %s: %w", f.what, v.ID, err)
		}
		// Stored, not deflated: byte-identical to the file on disk.
		got, err := add(dir+f.name, at, zip.Store, fh)
		fh.Close()
		if err != nil {
			return err
		}
		if got != f.sum {
			// Changed since it was checked: the package is cut short
			// here, and the refusal is on record.
			s.audit(ctx, a, ActionRefused, v.ID, fmt.Sprintf("%s changed while packaged: SHA-256 %s, recorded %s", f.what, got, f.sum))
			return fmt.Errorf("violation %s's %s changed while it was packaged", v.ID, f.what)
		}
	}
	if len(v.RawEvent) > 0 {
		if err := addBytes(dir+"event.json", v.CreatedAt, v.RawEvent); err != nil {
			return err
		}
	}
	checks := v.EvidenceChecks
	if checks == nil {
		checks = []defs.EvidenceCheck{}
	}
	reviews := m.reviews
	if reviews == nil {
		reviews = []defs.Review{}
	}
	custody := m.custody
	if custody == nil {
		custody = []defs.AuditEntry{}
	}
	amendments := m.amendments
	if amendments == nil {
		amendments = []defs.Amendment{}
	}
	for _, f := range []struct {
		name string
		b    []byte
	}{
		{"record.json", indentJSON(m.record)},
		{"sealed_record.json", m.sealed},
		{"checks.json", indentJSON(struct {
			Evidential       bool                 `json:"evidential"`
			Checks           []defs.EvidenceCheck `json:"checks"`
			ClockOffsetMs    float64              `json:"clock_offset_ms"`
			HostClockSynced  bool                 `json:"host_clock_synced"`
			HostClockErrorMs float64              `json:"host_clock_error_ms"`
		}{v.Evidential, checks, v.ClockOffsetMs, v.HostClockSynced, v.HostClockErrorMs})},
		{"reviews.json", indentJSON(reviews)},
		{"amendments.json", indentJSON(amendments)},
		{"custody.json", indentJSON(custody)},
	} {
		if err := addBytes(dir+f.name, now, f.b); err != nil {
			return err
		}
	}
	return nil
}

func indentJSON(v any) []byte {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		panic(fmt.Sprintf("marshalling package file: %v", err)) // plain structs: cannot fail
	}
	return append(b, '\n')
}
