package notify

import (
	"context"
	"encoding/json"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"

	"github.com/iocd/iocd/defs"
)

// Topic returns the MQTT topic of a notification of severity sev:
// <prefix>/iocd/alerts/<severity>. iocd's own subscriptions,
// <prefix>/+/+/telemetry|status|event, never match it, since no severity
// is named telemetry, status or event.
func Topic(prefix string, sev defs.Severity) string {
	if sev.Rank() == 0 {
		sev = defs.SeverityInfo
	}
	return prefix + "/iocd/alerts/" + string(sev)
}

// publishTimeout bounds the wait for the broker's PUBACK.
const publishTimeout = 10 * time.Second

// mqttSender publishes notifications at QoS 1, not retained, through its
// own client (<client id>-alerts), so that ingest's persistent session and
// its flow control are not shared with it.
type mqttSender struct {
	n      *Notifier
	cfg    MQTT
	client mqtt.Client
}

func newMQTTSender(cfg MQTT, n *Notifier) *mqttSender {
	s := &mqttSender{n: n, cfg: cfg}
	if cfg.ConnectTimeout <= 0 {
		cfg.ConnectTimeout = 10 * time.Second
	}
	o := mqtt.NewClientOptions().
		AddBroker(cfg.URL).
		SetClientID(cfg.ClientID + "-alerts").
		SetUsername(cfg.Username).
		SetPassword(cfg.Password).
		// Nothing to keep at the broker: the outbox is what survives.
		SetCleanSession(true).
		SetConnectTimeout(cfg.ConnectTimeout).
		SetKeepAlive(30 * time.Second).
		SetAutoReconnect(true).
		SetConnectRetry(true).
		SetConnectRetryInterval(2 * time.Second).
		SetMaxReconnectInterval(30 * time.Second).
		SetOnConnectHandler(func(mqtt.Client) {
			n.m.mqttConnected.Set(1)
			n.log.Info("alert notifier connected to mqtt broker", "broker", defs.RedactURL(cfg.URL))
		}).
		SetConnectionLostHandler(func(_ mqtt.Client, err error) {
			n.m.mqttConnected.Set(0)
			n.warn.Do(func() { n.log.Warn("alert notifier lost the mqtt broker", "err", err) })
		})
	s.client = mqtt.NewClient(o)
	return s
}

// connect starts connecting in the background (paho retries).
func (s *mqttSender) connect() { s.client.Connect() }

func (s *mqttSender) close() {
	s.client.Disconnect(250)
	s.n.m.mqttConnected.Set(0)
}

// deliver publishes d, waiting for the broker while it is away: the queue
// bound, not an attempt count, limits what waits.
func (s *mqttSender) deliver(ctx context.Context, d defs.AlertDelivery) (defs.DeliveryStatus, int, string) {
	var head struct {
		Transition struct {
			Severity defs.Severity `json:"severity"`
		} `json:"transition"`
	}
	_ = json.Unmarshal(d.Body, &head)
	topic := Topic(s.cfg.TopicPrefix, head.Transition.Severity)
	attempts := d.Attempts
	for {
		if s.client.IsConnectionOpen() {
			attempts++
			tok := s.client.Publish(topic, 1, false, d.Body)
			select {
			case <-ctx.Done():
				return defs.DeliveryPending, attempts, ""
			case <-tok.Done():
				if tok.Error() == nil {
					s.n.m.mqttPublished.Inc()
					return defs.DeliveryDone, attempts, ""
				}
			case <-time.After(publishTimeout):
			}
		}
		if !sleep(ctx, min(s.n.backoff(max(attempts, 1)), 5*time.Second)) {
			return defs.DeliveryPending, attempts, ""
		}
	}
}
