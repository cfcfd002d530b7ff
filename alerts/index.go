package alerts

import (
	"math"
	"sort"
	"sync"
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
	mu sync.RWMutex
	m  map[defs.DeviceID]*devRules
}

type devRules struct {
	dev    defs.Device // as it was when built, for the alert's subject
	gen    uint64
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
	t *track
	d *devRules
}

type slot struct {
	r *rule
	t *hot
}

func (c *devCache) init() { c.m = make(map[defs.DeviceID]*devRules) }

func (c *devCache) reset() {
	c.mu.Lock()
	clear(c.m)
	c.mu.Unlock()
}

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
	e.cache.mu.RLock()
	d := e.cache.m[dev.ID]
	e.cache.mu.RUnlock()
	if d != nil && d.gen == rs.gen && d.site == dev.Site && d.kind == dev.Kind && d.ntags == len(dev.Tags) {
		return d
	}
	d = &devRules{dev: dev, gen: rs.gen, site: dev.Site, kind: dev.Kind, ntags: len(dev.Tags)}
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
	e.cache.mu.Lock()
	e.cache.m[dev.ID] = d
	e.cache.mu.Unlock()
	return d
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
			if !num {
				continue
			}
			cur := t.level.Load()
			if cur >= 0 {
				t.latest.Store(math.Float64bits(v))
			}
			if s.r.levelFor(v, cur) == cur {
				if dl := t.deadline.Load(); dl == 0 || now < dl {
					continue
				}
			}
			if cur < 0 {
				t.latest.Store(math.Float64bits(v))
			}
			if t.queued.CompareAndSwap(false, true) {
				select {
				case e.obs <- obsItem{t.t, d}:
				default:
					t.queued.Store(false)
					e.m.dropped.Inc()
				}
			}
		}
	}
}
