// Package dashboard owns the live feed behind the IOC video wall: a
// websocket hub where each screen subscribes to topics (fleet, alerts,
// violations, cameras, telemetry of a site or a device) and gets a
// snapshot of each, then its changes.
//
// One goroutine (Run) owns the set of clients and their subscriptions.
// Each change is marshalled once (once per role for violations, whose
// plates only reviewers and admins see) and offered to the bounded queue
// of every subscribed client. A client whose queue is full loses frames
// (counted) and gets fresh snapshots once it has drained its queue; one
// that has not drained it within CutOffAfter, or whose socket stays
// blocked that long, is cut off (counted), never allowed to stall the
// hub. Telemetry does not go through the queue one reading at a time: it
// is coalesced per client to the newest value of each (device, field)
// (see telemetry.go).
package dashboard

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/gorilla/websocket"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/iocd/iocd/bus"
	"github.com/iocd/iocd/defs"
)

// Message is one frame of the feed: {"type","at","data"}.
type Message struct {
	Type string    `json:"type"`
	At   time.Time `json:"at"`
	Data any       `json:"data"`
}

// Options configures a Hub. Bus is required; every source left nil is
// an empty one.
type Options struct {
	Bus        *bus.Bus
	Fleet      FleetSource
	Overview   OverviewSource
	Alerts     AlertLister
	Violations ViolationLister
	Cameras    CameraSource
	// Sessions closes a principal's feeds when its credential ends; nil:
	// never.
	Sessions Sessions
	Logger   *slog.Logger
	// Registerer receives the hub's metrics; nil: not registered.
	Registerer prometheus.Registerer
	// OverviewEvery is how often fleet subscribers get the overview and
	// the fleet is re-read for changed devices (default 2 s).
	OverviewEvery time.Duration
	// TelemetryEvery is how often dirty telemetry is handed to clients
	// (default 50 ms: the delay it adds is at most this, and a client
	// gets at most one telemetry frame per topic per flush).
	TelemetryEvery time.Duration
	// CutOffAfter is how long a client may stay unable to keep up (its
	// queue full, or one write blocked) before it is cut off (default
	// 10 s).
	CutOffAfter time.Duration
	// ClientQueue bounds each client's outgoing frames (default 256).
	ClientQueue int
	// MaxTelemetryKeys bounds the (device, field) values kept for the
	// feed (default 200,000); new keys past it are dropped and counted.
	MaxTelemetryKeys int
	// AllowedOrigins lists the Origin values accepted besides the same
	// host (scheme://host[:port]); empty: same host only.
	AllowedOrigins []string
}

// Limits of what a client may ask for.
const (
	maxClientMessage = 4 << 10
	maxSubscriptions = 64
	maxTopicLen      = 128
	violationsShown  = 50
	alertsShown      = 1000
	snapshotTimeout  = 5 * time.Second
)

// Topic names; telemetry topics are telemetryPrefix + a site or device.
const (
	topicFleet      = "fleet"
	topicAlerts     = "alerts"
	topicViolations = "violations"
	topicCameras    = "cameras"
	telemetryPrefix = "telemetry:"
)

// Hub fans the iocd state out to websocket clients.
type Hub struct {
	opts     Options
	log      *slog.Logger
	sub      *bus.Subscription
	upgrader websocket.Upgrader
	table    *table

	register   chan *client
	unregister chan *client
	requests   chan request
	done       chan struct{} // closed when Run returns

	// Owned by Run.
	clients     map[*client]struct{}
	topicCount  map[string]int // subscribers per topic
	teleTargets map[string]int // subscribers per telemetry target
	devices     map[defs.DeviceID]defs.DeviceStatus
	flushBuf    []reading
	index       map[string][]encoded

	m metrics
}

type metrics struct {
	connected   prometheus.Gauge
	cutOff      *prometheus.CounterVec
	sent        prometheus.Counter
	dropped     prometheus.Counter
	resyncs     prometheus.Counter
	refused     *prometheus.CounterVec
	ended       prometheus.Counter
	keysDropped prometheus.Counter
}

