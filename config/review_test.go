package config

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

func TestReviewDefaultsAndExample(t *testing.T) {
	c, err := load(t, []string{"-config", "../deploy/iocd.example.yaml"}, nil)
	if err != nil {
		t.Fatalf("example config: %v", err)
	}
	if !reflect.DeepEqual(c.Review, defaultReview()) {
		t.Errorf("example review section differs from the defaults:\n got %+v\nwant %+v", c.Review, defaultReview())
	}
	d := Default().Review
	if d.ClaimTTL.D() != 5*time.Minute || d.NotifyDays != 10 || d.PublishDays != 20 || d.RequireSecond || len(d.Reasons) != 6 {
		t.Errorf("defaults: %+v", d)
	}
}

func TestReviewFromEnv(t *testing.T) {
	c, err := load(t, nil, map[string]string{"IOCD_REVIEW_REQUIRE_SECOND": "true", "IOCD_REVIEW_CLAIM_TTL": "2m", "IOCD_REVIEW_NOTIFY_DAYS": "5"})
	if err != nil {
		t.Fatal(err)
	}
	if !c.Review.RequireSecond || c.Review.ClaimTTL.D() != 2*time.Minute || c.Review.NotifyDays != 5 {
		t.Errorf("env not applied: %+v", c.Review)
	}
}

func TestReviewValidate(t *testing.T) {
	cases := []struct {
		name, yaml, want string
	}{
		{"duplicate code", "review:\n  reasons:\n    - {code: a, label: A, decisions: [confirmed]}\n    - {code: a, label: B, decisions: [rejected]}\n", `"a" is listed twice`},
		{"empty label", "review:\n  reasons:\n    - {code: a, label: '', decisions: [confirmed]}\n    - {code: b, label: B, decisions: [rejected]}\n", `"a" needs a label`},
		{"bad decision", "review:\n  reasons:\n    - {code: a, label: A, decisions: [confirmed, maybe]}\n    - {code: b, label: B, decisions: [rejected]}\n", `decision "maybe"`},
		{"no decisions", "review:\n  reasons:\n    - {code: a, label: A, decisions: [confirmed]}\n    - {code: b, label: B}\n", `"b" lists no decisions`},
		{"empty code", "review:\n  reasons:\n    - {code: '', label: A, decisions: [confirmed, rejected]}\n", "must be non-empty"},
		{"no reject reason", "review:\n  reasons:\n    - {code: a, label: A, decisions: [confirmed]}\n", "one for rejected"},
		{"empty list", "review:\n  reasons: []\n", "at least one reason"},
		{"ttl out of range", "review:\n  claim_ttl: 1s\n", "review.claim_ttl"},
		{"notify out of range", "review:\n  notify_days: 0\n", "review.notify_days"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "c.yaml")
			if err := os.WriteFile(path, []byte(c.yaml), 0o600); err != nil {
				t.Fatal(err)
			}
			_, err := load(t, []string{"-config", path}, nil)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("want an error containing %q, got %v", c.want, err)
			}
		})
	}
}
