package violations

// Verifying a case package with nothing but the package: no store, no
// network. What it proves: the files are the ones the manifest lists,
// unchanged, none missing or added; the manifest is signed by the
// packaged key (or the pinned one); the ledger entries chain without a gap
// to a head signed by that key, each entry signed by a key the chain
// introduced; the case, each record, each review and each custody entry
// is what an entry of that chain sealed; the clip, snapshot and raw event
// are the ones the record sealed; and record.json says what the sealed
// record says.

import (
	"archive/zip"
	"crypto/ed25519"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"path"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/iocd/iocd/defs"
)

// CaseProblem is one thing wrong with a case package: Kind is one of
// manifest_missing, manifest_invalid, signature_invalid, key_mismatch,
// key_untrusted, file_missing, file_changed, file_added,
// file_duplicated, ledger_invalid, chain_broken, entry_altered,
// entry_signature_invalid, key_unendorsed, head_mismatch, case_unsealed,
// case_changed, record_unsealed, record_changed, record_resealed,
// record_mismatch, clip_changed, snapshot_changed, raw_event_changed,
// review_changed, review_missing, custody_changed, custody_unsealed.
type CaseProblem struct {
	Kind string `json:"kind"`
	// File is the package file the problem is in, if one.
	File   string `json:"file,omitempty"`
	Detail string `json:"detail"`
}

// CaseReport is the outcome of VerifyCasePackage.
type CaseReport struct {
	CaseID string `json:"case_id"`
	Title  string `json:"title"`
	// Key is the fingerprint of the key that signs the manifest and the
	// head; KeyPinned whether it was checked against a pinned one.
	Key        string        `json:"key"`
	KeyPinned  bool          `json:"key_pinned"`
	Head       string        `json:"head"`
	Files      int           `json:"files"`
	Entries    int           `json:"entries"`
	Violations int           `json:"violations"`
	Problems   []CaseProblem `json:"problems"`
}

// OK reports whether nothing is wrong.
func (r CaseReport) OK() bool { return len(r.Problems) == 0 }

// WriteText prints the report for a person, as `iocd verify-case` shows it.
func (r CaseReport) WriteText(w io.Writer) {
	for _, p := range r.Problems {
		where := ""
		if p.File != "" {
			where = " " + p.File
		}
		fmt.Fprintf(w, "MISMATCH %-22s%s: %s\n", p.Kind, where, p.Detail)
	}
	verdict := "OK"
	if !r.OK() {
		verdict = fmt.Sprintf("FAILED: %d mismatches", len(r.Problems))
	}
	fmt.Fprintf(w, "%s: case %s (%q), %d violations, %d files, %d ledger entries checked\nledger head: %s\n",
		verdict, r.CaseID, r.Title, r.Violations, r.Files, r.Entries, r.Head)
	trust := "the packaged key; compare its fingerprint with GET /api/v1/evidence/keys, or pin it with -key"
	if r.KeyPinned {
		trust = "the pinned key"
	}
	fmt.Fprintf(w, "signing key: %s (%s)\n", r.Key, trust)
}

// sealedFields are the fields of a record's sealed form (either form)
// that the package's files are checked against.
type sealedFields struct {
	Form           int     `json:"form"`
	ID             string  `json:"id"`
	Camera         string  `json:"camera"`
	Site           string  `json:"site"`
	CameraName     string  `json:"camera_name"`
	Address        string  `json:"address"`
	Lat            float64 `json:"lat"`
	Lon            float64 `json:"lon"`
	Type           string  `json:"type"`
	TS             string  `json:"ts"`
	Plate          string  `json:"plate"`
	Vehicle        string  `json:"vehicle"`
	RawEventSHA256 string  `json:"raw_event_sha256"`
	ClipSHA256     string  `json:"clip_sha256"`
	SnapshotSHA256 string  `json:"snapshot_sha256"`
	ClipPath       string  `json:"clip_path"`
	SnapshotPath   string  `json:"snapshot_path"`
}

