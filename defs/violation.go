package defs

import (
	"encoding/json"
	"time"
)

// ReviewStatus is a violation's place in the police review workflow.
type ReviewStatus string

// Review statuses: pending until a reviewer confirms or rejects it.
const (
	ReviewPending   ReviewStatus = "pending"
	ReviewConfirmed ReviewStatus = "confirmed"
	ReviewRejected  ReviewStatus = "rejected"
	// ReviewAwaitingSecond: with review.require_second, a first reviewer
	// confirmed and a second, different one must agree before it is
	// confirmed.
	ReviewAwaitingSecond ReviewStatus = "awaiting_second"
	// ReviewDisputed: the second reviewer disagreed with the first; an
	// admin decides.
	ReviewDisputed ReviewStatus = "disputed"
)

// Open reports whether a violation in status s still awaits a decision
// (pending, awaiting a second reviewer or disputed).
func (s ReviewStatus) Open() bool {
	return s == ReviewPending || s == ReviewAwaitingSecond || s == ReviewDisputed
}

// ClipStatus says what video evidence a violation has.
type ClipStatus string

// Clip statuses.
const (
	// ClipRecording: the clip's window has not been fully buffered yet.
	ClipRecording ClipStatus = "recording"
	// ClipComplete: the clip covers the whole window.
	ClipComplete ClipStatus = "complete"
	// ClipPartial: the camera dropped inside the window; the clip holds
	// what there was.
	ClipPartial ClipStatus = "partial"
	// ClipNoVideo: the camera was down, or had nothing buffered.
	ClipNoVideo ClipStatus = "no_video"
	// ClipPurged: retention removed the clip file; its hash remains.
	ClipPurged ClipStatus = "purged"
)

// Violation is one traffic-violation record with its evidence.
type Violation struct {
	ID              string       `json:"id"`
	Camera          DeviceID     `json:"camera"`
	Site            string       `json:"site"`
	EventID         string       `json:"event_id"`
	Type            string       `json:"type"`
	Time            time.Time    `json:"ts"`
	Plate           string       `json:"plate"`
	PlateRaw        string       `json:"plate_raw"`
	PlateValid      bool         `json:"plate_valid"`
	PlateConfidence float64      `json:"plate_confidence"`
	Vehicle         string       `json:"vehicle,omitempty"`
	SpeedKmh        float64      `json:"speed_kmh,omitempty"`
	LimitKmh        float64      `json:"limit_kmh,omitempty"`
	Lane            int          `json:"lane,omitempty"`
	Status          ReviewStatus `json:"status"`
	ClipStatus      ClipStatus   `json:"clip_status"`
	ClipSHA256      string       `json:"clip_sha256,omitempty"`
	ClipStart       time.Time    `json:"clip_start,omitzero"`
	ClipEnd         time.Time    `json:"clip_end,omitzero"`
	SnapshotSHA256  string       `json:"snapshot_sha256,omitempty"`
	// ClipBytes is the clip file's size; ClipReason says why a clip is
	// partial or missing.
	ClipBytes  int64  `json:"clip_bytes,omitempty"`
	ClipReason string `json:"clip_reason,omitempty"`
	// PlateFlag says why a plate did not parse, e.g. "unknown_format".
	PlateFlag string `json:"plate_flag,omitempty"`
	// ClipPath and SnapshotPath are the files, relative to the data dir.
	// They are internal: the API serves the files, not their paths.
	ClipPath     string `json:"-"`
	SnapshotPath string `json:"-"`
	// ReviewedBy and ReviewedAt are the latest decision's.
	ReviewedBy string    `json:"reviewed_by,omitempty"`
	ReviewedAt time.Time `json:"reviewed_at,omitzero"`
	CreatedAt  time.Time `json:"created_at"`
	UpdatedAt  time.Time `json:"updated_at"`

	// Evidential says whether the record passed every check of the
	// evidential health gate (EvidenceChecks: the camera's frame rate,
	// keyframe interval, codec and resolution, gaps in the clip window,
	// the camera's clock offset and the host clock's synchronisation), as
	// measured when the clip was cut. A record that failed one is kept and
	// shown, marked not evidential with every failed check named.
	Evidential     bool            `json:"evidential"`
	EvidenceChecks []EvidenceCheck `json:"evidence_checks,omitempty"`
	// ClockOffsetMs is the camera's clock minus iocd's, from its RTCP
	// sender reports, when the clip was cut (0 and a failed clock_offset
	// check when the camera sent none).
	ClockOffsetMs float64 `json:"clock_offset_ms"`
	// HostClockSynced and HostClockErrorMs are iocd's own clock as the
	// kernel reported it (adjtimex) when the clip was cut: synchronised
	// to a time source or not, and its estimated error.
	HostClockSynced  bool    `json:"host_clock_synced"`
	HostClockErrorMs float64 `json:"host_clock_error_ms"`

	// The place as it was at filing time: copied from the registry when
	// the event arrived and sealed with the record, so a later edit of
	// the registry changes no past evidence.
	CameraName string  `json:"camera_name"`
	Address    string  `json:"address"`
	Lat        float64 `json:"lat"`
	Lon        float64 `json:"lon"`
	// RawEvent is the event's JSON exactly as the detector sent it, and
	// RawEventSHA256 its hash (sealed with the record). RawEvent is only
	// read with one record (Get), not in lists: it may carry a snapshot.
	RawEvent       json.RawMessage `json:"raw_event,omitempty"`
	RawEventSHA256 string          `json:"raw_event_sha256,omitempty"`

	// PlateCorrected is the plate as a reviewer corrected it (the latest
	// plate Amendment), empty when nobody did. Plate stays the plate as
	// detected, which is what the sealed record holds. Filled by the
	// violations service, never stored in the record's row.
	PlateCorrected string `json:"plate_corrected,omitempty"`
	// NotifyBy and PublishAfter are the police deadlines, derived from the
	// detection time (review.notify_days, review.publish_days): the owner
	// must be notified by NotifyBy and the case is published after
	// PublishAfter. Filled by the violations service for every violation
	// not rejected.
	NotifyBy     time.Time `json:"notify_by,omitzero"`
	PublishAfter time.Time `json:"publish_after,omitzero"`
	Held         bool      `json:"held"` // on legal hold, directly or through a held case (filled by the service on Get)
}

