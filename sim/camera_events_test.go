package sim_test

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"

	"github.com/iocd/iocd/config"
	"github.com/iocd/iocd/defs"
	"github.com/iocd/iocd/internal/testrig"
	"github.com/iocd/iocd/sim"
	"github.com/iocd/iocd/streams"
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

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	pubErr := make(chan error, 1)
	go func() {
		pubErr <- sim.NewEvents(sim.EventsConfig{URL: m.URL(), Every: 50 * time.Millisecond, Seed: 1}, cams, nil).Run(ctx)
	}()
	// Receive until both topics have ten events and one has been
	// re-delivered (a 1 in 10 chance per event), rather than for a fixed
	// time that a loaded machine may not publish enough in.
	testrig.WaitFor(t, "ten events on each topic and a re-delivery", 60*time.Second, func() bool {
		mu.Lock()
		defer mu.Unlock()
		dups := 0
		for _, n := range ids {
			if n > 1 {
				dups++
			}
		}
		return byTopic["ioc/hcm/cam-01/event"] >= 10 && byTopic["ioc/dn/cam-02/event"] >= 10 && dups > 0
	})
	cancel()
	if err := <-pubErr; err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(bad) > 0 {
		t.Errorf("want every event decodable, got %d bad: %s", len(bad), strings.Join(bad[:min(3, len(bad))], "; "))
	}
}

func TestDemoCamerasServeTheProvinceCameras(t *testing.T) {
	devs := sim.Province(1)
	srv, out, err := sim.DemoCameras("127.0.0.1:0", devs, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	cams := 0
	for i, d := range out {
		if d.Kind != defs.KindCamera {
			if d.RTSPURL != "" {
				t.Errorf("%s: want no rtsp_url on a %s, got %q", d.ID, d.Kind, d.RTSPURL)
			}
			continue
		}
		cams++
		if want := "/" + string(devs[i].ID); !strings.HasPrefix(d.RTSPURL, "rtsp://admin:") || !strings.HasSuffix(d.RTSPURL, want) {
			t.Errorf("%s: want an rtsp url with credentials ending %s, got %q", d.ID, want, d.RTSPURL)
		}
	}
	if cams == 0 {
		t.Fatal("want cameras in the province fleet, got none")
	}
	// And they stream: a streams manager connects to every one.
	active := make(registry, 0, len(out))
	for _, d := range out {
		d.Status = defs.StatusActive
		active = append(active, d)
	}
	cfg := config.Default()
	m := streams.New(cfg.Streams, cfg.Violations, active, nil, nil, nil, nil)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); m.Run(ctx) }()
	defer func() { cancel(); <-done }()
	testrig.WaitFor(t, fmt.Sprintf("all %d demo cameras streaming", cams), 30*time.Second, func() bool {
		up := 0
		for _, s := range m.Cameras() {
			if s.Connected && s.Frames > 0 {
				up++
			}
		}
		return up == cams
	})
}

type registry []defs.Device

func (r registry) Cameras(context.Context) ([]defs.Device, error) { return r, nil }
