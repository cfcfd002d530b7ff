package main

import (
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"

	"github.com/iocd/iocd/defs"
	"github.com/iocd/iocd/internal/testrig"
	"github.com/iocd/iocd/sim"
)

// TestCameraWithRefusedStreamIsNotOnline is issue #8's fleet bug through a
// whole iocd: two cameras report "online" on MQTT and send telemetry; one
// streams, the other's stream refuses its credentials. The device list,
// its health filter, the overview and "what changed" count the refused
// one as offline because of its stream, and the streaming one online.
func TestCameraWithRefusedStreamIsNotOnline(t *testing.T) {
	mosq := testrig.Mosquitto(t)
	cams, err := sim.NewCameraServer("127.0.0.1:0", testLogger())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cams.Close)
	rec, err := sim.LoadRecording(sim.H264)
	if err != nil {
		t.Fatal(err)
	}
	good, err := cams.AddCamera(sim.CameraSpec{Path: "cam-ok", Recording: rec, User: "admin", Pass: "right-one"})
	if err != nil {
		t.Fatal(err)
	}
	bad, err := cams.AddCamera(sim.CameraSpec{Path: "cam-pw", Recording: rec, User: "admin", Pass: "right-one"})
	if err != nil {
		t.Fatal(err)
	}
	seed := filepath.Join(t.TempDir(), "devices.json")
	if err := writeJSONFile(seed, []defs.Device{
		{ID: "cam-ok", Site: "tanan", Kind: defs.KindCamera, Name: "Cổng B", RTSPURL: good.URL(), Status: defs.StatusActive, HeartbeatS: 30},
		{ID: "cam-pw", Site: "tanan", Kind: defs.KindCamera, Name: "Cổng A", Status: defs.StatusActive, HeartbeatS: 30,
			RTSPURL: strings.Replace(bad.URL(), "right-one", "wrong-one", 1)},
	}); err != nil {
		t.Fatal(err)
	}
	x := startE2E(t, t.TempDir(), mosq.URL(), "-devices.seed_file", seed)

	pub := mqtt.NewClient(mqtt.NewClientOptions().AddBroker(mosq.URL()).SetClientID("e2e-fleetapi-pub"))
	if tok := pub.Connect(); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		t.Fatalf("publisher connect: %v", tok.Error())
	}
	t.Cleanup(func() { pub.Disconnect(100) })
	// Both cameras say they are up, again on every poll, as devices
	// repeat their reports (a first message can beat iocd's subscription).
	report := func() {
		for _, id := range []string{"cam-ok", "cam-pw"} {
			for _, m := range []struct{ topic, payload string }{
				{"status", `{"state": "online", "fw": "cam-2.4.1"}`}, {"telemetry", `{"temp_c": 41}`},
			} {
				if tok := pub.Publish("ioc/tanan/"+id+"/"+m.topic, 1, false, m.payload); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
					t.Fatalf("publish: %v", tok.Error())
				}
			}
		}
	}

	type item struct {
		ID       defs.DeviceID `json:"id"`
		Health   defs.Health   `json:"health"`
		Reason   string        `json:"reason"`
		Firmware string        `json:"firmware"`
	}
	var list struct{ Devices []item }
	defer func() {
		if t.Failed() {
			t.Logf("last device list: %+v", list.Devices)
		}
	}()
	testrig.WaitFor(t, "cam-ok online and cam-pw offline for its stream", 60*time.Second, func() bool {
		report()
		if code := x.api(t, http.MethodGet, "/api/v1/devices?kind=camera", nil, &list); code != http.StatusOK {
			return false
		}
		h := map[defs.DeviceID]item{}
		for _, d := range list.Devices {
			h[d.ID] = d
		}
		return h["cam-ok"].Health == defs.HealthOnline && h["cam-ok"].Firmware == "cam-2.4.1" &&
			h["cam-pw"].Health == defs.HealthOffline && h["cam-pw"].Reason == "stream: unauthorized"
	})
	if code := x.api(t, http.MethodGet, "/api/v1/devices?health=online", nil, &list); code != http.StatusOK ||
		len(list.Devices) != 1 || list.Devices[0].ID != "cam-ok" {
		t.Errorf("?health=online: want cam-ok only, got %+v", list.Devices)
	}
	// Readings per second: ingest's observer fan-out reaches the meter.
	var o defs.Overview
	testrig.WaitFor(t, "readings per second in the overview", 30*time.Second, func() bool {
		report()
		x.api(t, http.MethodGet, "/api/v1/overview", nil, &o)
		return o.ReadingsPerSecond > 0
	})
	if o.Devices.Online != 1 || o.Devices.Offline != 1 || o.Cameras.Total != 2 || o.Cameras.Streaming != 1 {
		t.Errorf("overview: want 1 online, 1 offline, 1 of 2 cameras streaming; got %+v", o)
	}
	var ch struct {
		Changes []struct {
			Kind    string `json:"kind"`
			Subject string `json:"subject"`
			To      string `json:"to"`
			Reason  string `json:"reason"`
		}
	}
	x.api(t, http.MethodGet, "/api/v1/changes?since=15m", nil, &ch)
	found := false
	for _, c := range ch.Changes {
		found = found || (c.Kind == "health" && c.Subject == "cam-pw" && c.To == "offline" && c.Reason == "stream: unauthorized")
	}
	if !found {
		t.Errorf("changes: want cam-pw going offline for its stream, got %+v", ch.Changes)
	}
	var hist struct{ Changes []defs.HealthChange }
	testrig.WaitFor(t, "cam-pw's health history", 10*time.Second, func() bool {
		x.api(t, http.MethodGet, "/api/v1/devices/cam-pw/health", nil, &hist)
		return len(hist.Changes) > 0 && hist.Changes[0].To == defs.HealthOffline
	})
}
