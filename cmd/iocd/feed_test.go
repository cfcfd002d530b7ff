package main

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"
	"github.com/gorilla/websocket"

	"github.com/iocd/iocd/internal/testrig"
)

// feedScreen is one websocket client of iocd's /ws.
type feedScreen struct {
	t    *testing.T
	conn *websocket.Conn
	// seq is the newest "seq" value seen per device.
	seq map[string]float64
}

func dialFeed(t *testing.T, base, token string, topics ...string) *feedScreen {
	t.Helper()
	conn, resp, err := websocket.DefaultDialer.Dial("ws"+strings.TrimPrefix(base, "http")+"/ws",
		http.Header{"Authorization": {"Bearer " + token}, "Origin": {base}})
	if err != nil {
		t.Fatalf("dialling the feed: %v (%v)", err, resp)
	}
	t.Cleanup(func() { conn.Close() })
	msg, _ := json.Marshal(map[string][]string{"subscribe": topics})
	if err := conn.WriteMessage(websocket.TextMessage, msg); err != nil {
		t.Fatalf("subscribing: %v", err)
	}
	return &feedScreen{t: t, conn: conn, seq: map[string]float64{}}
}

type feedFrame struct {
	Type string `json:"type"`
	Data struct {
		Topic    string `json:"topic"`
		Readings []struct {
			Device string `json:"device"`
			Site   string `json:"site"`
			Field  string `json:"field"`
			Value  any    `json:"value"`
		} `json:"readings"`
		// A device frame, and a fleet snapshot's devices.
		ID      string `json:"id"`
		Health  string `json:"health"`
		Devices []struct {
			ID     string `json:"id"`
			Health string `json:"health"`
		} `json:"devices"`
	} `json:"data"`
}

// readUntil reads frames, checking each with check, until done holds.
func (s *feedScreen) readUntil(what string, check func(feedFrame), done func() bool) {
	s.t.Helper()
	for !done() {
		s.conn.SetReadDeadline(time.Now().Add(20 * time.Second))
		var f feedFrame
		if err := s.conn.ReadJSON(&f); err != nil {
			s.t.Fatalf("waiting for %s: %v", what, err)
		}
		for _, r := range f.Data.Readings {
			if v, ok := r.Value.(float64); ok && r.Field == "seq" {
				if prev, seen := s.seq[r.Device]; seen && v < prev {
					s.t.Fatalf("%s: seq of %s went back from %v to %v", what, r.Device, prev, v)
				}
				s.seq[r.Device] = v
			}
		}
		check(f)
	}
}

// TestFeedOverMQTT drives readings over a real Mosquitto through iocd and
// its /ws route: each screen gets only the telemetry it subscribed to,
// each device's values in order, up to the newest; a page from another
// origin is refused.
func TestFeedOverMQTT(t *testing.T) {
	mq := testrig.Mosquitto(t)
	base, _ := startServe(t, "-mqtt.url", mq.URL(), "-admin_token", e2eAdmin, "-unknown_devices", "register")
	var tok struct {
		Token string `json:"token"`
	}
	if code := apiDo(t, base, http.MethodPost, "/api/v1/tokens", map[string]string{"name": "wall", "role": "viewer"}, &tok); code != http.StatusCreated && code != http.StatusOK {
		t.Fatalf("creating a viewer token: %d", code)
	}

	// Another site's page may not open the feed with the screen's token.
	_, resp, err := websocket.DefaultDialer.Dial("ws"+strings.TrimPrefix(base, "http")+"/ws",
		http.Header{"Authorization": {"Bearer " + tok.Token}, "Origin": {"https://evil.example"}})
	if err == nil || resp == nil || resp.StatusCode != http.StatusForbidden {
		t.Fatalf("cross-origin feed: err %v, response %v; want 403", err, resp)
	}

	site := dialFeed(t, base, tok.Token, "telemetry:tan-an")
	dev := dialFeed(t, base, tok.Token, "telemetry:aq-02")
	fleet := dialFeed(t, base, tok.Token, "fleet")
	for _, s := range []*feedScreen{site, dev, fleet} {
		got := map[string]bool{}
		s.readUntil("subscribed and snapshot", func(f feedFrame) { got[f.Type] = true }, func() bool { return got["subscribed"] && got["snapshot"] })
	}

	pub := mqtt.NewClient(mqtt.NewClientOptions().AddBroker(mq.URL()).SetClientID("feed-test-pub"))
	if tk := pub.Connect(); !tk.WaitTimeout(20*time.Second) || tk.Error() != nil {
		t.Fatalf("connecting the publisher: %v", tk.Error())
	}
	defer pub.Disconnect(100)
	devices := []struct{ site, id string }{{"tan-an", "wl-01"}, {"tan-an", "wl-02"}, {"ben-luc", "aq-02"}, {"ben-luc", "aq-03"}}
	const n = 200
	t0 := time.Now().Add(-time.Hour).UnixMilli()
	for i := range n {
		for _, d := range devices {
			payload := fmt.Sprintf(`{"ts":%d,"values":{"seq":%d,"level_m":1.5}}`, t0+int64(i), i)
			if tk := pub.Publish("ioc/"+d.site+"/"+d.id+"/telemetry", 1, false, payload); !tk.WaitTimeout(20*time.Second) || tk.Error() != nil {
				t.Fatalf("publishing: %v", tk.Error())
			}
		}
	}

	site.readUntil("the newest seq of tan-an's devices", func(f feedFrame) {
		for _, r := range f.Data.Readings {
			if r.Site != "tan-an" {
				t.Fatalf("telemetry:tan-an got a reading of %s (site %s)", r.Device, r.Site)
			}
		}
	}, func() bool { return site.seq["wl-01"] == n-1 && site.seq["wl-02"] == n-1 })
	dev.readUntil("the newest seq of aq-02", func(f feedFrame) {
		for _, r := range f.Data.Readings {
			if r.Device != "aq-02" {
				t.Fatalf("telemetry:aq-02 got a reading of %s", r.Device)
			}
		}
	}, func() bool { return dev.seq["aq-02"] == n-1 })
	// The fleet screen sees the four devices come online, and no
	// telemetry.
	online := map[string]bool{}
	fleet.readUntil("the devices online", func(f feedFrame) {
		if f.Type == "telemetry" {
			t.Fatalf("a fleet-only screen got telemetry")
		}
		if f.Type == "device" && f.Data.Health == "online" {
			online[f.Data.ID] = true
		}
		for _, d := range f.Data.Devices {
			if d.Health == "online" {
				online[d.ID] = true
			}
		}
	}, func() bool { return len(online) == len(devices) })
}
