// Package alerts owns what iocd tells operators needs them. Rules are data
// (kept in the store, loaded from a YAML file, seeded with shipped
// defaults); the Engine evaluates them on state, not on edges: threshold
// and absence rules on every reading as it arrives, rate rules on
// violations and rejected messages, and state rules (offline, camera_down,
// system, absence) on a tick against the component that owns the state.
// Every transition of an alert (pending, fired, acknowledged, escalated,
// resolved, ...) is persisted before it is notified, so a restart neither
// forgets an alert nor notifies one twice. The bus only wakes the engine
// early; a lost event delays an update by at most one tick.
package alerts

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/iocd/iocd/bus"
	"github.com/iocd/iocd/defs"
)

// Notifier takes every transition. It must never block; it decides
// itself what goes where from Alert.Silenced and Alert.SuppressedBy.
type Notifier interface {
	Notify(n defs.AlertNotification, rule defs.AlertRule)
}

// History is the metrics history as the dry run reads it.
type History interface {
	// FieldHistory returns every stored value of field in [from, to) for devices, ordered by device then time.
	FieldHistory(ctx context.Context, field string, devices []defs.DeviceID, from, to time.Time) ([]defs.FieldPoint, error)
}

// Fleet is device health as the engine reads it on every tick
// (*fleet.Tracker implements it).
type Fleet interface {
	// EachDevice calls fn for every known device with its health and when
	// it was last heard from (zero if never).
	EachDevice(fn func(d defs.Device, h defs.Health, lastSeen time.Time))
}

// Cameras is the camera sessions' state as the engine reads it on every
// tick (*streams.Manager implements it).
type Cameras interface {
	CameraStates() []defs.CameraState
}

// Conditions is the registry of the service's own conditions
// (*conditions.Registry implements it).
type Conditions interface {
	List() []defs.Condition
}

// Config holds the engine's settings, as plain values.
type Config struct {
	// Tick is how often state rules are re-evaluated (default 1s).
	Tick time.Duration
	// GroupThreshold and GroupWindow: more than GroupThreshold devices of
	// one site going offline within GroupWindow fire one site alert
	// (defaults 10 and 2m).
	GroupThreshold int
	GroupWindow    time.Duration
	// FlapMax fired transitions of one (rule, subject) within FlapWindow
	// make it flapping: it then stays firing, quiet, until its condition
	// has been off for FlapWindow (defaults 5 and 10m).
	FlapMax    int
	FlapWindow time.Duration
	// QueueSize bounds the observations waiting for the engine (default 8192).
	QueueSize int
	// BusQueue bounds the engine's bus subscription (default 256); the
	// bus only wakes the engine, so a drop delays by at most one tick.
	BusQueue int
	// RulesFile, if set, is a YAML list of rules put into the store at start.
	RulesFile string
}

func (c *Config) defaults() {
	if c.Tick <= 0 {
		c.Tick = time.Second
	}
	if c.GroupThreshold <= 0 {
		c.GroupThreshold = 10
	}
	if c.GroupWindow <= 0 {
		c.GroupWindow = 2 * time.Minute
	}
	if c.FlapMax <= 0 {
		c.FlapMax = 5
	}
	if c.FlapWindow <= 0 {
		c.FlapWindow = 10 * time.Minute
	}
	if c.QueueSize <= 0 {
		c.QueueSize = 8192
	}
	if c.BusQueue <= 0 {
		c.BusQueue = 256
	}
}

// Deps are the engine's collaborators. Store and Logger are required;
// the others default to no-ops.
type Deps struct {
	Store      Store
	Fleet      Fleet
	Cameras    Cameras
	Conditions Conditions
	Notifier   Notifier
	History    History // nil: the dry run answers EUNAVAILABLE
	Bus        *bus.Bus
	Logger     *slog.Logger
	Registerer prometheus.Registerer
	// Now is the clock (tests); nil is time.Now.
	Now func() time.Time
}