// Amendment is a reviewer's sealed, audited correction of one field of a
// violation as detected (today only "plate"). The detected value stays in
// the record and its seal; amendments are append-only and the latest one
// per field is the value in force.
type Amendment struct {
	ID          int64     `json:"id"`
	ViolationID string    `json:"violation_id"`
	Field       string    `json:"field"`
	From        string    `json:"from"`
	To          string    `json:"to"`
	Note        string    `json:"note"`
	Actor       string    `json:"actor"`
	Role        Role      `json:"role"`
	At          time.Time `json:"at"`
}

// ReviewClaim says that a reviewer has a case open: others see it as
// taken until Until, and cannot decide it meanwhile.
type ReviewClaim struct {
	ViolationID string    `json:"violation_id"`
	Actor       string    `json:"actor"` // the principal's unique subject
	Name        string    `json:"name"`  // its display name
	Until       time.Time `json:"until"`
}

// EvidenceCheck is one check of the evidential health gate: its name
// (EvidenceCheck* constants), whether it passed, and what was measured.
type EvidenceCheck struct {
	Name   string `json:"name"`
	OK     bool   `json:"ok"`
	Detail string `json:"detail,omitempty"`
}

// The evidential health gate's checks, as EvidenceCheck.Name carries them.
const (
	EvidenceCheckFrameRate   = "frame_rate"        // frames per second in the clip window, at least evidence.min_fps
	EvidenceCheckKeyframes   = "keyframe_interval" // longest keyframe interval, at most evidence.max_keyframe_interval
	EvidenceCheckFormat      = "codec_resolution"  // codec and resolution unchanged through the window
	EvidenceCheckGaps        = "no_gaps"           // the clip covers the whole window without gaps
	EvidenceCheckClockOffset = "clock_offset"      // camera clock within evidence.max_clock_offset of iocd's
	EvidenceCheckHostClock   = "host_clock"        // iocd's clock synchronised (adjtimex)
)

// Review is one decision on a violation. Reviews are append-only: a changed
// decision is a new Review, and the history is kept as evidence.
type Review struct {
	ID          int64        `json:"id"`
	ViolationID string       `json:"violation_id"`
	Decision    ReviewStatus `json:"decision"`
	// Previous is the status the decision replaced.
	Previous ReviewStatus `json:"previous"`
	// Reason is the reason code chosen from review.reasons ("" on
	// decisions made before reason codes).
	Reason string    `json:"reason,omitempty"`
	Note   string    `json:"note"`
	Actor  string    `json:"actor"`
	Role   Role      `json:"role"`
	At     time.Time `json:"at"`
}