// VerifyCasePackage checks a case package (a zip of size bytes read from
// r). pinned, if not "", is the fingerprint of the key the verifier
// trusts: the packaged key must be it. The error is for a package that
// cannot be read at all; everything else is a problem in the report.
func VerifyCasePackage(r io.ReaderAt, size int64, pinned string) (CaseReport, error) {
	var rep CaseReport
	add := func(kind, file, format string, args ...any) {
		rep.Problems = append(rep.Problems, CaseProblem{Kind: kind, File: file, Detail: fmt.Sprintf(format, args...)})
	}
	zr, err := zip.NewReader(r, size)
	if err != nil {
		return rep, fmt.Errorf("reading the package: %w", err)
	}
	files := map[string]*zip.File{}
	for _, f := range zr.File {
		if files[f.Name] != nil {
			add("file_duplicated", f.Name, "the package holds two files of this name")
			continue
		}
		files[f.Name] = f
	}
	read := func(name string) ([]byte, bool) {
		f := files[name]
		if f == nil {
			return nil, false
		}
		rc, err := f.Open()
		if err != nil {
			add("file_changed", name, "cannot be read: %v", err)
			return nil, false
		}
		defer rc.Close()
		b, err := io.ReadAll(rc)
		if err != nil {
			add("file_changed", name, "cannot be read: %v", err)
			return nil, false
		}
		return b, true
	}

	// The manifest and its signature.
	mb, ok := read(CaseManifestFile)
	if !ok {
		add("manifest_missing", CaseManifestFile, "the package has no manifest: nothing in it can be verified")
		return rep, nil
	}
	var man caseManifest
	if err := json.Unmarshal(mb, &man); err != nil || man.Format != caseFormat {
		add("manifest_invalid", CaseManifestFile, "not an iocd case manifest (%s): %v", caseFormat, err)
		return rep, nil
	}
	rep.CaseID, rep.Title, rep.Head = man.CaseID, man.Title, man.LedgerHead
	pub := packagedKey(read, add)
	rep.Key = man.KeyFingerprint
	if pub != nil {
		if fpr := Fingerprint(pub); fpr != man.KeyFingerprint {
			add("key_mismatch", caseKeyFile, "the packaged key is %s, but the manifest names %s", fpr, man.KeyFingerprint)
		}
	}
	if pinned != "" {
		rep.KeyPinned = true
		if pinned != man.KeyFingerprint {
			add("key_untrusted", caseKeyFile, "the package is signed by key %s, not the pinned key %s", man.KeyFingerprint, pinned)
		}
	}
	sig, ok := read(CaseSignatureFile)
	switch raw, err := base64.StdEncoding.DecodeString(strings.TrimSpace(string(sig))); {
	case !ok:
		add("signature_invalid", CaseSignatureFile, "the manifest is not signed (no %s)", CaseSignatureFile)
	case pub == nil:
		add("signature_invalid", CaseSignatureFile, "no usable public key to check the manifest's signature with")
	case err != nil || !ed25519.Verify(pub, caseManifestMessage(mb), raw):
		add("signature_invalid", CaseSignatureFile, "the manifest's signature does not verify with key %s: the manifest was altered or not signed by it", Fingerprint(pub))
	}

	// Every file listed, unchanged; nothing else.
	listed := map[string]caseFile{}
	for _, f := range man.Files {
		listed[f.Name] = f
	}
	for _, f := range zr.File {
		if _, ok := listed[f.Name]; !ok && f.Name != CaseManifestFile && f.Name != CaseSignatureFile {
			add("file_added", f.Name, "is in the package but not in the manifest")
		}
	}
	contents := map[string][]byte{} // the listed files that match, small ones kept
	for _, lf := range man.Files {
		rep.Files++
		f := files[lf.Name]
		if f == nil {
			add("file_missing", lf.Name, "is in the manifest but not in the package")
			continue
		}
		rc, err := f.Open()
		if err != nil {
			add("file_changed", lf.Name, "cannot be read: %v", err)
			continue
		}
		h, cw := newHasher(), &countWriter{w: io.Discard}
		var keep []byte
		var sink io.Writer = io.MultiWriter(h, cw)
		big := strings.HasSuffix(lf.Name, ".mp4") || strings.HasSuffix(lf.Name, ".jpg")
		var buf strings.Builder
		if !big {
			sink = io.MultiWriter(h, cw, &buf)
		}
		_, err = io.Copy(sink, rc)
		rc.Close()
		if err != nil {
			add("file_changed", lf.Name, "cannot be read: %v", err)
			continue
		}
		if got := h.hex(); got != lf.SHA256 || cw.n != lf.Bytes {
			add("file_changed", lf.Name, "has SHA-256 %s (%d bytes), the manifest lists %s (%d bytes)", got, cw.n, lf.SHA256, lf.Bytes)
			continue
		}
		keep = []byte(buf.String())
		if big {
			keep = []byte(lf.SHA256) // only the hash is needed
		}
		contents[lf.Name] = keep
	}

	// The ledger proof.
	var proof ledgerProof
	lb, ok := contents[caseLedgerFile]
	if !ok {
		add("ledger_invalid", caseLedgerFile, "no intact ledger proof: no seal can be checked")
		return rep, nil
	}
	if err := json.Unmarshal(lb, &proof); err != nil || len(proof.Entries) == 0 {
		add("ledger_invalid", caseLedgerFile, "not a ledger proof: %v", err)
		return rep, nil
	}
	rep.Entries = len(proof.Entries)
	keys := checkProofKeys(proof.Keys, add)
	byRef := map[defs.LedgerKind]map[string]defs.LedgerEntry{}
	evidence := map[string][]defs.LedgerEntry{}
	reviewsOf := map[string][]defs.LedgerEntry{}
	amendmentsOf := map[string][]defs.LedgerEntry{}
	for i, e := range proof.Entries {
		if i > 0 {
			if p := proof.Entries[i-1]; e.PrevHash != p.Hash || e.Seq != p.Seq+1 {
				add("chain_broken", caseLedgerFile, "entry %d does not follow entry %d: the proof has a gap or was reordered", e.Seq, p.Seq)
			}
		}
		if entryHash(e) != e.Hash {
			add("entry_altered", caseLedgerFile, "entry %d does not hash to its recorded hash", e.Seq)
		}
		if e.Form >= formSigned {
			sig, err := base64.StdEncoding.DecodeString(e.Signature)
			k := keys[e.KeyID]
			if k == nil || err != nil || !ed25519.Verify(k, signedMessage(e.Hash), sig) {
				add("entry_signature_invalid", caseLedgerFile, "entry %d's signature does not verify with key %q", e.Seq, e.KeyID)
			}
		}
		if byRef[e.Kind] == nil {
			byRef[e.Kind] = map[string]defs.LedgerEntry{}
		}
		byRef[e.Kind][e.Ref] = e
		switch e.Kind {
		case defs.LedgerEvidence:
			evidence[e.ViolationID] = append(evidence[e.ViolationID], e)
		case defs.LedgerReview:
			reviewsOf[e.ViolationID] = append(reviewsOf[e.ViolationID], e)
		case defs.LedgerAmendment:
			amendmentsOf[e.ViolationID] = append(amendmentsOf[e.ViolationID], e)
		}
	}
	head := proof.Entries[len(proof.Entries)-1]
	switch {
	case head.Hash != proof.Head || head.Hash != man.LedgerHead:
		add("head_mismatch", caseLedgerFile, "the proof ends at %s, but it names head %s and the manifest %s", head.Hash, proof.Head, man.LedgerHead)
	case head.Form < formSigned || head.KeyID != man.KeyFingerprint:
		add("head_mismatch", caseLedgerFile, "the head (entry %d) is signed by key %q, not the manifest's key %s", head.Seq, head.KeyID, man.KeyFingerprint)
	}

	// The case as sealed.
	var def caseDefinition
	if cb, ok := contents[caseDefFile]; !ok {
		add("case_unsealed", caseDefFile, "the case definition is missing or altered")
	} else if err := json.Unmarshal(cb, &def); err != nil {
		add("case_changed", caseDefFile, "not a case definition: %v", err)
	} else {
		e, sealed := byRef[defs.LedgerCase][man.CaseID]
		switch {
		case !sealed:
			add("case_unsealed", caseDefFile, "no ledger entry in the proof seals case %s", man.CaseID)
		case sha256Hex(cb) != e.ContentHash:
			add("case_changed", caseDefFile, "differs from what ledger entry %d sealed", e.Seq)
		case def.ID != man.CaseID:
			add("case_changed", caseDefFile, "is case %s, the manifest says %s", def.ID, man.CaseID)
		}
	}
	checkCustody(caseCustodyFile, contents, byRef[defs.LedgerAudit], add)

	// Each violation.
	for _, m := range def.Members {
		rep.Violations++
		verifyMember(m, contents, evidence[m.ID], reviewsOf[m.ID], byRef, add)
		verifyCaseAmendments(m.ID, contents, amendmentsOf[m.ID], byRef[defs.LedgerAmendment], add)
	}
	for name := range listed {
		if dir, _, ok := strings.Cut(name, "/"); ok && !slices.ContainsFunc(def.Members, func(m caseMember) bool { return m.ID == dir }) {
			add("file_added", name, "belongs to no violation of the case")
		}
	}
	return rep, nil
}

