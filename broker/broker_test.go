package broker

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"

	"github.com/iocd/iocd/internal/testrig"
)

// start runs a broker on a free loopback port until the test ends. Its logs
// are discarded: mochi goroutines may log after Close returns, and logging
// to t after the test ends panics.
func start(t *testing.T) *Broker {
	t.Helper()
	b, err := New("127.0.0.1:0", slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	if err := b.Start(context.Background()); err != nil {
		t.Fatalf("Start: %v", err)
	}
	t.Cleanup(func() {
		if err := b.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return b
}

// connect connects a paho client; messages without a route go to msgs.
func connect(t *testing.T, addr, clientID string, clean bool, msgs chan<- paho.Message) paho.Client {
	t.Helper()
	opts := paho.NewClientOptions().
		AddBroker("tcp://" + addr).
		SetClientID(clientID).
		SetCleanSession(clean).
		SetAutoReconnect(false).
		SetConnectTimeout(10 * time.Second).
		SetDefaultPublishHandler(func(_ paho.Client, m paho.Message) { msgs <- m })
	c := paho.NewClient(opts)
	wait(t, "connect "+clientID, c.Connect())
	t.Cleanup(func() { c.Disconnect(100) })
	return c
}

func wait(t *testing.T, what string, tok paho.Token) {
	t.Helper()
	if !tok.WaitTimeout(30 * time.Second) {
		t.Fatalf("%s: timed out", what)
	}
	if err := tok.Error(); err != nil {
		t.Fatalf("%s: %v", what, err)
	}
}

func receive(t *testing.T, msgs <-chan paho.Message, n int, timeout time.Duration) []string {
	t.Helper()
	got := make([]string, 0, n)
	deadline := time.After(timeout)
	for len(got) < n {
		select {
		case m := <-msgs:
			got = append(got, string(m.Payload()))
		case <-deadline:
			t.Fatalf("received %d of %d messages within %s", len(got), n, timeout)
		}
	}
	return got
}

func payloads(prefix string, n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = prefix + strconv.Itoa(i)
	}
	return out
}

func TestQoS1RoundTrip(t *testing.T) {
	b := start(t)
	msgs := make(chan paho.Message, 16)
	sub := connect(t, b.Addr(), "sub", true, msgs)
	wait(t, "subscribe", sub.Subscribe("site/+/telemetry", 1, nil))

	pub := connect(t, b.Addr(), "pub", true, nil)
	want := payloads("reading-", 5)
	for _, p := range want {
		wait(t, "publish", pub.Publish("site/dev1/telemetry", 1, false, p))
	}
	if got := receive(t, msgs, len(want), 10*time.Second); !slices.Equal(got, want) {
		t.Errorf("received %q, want %q", got, want)
	}
}

// storedFor returns how many unacknowledged messages the broker holds for
// a client's session.
func storedFor(b *Broker, clientID string) int {
	b.mu.Lock()
	srv := b.server
	b.mu.Unlock()
	cl, ok := srv.Clients.Get(clientID)
	if !ok {
		return 0
	}
	return cl.State.Inflight.Len()
}

// TestBurstIsNotDropped publishes a burst of QoS1 messages, without
// waiting for each acknowledgement as a busy site's devices do, while the
// ingest subscriber's persistent session is offline (restarting, say), and
// expects every one on reconnect. With mochi's default per-client limit of
// 8192 stored messages, more than half of this burst would be dropped.
func TestBurstIsNotDropped(t *testing.T) {
	b := start(t)
	const n, clientID = 20000, "ingest"
	early := make(chan paho.Message, n)
	sub := connect(t, b.Addr(), clientID, false, early)
	wait(t, "subscribe", sub.Subscribe("burst/#", 1, nil))
	sub.Disconnect(100)
	// paho's Disconnect returns before the broker has processed it; a
	// publish in between would reach (and be acknowledged by) the old
	// connection, so wait until the broker has let it go.
	testrig.WaitFor(t, "the broker to let the subscriber go", 10*time.Second, func() bool {
		st, _ := b.Stats()
		return st.ClientsConnected == 0
	})

	pub := connect(t, b.Addr(), "burster", true, nil)
	toks := make([]paho.Token, n)
	for i := range toks {
		toks[i] = pub.Publish("burst/dev", 1, false, strconv.Itoa(i))
	}
	for _, tok := range toks {
		wait(t, "publish", tok)
	}

	// mochi acknowledges a publish before it routes it to subscribers, so
	// the publisher's acks do not mean the offline session holds every
	// message yet. Reconnecting before it does would race the session
	// takeover (see the package doc); wait until all n are stored.
	testrig.WaitFor(t, "the offline session to hold all "+strconv.Itoa(n)+" messages", 30*time.Second, func() bool {
		return storedFor(b, clientID) == n
	})

	msgs := make(chan paho.Message, n)
	connect(t, b.Addr(), clientID, false, msgs)
	defer func() {
		if t.Failed() {
			st, _ := b.Stats()
			t.Logf("broker stats: %+v", st)
		}
	}()
	got := receive(t, msgs, n, 60*time.Second)
	if st, _ := b.Stats(); st.MessagesDropped != 0 || st.InflightDropped != 0 {
		t.Errorf("broker counted drops: %+v", st)
	}
	seen := make(map[string]bool, n)
	for _, p := range got {
		seen[p] = true
	}
	if len(seen) != n {
		t.Errorf("received %d distinct messages of %d published", len(seen), n)
	}
	if len(early) != 0 {
		t.Errorf("the subscriber's first connection received %d messages after it disconnected", len(early))
	}
}

// TestPersistentSessionQueuesWhileOffline checks that a QoS1 subscriber
// with a persistent session gets what was published while it was away.
func TestPersistentSessionQueuesWhileOffline(t *testing.T) {
	b := start(t)
	const clientID, topic = "ingest-persistent", "queued/telemetry"
	sub := connect(t, b.Addr(), clientID, false, make(chan paho.Message, 1))
	wait(t, "subscribe", sub.Subscribe(topic, 1, nil))
	sub.Disconnect(100)

	pub := connect(t, b.Addr(), "pub", true, nil)
	want := payloads("offline-", 10)
	for _, p := range want {
		wait(t, "publish", pub.Publish(topic, 1, false, p))
	}

	msgs := make(chan paho.Message, 2*len(want))
	connect(t, b.Addr(), clientID, false, msgs)
	got := receive(t, msgs, len(want), 10*time.Second)
	// mochi v2.7.9 replays a session's queue sorted by creation time in
	// whole seconds with an unstable sort, so messages queued in the same
	// second come back in any order (MQTT asks for the original order).
	// Consumers order readings by their own timestamps, so only the set
	// is asserted here.
	slices.Sort(got)
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Errorf("after reconnect received %q, want %q in any order", got, want)
	}
}

// TestMosquittoPubCLI proves interoperability with a client iocd did not
// write: the mosquitto_pub tool operators use to poke a broker.
// TestOversizePacketIsRefused: a publish over the packet limit disconnects
// its client and reaches no subscriber; the others carry on.
func TestOversizePacketIsRefused(t *testing.T) {
	b, err := New("127.0.0.1:0", slog.New(slog.DiscardHandler), WithMaxPacketBytes(1024))
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	if err := b.Start(context.Background()); err != nil {
		t.Fatalf("Start: %v", err)
	}
	t.Cleanup(func() { b.Close() })

	msgs := make(chan paho.Message, 16)
	sub := connect(t, b.Addr(), "sub", true, msgs)
	wait(t, "subscribe", sub.Subscribe("big/#", 1, nil))

	lost := make(chan error, 1)
	opts := paho.NewClientOptions().AddBroker("tcp://" + b.Addr()).SetClientID("big-pub").
		SetAutoReconnect(false).SetConnectTimeout(10 * time.Second).
		SetConnectionLostHandler(func(_ paho.Client, err error) { lost <- err })
	big := paho.NewClient(opts)
	wait(t, "connect big-pub", big.Connect())
	t.Cleanup(func() { big.Disconnect(100) })
	big.Publish("big/x", 1, false, strings.Repeat("x", 2000))
	select {
	case <-lost:
	case <-time.After(30 * time.Second):
		t.Fatal("a 2,000-byte publish over a 1,024-byte limit did not disconnect its client")
	}

	small := connect(t, b.Addr(), "small-pub", true, nil)
	wait(t, "publish small", small.Publish("big/y", 1, false, "marker"))
	// The oversize packet was refused before the client was cut, so had it
	// been routed it would arrive before the marker.
	if got := receive(t, msgs, 1, 30*time.Second); got[0] != "marker" {
		t.Fatalf("subscriber received %.40q first, want only the marker", got[0])
	}
}

func TestMosquittoPubCLI(t *testing.T) {
	bin := testrig.Binary(t, "mosquitto_pub")
	b := start(t)
	msgs := make(chan paho.Message, 4)
	sub := connect(t, b.Addr(), "sub", true, msgs)
	wait(t, "subscribe", sub.Subscribe("cli/test", 1, nil))

	host, port, err := net.SplitHostPort(b.Addr())
	if err != nil {
		t.Fatalf("splitting %q: %v", b.Addr(), err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, bin, "-h", host, "-p", port,
		"-i", "cli-pub", "-q", "1", "-t", "cli/test", "-m", `{"temp":21.5}`).CombinedOutput()
	if err != nil {
		t.Fatalf("mosquitto_pub: %v\n%s", err, out)
	}
	if got := receive(t, msgs, 1, 10*time.Second); got[0] != `{"temp":21.5}` {
		t.Errorf("received %q, want the CLI's payload", got[0])
	}
}

func TestCloseIsIdempotentAndFreesPort(t *testing.T) {
	b, err := New("127.0.0.1:0", slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	if err := b.Start(context.Background()); err != nil {
		t.Fatalf("Start: %v", err)
	}
	addr := b.Addr()
	connect(t, addr, "client", true, nil)

	for i := range 2 {
		if err := b.Close(); err != nil {
			t.Fatalf("Close call %d: %v", i+1, err)
		}
	}
	l, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatalf("port %s not free after Close: %v", addr, err)
	}
	l.Close()
	if err := b.Start(context.Background()); err == nil {
		t.Errorf("Start after Close succeeded, want an error")
	}
}

func TestStartReportsAddressInUse(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("occupying a port: %v", err)
	}
	defer l.Close()

	b, err := New(l.Addr().String(), slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	defer b.Close()
	err = b.Start(context.Background())
	if !errors.Is(err, syscall.EADDRINUSE) {
		t.Fatalf("Start on a used port = %v, want EADDRINUSE", err)
	}
	if want := l.Addr().String(); !strings.Contains(err.Error(), want) {
		t.Errorf("error %q does not name the address %s", err, want)
	}
}

func TestNewRejectsBadArguments(t *testing.T) {
	tests := []struct {
		name   string
		addr   string
		logger *slog.Logger
	}{
		{name: "empty address", addr: "", logger: slog.New(slog.DiscardHandler)},
		{name: "nil logger", addr: DefaultAddr, logger: nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := New(tt.addr, tt.logger); err == nil {
				t.Errorf("New(%q, %v) succeeded, want an error", tt.addr, tt.logger)
			}
		})
	}
}