// LedgerKind says what a ledger entry seals.
type LedgerKind string

// Ledger entry kinds.
const (
	// LedgerEvidence seals a violation's record and its files' hashes once
	// its evidence is final, and again when retention purges a file.
	LedgerEvidence LedgerKind = "evidence"
	// LedgerReview seals one review decision.
	LedgerReview LedgerKind = "review"
	// LedgerAudit seals one audit log entry.
	LedgerAudit LedgerKind = "audit"
	// LedgerKey introduces a signing key: the first key, or a rotation
	// endorsed by the key it replaces.
	LedgerKey LedgerKind = "key"
	// LedgerStamp seals a TSA's RFC 3161 timestamp of a head (its Ref
	// is the stamped head's hash).
	LedgerStamp LedgerKind = "timestamp"
	// LedgerAmendment seals one Amendment (its Ref is the amendment id).
	LedgerAmendment LedgerKind = "amendment"
	// LedgerCase seals one evidence case's manifest (its Ref is the case
	// id).
	LedgerCase LedgerKind = "case"
)

// LedgerEntry is one link of the violations hash chain: Hash is
// SHA-256(PrevHash, Kind, ViolationID, Ref, ContentHash[, IdentityHash]), so changing,
// removing or reordering any entry breaks every later link.
type LedgerEntry struct {
	Seq         int64      `json:"seq"`
	ViolationID string     `json:"violation_id"`
	Kind        LedgerKind `json:"kind"`
	// Ref is the review id for review entries, empty otherwise.
	Ref         string `json:"ref,omitempty"`
	ContentHash string `json:"content_hash"`
	// IdentityHash, on evidence entries, is the SHA-256 of the record's
	// fields that never change once its evidence is first sealed (ids,
	// time, plate, speed, the files' hashes). Every evidence entry of a
	// record must carry the same one: a re-seal may change only clip
	// status, reason and file paths (a retention purge).
	IdentityHash string    `json:"identity_hash,omitempty"`
	PrevHash     string    `json:"prev_hash"`
	Hash         string    `json:"hash"`
	At           time.Time `json:"at"`
	// Form is the sealing form: 1 (unsigned, before signing keys) or 2
	// (the link hash covers the entry's time, form and key, and the entry
	// is signed). KeyID is the signing key's fingerprint and Signature the
	// Ed25519 signature (base64) of the entry's hash. Payload holds what a
	// key entry introduces (public key, endorsement), hashed as its
	// content.
	Form      int    `json:"form"`
	KeyID     string `json:"key_id,omitempty"`
	Signature string `json:"signature,omitempty"`
	Payload   string `json:"payload,omitempty"`
}

// LedgerTimestamp is an RFC 3161 timestamp of a ledger head: Token is the
// TSA's TimeStampToken (DER) over the SHA-256 of the head hash (as hex
// text), At the time the TSA put in it.
type LedgerTimestamp struct {
	Hash  string    `json:"hash"`
	Token []byte    `json:"token"`
	At    time.Time `json:"at"`
}

// EvidenceKey is one public key that signs (or signed) the ledger.
type EvidenceKey struct {
	Fingerprint string    `json:"fingerprint"`
	Algorithm   string    `json:"algorithm"`
	PublicKey   string    `json:"public_key"`
	ValidFrom   time.Time `json:"valid_from"`
	ValidUntil  time.Time `json:"valid_until,omitzero"`
	// Seq is the ledger entry that introduced the key.
	Seq int64 `json:"seq"`
}

// ViolationFilter selects violations for listing, newest first.
type ViolationFilter struct {
	Status ReviewStatus
	Type   string
	Camera DeviceID
	Site   string
	Plate  string
	From   time.Time
	To     time.Time
	// Cursor continues a previous page; Limit bounds the page.
	Cursor string
	Limit  int
}

// AuditEntry records one access to or decision on evidence.
type AuditEntry struct {
	ID     int64     `json:"id"`
	At     time.Time `json:"at"`
	Actor  string    `json:"actor"`
	Role   Role      `json:"role"`
	Action string    `json:"action"`
	Target string    `json:"target"`
	Detail string    `json:"detail,omitempty"`
}