// New returns a Hub subscribed to the events the wall shows. Run must be
// called for it to deliver anything.
func New(o Options) *Hub {
	if o.OverviewEvery <= 0 {
		o.OverviewEvery = 2 * time.Second
	}
	if o.TelemetryEvery <= 0 {
		o.TelemetryEvery = 50 * time.Millisecond
	}
	if o.CutOffAfter <= 0 {
		o.CutOffAfter = 10 * time.Second
	}
	if o.ClientQueue <= 0 {
		o.ClientQueue = 256
	}
	if o.MaxTelemetryKeys <= 0 {
		o.MaxTelemetryKeys = 200_000
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Fleet == nil {
		o.Fleet = noFleet{}
	}
	if o.Overview == nil {
		o.Overview = noOverview{}
	}
	if o.Alerts == nil {
		o.Alerts = noAlerts{}
	}
	if o.Violations == nil {
		o.Violations = noViolations{}
	}
	if o.Cameras == nil {
		o.Cameras = noCameras{}
	}
	if o.Sessions == nil {
		o.Sessions = neverEnds{}
	}
	m := metrics{
		connected: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "iocd_dashboard_clients", Help: "Websocket clients connected to the feed.",
		}),
		cutOff: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "iocd_dashboard_clients_cut_off_total",
			Help: "Feed clients disconnected because they could not keep up (queue_full: queue not drained in time; write_stalled: one write blocked too long).",
		}, []string{"reason"}),
		sent: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "iocd_dashboard_messages_total", Help: "Frames queued to feed clients (telemetry counted once per flush).",
		}),
		dropped: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "iocd_dashboard_frames_dropped_total", Help: "Frames not queued because a client's queue was full; the client is resent snapshots once it drains.",
		}),
		resyncs: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "iocd_dashboard_resyncs_total", Help: "Times a client that had lost frames was resent its snapshots.",
		}),
		refused: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "iocd_dashboard_refused_total", Help: "Feed connections and client messages refused (origin, bad_message).",
		}, []string{"reason"}),
		ended: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "iocd_dashboard_feeds_ended_total", Help: "Feeds closed because their credential was revoked or their session ended.",
		}),
		keysDropped: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "iocd_dashboard_telemetry_keys_dropped_total", Help: "Telemetry values not kept for the feed because the table was full.",
		}),
	}
	for _, r := range []string{"queue_full", "write_stalled"} {
		m.cutOff.WithLabelValues(r)
	}
	for _, r := range []string{"origin", "bad_message"} {
		m.refused.WithLabelValues(r)
	}
	h := &Hub{
		opts: o,
		log:  o.Logger,
		sub: o.Bus.Subscribe("dashboard", defs.Mask(defs.EventHealth, defs.EventDevice,
			defs.EventViolation, defs.EventCamera, defs.EventNotice, defs.EventAlert), 4096),
		table:       newTable(o.MaxTelemetryKeys, m.keysDropped),
		register:    make(chan *client),
		unregister:  make(chan *client),
		requests:    make(chan request),
		done:        make(chan struct{}),
		clients:     make(map[*client]struct{}),
		topicCount:  make(map[string]int),
		teleTargets: make(map[string]int),
		devices:     make(map[defs.DeviceID]defs.DeviceStatus),
		index:       make(map[string][]encoded),
		m:           m,
	}
	h.upgrader = websocket.Upgrader{
		ReadBufferSize:  1024,
		WriteBufferSize: 16 << 10,
		CheckOrigin:     h.checkOrigin,
		Subprotocols:    []string{"iocd.v1"},
	}
	if o.Registerer != nil {
		o.Registerer.MustRegister(m.connected, m.cutOff, m.sent, m.dropped, m.resyncs, m.refused, m.ended, m.keysDropped)
	}
	return h
}

// ObserveReading keeps the newest value of each field for the telemetry
// topics; it implements ingest.Observer. It runs in the decoder
// goroutines: one shard lock, no allocation for a key already seen, no
// blocking on any client.
func (h *Hub) ObserveReading(dev defs.Device, ts time.Time, fields []defs.Field) {
	h.table.observe(dev, ts, fields)
}

// ObserveRejected implements ingest.Observer; the feed shows no refusals.
func (h *Hub) ObserveRejected(defs.DeviceID, string, time.Time) {}

