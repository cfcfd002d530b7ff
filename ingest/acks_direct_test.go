package ingest

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"testing"
	"time"

	"github.com/iocd/iocd/defs"
	"github.com/iocd/iocd/internal/testrig"
)

// idMessage is an in-memory message with its own packet id and QoS.
type idMessage struct {
	benchMessage
	id  uint16
	qos byte
}

func (m *idMessage) MessageID() uint16 { return m.id }
func (m *idMessage) Qos() byte         { return m.qos }

// recordingConn is an ackConn that keeps what was written to it, or
// refuses once closed.
type recordingConn struct {
	out    bytes.Buffer
	writes int
	closed bool
}

func (c *recordingConn) writeAcks(p []byte) error {
	if c.closed {
		return net.ErrClosed
	}
	c.writes++
	c.out.Write(p)
	return nil
}

func pubacks(ids ...uint16) []byte {
	var b []byte
	for _, id := range ids {
		b = append(b, 0x40, 0x02, byte(id>>8), byte(id))
	}
	return b
}

// TestDirectPubacksInArrivalOrder finishes messages in a random order: the
// PUBACKs written to each message's own connection must be those of its
// QoS 1 messages, in arrival order, none for QoS 0, and a connection closed
// in between must get none (and its acks must not go to the next one).
func TestDirectPubacksInArrivalOrder(t *testing.T) {
	rng := rand.New(rand.NewPCG(11, 12))
	for round := range 20 {
		a := newAcker(64)
		connA, connB := &recordingConn{}, &recordingConn{}
		type sent struct {
			s    *slot
			conn *recordingConn
			id   uint16
			qos  byte
		}
		var all []sent
		// 20 messages on A, then A is lost and 20 more arrive on B,
		// with packet ids that B reuses from A.
		for i := range 40 {
			c := connA
			if i >= 20 {
				c = connB
			}
			qos := byte(1)
			if i%7 == 3 {
				qos = 0
			}
			m := &idMessage{id: uint16(i%20 + 1 + 0x100*round), qos: qos}
			all = append(all, sent{a.acquire(m, c, nil), c, m.id, qos})
		}
		lostA := round%2 == 1
		if lostA {
			connA.closed = true
		}
		for _, i := range rng.Perm(len(all)) {
			all[i].s.release()
		}
		want := map[*recordingConn][]uint16{}
		for _, s := range all {
			if s.qos == 1 && !(lostA && s.conn == connA) {
				want[s.conn] = append(want[s.conn], s.id)
			}
		}
		for name, c := range map[string]*recordingConn{"A": connA, "B": connB} {
			if got := c.out.Bytes(); !bytes.Equal(got, pubacks(want[c]...)) {
				t.Fatalf("round %d: connection %s got % x, want % x", round, name, got, pubacks(want[c]...))
			}
		}
		if !a.idle() {
			t.Fatalf("round %d: ring not idle after every message finished", round)
		}
	}
}

// TestDirectPubacksGathered finishes a run of messages at once: their
// PUBACKs go out in one write, not one per message.
func TestDirectPubacksGathered(t *testing.T) {
	a := newAcker(16)
	c := &recordingConn{}
	var slots []*slot
	for i := range 10 {
		slots = append(slots, a.acquire(&idMessage{id: uint16(i + 1), qos: 1}, c, nil))
	}
	for _, s := range slots[1:] {
		s.release() // finished, waiting behind the head
	}
	if c.writes != 0 {
		t.Fatalf("%d writes before the head finished", c.writes)
	}
	slots[0].release()
	if c.writes != 1 || !bytes.Equal(c.out.Bytes(), pubacks(1, 2, 3, 4, 5, 6, 7, 8, 9, 10)) {
		t.Errorf("got %d writes of % x, want one write of the ten PUBACKs", c.writes, c.out.Bytes())
	}
}

// TestBufConnAcks writes PUBACKs through a real buffered connection: they
// reach the peer, and once the connection is closed they are refused.
func TestBufConnAcks(t *testing.T) {
	client, server := net.Pipe()
	b := newBufConn(client)
	want := pubacks(1, 2, 3)
	if err := b.writeAcks(want); err != nil {
		t.Fatal(err)
	}
	got := make([]byte, len(want))
	_ = server.SetReadDeadline(time.Now().Add(10 * time.Second))
	if _, err := io.ReadFull(server, got); err != nil {
		t.Fatalf("reading the acks: %v", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("peer read % x, want % x", got, want)
	}
	go func() { _, _ = io.Copy(io.Discard, server) }()
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
	if err := b.writeAcks(pubacks(4)); !errors.Is(err, net.ErrClosed) {
		t.Errorf("writeAcks after Close: %v, want net.ErrClosed", err)
	}
}

// TestDirectPubacksReachTheBroker sends three times the broker's in-flight
// window (the testrig's Mosquitto allows 1,000 unacknowledged QoS 1
// messages per client) through a real Mosquitto: every message can only
// arrive if iocd's PUBACKs, written by the ack ring on the connection iocd
// dialled, reach the broker and free its window.
func TestDirectPubacksReachTheBroker(t *testing.T) {
	const total = 3000
	mq := testrig.Mosquitto(t)
	ix := testrig.Influx(t, testrig.WithoutFlux())
	ix.CreateDB("iocd")
	p := startPipeline(t, mq.URL(), ix.URL(), "iocd", pipelineOpts{devices: []defs.Device{device("wl-01", "tan-an", defs.KindSensor)}})
	if p.in.dialled.Load() == nil {
		t.Fatal("iocd did not dial the tcp:// broker itself: its PUBACKs would go through paho")
	}
	pub := publisher(t, mq.URL(), "dev-pub", nil)
	for i := range total {
		publish(t, pub, "ioc/tan-an/wl-01/telemetry", fmt.Sprintf(`{"ts": %d, "values": {"level_m": %d}}`, 1732233600000+int64(i), i))
	}
	waitFor(t, fmt.Sprintf("%d readings in influxdb", total), func() bool { return countField(t, ix, "level_m", "wl-01") == total })
	waitFor(t, "every message acknowledged", func() bool { return p.in.Unacked() == 0 })
}
