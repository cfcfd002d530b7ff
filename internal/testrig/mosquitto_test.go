package testrig

import (
	"fmt"
	"testing"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"
)

// connect connects a paho client and disconnects it when the test ends.
// Messages for any subscription without its own handler go to msgs.
func connect(t *testing.T, url, clientID string, clean bool, msgs chan<- mqtt.Message) (mqtt.Client, bool) {
	t.Helper()
	opts := mqtt.NewClientOptions().
		AddBroker(url).
		SetClientID(clientID).
		SetCleanSession(clean).
		SetAutoReconnect(false).
		SetConnectTimeout(10 * time.Second).
		SetDefaultPublishHandler(func(_ mqtt.Client, m mqtt.Message) { msgs <- m })
	c := mqtt.NewClient(opts)
	tok := c.Connect()
	if !tok.WaitTimeout(15*time.Second) || tok.Error() != nil {
		t.Fatalf("connecting %s to %s: %v", clientID, url, tok.Error())
	}
	t.Cleanup(func() { c.Disconnect(100) })
	return c, tok.(*mqtt.ConnectToken).SessionPresent()
}

func wait(t *testing.T, what string, tok mqtt.Token) {
	t.Helper()
	if !tok.WaitTimeout(15 * time.Second) {
		t.Fatalf("%s: timed out", what)
	}
	if err := tok.Error(); err != nil {
		t.Fatalf("%s: %v", what, err)
	}
}

// receive collects n payloads from msgs or fails with what it got.
func receive(t *testing.T, msgs <-chan mqtt.Message, n int) []string {
	t.Helper()
	var got []string
	timeout := time.After(15 * time.Second)
	for len(got) < n {
		select {
		case m := <-msgs:
			got = append(got, string(m.Payload()))
		case <-timeout:
			t.Fatalf("received %d of %d messages: %q", len(got), n, got)
		}
	}
	return got
}

func TestMosquittoPublishSubscribe(t *testing.T) {
	m := Mosquitto(t)
	msgs := make(chan mqtt.Message, 16)
	sub, _ := connect(t, m.URL(), "rig-sub", true, msgs)
	wait(t, "subscribe", sub.Subscribe("rig/+/telemetry", 1, nil))

	pub, _ := connect(t, m.URL(), "rig-pub", true, nil)
	want := []string{"one", "two", "three"}
	for _, p := range want {
		wait(t, "publish "+p, pub.Publish("rig/dev1/telemetry", 1, false, p))
	}
	got := receive(t, msgs, len(want))
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("received %q, want %q in publish order", got, want)
	}
}

// TestMosquittoRestartKeepsQueuedMessages is what fault tests rely on: a
// persistent QoS1 session that is offline while the broker restarts still
// gets the messages published for it before the restart.
func TestMosquittoRestartKeepsQueuedMessages(t *testing.T) {
	m := Mosquitto(t)
	const clientID, topic, n = "rig-persistent", "rig/persist", 5

	sub, _ := connect(t, m.URL(), clientID, false, make(chan mqtt.Message, 1))
	wait(t, "subscribe", sub.Subscribe(topic, 1, nil))
	sub.Disconnect(100)

	pub, _ := connect(t, m.URL(), "rig-pub", true, nil)
	var want []string
	for i := range n {
		p := fmt.Sprintf("queued-%d", i)
		want = append(want, p)
		wait(t, "publish "+p, pub.Publish(topic, 1, false, p))
	}
	pub.Disconnect(100)

	m.Stop()
	m.Start()

	msgs := make(chan mqtt.Message, n*2)
	_, present := connect(t, m.URL(), clientID, false, msgs)
	if !present {
		t.Errorf("session present = false after restart, want the persistent session kept")
	}
	got := receive(t, msgs, n)
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("after restart received %q, want %q", got, want)
	}
}
