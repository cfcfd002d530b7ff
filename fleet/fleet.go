// Package fleet owns device health: when each registered device was last
// heard from, whether it is online, offline (its status topic, usually the
// MQTT last will, said so), stale (silent for longer than its heartbeat
// allows) or unknown (never heard from), and its latest values. A camera's
// health also includes its stream: the streams manager's session state is
// combined with what MQTT says (see combine), re-read on every check tick
// so a dropped bus event cannot leave a camera counted online. Every
// change is published on the bus as defs.EventHealth, written to the
// device_status measurement and to the health history (a bounded store
// table), and kept in a bounded ring of recent changes.
package fleet

import (
	"context"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/iocd/iocd/bus"
	"github.com/iocd/iocd/config"
	"github.com/iocd/iocd/defs"
)

// MeasurementStatus is the InfluxDB measurement of health changes.
const MeasurementStatus = "device_status"

// StatusSink stores health changes as time series; *influx.Writer is one.
type StatusSink interface {
	WritePoint(measurement string, tags map[string]string, fields map[string]any, ts time.Time)
}

// Tracker holds the health of every registered device. Its methods are safe
// for concurrent use; Run checks for silence and follows registry changes.
type Tracker struct {
	log      *slog.Logger
	bus      *bus.Bus
	sink     StatusSink
	minStale time.Duration
	every    time.Duration
	devSub   *bus.Subscription

	cams    Cameras
	history History
	histQ   chan defs.HealthChange

	mu     sync.Mutex
	devs   map[defs.DeviceID]*entry
	recent recentRing

	changes       *prometheus.CounterVec
	valuesDropped prometheus.Counter
	histDropped   prometheus.Counter
	histFailed    prometheus.Counter
}

// maxValues bounds the latest values kept per device. Firmware that puts a
// counter or a timestamp in its key names would otherwise grow a device's
// entry with every message; keys past the bound are not kept, and counted.
const maxValues = 256

// linearKeys is how many keys are found by scanning before an index is
// built: devices send a handful of fields, and a short scan is cheaper than
// hashing each key on the hot path.
const linearKeys = 16

// setValue records f as its key's latest value, reporting false when the
// key is new and the entry is already at maxValues.
func (e *entry) setValue(f defs.Field) bool {
	if e.index == nil {
		for i := range e.values {
			if e.values[i].Key == f.Key {
				e.values[i] = f
				return true
			}
		}
	} else if i, ok := e.index[f.Key]; ok {
		e.values[i] = f
		return true
	}
	if len(e.values) >= maxValues {
		return false
	}
	e.values = append(e.values, f)
	switch {
	case e.index != nil:
		e.index[f.Key] = len(e.values) - 1
	case len(e.values) > linearKeys:
		e.index = make(map[string]int, 2*len(e.values))
		for i, v := range e.values {
			e.index[v.Key] = i
		}
	}
	return true
}

type entry struct {
	dev defs.Device
	// mqtt is what MQTT says (telemetry, status messages, silence);
	// health is the published health: mqtt combined with cam for a
	// camera, with reason saying why it is not online.
	mqtt     defs.Health
	health   defs.Health
	reason   string
	cam      *defs.CameraState // the stream's latest state; nil: no session known
	lastSeen time.Time
	values   []defs.Field   // at most maxValues, in first-seen order
	index    map[string]int // built once values outgrows linearKeys
	meta     map[string]string
}

// New returns a Tracker that knows the devices given (the registry's list
// at start; all unknown until heard from) and follows later registry
// changes from the bus. sink may be nil when there is no InfluxDB. The
// options add the camera sessions (WithCameras) and the health history
// store (WithHistory); without them cameras are judged by MQTT alone and
// no history is kept.
func New(cfg config.Fleet, devices []defs.Device, b *bus.Bus, sink StatusSink, logger *slog.Logger, reg prometheus.Registerer, opts ...Option) *Tracker {
	t := &Tracker{
		log:      logger.With("component", "fleet"),
		bus:      b,
		sink:     sink,
		minStale: cfg.MinStale.D(),
		every:    cfg.CheckInterval.D(),
		cams:     noCameras{},
		history:  noHistory{},
		histQ:    make(chan defs.HealthChange, historyQueue),
		devs:     make(map[defs.DeviceID]*entry, len(devices)),
		recent:   newRecentRing(recentHealth, recentCameras),
		changes: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "iocd_fleet_health_changes_total",
			Help: "Device health changes, by new health.",
		}, []string{"health"}),
		valuesDropped: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "iocd_fleet_values_dropped_total",
			Help: "Telemetry keys not kept as a device's latest values because it already has 256.",
		}),
		histDropped: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "iocd_fleet_history_dropped_total",
			Help: "Health changes not written to the health history because its queue was full.",
		}),
		histFailed: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "iocd_fleet_history_failed_total",
			Help: "Health changes not written to the health history because the store refused them.",
		}),
	}
	for _, o := range opts {
		o(t)
	}
	// Subscribe now, not in Run, so no registry or camera change between
	// New and Run is missed.
	t.devSub = b.Subscribe("fleet", defs.Mask(defs.EventDevice, defs.EventCamera), 1024)
	for _, d := range devices {
		t.devs[d.ID] = newEntry(d)
	}
	// Know the streams from the first message on, not from Run's first tick.
	t.recheckCameras(time.Now())
	if reg != nil {
		reg.MustRegister(t.changes, t.valuesDropped, t.histDropped, t.histFailed)
	}
	return t
}

