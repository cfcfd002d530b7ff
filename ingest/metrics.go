package ingest

import "github.com/prometheus/client_golang/prometheus"

type metrics struct {
	received  prometheus.Counter
	decoded   map[string]prometheus.Counter
	rejected  map[Reason]prometheus.Counter
	readings  prometheus.Counter
	connected prometheus.Gauge
	connLost  prometheus.Counter
}

// newMetrics resolves every labelled counter up front, so the hot path
// does no label lookups.
func newMetrics(reg prometheus.Registerer, depth, eventDepth, unacked func() float64) *metrics {
	decoded := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "iocd_ingest_messages_decoded_total",
		Help: "Messages accepted, by topic kind (telemetry, status, event).",
	}, []string{"topic"})
	rejected := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "iocd_ingest_messages_rejected_total",
		Help: "Messages rejected, by reason (bad_json, bad_timestamp, too_large, unknown_device, site_mismatch, no_values, ...).",
	}, []string{"reason"})
	m := &metrics{
		received: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "iocd_ingest_messages_received_total",
			Help: "MQTT messages received on device topics.",
		}),
		decoded:  map[string]prometheus.Counter{},
		rejected: map[Reason]prometheus.Counter{},
		readings: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "iocd_ingest_readings_total",
			Help: "Timestamped readings decoded from accepted telemetry (one message may carry several).",
		}),
		connected: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "iocd_mqtt_connected",
			Help: "1 while connected to the MQTT broker.",
		}),
		connLost: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "iocd_mqtt_connection_lost_total",
			Help: "Times the MQTT connection was lost.",
		}),
	}
	for _, k := range []string{topicTelemetry, topicStatus, topicEvent} {
		m.decoded[k] = decoded.WithLabelValues(k)
	}
	for _, r := range reasons {
		m.rejected[r] = rejected.WithLabelValues(string(r))
	}
	if reg != nil {
		reg.MustRegister(m.received, decoded, rejected, m.readings, m.connected, m.connLost,
			prometheus.NewGaugeFunc(prometheus.GaugeOpts{
				Name: "iocd_ingest_queue_depth",
				Help: "Telemetry and status messages waiting for a decoder; at ingest.queue_size the broker's delivery is held back.",
			}, depth),
			prometheus.NewGaugeFunc(prometheus.GaugeOpts{
				Name: "iocd_ingest_event_queue_depth",
				Help: "Event messages waiting for an event worker (ingest.event_queue_size).",
			}, eventDepth),
			prometheus.NewGaugeFunc(prometheus.GaugeOpts{
				Name: "iocd_ingest_unacked_messages",
				Help: "Messages received and not yet acknowledged to the broker (their points not yet durable); at ingest.max_unacked the broker's delivery is held back.",
			}, unacked))
	}
	return m
}
