package violations_test

import (
	"testing"
	"time"

	"github.com/iocd/iocd/defs"
	"github.com/iocd/iocd/violations"
)

// TestSealedReviewBeforeReasonCodes: a review sealed before reason codes
// hashes the very bytes it was sealed with (the form below is what
// SealedReview wrote then), so its ledger entry still verifies; a review
// with a reason seals the reason too.
func TestSealedReviewBeforeReasonCodes(t *testing.T) {
	r := defs.Review{ID: 7, ViolationID: "v0001", Decision: defs.ReviewConfirmed, Previous: defs.ReviewPending, Note: "clear",
		Actor: "user:thanh", Role: defs.RoleReviewer, At: time.Date(2025, 3, 4, 5, 6, 7, 8, time.UTC)}
	old := `{"id":7,"violation_id":"v0001","decision":"confirmed","previous":"pending","note":"clear","actor":"user:thanh","role":"reviewer","at":"2025-03-04T05:06:07.000000008Z"}`
	if got := string(violations.SealedReview(r)); got != old {
		t.Errorf("a review without a reason must seal as before:\n got %s\nwant %s", got, old)
	}
	r.Reason = "violation_clear"
	withReason := `{"id":7,"violation_id":"v0001","decision":"confirmed","previous":"pending","reason":"violation_clear","note":"clear","actor":"user:thanh","role":"reviewer","at":"2025-03-04T05:06:07.000000008Z"}`
	if got := string(violations.SealedReview(r)); got != withReason {
		t.Errorf("a review with a reason seals it:\n got %s\nwant %s", got, withReason)
	}
}
