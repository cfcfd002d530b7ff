package defs

import "time"

// Case is an evidence case: violations put together by a reviewer to be
// handed over (to the owner's local police, a court) as one signed
// package. Its definition (title, members and the seal of each member's
// record when the case was made) is sealed in the ledger by a LedgerCase
// entry whose content hash is ManifestSHA256.
type Case struct {
	ID         string    `json:"id"`
	Title      string    `json:"title"`
	CreatedBy  string    `json:"created_by"`
	CreatedAt  time.Time `json:"created_at"`
	Violations []string  `json:"violations"`
	// ManifestSHA256 is the SHA-256 of the case's sealed definition
	// (case.json in its package).
	ManifestSHA256 string `json:"manifest_sha256"`
	// Held is whether the case is on legal hold now.
	Held bool `json:"held"`
}

// HoldTarget is what a legal hold is placed on.
type HoldTarget string

// Legal hold targets.
const (
	HoldViolation HoldTarget = "violation"
	HoldCase      HoldTarget = "case"
)

// LegalHold keeps a violation's (or every violation of a case's) evidence
// from retention and disk pressure until it is released.
type LegalHold struct {
	ID         int64      `json:"id"`
	Target     HoldTarget `json:"target"`
	TargetID   string     `json:"target_id"`
	Reason     string     `json:"reason"`
	PlacedBy   string     `json:"placed_by"`
	PlacedAt   time.Time  `json:"placed_at"`
	ReleasedBy string     `json:"released_by,omitempty"`
	ReleasedAt time.Time  `json:"released_at,omitzero"`
	// ReleaseReason says why the hold was lifted.
	ReleaseReason string `json:"release_reason,omitempty"`
}
