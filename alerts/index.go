package alerts

import (
	"math"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/iocd/iocd/defs"
)

// ruleSet is the rules in force, replaced whole on every change so the
// decoders read it without a lock.
type ruleSet struct {
	gen     uint64
	byID    map[string]*rule
	all     []*rule // by ID
	reading []*rule // threshold, and absence of a field: evaluated per reading
}

func newRuleSet(gen uint64, rules []defs.AlertRule) *ruleSet {
	rs := &ruleSet{gen: gen, byID: make(map[string]*rule, len(rules))}
	for _, r := range rules {
		c := compile(r)
		rs.byID[r.ID] = c
		rs.all = append(rs.all, c)
	}
	sort.Slice(rs.all, func(i, j int) bool { return rs.all[i].ID < rs.all[j].ID })
	for _, c := range rs.all {
		if !c.Disabled && c.readingRule() {
			rs.reading = append(rs.reading, c)
		}
	}
	return rs
}

// devCache holds, per device, the reading rules that select it grouped by
// field, with each rule's track, so a reading costs a map lookup and a
// short scan. An entry is rebuilt when the rules change (gen), when the
// device's site, kind or tag count differ from when it was built, and
// after any registry change on the bus; the tick clears it now and then
// so that a registry change whose event was dropped is caught too.
type devCache struct {
	mu    sync.RWMutex
	m     map[defs.DeviceID]*devRules
	epoch atomic.Uint64 // bumped by reset: older entries are rebuilt
}

type devRules struct {
	// mu serialises one device's readings and newest is the time of the
	// newest one evaluated (unix ns): ingest decodes on several workers,
	// so a device's readings can arrive out of order or at once, and an
	// older one must not undo a newer one. The lock is one device's
	// alone, uncontended but for two readings of it at the same moment.
	mu     sync.Mutex
	newest int64
	dev    defs.Device // as it was when built, for the alert's subject
	gen    uint64
	epoch  uint64
	site   string
	kind   defs.Kind
	ntags  int
	fields []fieldRules
}

type fieldRules struct {
	key   string
	slots []slot
}

// obsItem is a track a decoder hands to Run, with the device's entry.
type obsItem struct {
	t     *track
	d     *devRules
	value float64
	level int32 // the level the reading moved the track to
}

type slot struct {
	r *rule
	t *hot
}

func (c *devCache) init() { c.m = make(map[defs.DeviceID]*devRules) }

// reset has every entry rebuilt at its device's next reading (kept
// until then, so the rebuilt one keeps the newest reading's time).
func (c *devCache) reset() { c.epoch.Add(1) }

func (d *devRules) find(key string) *fieldRules {
	for i := range d.fields {
		if d.fields[i].key == key {
			return &d.fields[i]
		}
	}
	return nil
}

// rulesFor returns dev's entry, building it on a miss.
func (e *Engine) rulesFor(dev defs.Device, rs *ruleSet) *devRules {
	epoch := e.cache.epoch.Load()
	e.cache.mu.RLock()
	d := e.cache.m[dev.ID]
	e.cache.mu.RUnlock()
	if d.valid(dev, rs, epoch) {
		return d
	}
	// Built under the write lock, checked again: two workers missing at
	// once must share one entry (and its ordering of readings).
	e.cache.mu.Lock()
	defer e.cache.mu.Unlock()
	old := e.cache.m[dev.ID]
	if old.valid(dev, rs, epoch) {
		return old
	}
	d = &devRules{dev: dev, gen: rs.gen, epoch: epoch, site: dev.Site, kind: dev.Kind, ntags: len(dev.Tags)}
	if old != nil {
		old.mu.Lock()
		d.newest = old.newest
		old.mu.Unlock()
	}
	var picked []*rule
	for _, r := range rs.reading {
		if r.Selector.Matches(dev) {
			picked = append(picked, r)
		}
	}
	slab := make([]hot, len(picked))
	e.tmu.Lock()
	for _, r := range picked {
		fr := d.find(r.Field)
		if fr == nil {
			d.fields = append(d.fields, fieldRules{key: r.Field})
			fr = &d.fields[len(d.fields)-1]
		}
		t := e.trackLockedIn(tkey{r.ID, string(dev.ID)}, &slab)
		fr.slots = append(fr.slots, slot{r: r, t: t.hot})
	}
	e.tmu.Unlock()
	e.cache.m[dev.ID] = d
	return d
}

// valid reports whether d was built for dev as it is, under rs.
func (d *devRules) valid(dev defs.Device, rs *ruleSet, epoch uint64) bool {
	return d != nil && d.gen == rs.gen && d.epoch == epoch && d.site == dev.Site && d.kind == dev.Kind && d.ntags == len(dev.Tags)
}

// ObserveReading evaluates the reading rules of dev on fields; it
// implements ingest.Observer. A reading that changes no rule's state
// costs a few comparisons and allocates nothing; one that may change
// one hands the track to Run (never blocking: a full queue drops it,
// counted, and the next reading tries again, since nothing changed).
func (e *Engine) ObserveReading(dev defs.Device, ts time.Time, fields []defs.Field) {
	rs := e.rules.Load()
	if rs == nil || len(rs.reading) == 0 {
		return
	}
	d := e.rulesFor(dev, rs)
	if len(d.fields) == 0 {
		return
	}
	now := e.d.Now().UnixNano()
	d.mu.Lock()
	defer d.mu.Unlock()
	stale := false
	if tsn := ts.UnixNano(); tsn < d.newest {
		stale = true // absence still counts it: the field was read
		e.m.stale.Inc()
	} else {
		d.newest = tsn
	}
	for i := range fields {
		f := &fields[i]
		var fr *fieldRules
		if i < len(d.fields) && d.fields[i].key == f.Key {
			fr = &d.fields[i] // devices send their fields in the same order
		} else {
			fr = d.find(f.Key)
		}
		if fr == nil {
			continue
		}
		v, num := f.Num, f.Type == defs.FieldFloat
		if f.Type == defs.FieldBool {
			v, num = 0, true
			if f.Bool {
				v = 1
			}
		}
		for j := range fr.slots {
			s := &fr.slots[j]
			t := s.t
			if s.r.Kind == defs.RuleAbsence {
				t.lastSeen.Store(now)
				continue
			}
			if !num || stale {
				continue
			}
			cur := t.level.Load()
			if cur >= 0 {
				t.latest.Store(math.Float64bits(v))
			}
			nl := s.r.levelFor(v, cur)
			if nl == cur {
				if dl := t.deadline.Load(); dl == 0 || now < dl {
					continue // the path of almost every reading
				}
				if !t.queued.CompareAndSwap(false, true) {
					continue // `for` or keep_firing_for ran out: hand it over once
				}
			} else if !t.level.CompareAndSwap(cur, nl) {
				continue
			}
			// The level moves here, so the next reading compares with
			// it, and each change reaches Run in order, none coalesced.
			t.latest.Store(math.Float64bits(v))
			select {
			case e.obs <- obsItem{t: t.t, d: d, value: v, level: nl}:
			default:
				// Undone, so the next reading tries again.
				if nl != cur {
					t.level.CompareAndSwap(nl, cur)
				} else {
					t.queued.Store(false)
				}
				e.m.dropped.Inc()
			}
		}
	}
}
