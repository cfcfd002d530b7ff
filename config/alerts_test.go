package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestAlertsDefaults(t *testing.T) {
	a := Default().Alerts
	if a.Tick.D() != time.Second || a.GroupThreshold != 10 ||
		a.GroupWindow.D() != 2*time.Minute || a.WebhookQueue != 1000 || a.RulesFile != "" {
		t.Errorf("alerts defaults = %+v", a)
	}
}

func TestAlertsWebhooksFromYAML(t *testing.T) {
	path := filepath.Join(t.TempDir(), "c.yaml")
	body := `alerts:
  rules_file: /etc/iocd/rules.yaml
  webhooks:
    - name: oncall
      url: https://hooks.example.org/iocd
      secret_file: /etc/iocd/hook.secret
      default: true
      timeout: 3s
    - name: chat
      url: http://127.0.0.1:9000/hook
      secret: s3cret-hmac-key
`
	if err := os.WriteFile(path, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	c, err := load(t, []string{"-config", path}, map[string]string{"IOCD_ALERTS_TICK": "2s"})
	if err != nil {
		t.Fatal(err)
	}
	want := []Webhook{
		{Name: "oncall", URL: "https://hooks.example.org/iocd", SecretFile: "/etc/iocd/hook.secret", Default: true, Timeout: 3 * time.Second},
		{Name: "chat", URL: "http://127.0.0.1:9000/hook", Secret: "s3cret-hmac-key"},
	}
	if len(c.Alerts.Webhooks) != len(want) {
		t.Fatalf("webhooks = %+v, want %+v", c.Alerts.Webhooks, want)
	}
	for i := range want {
		if c.Alerts.Webhooks[i] != want[i] {
			t.Errorf("webhook %d = %+v, want %+v", i, c.Alerts.Webhooks[i], want[i])
		}
	}
	if c.Alerts.Tick.D() != 2*time.Second || c.Alerts.RulesFile != "/etc/iocd/rules.yaml" {
		t.Errorf("tick = %s rules_file = %q", c.Alerts.Tick, c.Alerts.RulesFile)
	}
	if s := fmtAll(c.Describe()); strings.Contains(s, "s3cret") || strings.Contains(s, "webhooks") {
		t.Errorf("Describe shows webhooks or their secret: %s", s)
	}
}

func TestAlertsValidate(t *testing.T) {
	cases := []struct {
		name string
		vars map[string]string
		hook *Webhook
		want string
	}{
		{"tick too short", map[string]string{"IOCD_ALERTS_TICK": "10ms"}, nil, "alerts.tick (IOCD_ALERTS_TICK)"},
		{"tick too long", map[string]string{"IOCD_ALERTS_TICK": "2m"}, nil, "alerts.tick"},
		{"group threshold 1", map[string]string{"IOCD_ALERTS_GROUP_THRESHOLD": "1"}, nil, "alerts.group_threshold"},
		{"group window 0", map[string]string{"IOCD_ALERTS_GROUP_WINDOW": "0s"}, nil, "alerts.group_window"},
		{"queue 0", map[string]string{"IOCD_ALERTS_WEBHOOK_QUEUE": "0"}, nil, "alerts.webhook_queue"},
		{"hook no name", nil, &Webhook{URL: "http://127.0.0.1:1/h"}, "alerts.webhooks[0].name"},
		{"hook bad scheme", nil, &Webhook{Name: "a", URL: "ftp://h/x"}, "alerts.webhooks[0].url"},
		{"hook creds in url", nil, &Webhook{Name: "a", URL: "https://u:p@h/x"}, "alerts.webhooks[0].url"},
		{"hook two secrets", nil, &Webhook{Name: "a", URL: "https://h/x", Secret: "x", SecretFile: "/f"}, "alerts.webhooks[0].secret"},
		{"hook timeout", nil, &Webhook{Name: "a", URL: "https://h/x", Timeout: time.Hour}, "alerts.webhooks[0].timeout"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := Default()
			if err := c.ApplyEnv(env(tc.vars)); err != nil {
				t.Fatal(err)
			}
			if tc.hook != nil {
				c.Alerts.Webhooks = []Webhook{*tc.hook}
			}
			err := c.Validate()
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error = %v, want one naming %q", err, tc.want)
			}
			if tc.hook != nil && tc.hook.Secret != "" && strings.Contains(err.Error(), tc.hook.Secret+"\"") {
				t.Errorf("error shows the secret: %v", err)
			}
		})
	}
	c := Default()
	c.Alerts.Webhooks = []Webhook{{Name: "a", URL: "https://h/x"}, {Name: "a", URL: "https://h/y"}}
	if err := c.Validate(); err == nil || !strings.Contains(err.Error(), "alerts.webhooks[1].name") {
		t.Errorf("duplicate webhook name: error = %v", err)
	}
}
