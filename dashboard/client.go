package dashboard

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/gorilla/websocket"

	"github.com/iocd/iocd/auth"
	"github.com/iocd/iocd/defs"
)

const (
	pongWait   = 60 * time.Second
	pingPeriod = pongWait * 9 / 10
	// closeWait bounds the close frame sent to a feed whose credential
	// ended.
	closeWait = time.Second
)

// item is one entry of a client's queue: a frame, or a token telling the
// writer to send the client's pending telemetry.
type item struct {
	frame []byte
	// telemetry: send what is pending (frame is nil).
	telemetry bool
	// snapshotOf names the telemetry topic whose snapshot frame is;
	// its held-back changes follow it.
	snapshotOf string
}

// teleTopic is a client's pending telemetry of one topic.
type teleTopic struct {
	target  string
	pending map[tkey][]byte // newest encoded reading per key
	spare   map[tkey][]byte // an empty map the writer gave back, or nil
	// held: the topic's snapshot is queued but not written yet, so its
	// changes wait for it.
	held bool
}

// client is one websocket connection. Its writer goroutine is the only
// one that writes frames to conn, its reader the only one that reads.
type client struct {
	conn    *websocket.Conn
	p       auth.Principal
	role    defs.Role
	remote  string
	send    chan item       // closed by the hub when it drops the client
	ended   <-chan struct{} // closed when the credential ends; nil: never
	gone    chan struct{}   // closed when the writer returns
	endOnce sync.Once

	// Owned by the hub's Run.
	topics    map[string]struct{}
	lostSince time.Time // first frame lost since the queue last drained

	// Shared by the hub (merge) and the writer, under mu.
	mu       sync.Mutex
	tele     map[string]*teleTopic
	tokenOut bool // a telemetry token is queued
}

// Serve upgrades the request to a websocket and runs the feed for p
// until either side closes, or p's credential ends. The caller has
// authenticated the request; p's role decides what the client may see.
func (h *Hub) Serve(ctx context.Context, w http.ResponseWriter, r *http.Request, p auth.Principal) {
	conn, err := h.upgrader.Upgrade(w, r, nil)
	if err != nil {
		// Upgrade has already written the HTTP error.
		h.log.Debug("websocket upgrade failed", "err", err)
		return
	}
	c := &client{
		conn: conn, p: p, role: p.Role, remote: r.RemoteAddr,
		send:   make(chan item, h.opts.ClientQueue),
		ended:  h.opts.Sessions.Ended(p),
		gone:   make(chan struct{}),
		topics: make(map[string]struct{}),
		tele:   make(map[string]*teleTopic),
	}
	select {
	case h.register <- c:
	case <-ctx.Done():
		conn.Close()
		return
	case <-h.done:
		conn.Close()
		return
	}
	go c.readLoop(h)
	if c.ended != nil {
		go c.watchEnded(h)
	}
	c.writeLoop(h)
}

// Handler returns the feed as an http.Handler for a router that has
// already authenticated the request; who reports the caller.
func (h *Hub) Handler(who func(*http.Request) auth.Principal) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h.Serve(r.Context(), w, r, who(r))
	})
}

// watchEnded closes the connection as soon as the credential ends; the
// writer also checks before each frame, so nothing is sent after it.
func (c *client) watchEnded(h *Hub) {
	select {
	case <-c.ended:
		c.end(h)
	case <-c.gone:
	}
}

// end closes the feed of an ended credential, once, whichever of the
// watcher and the writer sees it first.
func (c *client) end(h *Hub) {
	c.endOnce.Do(func() {
		h.m.ended.Inc()
		h.log.Info("feed closed: credential ended", "client", c.p.Subject(), "remote", c.remote)
		c.conn.WriteControl(websocket.CloseMessage,
			websocket.FormatCloseMessage(websocket.ClosePolicyViolation, "credential ended"), time.Now().Add(closeWait))
		c.conn.Close()
	})
}

func (c *client) isEnded() bool {
	select {
	case <-c.ended:
		return true
	default:
		return false
	}
}