// Run delivers events until ctx ends, then disconnects every client.
func (h *Hub) Run(ctx context.Context) error {
	defer close(h.done)
	defer h.sub.Close()
	overview := time.NewTicker(h.opts.OverviewEvery)
	defer overview.Stop()
	tele := time.NewTicker(h.opts.TelemetryEvery)
	defer tele.Stop()
	defer func() {
		for c := range h.clients {
			h.drop(c, false)
		}
	}()
	for {
		select {
		case <-ctx.Done():
			return nil
		case c := <-h.register:
			h.clients[c] = struct{}{}
			h.m.connected.Set(float64(len(h.clients)))
		case c := <-h.unregister:
			if _, ok := h.clients[c]; ok {
				h.drop(c, false)
			}
		case rq := <-h.requests:
			if _, ok := h.clients[rq.c]; ok {
				h.handle(ctx, rq)
			}
		case ev, ok := <-h.sub.C():
			if !ok {
				return nil
			}
			h.event(ctx, ev)
		case now := <-tele.C:
			h.flush(now)
			h.checkLagging(ctx, now)
		case now := <-overview.C:
			h.overviewTick(now)
		}
	}
}

// offer queues it for c. A full queue loses the frame (counted) and
// marks c: once it has drained, it is resent its snapshots
// (checkLagging), or cut off if it does not drain in time.
func (h *Hub) offer(c *client, it item) bool {
	select {
	case c.send <- it:
		h.m.sent.Inc()
		return true
	default:
		h.m.dropped.Inc()
		if c.lostSince.IsZero() {
			c.lostSince = time.Now()
		}
		return false
	}
}

// drop forgets c and closes its queue, which ends its writer; cut also
// closes the connection, for a writer that may be blocked on it.
func (h *Hub) drop(c *client, cut bool) {
	delete(h.clients, c)
	for t := range c.topics {
		h.untrack(t)
	}
	close(c.send)
	if cut {
		c.conn.Close()
	}
	h.m.connected.Set(float64(len(h.clients)))
}

// checkLagging resyncs the clients that lost frames and have drained
// their queue, and cuts off those that have not drained it in time.
func (h *Hub) checkLagging(ctx context.Context, now time.Time) {
	var cache snapshotCache
	for c := range h.clients {
		if c.lostSince.IsZero() {
			continue
		}
		if len(c.send) == 0 {
			c.lostSince = time.Time{}
			h.m.resyncs.Inc()
			if cache == nil {
				cache = snapshotCache{}
			}
			for _, t := range sortedTopics(c.topics) {
				h.snapshot(ctx, c, t, cache)
			}
			continue
		}
		if now.Sub(c.lostSince) >= h.opts.CutOffAfter {
			h.m.cutOff.WithLabelValues("queue_full").Inc()
			h.log.Warn("feed client cut off: queue full too long", "client", c.p.Subject(), "remote", c.remote)
			h.drop(c, true)
		}
	}
}

// event turns a bus event into a change frame for the topic's
// subscribers.
func (h *Hub) event(ctx context.Context, ev defs.Event) {
	at := ev.Time
	if at.IsZero() {
		at = time.Now()
	}
	switch ev.Kind {
	case defs.EventHealth:
		hc := ev.Health
		st, ok := h.devices[hc.Device]
		if !ok {
			st = defs.DeviceStatus{ID: hc.Device, Site: hc.Site, Kind: hc.Kind}
		}
		st.Health, st.Reason, st.LastSeen = hc.To, hc.Reason, hc.LastSeen
		h.devices[hc.Device] = st
		h.broadcast(topicFleet, "device", at, st)
	case defs.EventDevice:
		// A registry change (approval, move, rename): re-read the fleet
		// so the status sent is the fleet's, not a guess.
		if h.topicCount[topicFleet] > 0 {
			h.refreshDevices(at)
		}
	case defs.EventCamera:
		h.broadcast(topicCameras, "camera", at, ev.Camera)
	case defs.EventNotice:
		h.broadcast(topicFleet, "notice", at, ev.Notice)
	case defs.EventAlert:
		h.broadcast(topicAlerts, "alert", at, ev.Alert)
	case defs.EventViolation:
		h.broadcastViolation(at, *ev.Violation)
	}
}

// broadcast marshals one change once and queues it for every subscriber
// of topic.
func (h *Hub) broadcast(topic, typ string, at time.Time, data any) {
	if h.topicCount[topic] == 0 {
		return
	}
	frame := marshal(Message{Type: typ, At: at.UTC(), Data: data})
	for c := range h.clients {
		if _, ok := c.topics[topic]; ok {
			h.offer(c, item{frame: frame})
		}
	}
}