func newEntry(d defs.Device) *entry {
	return &entry{dev: d, mqtt: defs.HealthUnknown, health: defs.HealthUnknown, reason: reasonUnknown}
}

// Run checks for silent devices and re-reads the camera sessions every
// check interval, applies registry and camera changes, and writes the
// health history, until ctx ends.
func (t *Tracker) Run(ctx context.Context) error {
	defer t.devSub.Close()
	histDone := make(chan struct{})
	go func() { defer close(histDone); t.writeHistory(ctx) }()
	defer func() { <-histDone }()
	t.recheckCameras(time.Now())
	tick := time.NewTicker(t.every)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case now := <-tick.C:
			t.checkStale(now)
			t.recheckCameras(now)
		case ev, ok := <-t.devSub.C():
			if !ok {
				return nil
			}
			switch {
			case ev.Device != nil:
				t.deviceChanged(*ev.Device)
			case ev.Camera != nil:
				t.cameraChanged(*ev.Camera)
			}
		}
	}
}

func (t *Tracker) deviceChanged(c defs.DeviceChange) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if c.Deleted {
		delete(t.devs, c.Device.ID)
		return
	}
	if e, ok := t.devs[c.Device.ID]; ok {
		e.dev = c.Device
		return
	}
	t.devs[c.Device.ID] = newEntry(c.Device)
}

// Seen records telemetry from dev, received at recv: it refreshes last_seen
// and the latest values, and brings an unknown, stale or offline device
// online, since a device that reports is evidently up.
func (t *Tracker) Seen(dev defs.Device, recv time.Time, fields []defs.Field) {
	t.mu.Lock()
	e := t.entryLocked(dev)
	if recv.After(e.lastSeen) {
		e.lastSeen = recv
	}
	for _, f := range fields {
		if !e.setValue(f) {
			t.valuesDropped.Inc()
		}
	}
	e.mqtt = defs.HealthOnline
	ch := t.applyLocked(e, recv, "telemetry")
	t.mu.Unlock()
	t.store(ch)
}

// Status records a status message: state "online" or "offline" (ingest's
// status decoder accepts no other), and the message's other keys as meta.
func (t *Tracker) Status(dev defs.Device, state string, meta map[string]string, recv time.Time) {
	t.mu.Lock()
	e := t.entryLocked(dev)
	if recv.After(e.lastSeen) {
		e.lastSeen = recv
	}
	if meta != nil {
		e.meta = meta
	}
	var ch *defs.HealthChange
	if h := defs.Health(state); h == defs.HealthOnline || h == defs.HealthOffline {
		e.mqtt = h
		ch = t.applyLocked(e, recv, "status")
	}
	t.mu.Unlock()
	t.store(ch)
}

// entryLocked returns dev's entry, adding it if the tracker has not heard of
// it yet (ingest passes only devices the registry accepted).
func (t *Tracker) entryLocked(dev defs.Device) *entry {
	e, ok := t.devs[dev.ID]
	if !ok {
		e = newEntry(dev)
		t.devs[dev.ID] = e
	}
	return e
}

// staleAfter is max(3 × heartbeat, min_stale).
func (t *Tracker) staleAfter(d defs.Device) time.Duration {
	return max(3*time.Duration(d.HeartbeatS)*time.Second, t.minStale)
}

func (t *Tracker) checkStale(now time.Time) {
	var chs []*defs.HealthChange
	t.mu.Lock()
	for _, e := range t.devs {
		// Only an online device goes stale: an offline one said goodbye,
		// and an unknown one was never heard from.
		if e.mqtt == defs.HealthOnline && now.Sub(e.lastSeen) > t.staleAfter(e.dev) {
			e.mqtt = defs.HealthStale
			if ch := t.applyLocked(e, now, "silent"); ch != nil {
				chs = append(chs, ch)
			}
		}
	}
	t.mu.Unlock()
	for _, ch := range chs {
		t.store(ch)
	}
}

