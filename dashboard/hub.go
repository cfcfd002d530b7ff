// Package dashboard owns the live feed behind the IOC video wall: a
// websocket hub that turns bus events into JSON messages for every
// connected screen, plus the small page that shows them.
//
// One goroutine (Run) owns the set of clients. Each event is marshalled
// once and offered to every client's bounded queue; a client whose queue is
// full is cut off and counted, never allowed to stall the hub (the pattern
// of gorilla/websocket's chat example). Telemetry readings are not sent one
// by one: at 60,000 readings a second no screen could use them, so the hub
// sends a coalesced fleet summary on a timer instead.
package dashboard

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"time"

	"github.com/gorilla/websocket"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/iocd/iocd/bus"
	"github.com/iocd/iocd/defs"
)

// Message is one frame of the feed, as the dashboard's JavaScript reads it.
type Message struct {
	Type string    `json:"type"`
	At   time.Time `json:"at"`
	Data any       `json:"data"`
}

// FleetSource gives the hub the fleet summary it sends on a timer.
type FleetSource interface {
	Counts() []defs.FleetCount
}

// Options configures a Hub.
type Options struct {
	Bus    *bus.Bus
	Fleet  FleetSource // nil: no fleet summaries
	Logger *slog.Logger
	// Registerer receives the hub's metrics; nil: not registered.
	Registerer prometheus.Registerer
	// SummaryEvery is how often the fleet summary is sent (default 2 s).
	SummaryEvery time.Duration
	// ClientQueue bounds each client's outgoing frames (default 256).
	ClientQueue int
	// AllowedOrigins lists the Origin values accepted besides the same
	// host; empty: same host only.
	AllowedOrigins []string
}

// Hub fans events out to websocket clients.
type Hub struct {
	opts     Options
	log      *slog.Logger
	sub      *bus.Subscription
	upgrader websocket.Upgrader

	register   chan *client
	unregister chan *client
	done       chan struct{}        // closed when Run returns
	clients    map[*client]struct{} // owned by Run

	connected prometheus.Gauge
	cutOff    prometheus.Counter
	sent      prometheus.Counter
}

// New returns a Hub subscribed to the events the wall shows. Run must be
// called for it to deliver anything.
func New(o Options) *Hub {
	if o.SummaryEvery <= 0 {
		o.SummaryEvery = 2 * time.Second
	}
	if o.ClientQueue <= 0 {
		o.ClientQueue = 256
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	h := &Hub{
		opts: o,
		log:  o.Logger,
		sub: o.Bus.Subscribe("dashboard", defs.Mask(defs.EventHealth, defs.EventDevice,
			defs.EventViolation, defs.EventCamera, defs.EventNotice, defs.EventAlert), 4096),
		register:   make(chan *client),
		unregister: make(chan *client),
		done:       make(chan struct{}),
		clients:    make(map[*client]struct{}),
		connected: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "iocd_dashboard_clients", Help: "Websocket clients connected to the dashboard feed.",
		}),
		cutOff: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "iocd_dashboard_clients_cut_off_total", Help: "Websocket clients disconnected because they could not keep up.",
		}),
		sent: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "iocd_dashboard_messages_total", Help: "Feed messages broadcast to the dashboard clients.",
		}),
	}
	h.upgrader = websocket.Upgrader{
		ReadBufferSize:  1024,
		WriteBufferSize: 16 << 10,
		CheckOrigin:     h.checkOrigin,
		Subprotocols:    []string{"iocd.v1"},
	}
	if o.Registerer != nil {
		o.Registerer.MustRegister(h.connected, h.cutOff, h.sent)
	}
	return h
}

// Run delivers events until ctx ends, then disconnects every client.
func (h *Hub) Run(ctx context.Context) error {
	defer close(h.done)
	defer h.sub.Close()
	tick := time.NewTicker(h.opts.SummaryEvery)
	defer tick.Stop()
	defer func() {
		for c := range h.clients {
			h.drop(c)
		}
	}()
	for {
		select {
		case <-ctx.Done():
			return nil
		case c := <-h.register:
			h.clients[c] = struct{}{}
			h.connected.Set(float64(len(h.clients)))
			if h.opts.Fleet != nil {
				h.offer(c, h.summary())
			}
		case c := <-h.unregister:
			if _, ok := h.clients[c]; ok {
				h.drop(c)
			}
		case ev, ok := <-h.sub.C():
			if !ok {
				return nil
			}
			h.broadcast(ev)
		case <-tick.C:
			if h.opts.Fleet != nil && len(h.clients) > 0 {
				frame := h.summary()
				for c := range h.clients {
					h.offer(c, frame)
				}
			}
		}
	}
}

func (h *Hub) summary() []byte {
	return marshal(Message{Type: "fleet", At: time.Now().UTC(), Data: h.opts.Fleet.Counts()})
}

// broadcast marshals ev once (twice for violations: with and without the
// plate) and offers it to every client allowed to see it.
func (h *Hub) broadcast(ev defs.Event) {
	if len(h.clients) == 0 {
		return
	}
	full, limited := frames(ev)
	if full == nil {
		return
	}
	h.sent.Inc()
	for c := range h.clients {
		if c.role.Allows(defs.RoleReviewer) {
			h.offer(c, full)
		} else {
			h.offer(c, limited)
		}
	}
}

// offer queues a frame for c, cutting c off if its queue is full.
func (h *Hub) offer(c *client, frame []byte) {
	select {
	case c.send <- frame:
	default:
		h.cutOff.Inc()
		h.log.Warn("dashboard client cut off: too slow", "client", c.name, "remote", c.remote)
		h.drop(c)
	}
}

func (h *Hub) drop(c *client) {
	delete(h.clients, c)
	close(c.send)
	h.connected.Set(float64(len(h.clients)))
}

// frames renders ev for reviewers (full) and for everyone else (limited:
// violation plates are personal data, shown only to the police).
func frames(ev defs.Event) (full, limited []byte) {
	at := ev.Time
	if at.IsZero() {
		at = time.Now().UTC()
	}
	switch ev.Kind {
	case defs.EventHealth:
		full = marshal(Message{Type: "health", At: at, Data: ev.Health})
	case defs.EventDevice:
		full = marshal(Message{Type: "device", At: at, Data: ev.Device})
	case defs.EventCamera:
		full = marshal(Message{Type: "camera", At: at, Data: ev.Camera})
	case defs.EventNotice:
		full = marshal(Message{Type: "notice", At: at, Data: ev.Notice})
	case defs.EventAlert:
		full = marshal(Message{Type: "alert", At: at, Data: ev.Alert})
	case defs.EventViolation:
		v := *ev.Violation
		full = marshal(Message{Type: "violation", At: at, Data: v})
		v.Plate, v.PlateRaw = "", ""
		limited = marshal(Message{Type: "violation", At: at, Data: v})
		return full, limited
	default:
		return nil, nil
	}
	return full, full
}

func marshal(m Message) []byte {
	b, err := json.Marshal(m)
	if err != nil {
		// Only values of our own types are marshalled; a failure is a bug.
		panic("dashboard: marshalling feed message: " + err.Error())
	}
	return b
}

func (h *Hub) checkOrigin(r *http.Request) bool {
	origin := r.Header.Get("Origin")
	if origin == "" {
		return true // not a browser
	}
	for _, o := range h.opts.AllowedOrigins {
		if o == origin {
			return true
		}
	}
	return origin == "http://"+r.Host || origin == "https://"+r.Host
}
