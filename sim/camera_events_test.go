package sim_test

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"

	"github.com/iocd/iocd/defs"
	"github.com/iocd/iocd/internal/testrig"
	"github.com/iocd/iocd/sim"
	"github.com/iocd/iocd/violations"
)

// TestEventsPublishDecodableViolations runs the publisher against a real
// Mosquitto and checks that what it sends is what the violations decoder
// accepts, on the right topics, with re-deliveries of the same event_id.
func TestEventsPublishDecodableViolations(t *testing.T) {
	m := testrig.Mosquitto(t)
	cams := []defs.Device{{ID: "cam-01", Site: "hcm"}, {ID: "cam-02", Site: "dn"}}

	var mu sync.Mutex
	byTopic := map[string]int{}
	ids := map[string]int{}
	var bad []string
	c := mqtt.NewClient(mqtt.NewClientOptions().AddBroker(m.URL()).SetClientID("events-test"))
	if tok := c.Connect(); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		t.Fatalf("connecting: %v", tok.Error())
	}
	defer c.Disconnect(100)
	tok := c.Subscribe("ioc/+/+/event", 1, func(_ mqtt.Client, msg mqtt.Message) {
		mu.Lock()
		defer mu.Unlock()
		byTopic[msg.Topic()]++
		ev, err := violations.DecodeEvent(msg.Payload(), time.Now())
		if err != nil {
			bad = append(bad, err.Error())
			return
		}
		ids[ev.EventID]++
	})
	if !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		t.Fatalf("subscribing: %v", tok.Error())
	}

	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Second)
	defer cancel()
	if err := sim.NewEvents(sim.EventsConfig{URL: m.URL(), Every: 50 * time.Millisecond, Seed: 1}, cams, nil).Run(ctx); err != nil {
		t.Fatal(err)
	}
	time.Sleep(300 * time.Millisecond)
	mu.Lock()
	defer mu.Unlock()
	if len(bad) > 0 {
		t.Errorf("want every event decodable, got %d bad: %s", len(bad), strings.Join(bad[:min(3, len(bad))], "; "))
	}
	for _, topic := range []string{"ioc/hcm/cam-01/event", "ioc/dn/cam-02/event"} {
		if byTopic[topic] < 10 {
			t.Errorf("%s: want at least 10 events in 4 s at 50 ms, got %d", topic, byTopic[topic])
		}
	}
	dups := 0
	for _, n := range ids {
		if n > 1 {
			dups++
		}
	}
	if dups == 0 {
		t.Errorf("want some events re-delivered with the same event_id, got none of %d", len(ids))
	}
}