// setLocked applies a change and publishes it on the bus while the lock is
// held, so that subscribers see a device's changes in the order they
// happened (an "online" overtaking a "stale" would leave a false alert
// firing); Publish never blocks. The InfluxDB point is written after the
// lock is released, by store, since the writer may apply back-pressure.
func (t *Tracker) setLocked(e *entry, h defs.Health, at time.Time, reason string) *defs.HealthChange {
	ch := &defs.HealthChange{
		Device: e.dev.ID, Site: e.dev.Site, Kind: e.dev.Kind,
		From: e.health, To: h, At: at, LastSeen: e.lastSeen, Reason: reason,
	}
	e.health = h
	t.changes.WithLabelValues(string(ch.To)).Inc()
	t.log.Debug("health changed", "device", ch.Device, "from", ch.From, "to", ch.To, "reason", ch.Reason)
	t.bus.Publish(defs.Event{Kind: defs.EventHealth, Time: ch.At, Health: ch})
	t.recent.addHealth(*ch)
	return ch
}

// applyLocked recomputes e's published health from what MQTT says and its
// stream's state, and applies it if it changed. cause names what MQTT
// saw ("telemetry", "status", "silent") when that decided; a change the
// stream decided carries the stream's reason.
func (t *Tracker) applyLocked(e *entry, at time.Time, cause string) *defs.HealthChange {
	h, reason := combine(e.dev.Kind, e.mqtt, e.cam)
	e.reason = reason
	if h == e.health {
		return nil
	}
	why := cause
	if reason != "" {
		why = reason
	}
	return t.setLocked(e, h, at, why)
}

// store writes a change to device_status and queues it for the health
// history, outside the lock.
func (t *Tracker) store(ch *defs.HealthChange) {
	if ch == nil {
		return
	}
	select {
	case t.histQ <- *ch:
	default:
		t.histDropped.Inc()
	}
	if t.sink != nil {
		online := 0
		if ch.To == defs.HealthOnline {
			online = 1
		}
		t.sink.WritePoint(MeasurementStatus,
			map[string]string{"device": string(ch.Device), "site": ch.Site, "kind": string(ch.Kind)},
			map[string]any{"health": string(ch.To), "online": online}, ch.At)
	}
}

// Snapshot returns what is known of one device.
func (t *Tracker) Snapshot(id defs.DeviceID) (defs.DeviceHealth, bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	e, ok := t.devs[id]
	if !ok {
		return defs.DeviceHealth{}, false
	}
	s := defs.DeviceHealth{Health: e.health, LastSeen: e.lastSeen}
	if len(e.values) > 0 {
		s.Values = make(map[string]any, len(e.values))
		for _, f := range e.values {
			s.Values[f.Key] = f.Value()
		}
	}
	if len(e.meta) > 0 {
		s.Meta = make(map[string]string, len(e.meta))
		for k, v := range e.meta {
			s.Meta[k] = v
		}
	}
	return s, true
}

// Counts returns the number of active devices per site, kind and health,
// sorted by site, kind, health. Pending and disabled devices are not part
// of the fleet yet (or any more) and are left out.
func (t *Tracker) Counts() []defs.FleetCount {
	type key struct {
		site   string
		kind   defs.Kind
		health defs.Health
	}
	counts := map[key]int{}
	t.mu.Lock()
	for _, e := range t.devs {
		if e.dev.Status != defs.StatusActive {
			continue
		}
		counts[key{e.dev.Site, e.dev.Kind, e.health}]++
	}
	t.mu.Unlock()
	out := make([]defs.FleetCount, 0, len(counts))
	for k, n := range counts {
		out = append(out, defs.FleetCount{Site: k.site, Kind: k.kind, Health: k.health, Count: n})
	}
	slices.SortFunc(out, func(a, b defs.FleetCount) int {
		if c := strings.Compare(a.Site, b.Site); c != 0 {
			return c
		}
		if c := strings.Compare(string(a.Kind), string(b.Kind)); c != 0 {
			return c
		}
		return strings.Compare(string(a.Health), string(b.Health))
	})
	return out
}

// EachDevice calls fn for every known device with its health as MQTT says
// it and when it was last heard from (zero if never); the alerts engine
// re-reads health this way on every tick. The stream's part of a camera's
// health is left out here on purpose: the engine judges streams with its
// own camera_down rule, and one dead stream must not raise two alerts.
// fn is called outside the tracker's lock.
func (t *Tracker) EachDevice(fn func(d defs.Device, h defs.Health, lastSeen time.Time)) {
	type row struct {
		dev  defs.Device
		h    defs.Health
		seen time.Time
	}
	t.mu.Lock()
	rows := make([]row, 0, len(t.devs))
	for _, e := range t.devs {
		rows = append(rows, row{e.dev, e.mqtt, e.lastSeen})
	}
	t.mu.Unlock()
	for _, r := range rows {
		fn(r.dev, r.h, r.seen)
	}
}