// packagedKey reads public_key.pem and checks it against
// public_key.fingerprint.
func packagedKey(read func(string) ([]byte, bool), add func(kind, file, format string, args ...any)) ed25519.PublicKey {
	b, ok := read(caseKeyFile)
	if !ok {
		add("key_mismatch", caseKeyFile, "the package carries no public key")
		return nil
	}
	blk, _ := pem.Decode(b)
	if blk == nil || blk.Type != "PUBLIC KEY" {
		add("key_mismatch", caseKeyFile, "not a PEM PUBLIC KEY")
		return nil
	}
	k, err := x509.ParsePKIXPublicKey(blk.Bytes)
	pub, isEd := k.(ed25519.PublicKey)
	if err != nil || !isEd {
		add("key_mismatch", caseKeyFile, "not an Ed25519 public key")
		return nil
	}
	if f, ok := read(caseFprFile); !ok || strings.TrimSpace(string(f)) != Fingerprint(pub) {
		add("key_mismatch", caseFprFile, "does not give the packaged key's fingerprint %s", Fingerprint(pub))
	}
	return pub
}

// checkProofKeys walks the chain's key entries: each carries the key it
// names, and each after the first is endorsed by the one it replaces.
func checkProofKeys(entries []defs.LedgerEntry, add func(kind, file, format string, args ...any)) map[string]ed25519.PublicKey {
	keys := map[string]ed25519.PublicKey{}
	current := ""
	for _, e := range entries {
		fpr, pub, ok := checkKeyEntry(e, keys[current], current, func(kind, _ string, _ int64, format string, args ...any) {
			if kind == "entry_altered" {
				kind = "ledger_invalid"
			}
			add(kind, caseLedgerFile, format, args...)
		})
		if ok {
			if entryHash(e) != e.Hash {
				add("entry_altered", caseLedgerFile, "key entry %d does not hash to its recorded hash", e.Seq)
				continue
			}
			keys[fpr], current = pub, fpr
		}
	}
	return keys
}

