package ingest

import (
	"context"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/iocd/iocd/bus"
	"github.com/iocd/iocd/config"
	"github.com/iocd/iocd/defs"
)

// heldSink keeps every done callback until the test releases it, as a
// writer whose points are not yet durable.
type heldSink struct {
	mu    sync.Mutex
	dones []func()
}

func (s *heldSink) WriteTelemetry(_ defs.DeviceID, _ string, _ defs.Kind, _ time.Time, _ []defs.Field, done func()) error {
	s.mu.Lock()
	s.dones = append(s.dones, done)
	s.mu.Unlock()
	return nil
}

// orderedMessage records the order in which messages are acknowledged.
type orderedMessage struct {
	benchMessage
	id  int
	log *[]int
}

func (m *orderedMessage) Ack() { m.acked++; *m.log = append(*m.log, m.id) }

// TestAckAfterDurableInArrivalOrder hands messages to the decoder (some
// telemetry arrays with several points, some rejected), then makes their
// points durable in a random order: no message may be acknowledged before
// all its points are durable, and the acks must go out in arrival order.
func TestAckAfterDurableInArrivalOrder(t *testing.T) {
	sink := &heldSink{}
	mcfg := config.Default().MQTT
	mcfg.URL = "tcp://127.0.0.1:1"
	in, err := New(mcfg, config.Default().Ingest, Deps{
		Registry: newRegistry(device("wl-01", "tan-an", defs.KindSensor)),
		Sink:     sink, Bus: bus.New(nil), Logger: slog.New(slog.DiscardHandler),
	})
	if err != nil {
		t.Fatal(err)
	}
	w := &worker{in: in, dec: NewDecoder(1 << 16)}
	var acked []int
	payloads := []string{
		`{"level_m": 1}`,
		`[{"ts": 1732233600000, "values": {"v": 1}}, {"ts": 1732233601000, "values": {"v": 2}}, {"ts": 1732233602000, "values": {"v": 3}}]`,
		`not json`, // rejected: acked in order, without waiting for anything of its own
		`{"ts": 1732233603000, "values": {"v": 4}}`,
		`[{"ts": 1732233604000, "values": {"v": 5}}, {"ts": 1732233605000, "values": {"v": 6}}]`,
	}
	msgs := make([]*orderedMessage, len(payloads))
	for i, p := range payloads {
		msgs[i] = &orderedMessage{benchMessage: benchMessage{topic: "ioc/tan-an/wl-01/telemetry", payload: []byte(p)}, id: i, log: &acked}
		j := job{msg: msgs[i], recv: time.Now(), s: in.tel.acquire(msgs[i], nil, nil)}
		w.handle(context.Background(), j)
	}
	if len(acked) != 0 {
		t.Fatalf("acked %v before any point was durable", acked)
	}
	if got := in.Unacked(); got != len(payloads) {
		t.Errorf("Unacked() = %d, want %d", got, len(payloads))
	}
	// 1 + 3 + 1 + 2 points.
	if len(sink.dones) != 7 {
		t.Fatalf("points written: %d, want 7", len(sink.dones))
	}
	// Point index -> the message it belongs to.
	owner := []int{0, 1, 1, 1, 3, 4, 4}
	rng := rand.New(rand.NewPCG(11, 12))
	order := rng.Perm(len(sink.dones))
	durable := map[int]int{}
	for _, p := range order {
		sink.dones[p]()
		durable[owner[p]]++
		for _, id := range acked {
			need := 0
			for _, o := range owner {
				if o == id {
					need++
				}
			}
			if durable[id] < need {
				t.Fatalf("message %d acked with %d of its %d points durable", id, durable[id], need)
			}
		}
	}
	if want := []int{0, 1, 2, 3, 4}; !slices.Equal(acked, want) {
		t.Errorf("ack order %v, want %v", acked, want)
	}
	if got := in.Unacked(); got != 0 {
		t.Errorf("Unacked() = %d after all were durable, want 0", got)
	}
}

