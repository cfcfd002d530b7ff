package ingest

// This file holds the ack sequencer: the one place where iocd takes
// responsibility for a message from the broker.
//
// A message is acknowledged only once it is finished: every point it
// produced is durable (the writer's done callback, run once the point is in
// the write-ahead log or InfluxDB), or it was rejected for good. MQTT 3.1.1
// (4.6) wants PUBACKs in the order the PUBLISHes arrived, while messages are
// finished out of order by a pool of decoders and by the writer's group
// commits; so each message takes a slot in a ring in arrival order, and the
// acks are released from the head of the ring as slots finish. The ring's
// size is the bound on unacknowledged messages (ingest.max_unacked): when it
// is full the MQTT handler waits, which holds back paho's reader, TCP and so
// the broker.
//
// There are two rings, one for telemetry and status and one for events
// (ingest.event_queue_size): a strict global order would make every
// telemetry ack wait behind an event stuck on a slow evidence store, and
// telemetry would stall for as long as the store does, which is the one
// thing the separate event queue is there to prevent. Each ring keeps
// arrival order among its own messages. Brokers match a PUBACK to its
// PUBLISH by packet id (Mosquitto keeps no order among them), and paho sends
// each PUBACK as Ack is called, so the two interleaved orders are safe in
// practice; they are a deliberate departure from the letter of 4.6.
//
// The PUBACKs of a connection iocd dialled itself (tcp and tls; see
// bufConn) are written straight to that connection, in ring order under the
// ring's lock, a whole run of freed slots in one write: paho's Ack would
// allocate a packet, format a store key with fmt, and pass the ack through
// two goroutines and their channels, which the drain benchmark measured at
// about a tenth of iocd's CPU. A message is tied to the connection it
// arrived on (paho runs every handler of a connection before it dials the
// next one), so an ack never goes out on a later connection, where its
// packet id could name another message; a closed connection refuses the
// write and the ack is dropped, as paho drops it, for the broker to
// redeliver the message. Messages on connections paho dialled (ws, wss)
// are acknowledged through paho as before.

import (
	"sync"
	"sync/atomic"

	mqtt "github.com/eclipse/paho.mqtt.golang"
)

// slot is one message between its arrival and its acknowledgement.
type slot struct {
	r   *acker
	msg mqtt.Message
	// pending counts what the message still waits for: one for its
	// handler, plus one per point handed to the writer not yet durable.
	pending atomic.Int32
	// noAck marks a message to be left unacknowledged, for the broker to
	// redeliver in the next session (shutdown, a handler that kept
	// failing).
	noAck bool
	// finished is set, under r.mu, once pending reaches zero.
	finished bool
	// done is the writer's callback for each point: made once per slot,
	// so the per-message path allocates nothing.
	done func()
	// conn is the connection the message arrived on when iocd dialled
	// it, which its PUBACK is written to; nil: paho acknowledges it.
	conn ackConn
}

// ackConn is a broker connection that PUBACKs can be written to directly;
// *bufConn is one.
type ackConn interface {
	// writeAcks queues packets, whole, for the broker; it fails once
	// the connection is closed.
	writeAcks(packets []byte) error
}

// release drops one of the slot's pending holds.
func (s *slot) release() {
	if s.pending.Add(-1) == 0 {
		s.r.finish(s)
	}
}

// hold adds a pending hold, for a point about to go to the writer.
func (s *slot) hold() { s.pending.Add(1) }

// acker is one ring of slots.
type acker struct {
	mu    sync.Mutex
	slots []slot
	head  uint64 // oldest slot not yet released
	tail  uint64 // next slot to hand out
	space chan struct{}
	// unacked mirrors tail-head for metrics and the API.
	unacked atomic.Int64
	// acks is the PUBACKs being gathered by finish, under mu.
	acks []byte
}

func newAcker(size int) *acker {
	a := &acker{slots: make([]slot, size), space: make(chan struct{}, 1)}
	for i := range a.slots {
		s := &a.slots[i]
		s.r = a
		s.done = s.release
	}
	return a
}

// acquire takes the next slot for msg, which arrived on conn (nil: a
// connection paho dialled), in arrival order, waiting while the ring is
// full. It returns nil once stop is closed.
func (a *acker) acquire(msg mqtt.Message, conn ackConn, stop <-chan struct{}) *slot {
	for {
		a.mu.Lock()
		if a.tail-a.head < uint64(len(a.slots)) {
			s := &a.slots[a.tail%uint64(len(a.slots))]
			a.tail++
			s.msg, s.conn, s.noAck, s.finished = msg, conn, false, false
			s.pending.Store(1)
			a.unacked.Store(int64(a.tail - a.head))
			a.mu.Unlock()
			return s
		}
		a.mu.Unlock()
		select {
		case <-a.space:
		case <-stop:
			return nil
		}
	}
}

// finish marks s finished and acknowledges every finished message at the
// head of the ring, in order.
func (a *acker) finish(s *slot) {
	a.mu.Lock()
	s.finished = true
	freed := false
	var conn ackConn // the connection of the PUBACKs in a.acks
	for a.head < a.tail {
		h := &a.slots[a.head%uint64(len(a.slots))]
		if !h.finished {
			break
		}
		if !h.noAck {
			switch {
			case h.conn != nil && h.msg.Qos() == 1:
				if h.conn != conn {
					a.sendAcks(conn)
					conn = h.conn
				}
				id := h.msg.MessageID()
				a.acks = append(a.acks, pubackHeader, 2, byte(id>>8), byte(id))
			case h.conn != nil && h.msg.Qos() == 0: // nothing to acknowledge
			default:
				// paho queues the PUBACK for its writer; after
				// a lost connection it drops it, and the broker
				// redelivers. (A QoS 2 message cannot arrive on
				// iocd's QoS 1 subscriptions.)
				a.sendAcks(conn)
				conn = nil
				h.msg.Ack()
			}
		}
		h.msg, h.conn = nil, nil
		a.head++
		freed = true
	}
	a.sendAcks(conn)
	a.unacked.Store(int64(a.tail - a.head))
	a.mu.Unlock()
	if freed {
		select {
		case a.space <- struct{}{}:
		default:
		}
	}
}

// pubackHeader is the first byte of an MQTT 3.1.1 PUBACK (type 4, no
// flags); its remaining length is 2, the packet id.
const pubackHeader = 0x40

// sendAcks writes the gathered PUBACKs to conn, under a.mu. On a closed
// connection they are dropped: the broker redelivers those messages in the
// next session.
func (a *acker) sendAcks(conn ackConn) {
	if len(a.acks) == 0 {
		return
	}
	_ = conn.writeAcks(a.acks)
	a.acks = a.acks[:0]
}

// idle reports whether every slot handed out has been released.
func (a *acker) idle() bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.head == a.tail
}
