// Package devices owns the device registry: the validated record of every
// edge device and camera, its approval workflow, bulk import (JSON, CSV,
// the seed file), the policy for devices that report without being
// registered, and the in-memory copy that ingest consults on every MQTT
// message. It persists through a consumer-owned Store and announces every
// change on the event bus, redacted.
package devices

import (
	"context"
	"fmt"
	"log/slog"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/iocd/iocd/config"
	"github.com/iocd/iocd/defs"
	"github.com/prometheus/client_golang/prometheus"
)

// Store is the persistence the Registry needs. *store.SQLite satisfies it.
type Store interface {
	ListDevices(ctx context.Context) ([]defs.Device, error)
	InsertDevice(ctx context.Context, d defs.Device) error
	ImportDevices(ctx context.Context, ds []defs.Device, keepExisting bool) ([]defs.Device, error)
	UpdateDevice(ctx context.Context, d defs.Device) error
	DeleteDevice(ctx context.Context, id defs.DeviceID) error
}

// Publisher takes registry events. *bus.Bus satisfies it.
type Publisher interface {
	Publish(ev defs.Event)
}

// MaxAutoPending bounds how many devices the pending policy records on its
// own. Past it, unknown devices are only counted, so a flood of made-up
// ids cannot fill the registry (and the approval list) without end.
const MaxAutoPending = 10_000

// retryAfterFailure is how long Unknown stops trying the store after a
// failed write, so a broken disk is not hit once per message.
const retryAfterFailure = 5 * time.Second

// Registry is the device registry. Reads come from memory; every change
// goes to the store first and then, under the same lock, to memory, so
// the two never disagree.
type Registry struct {
	store  Store
	pub    Publisher
	policy string
	log    *slog.Logger
	now    func() time.Time

	// wmu serialises changes: admin edits are rare, and one writer at a
	// time keeps read-modify-write and the store/memory order simple.
	wmu sync.Mutex
	// autoPending counts pending devices that Unknown recorded (tagged
	// source=auto); failedAt is the unix-nano time of Unknown's last failed
	// write. Both are written under wmu and read without it, so a flood of
	// unknown ids is turned away without queueing on the lock.
	autoPending atomic.Int64
	failedAt    atomic.Int64

	mu   sync.RWMutex
	byID map[defs.DeviceID]defs.Device

	unknown *prometheus.CounterVec
	// counted holds unknown's children by outcome, resolved once: Unknown
	// may run per message, and a label lookup per call is waste.
	counted map[string]prometheus.Counter
}

// New loads the registry from store and imports cfg.Devices.SeedFile if
// set. cfg.UnknownDevices is the policy Unknown applies. reg may be nil.
func New(ctx context.Context, cfg config.Config, store Store, pub Publisher, reg prometheus.Registerer, log *slog.Logger) (*Registry, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	r := &Registry{
		store:  store,
		pub:    pub,
		policy: cfg.UnknownDevices,
		log:    log,
		now:    time.Now,
		byID:   map[defs.DeviceID]defs.Device{},
		unknown: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "iocd_registry_unknown_devices_total",
			Help: "Messages from devices not in the registry, by what the registry decided: recorded (as pending), registered, pending_full (not recorded: too many pending), rejected, invalid (bad id or site), failed (store error).",
		}, []string{"outcome"}),
	}
	if r.policy == "" {
		r.policy = config.UnknownPending
	}
	r.counted = map[string]prometheus.Counter{}
	for _, o := range []string{"recorded", "registered", "pending_full", "rejected", "invalid", "failed"} {
		r.counted[o] = r.unknown.WithLabelValues(o)
	}
	if reg != nil {
		if err := reg.Register(r.unknown); err != nil {
			return nil, fmt.Errorf("registering registry metrics: %w", err)
		}
		if err := reg.Register(prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "iocd_registry_devices",
			Help: "Devices in the registry.",
		}, func() float64 { r.mu.RLock(); defer r.mu.RUnlock(); return float64(len(r.byID)) })); err != nil {
			return nil, fmt.Errorf("registering registry metrics: %w", err)
		}
	}
	ds, err := store.ListDevices(ctx)
	if err != nil {
		return nil, fmt.Errorf("loading registry: %w", err)
	}
	for _, d := range ds {
		r.byID[d.ID] = d
		if isAutoPending(d) {
			r.autoPending.Add(1)
		}
	}
	if cfg.Devices.SeedFile != "" {
		n, err := r.Seed(ctx, cfg.Devices.SeedFile)
		if err != nil {
			return nil, err
		}
		log.Info("device seed file imported", "file", cfg.Devices.SeedFile, "new", n, "registered", len(r.byID))
	}
	return r, nil
}