// broadcastViolation sends v to each violations subscriber as
// violations.ForRole presents it to that client's role, marshalling
// once per role.
func (h *Hub) broadcastViolation(at time.Time, v defs.Violation) {
	if h.topicCount[topicViolations] == 0 {
		return
	}
	var byRole map[defs.Role][]byte
	for c := range h.clients {
		if _, ok := c.topics[topicViolations]; !ok {
			continue
		}
		frame, ok := byRole[c.role]
		if !ok {
			frame = marshal(Message{Type: "violation", At: at.UTC(), Data: forRole(v, c.role)})
			if byRole == nil {
				byRole = make(map[defs.Role][]byte, 4)
			}
			byRole[c.role] = frame
		}
		h.offer(c, item{frame: frame})
	}
}

// overviewTick sends the overview to fleet subscribers and re-reads the
// fleet for devices whose status changed.
func (h *Hub) overviewTick(now time.Time) {
	if h.topicCount[topicFleet] == 0 {
		return
	}
	h.broadcast(topicFleet, "overview", now, h.opts.Overview.Overview())
	h.refreshDevices(now)
}

// refreshDevices re-reads the fleet and sends a `device` frame for each
// device whose shown status changed since it was last sent.
func (h *Hub) refreshDevices(at time.Time) {
	devs := h.opts.Fleet.Devices()
	fresh := make(map[defs.DeviceID]defs.DeviceStatus, len(devs))
	for _, d := range devs {
		fresh[d.ID] = d
		if old, ok := h.devices[d.ID]; !ok || statusChanged(old, d) {
			h.broadcast(topicFleet, "device", at, d)
		}
	}
	h.devices = fresh
}

// statusChanged reports whether what the wall shows of a device changed;
// last-seen times and values move all the time and are left out.
func statusChanged(a, b defs.DeviceStatus) bool {
	return a.Health != b.Health || a.Reason != b.Reason || a.Status != b.Status || a.Name != b.Name ||
		a.Site != b.Site || a.Kind != b.Kind || a.Lat != b.Lat || a.Lon != b.Lon || a.Firmware != b.Firmware
}

// track and untrack count a topic's subscribers; telemetry targets are
// handed to the table so that only wanted readings are marked dirty.
func (h *Hub) track(topic string) {
	h.topicCount[topic]++
	if target, ok := strings.CutPrefix(topic, telemetryPrefix); ok {
		h.teleTargets[target]++
		if h.teleTargets[target] == 1 {
			h.table.setWanted(h.teleTargets)
		}
	}
}

func (h *Hub) untrack(topic string) {
	if h.topicCount[topic]--; h.topicCount[topic] <= 0 {
		delete(h.topicCount, topic)
	}
	if target, ok := strings.CutPrefix(topic, telemetryPrefix); ok {
		if h.teleTargets[target]--; h.teleTargets[target] <= 0 {
			delete(h.teleTargets, target)
			h.table.setWanted(h.teleTargets)
		}
	}
}

func marshal(m Message) []byte {
	b, err := json.Marshal(m)
	if err != nil {
		// Only values of our own types are marshalled; a failure is a bug.
		panic("dashboard: marshalling feed message: " + err.Error())
	}
	return b
}

func sortedTopics(set map[string]struct{}) []string {
	out := make([]string, 0, len(set))
	for t := range set {
		out = append(out, t)
	}
	slices.Sort(out)
	return out
}

// checkOrigin accepts requests without an Origin (not a browser), from
// the same host, or from an allowed origin; the API authenticates before
// the upgrade, so this is what keeps another site's page from using a
// screen's session cookie.
func (h *Hub) checkOrigin(r *http.Request) bool {
	origin := r.Header.Get("Origin")
	if origin == "" {
		return true
	}
	if slices.Contains(h.opts.AllowedOrigins, origin) {
		return true
	}
	if u, err := url.Parse(origin); err == nil && (u.Scheme == "http" || u.Scheme == "https") && strings.EqualFold(u.Host, r.Host) {
		return true
	}
	h.m.refused.WithLabelValues("origin").Inc()
	h.log.Debug("feed refused: origin not allowed", "origin", origin, "remote", r.RemoteAddr)
	return false
}