// readLoop reads subscriptions and hands them to the hub, and notices
// when the client goes away.
func (c *client) readLoop(h *Hub) {
	defer func() {
		select {
		case h.unregister <- c:
		case <-h.done:
			// The hub has stopped and closed every client's queue.
		}
	}()
	c.conn.SetReadLimit(maxClientMessage)
	c.conn.SetReadDeadline(time.Now().Add(pongWait))
	c.conn.SetPongHandler(func(string) error { return c.conn.SetReadDeadline(time.Now().Add(pongWait)) })
	for {
		_, data, err := c.conn.ReadMessage()
		if err != nil {
			return
		}
		c.conn.SetReadDeadline(time.Now().Add(pongWait))
		rq := request{c: c}
		dec := json.NewDecoder(bytes.NewReader(data))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&rq.msg); err != nil {
			rq.bad = "bad message: " + err.Error() + ` (want {"subscribe":[...]} or {"unsubscribe":[...]})`
		} else if dec.More() {
			rq.bad = "bad message: one JSON object per message"
		} else if len(rq.msg.Subscribe) == 0 && len(rq.msg.Unsubscribe) == 0 {
			rq.bad = `bad message: want {"subscribe":[...]} or {"unsubscribe":[...]}`
		}
		select {
		case h.requests <- rq:
		case <-h.done:
			return
		case <-c.gone:
			return
		}
	}
}

// writeLoop sends queued frames, pending telemetry and pings until the
// hub closes send, a write fails or the credential ends. A write blocked
// for CutOffAfter fails, which cuts the client off.
func (c *client) writeLoop(h *Hub) {
	ping := time.NewTicker(pingPeriod)
	defer func() {
		ping.Stop()
		c.conn.Close()
		close(c.gone)
	}()
	wait := h.opts.CutOffAfter
	var buf []byte
	write := func(frame []byte) bool {
		if c.isEnded() {
			c.end(h)
			return false
		}
		c.conn.SetWriteDeadline(time.Now().Add(wait))
		err := c.conn.WriteMessage(websocket.TextMessage, frame)
		if err != nil {
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				h.m.cutOff.WithLabelValues("write_stalled").Inc()
				h.log.Warn("feed client cut off: write blocked too long", "client", c.p.Subject(), "remote", c.remote)
			}
			return false
		}
		return true
	}
	for {
		select {
		case it, ok := <-c.send:
			if !ok {
				c.conn.SetWriteDeadline(time.Now().Add(closeWait))
				c.conn.WriteMessage(websocket.CloseMessage, websocket.FormatCloseMessage(websocket.CloseGoingAway, "server closing or client too slow"))
				return
			}
			switch {
			case it.telemetry:
				ps := c.takePending("", false)
				for _, p := range ps {
					buf = appendPending(buf[:0], p)
					if !write(buf) {
						return
					}
				}
				c.givePending(ps)
			case it.snapshotOf != "":
				if !write(it.frame) {
					return
				}
				ps := c.takePending(it.snapshotOf, true)
				for _, p := range ps {
					buf = appendPending(buf[:0], p)
					if !write(buf) {
						return
					}
				}
				c.givePending(ps)
			default:
				if !write(it.frame) {
					return
				}
			}
		case <-ping.C:
			c.conn.SetWriteDeadline(time.Now().Add(wait))
			if err := c.conn.WriteMessage(websocket.PingMessage, nil); err != nil {
				return
			}
		case <-c.ended:
			c.end(h)
			return
		}
	}
}

// pendingTopic is one topic's pending readings, taken by the writer.
type pendingTopic struct {
	topic    string
	readings map[tkey][]byte
}

// takePending takes what is pending: of every topic not held (a token),
// or of topic only, releasing its hold (after its snapshot).
func (c *client) takePending(topic string, release bool) []pendingTopic {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []pendingTopic
	take := func(name string, tt *teleTopic) {
		if len(tt.pending) > 0 {
			out = append(out, pendingTopic{name, tt.pending})
			if tt.pending = tt.spare; tt.pending == nil {
				tt.pending = make(map[tkey][]byte, len(out[len(out)-1].readings))
			}
			tt.spare = nil
		}
	}
	if release {
		if tt := c.tele[topic]; tt != nil {
			tt.held = false
			take(topic, tt)
		}
		return out
	}
	c.tokenOut = false
	for name, tt := range c.tele {
		if !tt.held {
			take(name, tt)
		}
	}
	return out
}

// givePending hands the maps taken by takePending back, emptied, so
// that a busy topic does not allocate a map per frame.
func (c *client) givePending(ps []pendingTopic) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, p := range ps {
		if tt := c.tele[p.topic]; tt != nil && tt.spare == nil {
			clear(p.readings)
			tt.spare = p.readings
		}
	}
}

func appendPending(b []byte, p pendingTopic) []byte {
	n := 0
	b = append(b, `{"type":"telemetry","at":"`...)
	b = time.Now().UTC().AppendFormat(b, time.RFC3339Nano)
	b = append(b, `","data":{"topic":`...)
	b = appendString(b, p.topic)
	b = append(b, `,"readings":[`...)
	for _, r := range p.readings {
		if n > 0 {
			b = append(b, ',')
		}
		b = append(b, r...)
		n++
	}
	return append(b, "]}}"...)
}