// Lookup returns a device from memory, unredacted. It is what ingest calls
// per message: a read lock and a map access. The returned Tags map is
// shared with the registry: read it, never write it.
func (r *Registry) Lookup(id defs.DeviceID) (defs.Device, bool) {
	r.mu.RLock()
	d, ok := r.byID[id]
	r.mu.RUnlock()
	return d, ok
}

// Get returns a device, unredacted; ENOTFOUND if there is none.
func (r *Registry) Get(ctx context.Context, id defs.DeviceID) (defs.Device, error) {
	if d, ok := r.Lookup(id); ok {
		return d, nil
	}
	return defs.Device{}, defs.NotFound("no device %q", clip(string(id)))
}

// List returns the devices matching f, unredacted, ordered by id. As with
// Lookup, the Tags maps are shared and read-only.
func (r *Registry) List(ctx context.Context, f Filter) ([]defs.Device, error) {
	r.mu.RLock()
	out := make([]defs.Device, 0, len(r.byID))
	for _, d := range r.byID {
		if f.Match(d) {
			out = append(out, d)
		}
	}
	r.mu.RUnlock()
	slices.SortFunc(out, func(a, b defs.Device) int { return strings.Compare(string(a.ID), string(b.ID)) })
	return out, nil
}

// Cameras returns every active camera, unredacted, for the streams package.
func (r *Registry) Cameras(ctx context.Context) ([]defs.Device, error) {
	return r.List(ctx, Filter{Kind: defs.KindCamera, Status: defs.StatusActive})
}

// Create registers a device. Status defaults to active (an admin is
// registering it on purpose), heartbeat_s to 60. EINVALID names the bad
// field; ECONFLICT if the id exists.
func (r *Registry) Create(ctx context.Context, d defs.Device) (defs.Device, error) {
	if err := normalize(&d, defs.StatusActive); err != nil {
		return defs.Device{}, err
	}
	r.wmu.Lock()
	defer r.wmu.Unlock()
	if _, ok := r.Lookup(d.ID); ok {
		return defs.Device{}, &defs.Error{Code: defs.ECONFLICT, Field: "id", Message: fmt.Sprintf("device %q already exists", d.ID)}
	}
	d.CreatedAt = r.now().UTC()
	d.UpdatedAt = d.CreatedAt
	if err := r.store.InsertDevice(ctx, d); err != nil {
		return defs.Device{}, err
	}
	r.put(d)
	return d, nil
}

// Update merges p into a device (see Patch) and validates the result.
func (r *Registry) Update(ctx context.Context, id defs.DeviceID, p Patch) (defs.Device, error) {
	if p.ID != nil && *p.ID != id {
		return defs.Device{}, defs.Invalid("id", "cannot be changed (the body says %q, the path %q)", clip(string(*p.ID)), clip(string(id)))
	}
	r.wmu.Lock()
	defer r.wmu.Unlock()
	old, ok := r.Lookup(id)
	if !ok {
		return defs.Device{}, defs.NotFound("no device %q", clip(string(id)))
	}
	old.Tags = maps.Clone(old.Tags) // apply must not write into the shared map
	d := p.apply(old)
	if err := normalize(&d, old.Status); err != nil {
		return defs.Device{}, err
	}
	return r.save(ctx, d)
}