// TestMaxUnackedHoldsBackDelivery fills the ring: the next message must
// wait for a slot, and get one once the oldest is acknowledged.
func TestMaxUnackedHoldsBackDelivery(t *testing.T) {
	a := newAcker(3)
	var slots []*slot
	for i := range 3 {
		s := a.acquire(&benchMessage{topic: fmt.Sprint(i)}, nil, nil)
		if s == nil {
			t.Fatal("acquire returned nil with room")
		}
		slots = append(slots, s)
	}
	got := make(chan *slot)
	go func() { got <- a.acquire(&benchMessage{topic: "3"}, nil, nil) }()
	select {
	case <-got:
		t.Fatal("a fourth message got a slot with max_unacked 3")
	case <-time.After(50 * time.Millisecond):
	}
	slots[1].release() // finished, but not at the head: no room yet
	select {
	case <-got:
		t.Fatal("a slot was freed out of order")
	case <-time.After(50 * time.Millisecond):
	}
	slots[0].release()
	select {
	case s := <-got:
		if s == nil {
			t.Fatal("nil slot")
		}
	case <-time.After(10 * time.Second):
		t.Fatal("no slot after the head was acknowledged")
	}
	// Slots 2 and 3 are held; one more fits, then the ring is full.
	if a.acquire(&benchMessage{}, nil, nil) == nil {
		t.Fatal("no slot with room left")
	}
	stop := make(chan struct{})
	close(stop)
	if s := a.acquire(&benchMessage{}, nil, stop); s != nil {
		t.Error("acquire on a full ring after stop returned a slot")
	}
}

// fakeReceipts is a Receipts with one record from an "earlier run".
type fakeReceipts struct {
	key   uint64
	at    time.Time
	noted map[uint64]time.Time
}

func (f *fakeReceipts) NoteReceipt(key uint64, recv time.Time) { f.noted[key] = recv }
func (f *fakeReceipts) Receipts() bool                         { return f.key != 0 }
func (f *fakeReceipts) Receipt(key uint64) (time.Time, bool) {
	if key != f.key {
		return time.Time{}, false
	}
	f.key = 0
	return f.at, true
}

// tsSink records the timestamps written.
type tsSink struct{ ts []time.Time }

func (s *tsSink) WriteTelemetry(_ defs.DeviceID, _ string, _ defs.Kind, ts time.Time, _ []defs.Field, done func()) error {
	s.ts = append(s.ts, ts)
	done()
	return nil
}

// TestRedeliveryKeepsReceiptTime checks that a reading without its own ts
// is noted with its receipt time, and that the same message redelivered
// (a lookup after a reconnect) is written at the noted time, not at its
// new receipt time.
func TestRedeliveryKeepsReceiptTime(t *testing.T) {
	const topic, payload = "ioc/tan-an/wl-01/telemetry", `{"level_m": 1.25}`
	first := time.Date(2026, 12, 1, 10, 0, 0, 123e6, time.UTC)
	rc := &fakeReceipts{noted: map[uint64]time.Time{}}
	sink := &tsSink{}
	mcfg := config.Default().MQTT
	mcfg.URL = "tcp://127.0.0.1:1"
	in, err := New(mcfg, config.Default().Ingest, Deps{
		Registry: newRegistry(device("wl-01", "tan-an", defs.KindSensor)),
		Sink:     sink, Receipts: rc, Bus: bus.New(nil), Logger: slog.New(slog.DiscardHandler),
	})
	if err != nil {
		t.Fatal(err)
	}
	w := &worker{in: in, dec: NewDecoder(1 << 16)}
	msg := &benchMessage{topic: topic, payload: []byte(payload)}
	w.handle(context.Background(), job{msg: msg, recv: first, s: in.tel.acquire(msg, nil, nil)})
	key := receiptKey(topic, []byte(payload))
	if got, ok := rc.noted[key]; !ok || !got.Equal(first) {
		t.Fatalf("noted receipt %v %v, want %v", got, ok, first)
	}

	// The crash: the next run finds the record, the broker redelivers.
	rc.key, rc.at = key, first
	again := &benchMessage{topic: topic, payload: []byte(payload)}
	w.handle(context.Background(), job{msg: again, recv: first.Add(time.Minute), s: in.tel.acquire(again, nil, nil), lookup: true})
	if len(sink.ts) != 2 || !sink.ts[0].Equal(first) || !sink.ts[1].Equal(first) {
		t.Errorf("written at %v, want both at %v", sink.ts, first)
	}
	if msg.acked != 1 || again.acked != 1 {
		t.Errorf("acks %d and %d, want 1 each", msg.acked, again.acked)
	}
}
