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
	Tick Duration `yaml:"tick"`
	// ReopenWithin is the default window in which a subject that fires
	// again re-opens its resolved alert instead of making a new one.
	ReopenWithin Duration `yaml:"reopen_within"`
	// GroupThreshold is how many devices of one site going offline or
	// stale within GroupWindow make one grouped site alert.
	GroupThreshold int      `yaml:"group_threshold"`
	GroupWindow    Duration `yaml:"group_window"`
	// Webhooks are the HTTP receivers of alert notifications. YAML only.
	Webhooks []Webhook `yaml:"webhooks"`
	// WebhookQueue bounds the notifications waiting for the webhooks;
	// beyond it the oldest are dropped and counted.
	WebhookQueue int `yaml:"webhook_queue"`
	// WebhookMaxAttempts bounds the attempts of one webhook delivery
	// (exponential backoff from 1s to 1m between them); then it is given
	// up on and counted.
	WebhookMaxAttempts int `yaml:"webhook_max_attempts"`
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
		ReopenWithin:   Duration(5 * time.Minute),
		GroupThreshold: 10,
		GroupWindow:    Duration(2 * time.Minute),
		WebhookQueue:   1000,

		WebhookMaxAttempts: 8,
	}
}

func (a Alerts) validate(bad badFunc) {
	if a.Tick.D() < 100*time.Millisecond || a.Tick.D() > time.Minute {
		bad("alerts.tick", "must be between 100ms and 1m, got %s", a.Tick.D())
	}
	if a.ReopenWithin < 0 || a.ReopenWithin.D() > 24*time.Hour {
		bad("alerts.reopen_within", "must be between 0s and 24h, got %s", a.ReopenWithin.D())
	}
	if a.GroupThreshold < 2 || a.GroupThreshold > 100000 {
		bad("alerts.group_threshold", "must be between 2 and 100000, got %d", a.GroupThreshold)
	}
	if a.GroupWindow.D() < time.Second || a.GroupWindow.D() > time.Hour {
		bad("alerts.group_window", "must be between 1s and 1h, got %s", a.GroupWindow.D())
	}
	if a.WebhookQueue < 1 || a.WebhookQueue > 1000000 {
		bad("alerts.webhook_queue", "must be between 1 and 1000000, got %d", a.WebhookQueue)
	}
	if a.WebhookMaxAttempts < 1 || a.WebhookMaxAttempts > 100 {
		bad("alerts.webhook_max_attempts", "must be between 1 and 100, got %d", a.WebhookMaxAttempts)
	}
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
