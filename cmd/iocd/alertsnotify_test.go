package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/iocd/iocd/config"
)

func TestNotifyConfigReadsSecretFiles(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "hook.secret")
	if err := os.WriteFile(good, []byte("file-s3cret\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	empty := filepath.Join(dir, "empty.secret")
	if err := os.WriteFile(empty, []byte("\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name    string
		hook    config.Webhook
		secret  string
		wantErr string
	}{
		{"inline", config.Webhook{Name: "a", URL: "http://127.0.0.1/", Secret: "inline-s3cret"}, "inline-s3cret", ""},
		{"file, newline trimmed", config.Webhook{Name: "a", URL: "http://127.0.0.1/", SecretFile: good}, "file-s3cret", ""},
		{"missing file", config.Webhook{Name: "a", URL: "http://127.0.0.1/", SecretFile: filepath.Join(dir, "nope")}, "", "alerts.webhooks[0].secret_file"},
		{"empty file", config.Webhook{Name: "a", URL: "http://127.0.0.1/", SecretFile: empty}, "", "is empty"},
	} {
		t.Run(c.name, func(t *testing.T) {
			cfg := config.Default()
			cfg.MQTT.URL = "tcp://127.0.0.1:1883"
			cfg.Alerts.Webhooks = []config.Webhook{c.hook}
			got, err := notifyConfig(cfg)
			if c.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), c.wantErr) {
					t.Fatalf("err = %v, want one containing %q", err, c.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if len(got.Webhooks) != 1 || got.Webhooks[0].Secret != c.secret {
				t.Errorf("webhooks = %+v, want secret %q", got.Webhooks, c.secret)
			}
			if got.MQTT.URL != cfg.MQTT.URL || got.MQTT.ClientID != cfg.MQTT.ClientID || got.QueueSize != 1000 || got.MaxAttempts != 8 {
				t.Errorf("config = %+v", got)
			}
		})
	}
}