// checkCustody checks a custody log file: every entry is what a ledger
// entry in the proof sealed.
func checkCustody(name string, contents map[string][]byte, sealed map[string]defs.LedgerEntry, add func(kind, file, format string, args ...any)) {
	b, ok := contents[name]
	if !ok {
		return // reported as missing or changed already
	}
	var log []defs.AuditEntry
	if err := json.Unmarshal(b, &log); err != nil {
		add("custody_changed", name, "not a custody log: %v", err)
		return
	}
	for _, a := range log {
		e, ok := sealed[strconv.FormatInt(a.ID, 10)]
		switch {
		case !ok:
			add("custody_unsealed", name, "custody entry %d (%s by %s) is sealed by no entry of the proof", a.ID, a.Action, a.Actor)
		case sha256Hex(SealedAudit(a)) != e.ContentHash:
			add("custody_changed", name, "custody entry %d differs from what ledger entry %d sealed", a.ID, e.Seq)
		}
	}
}

func verifyMember(m caseMember, contents map[string][]byte, evidence, reviewEntries []defs.LedgerEntry,
	byRef map[defs.LedgerKind]map[string]defs.LedgerEntry, add func(kind, file, format string, args ...any)) {
	dir := m.ID + "/"
	name := dir + "sealed_record.json"
	sb, ok := contents[name]
	if !ok {
		add("record_unsealed", name, "violation %s's sealed record is missing or altered", m.ID)
		return
	}
	if len(evidence) == 0 {
		add("record_unsealed", name, "no ledger entry in the proof seals violation %s", m.ID)
		return
	}
	first, last := evidence[0], evidence[len(evidence)-1]
	if sha256Hex(sb) != last.ContentHash {
		add("record_changed", name, "differs from what ledger entry %d sealed", last.Seq)
	}
	var sf sealedFields
	if err := json.Unmarshal(sb, &sf); err != nil || sf.ID != m.ID {
		add("record_changed", name, "is not violation %s's sealed record", m.ID)
		return
	}
	if sf.Form >= formSigned {
		var rec sealedRecord
		if err := json.Unmarshal(sb, &rec); err == nil && sha256Hex(canonicalJSON(rec.sealedIdentity)) != first.IdentityHash {
			add("record_resealed", name, "the record's identity differs from what its first seal (entry %d) sealed", first.Seq)
		}
		if m.IdentityHash != "" && m.IdentityHash != first.IdentityHash {
			add("record_resealed", dir, "the case was made from a record of another identity than the one entry %d sealed", first.Seq)
		}
	}
	// The files the record sealed.
	for _, f := range []struct{ kind, file, sum string }{
		{"clip_changed", "clip.mp4", sf.ClipSHA256}, {"snapshot_changed", "snapshot.jpg", sf.SnapshotSHA256},
	} {
		got, ok := contents[dir+f.file]
		switch {
		case f.sum == "" && ok:
			add(f.kind, dir+f.file, "the sealed record has no %s", f.file)
		case f.sum != "" && ok && string(got) != f.sum:
			add(f.kind, dir+f.file, "has SHA-256 %s, the record sealed %s", got, f.sum)
		case f.sum != "" && !ok && (f.file == "clip.mp4" && sf.ClipPath != "" || f.file == "snapshot.jpg" && sf.SnapshotPath != ""):
			add(f.kind, dir+f.file, "the record sealed a %s that is missing or altered in the package", f.file)
		}
	}
	if sf.RawEventSHA256 != "" {
		if ev, ok := contents[dir+"event.json"]; ok && sha256Hex(ev) != sf.RawEventSHA256 {
			add("raw_event_changed", dir+"event.json", "has SHA-256 %s, the record sealed %s", sha256Hex(ev), sf.RawEventSHA256)
		}
	}
	// record.json says what the sealed record says.
	if rb, ok := contents[dir+"record.json"]; ok {
		var r policeRecord
		if err := json.Unmarshal(rb, &r); err != nil {
			add("record_mismatch", dir+"record.json", "not a record: %v", err)
		} else {
			ts, _ := time.Parse(time.RFC3339Nano, sf.TS)
			for _, c := range []struct{ field, got, want string }{
				{"id", r.ID, sf.ID}, {"plate.detected", r.Plate.Detected, sf.Plate}, {"violation.type", r.Violation.Type, sf.Type},
				{"vehicle_type.value", r.VehicleType.Value, sf.Vehicle}, {"time.utc", r.Time.UTC, ts.UTC().Truncate(time.Second).Format(time.RFC3339)},
				{"time.local", r.Time.Local, localSecond(ts)}, {"place.camera", r.Place.Camera, sf.Camera}, {"place.site", r.Place.Site, sf.Site},
				{"place.name", r.Place.Name, sf.CameraName}, {"place.address", r.Place.Address, sf.Address},
				{"place.lat", fmt.Sprint(r.Place.Lat), fmt.Sprint(sf.Lat)}, {"place.lon", fmt.Sprint(r.Place.Lon), fmt.Sprint(sf.Lon)},
			} {
				if sf.Form < formSigned && strings.HasPrefix(c.field, "place.") && c.field != "place.camera" && c.field != "place.site" {
					continue // form 1 sealed no place
				}
				if c.got != c.want {
					add("record_mismatch", dir+"record.json", "%s is %q, the sealed record says %q", c.field, c.got, c.want)
				}
			}
		}
	}
	// Reviews: each one sealed, none left out.
	name = dir + "reviews.json"
	if rb, ok := contents[name]; ok {
		var rs []defs.Review
		if err := json.Unmarshal(rb, &rs); err != nil {
			add("review_changed", name, "not a review history: %v", err)
		} else {
			got := map[string]bool{}
			for _, r := range rs {
				ref := strconv.FormatInt(r.ID, 10)
				got[ref] = true
				e, ok := byRef[defs.LedgerReview][ref]
				if !ok || e.ViolationID != m.ID || sha256Hex(SealedReview(r)) != e.ContentHash {
					add("review_changed", name, "review %d is not what a ledger entry of the proof sealed for %s", r.ID, m.ID)
				}
			}
			for _, e := range reviewEntries {
				if !got[e.Ref] {
					add("review_missing", name, "review %s sealed by entry %d is left out", e.Ref, e.Seq)
				}
			}
		}
	}
	checkCustody(path.Join(m.ID, "custody.json"), contents, byRef[defs.LedgerAudit], add)
}

