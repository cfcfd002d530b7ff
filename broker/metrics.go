package broker

import (
	"sync/atomic"

	"github.com/prometheus/client_golang/prometheus"
)

// Collector exports the embedded broker's own counters, so that a message
// mochi drops (a subscriber's outbound queue full, or its store of
// unacknowledged messages at its quota) is counted where operators look,
// not only inside the broker.
func (b *Broker) Collector() prometheus.Collector { return brokerCollector{b} }

type brokerCollector struct{ b *Broker }

var (
	descDropped = prometheus.NewDesc("iocd_broker_messages_dropped_total",
		"Messages the embedded broker dropped because a subscriber's outbound queue was full.", nil, nil)
	descInflightDropped = prometheus.NewDesc("iocd_broker_inflight_dropped_total",
		"QoS 1/2 messages the embedded broker dropped because a session's store of unacknowledged messages was full.", nil, nil)
	descInflight = prometheus.NewDesc("iocd_broker_inflight_messages",
		"QoS 1/2 messages the embedded broker holds unacknowledged.", nil, nil)
	descClients = prometheus.NewDesc("iocd_broker_clients_connected",
		"Clients connected to the embedded broker.", nil, nil)
)

func (c brokerCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- descDropped
	ch <- descInflightDropped
	ch <- descInflight
	ch <- descClients
}

func (c brokerCollector) Collect(ch chan<- prometheus.Metric) {
	st, ok := c.b.Stats()
	if !ok {
		return
	}
	ch <- prometheus.MustNewConstMetric(descDropped, prometheus.CounterValue, float64(st.MessagesDropped))
	ch <- prometheus.MustNewConstMetric(descInflightDropped, prometheus.CounterValue, float64(st.InflightDropped))
	ch <- prometheus.MustNewConstMetric(descInflight, prometheus.GaugeValue, float64(st.Inflight))
	ch <- prometheus.MustNewConstMetric(descClients, prometheus.GaugeValue, float64(st.ClientsConnected))
}

// Stats are the embedded broker's counters.
type Stats struct {
	MessagesDropped  int64
	InflightDropped  int64
	Inflight         int64
	ClientsConnected int64
}

// Stats returns the broker's counters; false before Start.
func (b *Broker) Stats() (Stats, bool) {
	b.mu.Lock()
	srv := b.server
	b.mu.Unlock()
	if srv == nil {
		return Stats{}, false
	}
	info := srv.Info
	return Stats{
		MessagesDropped:  atomic.LoadInt64(&info.MessagesDropped),
		InflightDropped:  atomic.LoadInt64(&info.InflightDropped),
		Inflight:         atomic.LoadInt64(&info.Inflight),
		ClientsConnected: atomic.LoadInt64(&info.ClientsConnected),
	}, true
}
