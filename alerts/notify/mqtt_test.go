package notify

import (
	"context"
	"encoding/json"
	"log/slog"
	"reflect"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/iocd/iocd/bus"
	"github.com/iocd/iocd/config"
	"github.com/iocd/iocd/defs"
	"github.com/iocd/iocd/ingest"
	"github.com/iocd/iocd/internal/testrig"
)

// subscriber collects what a real MQTT client receives on filter.
type subscriber struct {
	mu   sync.Mutex
	msgs []mqtt.Message
}

func subscribe(t *testing.T, url, filter string) *subscriber {
	t.Helper()
	s := &subscriber{}
	c := mqtt.NewClient(mqtt.NewClientOptions().AddBroker(url).SetClientID("watcher").SetAutoReconnect(false))
	if tok := c.Connect(); !tok.WaitTimeout(wait) || tok.Error() != nil {
		t.Fatalf("connecting subscriber: %v", tok.Error())
	}
	t.Cleanup(func() { c.Disconnect(100) })
	tok := c.Subscribe(filter, 1, func(_ mqtt.Client, m mqtt.Message) {
		s.mu.Lock()
		s.msgs = append(s.msgs, m)
		s.mu.Unlock()
	})
	if !tok.WaitTimeout(wait) || tok.Error() != nil {
		t.Fatalf("subscribing: %v", tok.Error())
	}
	return s
}

func (s *subscriber) all() []mqtt.Message {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]mqtt.Message(nil), s.msgs...)
}

// registry accepts every device id starting with "dev-".
type registry struct{}

func (registry) Lookup(id defs.DeviceID) (defs.Device, bool) {
	if !strings.HasPrefix(string(id), "dev-") {
		return defs.Device{}, false
	}
	return defs.Device{ID: id, Site: "tan-an", Kind: defs.KindSensor, Status: defs.StatusActive}, true
}

func (registry) Unknown(context.Context, string, defs.DeviceID) (defs.Device, bool, error) {
	return defs.Device{}, false, nil
}

// observer counts what ingest accepted and refused.
type observer struct{ readings, rejected atomic.Int32 }

func (o *observer) ObserveReading(defs.Device, time.Time, []defs.Field) { o.readings.Add(1) }
func (o *observer) ObserveRejected(defs.DeviceID, string, time.Time)    { o.rejected.Add(1) }

// TestMQTTNotificationsNotIngested: every notification reaches a subscriber
// on real Mosquitto at <prefix>/iocd/alerts/<severity>, QoS 1, not
// retained, with the JSON notification as payload; iocd's own ingest,
// subscribed to the same broker under the same prefix, receives none of
// them: it counts no message received and none rejected, while a device
// reading published after them does arrive.
func TestMQTTNotificationsNotIngested(t *testing.T) {
	mq := testrig.Mosquitto(t)
	const prefix = "ioc"

	// iocd's ingest, as cmd/iocd runs it.
	prom := prometheus.NewRegistry()
	obs := &observer{}
	mcfg := config.Default().MQTT
	mcfg.URL, mcfg.ClientID, mcfg.TopicPrefix = mq.URL(), "iocd-test", prefix
	in, err := ingest.New(mcfg, config.Default().Ingest, ingest.Deps{
		Registry: registry{}, Bus: bus.New(nil), Observer: obs, Logger: slog.New(slog.DiscardHandler), Metrics: prom,
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	ran := make(chan struct{})
	go func() { defer close(ran); _ = in.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-ran })
	testrig.WaitFor(t, "ingest subscribed", wait, func() bool { return in.Ready(ctx) == nil })

	watch := subscribe(t, mq.URL(), prefix+"/iocd/alerts/#")
	n := New(Config{MQTT: MQTT{URL: mq.URL(), ClientID: mcfg.ClientID, TopicPrefix: prefix}}, Deps{Outbox: openStore(t, t.TempDir())})
	n.Start()
	t.Cleanup(func() { n.Close() })

	now := time.Now().UTC().Truncate(time.Millisecond)
	sevs := []defs.Severity{defs.SeverityCritical, defs.SeverityMajor, defs.SeverityMinor, defs.SeverityWarning, defs.SeverityInfo}
	var want []defs.AlertNotification
	for i, sev := range sevs {
		note := transition("mq-"+string(sev), 1, defs.ChangeFired, sev, now.Add(time.Duration(i)*time.Millisecond))
		want = append(want, note)
		n.Notify(note, defs.AlertRule{})
	}
	held := transition("mq-silenced", 1, defs.ChangeFired, defs.SeverityCritical, now)
	held.Alert.Silenced = "sil-1"
	n.Notify(held, defs.AlertRule{})
	testrig.WaitFor(t, "every notification at the subscriber", wait, func() bool { return len(watch.all()) >= len(sevs) })
	testrig.WaitFor(t, "the broker's acks", wait, func() bool {
		p, _ := n.out.PendingAlertDeliveries(context.Background(), 10)
		return len(p) == 0
	})

	got := map[string]defs.AlertNotification{}
	for _, m := range watch.all() {
		var note defs.AlertNotification
		if err := json.Unmarshal(m.Payload(), &note); err != nil {
			t.Fatalf("payload on %s does not decode: %v", m.Topic(), err)
		}
		if m.Retained() || m.Qos() != 1 {
			t.Errorf("%s: retained %v qos %d, want not retained, qos 1", m.Topic(), m.Retained(), m.Qos())
		}
		got[m.Topic()] = note
	}
	for _, w := range want {
		topic := prefix + "/iocd/alerts/" + string(w.Transition.Severity)
		if !reflect.DeepEqual(got[topic], w) {
			t.Errorf("on %s got\n%+v\nwant\n%+v", topic, got[topic], w)
		}
	}
	if len(got) != len(sevs) {
		t.Errorf("got %d topics, want %d (the silenced alert must not be published)", len(got), len(sevs))
	}

	// A reading published after the notifications reaches ingest; had any
	// notification matched ingest's subscriptions, the broker would have
	// delivered it before this one.
	dev := mqtt.NewClient(mqtt.NewClientOptions().AddBroker(mq.URL()).SetClientID("dev-1").SetAutoReconnect(false))
	if tok := dev.Connect(); !tok.WaitTimeout(wait) || tok.Error() != nil {
		t.Fatalf("connecting device: %v", tok.Error())
	}
	defer dev.Disconnect(100)
	if tok := dev.Publish(prefix+"/tan-an/dev-1/telemetry", 1, false, `{"water_cm": 12}`); !tok.WaitTimeout(wait) || tok.Error() != nil {
		t.Fatalf("publishing a reading: %v", tok.Error())
	}
	testrig.WaitFor(t, "the device reading ingested", wait, func() bool { return obs.readings.Load() == 1 })
	if got := counterSum(t, prom, "iocd_ingest_messages_received_total"); got != 1 {
		t.Errorf("ingest received %v messages, want 1 (the reading only)", got)
	}
	if got := counterSum(t, prom, "iocd_ingest_messages_rejected_total"); got != 0 || obs.rejected.Load() != 0 {
		t.Errorf("ingest rejected %v messages (observer %d), want 0", got, obs.rejected.Load())
	}
}

// counterSum adds every series of a counter.
func counterSum(t *testing.T, g prometheus.Gatherer, name string) float64 {
	t.Helper()
	mfs, err := g.Gather()
	if err != nil {
		t.Fatal(err)
	}
	var sum float64
	for _, mf := range mfs {
		if mf.GetName() == name {
			for _, m := range mf.GetMetric() {
				sum += m.GetCounter().GetValue()
			}
		}
	}
	return sum
}