// Approve makes a device active: the end of the pending workflow. Approving
// an active device changes nothing.
func (r *Registry) Approve(ctx context.Context, id defs.DeviceID) (defs.Device, error) {
	r.wmu.Lock()
	defer r.wmu.Unlock()
	d, ok := r.Lookup(id)
	if !ok {
		return defs.Device{}, defs.NotFound("no device %q", clip(string(id)))
	}
	if d.Status == defs.StatusActive {
		return d, nil
	}
	d.Status = defs.StatusActive
	return r.save(ctx, d)
}

// Delete removes a device. If it reports again, it is unknown again.
func (r *Registry) Delete(ctx context.Context, id defs.DeviceID) error {
	r.wmu.Lock()
	defer r.wmu.Unlock()
	d, ok := r.Lookup(id)
	if !ok {
		return defs.NotFound("no device %q", clip(string(id)))
	}
	if err := r.store.DeleteDevice(ctx, id); err != nil {
		return err
	}
	r.mu.Lock()
	delete(r.byID, id)
	r.mu.Unlock()
	if isAutoPending(d) {
		r.autoPending.Add(-1)
	}
	r.publish(d, true)
	return nil
}

// Import registers ds all or nothing: one bad row (EINVALID), a repeated
// id or an id already registered (ECONFLICT) fails the lot, and the error
// names the row (1-based) and field. Status defaults to active.
func (r *Registry) Import(ctx context.Context, ds []defs.Device) ([]defs.Device, error) {
	return r.importDevices(ctx, ds, false)
}

// Seed imports a JSON (.json) or CSV (anything else) device file, keeping
// the devices already registered as they are, and returns how many were
// added. It is for the devices.seed_file at start.
func (r *Registry) Seed(ctx context.Context, path string) (int, error) {
	f, err := os.Open(path)
	if err != nil {
		return 0, fmt.Errorf("reading seed file: %w", err)
	}
	defer f.Close()
	var ds []defs.Device
	if strings.EqualFold(filepath.Ext(path), ".json") {
		ds, err = ParseJSON(f)
	} else {
		ds, err = ParseCSV(f)
	}
	if err != nil {
		return 0, fmt.Errorf("seed file %s: %w", path, err)
	}
	added, err := r.importDevices(ctx, ds, true)
	if err != nil {
		return 0, fmt.Errorf("seed file %s: %w", path, err)
	}
	return len(added), nil
}

func (r *Registry) importDevices(ctx context.Context, ds []defs.Device, keepExisting bool) ([]defs.Device, error) {
	if len(ds) == 0 {
		return []defs.Device{}, nil
	}
	now := r.now().UTC()
	seen := make(map[defs.DeviceID]int, len(ds))
	for i := range ds {
		if err := normalize(&ds[i], defs.StatusActive); err != nil {
			return nil, withRow(i+1, err)
		}
		if first, dup := seen[ds[i].ID]; dup {
			return nil, rowError(i+1, "id", "%q is also in row %d", ds[i].ID, first)
		}
		seen[ds[i].ID] = i + 1
		ds[i].CreatedAt, ds[i].UpdatedAt = now, now
	}
	r.wmu.Lock()
	defer r.wmu.Unlock()
	added, err := r.store.ImportDevices(ctx, ds, keepExisting)
	if err != nil {
		return nil, err
	}
	for _, d := range added {
		r.put(d)
	}
	return added, nil
}

