package main

import (
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"

	"github.com/iocd/iocd/internal/testrig"
)

// TestShippedMosquittoACL runs Mosquitto with deploy/mosquitto/iocd.acl
// and a password file made by mosquitto_passwd: a device publishes as
// itself, and its attempts to publish as another device, or into iocd's
// alert topics, never reach iocd's subscription; iocd reads every device
// topic (shared subscriptions too) and publishes its alerts. Devices get
// no read access at all (the ACL grants them none).
func TestShippedMosquittoACL(t *testing.T) {
	passwd := testrig.Binary(t, "mosquitto_passwd")
	pwFile := filepath.Join(t.TempDir(), "iocd.passwd")
	users := map[string]string{"iocd": "iocd-pw", "wl-01": "pw-01", "wl-02": "pw-02", "alerts": "pw-alerts"}
	first := true
	for u, p := range users {
		args := []string{"-b", pwFile, u, p}
		if first {
			args = append([]string{"-c"}, args...)
			first = false
		}
		if out, err := exec.Command(passwd, args...).CombinedOutput(); err != nil {
			t.Fatalf("mosquitto_passwd %s: %v: %s", u, err, out)
		}
	}
	acl, err := filepath.Abs("../../deploy/mosquitto/iocd.acl")
	if err != nil {
		t.Fatal(err)
	}
	mq := testrig.Mosquitto(t, testrig.MosquittoAuth(pwFile, acl))

	connect := func(user string) mqtt.Client {
		t.Helper()
		o := mqtt.NewClientOptions().AddBroker(mq.URL()).SetClientID("acl-" + user).
			SetUsername(user).SetPassword(users[user]).SetAutoReconnect(false).SetCleanSession(true)
		c := mqtt.NewClient(o)
		if tok := c.Connect(); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
			t.Fatalf("%s connecting: %v", user, tok.Error())
		}
		t.Cleanup(func() { c.Disconnect(100) })
		return c
	}
	var mu sync.Mutex
	got := map[string]string{} // topic -> payload, as iocd sees them
	record := func(_ mqtt.Client, m mqtt.Message) {
		mu.Lock()
		got[m.Topic()] = string(m.Payload())
		mu.Unlock()
	}
	seen := func(topic string) bool {
		mu.Lock()
		defer mu.Unlock()
		_, ok := got[topic]
		return ok
	}
	iocd := connect("iocd")
	for _, f := range []string{"ioc/#", "$share/iocd/ioc/+/+/telemetry"} {
		if tok := iocd.Subscribe(f, 1, record); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
			t.Fatalf("iocd subscribing to %s: %v", f, tok.Error())
		}
	}

	pub := func(c mqtt.Client, topic string) {
		t.Helper()
		// The broker acknowledges a publish the ACL refuses and drops it,
		// so the acknowledgement says nothing; what iocd receives does.
		if tok := c.Publish(topic, 1, false, "x"); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
			t.Fatalf("publishing %s: %v", topic, tok.Error())
		}
	}
	a, alerts := connect("wl-01"), connect("alerts")
	// The forgeries first, then each publisher's own message: the broker
	// delivers one connection's messages in order, so once the own
	// message has arrived, a forgery that got through would have too.
	forged := []string{
		"ioc/tan-an/wl-02/telemetry", // as another device
		"ioc/tan-an/wl-02/status",
		"ioc/ben-luc/wl-02/event",
		"ioc/tan-an/wl-01/commands", // not a device topic
		"ioc/iocd/wl-01/telemetry",  // into iocd's namespace
	}
	for _, f := range forged {
		pub(a, f)
	}
	pub(alerts, "ioc/iocd/alerts/telemetry") // a device named "alerts" forging an alert
	pub(a, "ioc/tan-an/wl-01/telemetry")
	pub(a, "ioc/tan-an/wl-01/status")
	pub(a, "ioc/tan-an/wl-01/event")
	pub(alerts, "ioc/tan-an/alerts/telemetry")
	pub(iocd, "ioc/iocd/alerts/device_offline")
	for _, own := range []string{"ioc/tan-an/wl-01/telemetry", "ioc/tan-an/wl-01/status", "ioc/tan-an/wl-01/event",
		"ioc/tan-an/alerts/telemetry", "ioc/iocd/alerts/device_offline"} {
		testrig.WaitFor(t, own+" to reach iocd", 10*time.Second, func() bool { return seen(own) })
	}
	for _, f := range append(forged, "ioc/iocd/alerts/telemetry") {
		if seen(f) {
			t.Errorf("%s reached iocd: the ACL let a device publish outside its own topics", f)
		}
	}
}
