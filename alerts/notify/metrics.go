package notify

import (
	"strings"

	"github.com/prometheus/client_golang/prometheus"
)

type metrics struct {
	reg            prometheus.Registerer
	dropped        *prometheus.CounterVec // by destination label
	delivered      *prometheus.CounterVec
	failed         *prometheus.CounterVec
	retries        *prometheus.CounterVec
	queue          *prometheus.GaugeVec
	held           prometheus.Counter
	resent         prometheus.Counter
	outboxErrors   prometheus.Counter
	unknownWebhook prometheus.Counter
	historyWritten prometheus.Counter
	mqttPublished  prometheus.Counter
	mqttConnected  prometheus.Gauge
	depths         []func() float64
	depthLabels    []string
}

func newMetrics(reg prometheus.Registerer) *metrics {
	m := &metrics{
		reg: reg,
		dropped: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "iocd_alert_webhook_dropped_total",
			Help: "Alert notifications dropped from a full queue, by webhook (mqtt and influx for those destinations).",
		}, []string{"webhook"}),
		delivered: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "iocd_alert_webhook_delivered_total",
			Help: "Alert notifications a webhook accepted (2xx), by webhook.",
		}, []string{"webhook"}),
		failed: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "iocd_alert_webhook_failed_total",
			Help: "Alert notifications given up on (attempts exhausted, or refused with a 4xx), by webhook.",
		}, []string{"webhook"}),
		retries: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "iocd_alert_webhook_retries_total",
			Help: "Failed webhook attempts that were retried, by webhook.",
		}, []string{"webhook"}),
		queue: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "iocd_alert_notify_queue",
			Help: "Alert notifications waiting, by destination.",
		}, []string{"destination"}),
		held: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "iocd_alert_notifications_held_total",
			Help: "Transitions of silenced or suppressed alerts, written to the history only.",
		}),
		resent: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "iocd_alert_notifications_resent_total",
			Help: "Deliveries left pending by an earlier run and queued again at start.",
		}),
		outboxErrors: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "iocd_alert_outbox_errors_total",
			Help: "Failed reads and writes of the alert outbox in the store.",
		}),
		unknownWebhook: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "iocd_alert_webhook_unknown_total",
			Help: "Deliveries to a webhook that is not configured (named by a rule, or removed since).",
		}),
		historyWritten: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "iocd_alert_history_points_total",
			Help: "Points of the alerts measurement handed to the InfluxDB writer.",
		}),
		mqttPublished: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "iocd_alert_mqtt_published_total",
			Help: "Alert notifications the MQTT broker acknowledged (QoS 1).",
		}),
		mqttConnected: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "iocd_alert_mqtt_connected",
			Help: "1 while the alert notifier is connected to the MQTT broker.",
		}),
	}
	if reg != nil {
		reg.MustRegister(m.dropped, m.delivered, m.failed, m.retries, m.held, m.resent, m.outboxErrors,
			m.unknownWebhook, m.historyWritten, m.mqttPublished, m.mqttConnected, m)
	}
	return m
}

// label is a destination's metric label: the webhook's name, or mqtt,
// influx.
func (m *metrics) label(dest string) string {
	return strings.TrimPrefix(dest, destWebhook)
}

// depth registers a queue's length for iocd_alert_notify_queue.
func (m *metrics) depth(label string, f func() float64) {
	m.depths = append(m.depths, f)
	m.depthLabels = append(m.depthLabels, label)
}

// Describe and Collect make the queue depths one gauge vector read at
// scrape time.
func (m *metrics) Describe(ch chan<- *prometheus.Desc) { m.queue.Describe(ch) }

func (m *metrics) Collect(ch chan<- prometheus.Metric) {
	for i, f := range m.depths {
		m.queue.WithLabelValues(m.depthLabels[i]).Set(f())
	}
	m.queue.Collect(ch)
}
