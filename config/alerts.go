package config

import (
	"fmt"
	"net/url"
	"strings"
	"time"
)

// Alerts configures the alert rules engine and its notifications.
type Alerts struct {
	// RulesFile, if set, is a YAML list of alert rules loaded at start
	// (upserted by id over the stored rules).
	RulesFile string `yaml:"rules_file"`
	// Tick is how often state rules (absence, offline, camera_down,
	// system) are re-evaluated against the authoritative state.
	Tick Duration `yaml:"tick" range:"100ms,1m"`
	// GroupThreshold is how many devices of one site going offline or
	// stale within GroupWindow make one grouped site alert.
	GroupThreshold int      `yaml:"group_threshold" range:"2,100_000"`
	GroupWindow    Duration `yaml:"group_window" range:"1s,1h"`
	// Webhooks are the HTTP receivers of alert notifications. YAML only.
	Webhooks []Webhook `yaml:"webhooks"`
	// WebhookQueue bounds the notifications waiting for the webhooks;
	// beyond it the oldest are dropped and counted.
	WebhookQueue int `yaml:"webhook_queue" range:"1,1_000_000"`
	// WebhookMaxAttempts bounds the attempts of one webhook delivery
	// (exponential backoff from 1s to 1m between them); then it is given
	// up on and counted.
	WebhookMaxAttempts int `yaml:"webhook_max_attempts" range:"1,100"`
}

// Webhook is one HTTP receiver of alert notifications, signed with an
// HMAC-SHA256 header over the body when a secret is set.
type Webhook struct {
	Name string `yaml:"name"`
	URL  string `yaml:"url" secret:"url"`
	// Secret is the HMAC key; SecretFile names a file holding it instead
	// (trailing whitespace trimmed). At most one of the two.
	Secret     string `yaml:"secret" secret:"true"`
	SecretFile string `yaml:"secret_file"`
	// Default webhooks receive every rule's notifications; the others only
	// those of the rules that name them.
	Default bool `yaml:"default"`
	// Timeout bounds one delivery attempt; 0 means 10s.
	Timeout time.Duration `yaml:"timeout"`
}

func defaultAlerts() Alerts {
	return Alerts{
		Tick:           Duration(time.Second),
		GroupThreshold: 10,
		GroupWindow:    Duration(2 * time.Minute),
		WebhookQueue:   1000,

		WebhookMaxAttempts: 8,
	}
}

func (a Alerts) validate(bad badFunc) {
	// The numeric keys are checked by their range tags.
	names := map[string]bool{}
	for i, w := range a.Webhooks {
		key := fmt.Sprintf("alerts.webhooks[%d]", i)
		switch {
		case strings.TrimSpace(w.Name) == "":
			bad(key+".name", "must not be empty")
		case names[w.Name]:
			bad(key+".name", "%q is used by another webhook", w.Name)
		}
		names[w.Name] = true
		if err := checkURL(w.URL, "http", "https"); err != nil {
			bad(key+".url", "%v", err)
		} else if u, _ := url.Parse(w.URL); u.User != nil {
			bad(key+".url", "must not hold credentials; use secret or secret_file")
		}
		if w.Secret != "" && w.SecretFile != "" {
			bad(key+".secret", "set secret or secret_file, not both")
		}
		if w.Timeout < 0 || w.Timeout > 5*time.Minute {
			bad(key+".timeout", "must be between 0s and 5m, got %s", w.Timeout)
		}
	}
}