// Engine evaluates the rules and keeps the alerts. Its methods are safe
// for concurrent use; Run must be running for it to act.
type Engine struct {
	cfg   Config
	d     Deps
	log   *slog.Logger
	store Store
	sub   *bus.Subscription // nil without a bus

	rules atomic.Pointer[ruleSet]
	cache devCache

	// obs carries the readings that change a threshold rule's state from
	// the decoders to Run; events carries violations and rejections.
	obs    chan obsItem
	events chan rateEvent

	// tmu guards tracks (the map only; see track for its fields).
	tmu    sync.Mutex
	tracks map[tkey]*track

	// mu guards the engine-owned state of every track, the silences and
	// the health snapshot; it is held while a transition is persisted and
	// notified, so transitions of an alert are applied in order.
	mu       sync.Mutex
	silences []defs.Silence
	health   map[defs.DeviceID]defs.Health
	devices  map[defs.DeviceID]defs.Device
	groups   map[tkey]*track     // grouped site alerts, by (rule, site)
	active   map[*track]struct{} // tracks the tick must visit
	scratch  []*track
	loaded   bool
	started  time.Time

	m      metrics
	epochs atomic.Uint64
}

// New returns an Engine. It does no I/O: Run loads the rules and the open
// alerts before it evaluates anything.
func New(cfg Config, d Deps) *Engine {
	cfg.defaults()
	if d.Logger == nil {
		d.Logger = slog.New(slog.DiscardHandler)
	}
	if d.Fleet == nil {
		d.Fleet = noFleet{}
	}
	if d.Cameras == nil {
		d.Cameras = noCameras{}
	}
	if d.Conditions == nil {
		d.Conditions = noConditions{}
	}
	if d.Notifier == nil {
		d.Notifier = Discard{}
	}
	if d.Now == nil {
		d.Now = time.Now
	}
	e := &Engine{
		cfg: cfg, d: d, store: d.Store,
		log:     d.Logger,
		obs:     make(chan obsItem, cfg.QueueSize),
		events:  make(chan rateEvent, cfg.QueueSize),
		tracks:  make(map[tkey]*track),
		health:  make(map[defs.DeviceID]defs.Health),
		devices: make(map[defs.DeviceID]defs.Device),
		groups:  make(map[tkey]*track),
		active:  make(map[*track]struct{}),
		m:       newMetrics(d.Registerer),
	}
	e.cache.init()
	if d.Bus != nil {
		// Subscribed now so that no registry change between New and Run
		// is missed; the bus only wakes the engine, so a drop costs at
		// most one tick of delay.
		e.sub = d.Bus.Subscribe("alerts", defs.Mask(defs.EventDevice, defs.EventHealth, defs.EventCamera), cfg.BusQueue)
	}
	return e
}

// Run loads the rules, silences and open alerts, then evaluates until ctx
// ends. A stopping engine evaluates nothing more, so it raises nothing.
func (e *Engine) Run(ctx context.Context) error {
	if e.sub != nil {
		defer e.sub.Close()
	}
	if err := e.Load(ctx); err != nil {
		return err
	}
	tick := time.NewTicker(e.cfg.Tick)
	defer tick.Stop()
	var wake <-chan time.Time // a bus event: evaluate state rules soon
	var busC <-chan defs.Event
	if e.sub != nil {
		busC = e.sub.C()
	}
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-tick.C:
			e.evaluate(ctx)
		case <-wake:
			wake = nil
			e.evaluate(ctx)
		case ev, ok := <-busC:
			if !ok {
				busC = nil
				continue
			}
			if ev.Kind == defs.EventDevice {
				e.cache.reset()
			}
			if wake == nil {
				wake = time.After(50 * time.Millisecond)
			}
		case o := <-e.obs:
			if ctx.Err() == nil {
				e.applyReading(ctx, o)
			}
		case ev := <-e.events:
			if ctx.Err() == nil {
				e.applyRate(ctx, ev)
			}
		}
	}
}

// Load reads the rules, silences and open alerts, once; Run calls it if
// the caller has not, and a caller that wants a bad rules file to fail
// the start calls it first.
func (e *Engine) Load(ctx context.Context) error {
	e.mu.Lock()
	done := e.loaded
	e.mu.Unlock()
	if done {
		return nil
	}
	if err := e.load(ctx); err != nil {
		return fmt.Errorf("alerts: %w", err)
	}
	return nil
}

// evaluate is one tick: the state rules, the time-driven transitions of
// the others, acknowledgement expiry and silences.
func (e *Engine) evaluate(ctx context.Context) {
	if ctx.Err() != nil {
		return
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	e.tickLocked(ctx, e.d.Now())
}
