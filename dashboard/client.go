package dashboard

import (
	"context"
	"net/http"
	"time"

	"github.com/gorilla/websocket"

	"github.com/iocd/iocd/defs"
)

const (
	writeWait  = 10 * time.Second
	pongWait   = 60 * time.Second
	pingPeriod = pongWait * 9 / 10
	// The feed is one-way; clients only send pongs and close frames.
	maxClientMessage = 512
)

// client is one websocket connection. Its writer goroutine is the only one
// that writes to conn; its reader goroutine the only one that reads.
type client struct {
	conn   *websocket.Conn
	send   chan []byte // closed by the hub when it drops the client
	role   defs.Role
	name   string
	remote string
}

// Serve upgrades the request to a websocket and streams the feed to it
// until either side closes. The caller has authenticated the request;
// role decides what the client may see.
func (h *Hub) Serve(ctx context.Context, w http.ResponseWriter, r *http.Request, name string, role defs.Role) {
	conn, err := h.upgrader.Upgrade(w, r, nil)
	if err != nil {
		// Upgrade has already written the HTTP error.
		h.log.Debug("websocket upgrade failed", "err", err)
		return
	}
	c := &client{conn: conn, send: make(chan []byte, h.opts.ClientQueue), role: role, name: name, remote: r.RemoteAddr}
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
	c.writeLoop()
}

// readLoop discards what the client sends and notices when it goes away.
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
		if _, _, err := c.conn.ReadMessage(); err != nil {
			return
		}
	}
}

// writeLoop sends queued frames and pings until the hub closes send.
func (c *client) writeLoop() {
	ping := time.NewTicker(pingPeriod)
	defer func() {
		ping.Stop()
		c.conn.Close()
	}()
	for {
		select {
		case frame, ok := <-c.send:
			c.conn.SetWriteDeadline(time.Now().Add(writeWait))
			if !ok {
				c.conn.WriteMessage(websocket.CloseMessage, websocket.FormatCloseMessage(websocket.CloseGoingAway, "server closing or client too slow"))
				return
			}
			if err := c.conn.WriteMessage(websocket.TextMessage, frame); err != nil {
				return
			}
		case <-ping.C:
			c.conn.SetWriteDeadline(time.Now().Add(writeWait))
			if err := c.conn.WriteMessage(websocket.PingMessage, nil); err != nil {
				return
			}
		}
	}
}

// Handler returns the feed as an http.Handler for a router that has
// already authenticated the request; who reports the caller's name and
// role from the request (its context).
func (h *Hub) Handler(who func(*http.Request) (string, defs.Role)) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		name, role := who(r)
		h.Serve(r.Context(), w, r, name, role)
	})
}
