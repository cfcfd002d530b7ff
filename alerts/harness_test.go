package alerts

import (
	"context"
	"slices"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/iocd/iocd/conditions"
	"github.com/iocd/iocd/defs"
)

// recorder is a Notifier that keeps every notification.
type recorder struct {
	mu sync.Mutex
	ns []defs.AlertNotification
}

func (r *recorder) Notify(n defs.AlertNotification, _ defs.AlertRule) {
	r.mu.Lock()
	r.ns = append(r.ns, n)
	r.mu.Unlock()
}

func (r *recorder) all() []defs.AlertNotification {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.ns)
}

// changes lists the changes notified, in order, as "change:subject".
func (r *recorder) changes() []string {
	var out []string
	for _, n := range r.all() {
		out = append(out, string(n.Transition.Change)+":"+n.Alert.Subject)
	}
	return out
}

// sent counts the notifications that would leave iocd (neither silenced
// nor suppressed).
func (r *recorder) sent() int {
	n := 0
	for _, x := range r.all() {
		if x.Alert.Silenced == "" && x.Alert.SuppressedBy == "" {
			n++
		}
	}
	return n
}

// fakeFleet is device health set by the test.
type fakeFleet struct {
	mu   sync.Mutex
	devs map[defs.DeviceID]*devState
}

func newFakeFleet() *fakeFleet { return &fakeFleet{devs: map[defs.DeviceID]*devState{}} }

func (f *fakeFleet) set(d defs.Device, h defs.Health, seen time.Time) {
	if d.Status == "" {
		d.Status = defs.StatusActive
	}
	f.mu.Lock()
	f.devs[d.ID] = &devState{dev: d, health: h, lastSeen: seen}
	f.mu.Unlock()
}

func (f *fakeFleet) EachDevice(fn func(defs.Device, defs.Health, time.Time)) {
	f.mu.Lock()
	var rows []devState
	for _, d := range f.devs {
		rows = append(rows, *d)
	}
	f.mu.Unlock()
	sort.Slice(rows, func(i, j int) bool { return rows[i].dev.ID < rows[j].dev.ID })
	for _, d := range rows {
		fn(d.dev, d.health, d.lastSeen)
	}
}

// fakeCameras is camera sessions set by the test.
type fakeCameras struct {
	mu   sync.Mutex
	cams []defs.CameraState
}

func (c *fakeCameras) set(cs ...defs.CameraState) {
	c.mu.Lock()
	c.cams = cs
	c.mu.Unlock()
}

func (c *fakeCameras) CameraStates() []defs.CameraState {
	c.mu.Lock()
	defer c.mu.Unlock()
	return slices.Clone(c.cams)
}

// clock is a test clock.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) set(t time.Time) {
	c.mu.Lock()
	c.t = t
	c.mu.Unlock()
}

func (c *clock) add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// rig is an engine on fakes, driven by the test: readings through
// ObserveReading, then drain; the tick through tick.
type rig struct {
	t     *testing.T
	e     *Engine
	store *MemStore
	rec   *recorder
	fleet *fakeFleet
	cams  *fakeCameras
	conds *conditions.Registry
	clk   *clock
	ctx   context.Context
}

var t0 = time.Date(2026, 3, 1, 8, 0, 0, 0, time.UTC)

func newRig(t *testing.T, cfg Config, rules ...defs.AlertRule) *rig {
	t.Helper()
	r := &rig{t: t, store: NewMemStore(), rec: &recorder{}, fleet: newFakeFleet(), cams: &fakeCameras{},
		conds: conditions.New(), clk: &clock{t: t0}, ctx: context.Background()}
	for _, x := range rules {
		v, err := ValidateRule(x)
		if err != nil {
			t.Fatalf("rule %s: %v", x.Name, err)
		}
		r.store.PutAlertRule(r.ctx, v)
	}
	r.start(cfg)
	return r
}

// start builds and loads an engine on the rig's store (again, for a restart).
func (r *rig) start(cfg Config) {
	r.t.Helper()
	r.e = New(cfg, Deps{Store: r.store, Fleet: r.fleet, Cameras: r.cams, Conditions: r.conds, Notifier: r.rec, Now: r.clk.now})
	if err := r.e.load(r.ctx); err != nil {
		r.t.Fatal(err)
	}
}

// read sends one reading of dev and applies what it changed.
func (r *rig) read(dev defs.Device, kv ...any) {
	var fs []defs.Field
	for i := 0; i < len(kv); i += 2 {
		v, ok := kv[i+1].(float64)
		if !ok {
			v = float64(kv[i+1].(int))
		}
		fs = append(fs, defs.Field{Key: kv[i].(string), Type: defs.FieldFloat, Num: v})
	}
	r.e.ObserveReading(dev, r.clk.now(), fs)
	r.drain()
}

func (r *rig) drain() {
	for {
		select {
		case o := <-r.e.obs:
			r.e.applyReading(r.ctx, o)
		case ev := <-r.e.events:
			r.e.applyRate(r.ctx, ev)
		default:
			return
		}
	}
}

func (r *rig) tick() { r.drain(); r.e.evaluate(r.ctx) }

// open returns the open alerts, by subject.
func (r *rig) open() map[string]defs.Alert {
	as, _, _ := r.store.ListAlerts(r.ctx, defs.AlertFilter{})
	out := map[string]defs.Alert{}
	for _, a := range as {
		if a.State.Open() {
			out[a.Rule+"/"+a.Subject] = a
		}
	}
	return out
}

func (r *rig) wantChanges(want ...string) {
	r.t.Helper()
	if got := r.rec.changes(); !slices.Equal(got, want) {
		r.t.Fatalf("notified %q,\nwant %q", got, want)
	}
}

var wl01 = defs.Device{ID: "wl-01", Site: "tanan", Kind: defs.KindSensor, Name: "wl-01", Status: defs.StatusActive, Tags: map[string]string{"river": "vam-co"}}

func f64(v float64) *float64 { return &v }
