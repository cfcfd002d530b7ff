package main

import (
	"fmt"
	"log/slog"
	"os"
	"strings"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/iocd/iocd/alerts"
	"github.com/iocd/iocd/alerts/notify"
	"github.com/iocd/iocd/config"
	"github.com/iocd/iocd/influx"
	"github.com/iocd/iocd/store"
)

// The alerts engine's collaborators, checked here so that neither side
// imports the other's package for it.
var (
	_ alerts.Notifier = (*notify.Notifier)(nil)
	_ alerts.History  = (*influx.History)(nil)
	_ alerts.Store    = (*store.SQLite)(nil)
)

// newNotifier builds the alert notifier: MQTT on the broker iocd uses
// (cfg.MQTT.URL is already the embedded broker's address when there is
// one), the `alerts` history through the InfluxDB writer w (nil without
// InfluxDB), the webhooks with their secrets read, and the store's outbox.
// The caller starts it, and closes it after the alerts engine has stopped.
func newNotifier(cfg config.Config, st *store.SQLite, w *influx.Writer, log *slog.Logger, reg prometheus.Registerer) (*notify.Notifier, error) {
	ncfg, err := notifyConfig(cfg)
	if err != nil {
		return nil, err
	}
	deps := notify.Deps{Outbox: st, Logger: log, Registerer: reg}
	if w != nil { // a nil *Writer must not become a non-nil interface
		deps.History = w
	}
	return notify.New(ncfg, deps), nil
}

// notifyConfig derives the notifier's plain values from cfg, reading each
// webhook's secret_file. Errors name the key, never the secret.
func notifyConfig(cfg config.Config) (notify.Config, error) {
	a := cfg.Alerts
	out := notify.Config{
		MQTT: notify.MQTT{
			URL: cfg.MQTT.URL, ClientID: cfg.MQTT.ClientID, Username: cfg.MQTT.Username, Password: cfg.MQTT.Password,
			TopicPrefix: cfg.MQTT.TopicPrefix, ConnectTimeout: cfg.MQTT.ConnectTimeout.D(),
		},
		QueueSize:   a.WebhookQueue,
		MaxAttempts: a.WebhookMaxAttempts,
	}
	for i, w := range a.Webhooks {
		secret := w.Secret
		if w.SecretFile != "" {
			b, err := os.ReadFile(w.SecretFile)
			if err != nil {
				return notify.Config{}, fmt.Errorf("alerts.webhooks[%d].secret_file: %w", i, err)
			}
			secret = strings.TrimRight(string(b), " \t\r\n")
			if secret == "" {
				return notify.Config{}, fmt.Errorf("alerts.webhooks[%d].secret_file: %s is empty", i, w.SecretFile)
			}
		}
		out.Webhooks = append(out.Webhooks, notify.Webhook{
			Name: w.Name, URL: w.URL, Secret: secret, Default: w.Default, Timeout: w.Timeout,
		})
	}
	return out, nil
}
