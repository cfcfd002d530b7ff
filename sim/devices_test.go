package sim

import (
	"context"
	"io"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"

	"github.com/iocd/iocd/ingest"
	"github.com/iocd/iocd/internal/testrig"
)

func TestProvinceIDsUnique(t *testing.T) {
	devs := Province(2)
	if want := len(Sites) * len(models) * 2; len(devs) != want {
		t.Fatalf("devices: want %d, got %d", want, len(devs))
	}
	seen := map[string]bool{}
	for _, d := range devs {
		if seen[string(d.ID)] || !d.Kind.Valid() || d.HeartbeatS <= 0 {
			t.Errorf("bad device %+v (duplicate id %v)", d, seen[string(d.ID)])
		}
		seen[string(d.ID)] = true
	}
}

// TestDevicesReport runs the simulator fast against a real broker: every
// device must send telemetry that iocd's decoder accepts and an online
// status, and with certain dropouts the broker must publish last wills.
func TestDevicesReport(t *testing.T) {
	mq := testrig.Mosquitto(t)
	devs := Province(1)

	var mu sync.Mutex
	telemetry := map[string]int{}
	status := map[string][]string{}
	var bad []string
	dec := ingest.NewDecoder(1 << 16)
	sub := mqtt.NewClient(mqtt.NewClientOptions().AddBroker(mq.URL()).SetClientID("watch"))
	if tok := sub.Connect(); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		t.Fatalf("connecting: %v", tok.Error())
	}
	defer sub.Disconnect(100)
	tok := sub.Subscribe("ioc/#", 1, func(_ mqtt.Client, m mqtt.Message) {
		parts := strings.Split(m.Topic(), "/")
		mu.Lock()
		defer mu.Unlock()
		switch parts[3] {
		case "telemetry":
			if _, r := dec.Decode(m.Payload(), time.Now()); r != "" {
				bad = append(bad, string(r)+": "+string(m.Payload()))
			}
			telemetry[parts[2]]++
		case "status":
			status[parts[2]] = append(status[parts[2]], string(m.Payload()))
		}
	})
	if !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		t.Fatalf("subscribing: %v", tok.Error())
	}

	ctx, cancel := context.WithCancel(context.Background())
	sim := NewDevices(DevicesConfig{URL: mq.URL(), Speed: 50, DropoutChance: 0.3, Seed: 1}, devs,
		slog.New(slog.NewTextHandler(io.Discard, nil)))
	done := make(chan error)
	go func() { done <- sim.Run(ctx) }()
	// Run until every device has reported and one has dropped out (its
	// will published), however slowly a loaded machine runs the simulator.
	testrig.WaitFor(t, "every device to report and one to drop out", 60*time.Second, func() bool {
		mu.Lock()
		defer mu.Unlock()
		wills := 0
		for _, d := range devs {
			if telemetry[string(d.ID)] == 0 || len(status[string(d.ID)]) == 0 {
				return false
			}
			for _, s := range status[string(d.ID)] {
				if strings.Contains(s, "offline") {
					wills++
				}
			}
		}
		return wills > 0
	})
	cancel()
	<-done

	mu.Lock()
	defer mu.Unlock()
	if len(bad) > 0 {
		t.Errorf("payloads the decoder rejects: %v", bad)
	}
	wills := 0
	for _, d := range devs {
		if telemetry[string(d.ID)] == 0 {
			t.Errorf("%s sent no telemetry", d.ID)
		}
		st := status[string(d.ID)]
		if len(st) == 0 || !strings.Contains(st[0], `"online"`) {
			t.Errorf("%s: first status want online, got %v", d.ID, st)
		}
		for _, s := range st {
			if strings.Contains(s, "offline") {
				wills++
			}
		}
	}
	if wills == 0 {
		t.Errorf("no device dropped out and came back")
	}
}
