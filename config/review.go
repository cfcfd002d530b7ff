package config

import (
	"strings"
	"time"
)

// Review configures the review desk (violations' police workflow): the
// reason codes a decision must give, the second pair of eyes, how long an
// opened case is held for its reviewer and the notification deadlines.
type Review struct {
	// Reasons are the reason codes a reviewer chooses from, each allowed
	// for confirmations, rejections or both (YAML only).
	Reasons []ReviewReason `yaml:"reasons"`
	// RequireSecond makes a confirmation final only once a second,
	// different reviewer agrees; a disagreement goes to an admin.
	RequireSecond bool `yaml:"require_second"`
	// ClaimTTL is how long a case a reviewer opened is shown as theirs
	// to the others, who cannot decide it meanwhile.
	ClaimTTL Duration `yaml:"claim_ttl" range:"10s,24h"`
	// NotifyDays and PublishDays are the police deadlines counted from
	// the detection: the owner is notified within NotifyDays, the case
	// published after PublishDays.
	NotifyDays  int `yaml:"notify_days" range:"1,365"`
	PublishDays int `yaml:"publish_days" range:"1,365"`
}

// ReviewReason is one reason code of review.reasons.
type ReviewReason struct {
	Code  string `yaml:"code"`
	Label string `yaml:"label"`
	// Decisions lists the decisions the code may justify: confirmed,
	// rejected or both.
	Decisions []string `yaml:"decisions"`
}

// DefaultReviewReasons is the reason list iocd ships with.
func DefaultReviewReasons() []ReviewReason {
	reject := []string{"rejected"}
	return []ReviewReason{
		{Code: "violation_clear", Label: "Vi phạm rõ ràng", Decisions: []string{"confirmed"}},
		{Code: "plate_unreadable", Label: "Biển số không rõ", Decisions: reject},
		{Code: "priority_vehicle", Label: "Xe ưu tiên", Decisions: reject},
		{Code: "device_fault", Label: "Lỗi thiết bị", Decisions: reject},
		{Code: "no_violation", Label: "Không có vi phạm", Decisions: reject},
		{Code: "duplicate", Label: "Trùng lặp", Decisions: reject},
	}
}

func defaultReview() Review {
	return Review{Reasons: DefaultReviewReasons(), ClaimTTL: Duration(5 * time.Minute), NotifyDays: 10, PublishDays: 20}
}

func (r Review) validate(bad badFunc) {
	if len(r.Reasons) == 0 {
		bad("review.reasons", "must list at least one reason code")
	}
	if len(r.Reasons) > 200 {
		bad("review.reasons", "%d reason codes; at most 200", len(r.Reasons))
	}
	seen := map[string]bool{}
	can := map[string]bool{}
	for i, c := range r.Reasons {
		switch {
		case strings.TrimSpace(c.Code) == "" || strings.TrimSpace(c.Code) != c.Code || len(c.Code) > 64:
			bad("review.reasons", "reason %d: code %q must be non-empty, at most 64 bytes, without surrounding spaces", i+1, c.Code)
		case seen[c.Code]:
			bad("review.reasons", "reason code %q is listed twice", c.Code)
		}
		seen[c.Code] = true
		if strings.TrimSpace(c.Label) == "" {
			bad("review.reasons", "reason %q needs a label", c.Code)
		}
		if len(c.Decisions) == 0 {
			bad("review.reasons", "reason %q lists no decisions (confirmed, rejected)", c.Code)
		}
		for _, d := range c.Decisions {
			if d != "confirmed" && d != "rejected" {
				bad("review.reasons", "reason %q: decision %q is not confirmed or rejected", c.Code, d)
			}
			can[d] = true
		}
	}
	if len(r.Reasons) > 0 && (!can["confirmed"] || !can["rejected"]) {
		bad("review.reasons", "must have at least one reason for confirmed and one for rejected, or that decision cannot be made")
	}
}