// Unknown applies the unknown-device policy to a device that reported on
// ioc/<site>/<id>/... but is not in the registry:
//
//   - pending: record it once as a pending sensor tagged source=auto (an
//     admin approves it, fixing kind and the rest) and return false;
//   - register: register it as an active sensor tagged source=auto and
//     return it and true;
//   - reject: return false.
//
// A device that is in the registry by the time of the call is returned,
// with true if it is active. Once recorded, a device is in memory, so
// ingest's Lookup finds it and repeated calls never reach the store. A
// bad id or site is EINVALID.
func (r *Registry) Unknown(ctx context.Context, site string, id defs.DeviceID) (defs.Device, bool, error) {
	if d, ok := r.Lookup(id); ok {
		return d, d.Status == defs.StatusActive, nil
	}
	if err := CheckID("site", site); err != nil {
		r.counted["invalid"].Inc()
		return defs.Device{}, false, err
	}
	if err := CheckID("id", string(id)); err != nil {
		r.counted["invalid"].Inc()
		return defs.Device{}, false, err
	}
	if r.policy == config.UnknownReject {
		r.counted["rejected"].Inc()
		return defs.Device{}, false, nil
	}
	if refused, err := r.turnAway(id); refused {
		return defs.Device{}, false, err
	}
	r.wmu.Lock()
	defer r.wmu.Unlock()
	if d, ok := r.Lookup(id); ok { // recorded while we waited for the lock
		return d, d.Status == defs.StatusActive, nil
	}
	if refused, err := r.turnAway(id); refused {
		return defs.Device{}, false, err
	}
	status := defs.StatusActive
	if r.policy == config.UnknownPending {
		status = defs.StatusPending
	}
	now := r.now().UTC()
	d := defs.Device{
		ID: id, Site: site, Kind: defs.KindSensor, Name: string(id),
		Tags: map[string]string{"source": "auto"}, HeartbeatS: DefaultHeartbeatS,
		Status: status, CreatedAt: now, UpdatedAt: now,
	}
	if err := r.store.InsertDevice(ctx, d); err != nil {
		r.failedAt.Store(r.now().UnixNano())
		r.counted["failed"].Inc()
		return defs.Device{}, false, fmt.Errorf("recording unknown device %s: %w", id, err)
	}
	r.put(d)
	if status == defs.StatusPending {
		r.counted["recorded"].Inc()
		r.log.Info("unknown device listed for approval", "device", id, "site", site)
		return d, false, nil
	}
	r.counted["registered"].Inc()
	r.log.Info("unknown device registered", "device", id, "site", site)
	return d, true, nil
}

// turnAway answers Unknown without recording when the pending list is
// full or the store failed a moment ago, with the error to return if any.
func (r *Registry) turnAway(id defs.DeviceID) (refused bool, err error) {
	if r.policy == config.UnknownPending && r.autoPending.Load() >= MaxAutoPending {
		r.counted["pending_full"].Inc()
		return true, nil
	}
	if r.now().UnixNano()-r.failedAt.Load() < int64(retryAfterFailure) {
		r.counted["failed"].Inc()
		return true, defs.Errorf(defs.EUNAVAILABLE, "registry store failing; not recording %s", id)
	}
	return false, nil
}

func isAutoPending(d defs.Device) bool {
	return d.Status == defs.StatusPending && d.Tags["source"] == "auto"
}

// save writes d with a new updated_at to the store, then memory, then the
// bus. Called under wmu.
func (r *Registry) save(ctx context.Context, d defs.Device) (defs.Device, error) {
	d.UpdatedAt = r.now().UTC()
	if err := r.store.UpdateDevice(ctx, d); err != nil {
		return defs.Device{}, err
	}
	r.put(d)
	return d, nil
}

// put stores d in memory and announces it. Called under wmu.
func (r *Registry) put(d defs.Device) {
	r.mu.Lock()
	old, had := r.byID[d.ID]
	r.byID[d.ID] = d
	r.mu.Unlock()
	switch {
	case isAutoPending(d) && !(had && isAutoPending(old)):
		r.autoPending.Add(1)
	case !isAutoPending(d) && had && isAutoPending(old):
		r.autoPending.Add(-1)
	}
	r.publish(d, false)
}

func (r *Registry) publish(d defs.Device, deleted bool) {
	if r.pub == nil {
		return
	}
	r.pub.Publish(defs.Event{
		Kind:   defs.EventDevice,
		Time:   r.now().UTC(),
		Device: &defs.DeviceChange{Device: d.Redacted(), Deleted: deleted},
	})
}
