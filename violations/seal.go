package violations

// The sealed form. What the ledger hashes is defined here, from the defs
// values, and never from the text a store happens to write: times are
// RFC 3339 in UTC with exactly nine fractional digits, floats are Go's
// shortest round-trip form, empty lists are [], and the fields come in
// the fixed order of the structs below. A second store (PostgreSQL) seals
// and verifies the same bytes as long as it gives back the values it was
// given; violations/storetest checks that it does.
//
// Form 2 (this file) seals the place, the raw event's hash and the
// evidential checks too, and its entries are signed (keys.go). Entries
// written before it keep form 1 (ledger.go) and verify as they always did.

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"time"

	"github.com/iocd/iocd/defs"
)

// formSigned is the sealing form of signed entries.
const formSigned = 2

// canonicalTime is the one way a time is written in a sealed form.
func canonicalTime(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format("2006-01-02T15:04:05.000000000Z")
}

func canonicalJSON(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		panic(fmt.Sprintf("marshalling sealed form: %v", err)) // plain structs: cannot fail
	}
	return b
}

func sha256Hex(b []byte) string {
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

// sealedIdentity is the part of a record that never changes after its
// first seal, in form 2.
type sealedIdentity struct {
	Form             int                  `json:"form"`
	ID               string               `json:"id"`
	Camera           string               `json:"camera"`
	Site             string               `json:"site"`
	CameraName       string               `json:"camera_name"`
	Address          string               `json:"address"`
	Lat              float64              `json:"lat"`
	Lon              float64              `json:"lon"`
	EventID          string               `json:"event_id"`
	Type             string               `json:"type"`
	TS               string               `json:"ts"`
	Plate            string               `json:"plate"`
	PlateRaw         string               `json:"plate_raw"`
	PlateValid       bool                 `json:"plate_valid"`
	PlateFlag        string               `json:"plate_flag"`
	PlateConfidence  float64              `json:"plate_confidence"`
	Vehicle          string               `json:"vehicle"`
	SpeedKmh         float64              `json:"speed_kmh"`
	LimitKmh         float64              `json:"limit_kmh"`
	Lane             int                  `json:"lane"`
	RawEventSHA256   string               `json:"raw_event_sha256"`
	Evidential       bool                 `json:"evidential"`
	EvidenceChecks   []defs.EvidenceCheck `json:"evidence_checks"`
	ClockOffsetMs    float64              `json:"clock_offset_ms"`
	HostClockSynced  bool                 `json:"host_clock_synced"`
	HostClockErrorMs float64              `json:"host_clock_error_ms"`
	ClipSHA256       string               `json:"clip_sha256"`
	ClipBytes        int64                `json:"clip_bytes"`
	ClipStart        string               `json:"clip_start"`
	ClipEnd          string               `json:"clip_end"`
	SnapshotSHA256   string               `json:"snapshot_sha256"`
	CreatedAt        string               `json:"created_at"`
}

// sealedRecord is a record's evidence in form 2: its identity and what a
// retention purge may change (clip status and reason, the files' paths).
type sealedRecord struct {
	sealedIdentity
	ClipStatus   string `json:"clip_status"`
	ClipReason   string `json:"clip_reason"`
	ClipPath     string `json:"clip_path"`
	SnapshotPath string `json:"snapshot_path"`
}

func identityOf(v defs.Violation) sealedIdentity {
	checks := v.EvidenceChecks
	if checks == nil {
		checks = []defs.EvidenceCheck{}
	}
	return sealedIdentity{
		Form: formSigned, ID: v.ID, Camera: string(v.Camera), Site: v.Site, CameraName: v.CameraName, Address: v.Address,
		Lat: v.Lat, Lon: v.Lon, EventID: v.EventID, Type: v.Type, TS: canonicalTime(v.Time),
		Plate: v.Plate, PlateRaw: v.PlateRaw, PlateValid: v.PlateValid, PlateFlag: v.PlateFlag, PlateConfidence: v.PlateConfidence,
		Vehicle: v.Vehicle, SpeedKmh: v.SpeedKmh, LimitKmh: v.LimitKmh, Lane: v.Lane, RawEventSHA256: v.RawEventSHA256,
		Evidential: v.Evidential, EvidenceChecks: checks, ClockOffsetMs: v.ClockOffsetMs, HostClockSynced: v.HostClockSynced,
		HostClockErrorMs: v.HostClockErrorMs, ClipSHA256: v.ClipSHA256, ClipBytes: v.ClipBytes,
		ClipStart: canonicalTime(v.ClipStart), ClipEnd: canonicalTime(v.ClipEnd), SnapshotSHA256: v.SnapshotSHA256,
		CreatedAt: canonicalTime(v.CreatedAt),
	}
}

// SealedRecord returns the bytes a record's evidence entry hashes (form 2).
// Review status, reviewer and update time are not in it: each decision is
// sealed by its own review entry, and Verify checks the record's reviewer
// against the latest sealed decision.
func SealedRecord(v defs.Violation) []byte {
	return canonicalJSON(sealedRecord{sealedIdentity: identityOf(v), ClipStatus: string(v.ClipStatus), ClipReason: v.ClipReason,
		ClipPath: v.ClipPath, SnapshotPath: v.SnapshotPath})
}

// SealedIdentity returns the bytes a record's identity hash covers (form 2).
func SealedIdentity(v defs.Violation) []byte { return canonicalJSON(identityOf(v)) }

// SealedReview returns the bytes a review entry hashes. (Form 1 and 2 seal
// a review alike.) The reason code is left out when empty, so a review
// sealed before reason codes existed hashes the very bytes it was sealed
// with.
func SealedReview(r defs.Review) []byte {
	return canonicalJSON(struct {
		ID          int64  `json:"id"`
		ViolationID string `json:"violation_id"`
		Decision    string `json:"decision"`
		Previous    string `json:"previous"`
		Reason      string `json:"reason,omitempty"`
		Note        string `json:"note"`
		Actor       string `json:"actor"`
		Role        string `json:"role"`
		At          string `json:"at"`
	}{r.ID, r.ViolationID, string(r.Decision), string(r.Previous), r.Reason, r.Note, r.Actor, r.Role.String(), canonicalTime(r.At)})
}

// SealedAmendment returns the bytes an amendment entry hashes.
func SealedAmendment(a defs.Amendment) []byte {
	return canonicalJSON(struct {
		Form        int    `json:"form"`
		ID          int64  `json:"id"`
		ViolationID string `json:"violation_id"`
		Field       string `json:"field"`
		From        string `json:"from"`
		To          string `json:"to"`
		Note        string `json:"note"`
		Actor       string `json:"actor"`
		Role        string `json:"role"`
		At          string `json:"at"`
	}{formSigned, a.ID, a.ViolationID, a.Field, a.From, a.To, a.Note, a.Actor, a.Role.String(), canonicalTime(a.At)})
}

// SealedAudit returns the bytes an audit entry's ledger entry hashes.
func SealedAudit(e defs.AuditEntry) []byte {
	return canonicalJSON(struct {
		Form   int    `json:"form"`
		ID     int64  `json:"id"`
		At     string `json:"at"`
		Actor  string `json:"actor"`
		Role   string `json:"role"`
		Action string `json:"action"`
		Target string `json:"target"`
		Detail string `json:"detail"`
	}{formSigned, e.ID, canonicalTime(e.At), e.Actor, e.Role.String(), e.Action, e.Target, e.Detail})
}

// recordHashes returns a record's content and identity hashes in the given
// form.
func recordHashes(form int, v defs.Violation) (content, identity string) {
	if form >= formSigned {
		return sha256Hex(SealedRecord(v)), sha256Hex(SealedIdentity(v))
	}
	return evidenceHash(v), identityHash(v)
}

// sealedLink is what a form-2 entry's hash covers: everything about the
// entry but its sequence number (the chain orders it) and signature.
type sealedLink struct {
	Form         int    `json:"form"`
	Prev         string `json:"prev"`
	Kind         string `json:"kind"`
	ViolationID  string `json:"violation_id"`
	Ref          string `json:"ref"`
	ContentHash  string `json:"content_hash"`
	IdentityHash string `json:"identity_hash"`
	KeyID        string `json:"key_id"`
	At           string `json:"at"`
}

// entryHash returns the hash an entry should have, in its form.
func entryHash(e defs.LedgerEntry) string {
	if e.Form < formSigned {
		return linkHash(e.PrevHash, e)
	}
	return sha256Hex(canonicalJSON(sealedLink{Form: e.Form, Prev: e.PrevHash, Kind: string(e.Kind), ViolationID: e.ViolationID,
		Ref: e.Ref, ContentHash: e.ContentHash, IdentityHash: e.IdentityHash, KeyID: e.KeyID, At: canonicalTime(e.At)}))
}

// signedMessage is what an entry's signature signs: its hash, with a
// context string so a signature cannot be replayed for another purpose.
func signedMessage(hash string) []byte { return []byte("iocd ledger entry\n" + hash) }

// endorsementMessage is what the outgoing key signs when it hands over to
// the next: the new key's fingerprint and the chain head it follows.
func endorsementMessage(next, prevHash string) []byte {
	return []byte("iocd key rotation\n" + next + "\n" + prevHash)
}

// keyPayload is a key entry's payload (its content hash is the payload's
// SHA-256).
type keyPayload struct {
	Algorithm   string `json:"algorithm"`
	PublicKey   string `json:"public_key"`
	Fingerprint string `json:"fingerprint"`
	// Previous is the fingerprint of the key this one replaces, and
	// Endorsement that key's signature of endorsementMessage; both empty
	// for the first key (and for a key installed without its predecessor,
	// which Verify reports).
	Previous    string `json:"previous"`
	Endorsement string `json:"endorsement"`
}

func b64(b []byte) string { return base64.StdEncoding.EncodeToString(b) }