// verifyCaseAmendments checks a violation's amendments.json: each correction
// sealed by an amendment entry of the proof, none of the proof's left
// out, and record.json's plate in force the latest plate correction (or
// the detected plate when there is none).
func verifyCaseAmendments(id string, contents map[string][]byte, entries []defs.LedgerEntry, byRef map[string]defs.LedgerEntry,
	add func(kind, file, format string, args ...any)) {
	name := id + "/amendments.json"
	ab, ok := contents[name]
	if !ok {
		if len(entries) > 0 {
			add("amendment_missing", name, "the proof seals %d amendments of %s, the package has none", len(entries), id)
		}
		return
	}
	var as []defs.Amendment
	if err := json.Unmarshal(ab, &as); err != nil {
		add("amendment_changed", name, "not a list of amendments: %v", err)
		return
	}
	got := map[string]bool{}
	plate := ""
	for _, a := range as {
		ref := strconv.FormatInt(a.ID, 10)
		got[ref] = true
		e, ok := byRef[ref]
		if !ok || e.ViolationID != id || sha256Hex(SealedAmendment(a)) != e.ContentHash {
			add("amendment_changed", name, "amendment %d is not what a ledger entry of the proof sealed for %s", a.ID, id)
		}
		if a.Field == "plate" {
			plate = a.To
		}
	}
	for _, e := range entries {
		if !got[e.Ref] {
			add("amendment_missing", name, "amendment %s sealed by entry %d is left out", e.Ref, e.Seq)
		}
	}
	var r struct {
		Plate recordPlate `json:"plate"`
	}
	if rb, ok := contents[id+"/record.json"]; ok && json.Unmarshal(rb, &r) == nil {
		want := r.Plate.Detected
		if plate != "" {
			want = plate
		}
		if r.Plate.Value != want {
			add("record_mismatch", id+"/record.json", "plate.value is %q, the sealed record and its amendments say %q", r.Plate.Value, want)
		}
	}
}
