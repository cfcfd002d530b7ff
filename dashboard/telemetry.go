package dashboard

import (
	"hash/maphash"
	"math"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/iocd/iocd/defs"
)

// The telemetry path. Decoder goroutines call ObserveReading for every
// accepted reading; it keeps the latest value of each (device, field) in
// a sharded table and, when some client subscribes to the device or its
// site, marks the key dirty. Every flush the hub takes the dirty keys,
// encodes each reading once, and merges the encoded readings into each
// subscribed client's pending set, keyed by (device, field): a client's
// writer sends what is pending when it is free, so a slow screen gets
// the newest value of each key, never a backlog.

const telemetryShards = 16

// tkey names one telemetry value.
type tkey struct {
	device defs.DeviceID
	field  string
}

// device holds the newest value of each field of one device.
type device struct {
	id     defs.DeviceID
	site   string
	fields []latest
	dirty  bool // listed in its shard's dirty list
}

// latest is the newest value of one field.
type latest struct {
	ts    time.Time
	f     defs.Field
	dirty bool
}

type shard struct {
	mu    sync.Mutex
	m     map[defs.DeviceID]*device
	dirty []*device
	_     [40]byte // keep shards' locks on separate cache lines
}

// table is the latest value of every key, written by the decoders and
// read by the hub.
type table struct {
	seed    maphash.Seed
	shards  [telemetryShards]shard
	maxKeys int64
	keys    atomic.Int64
	// wanted holds the telemetry subscriptions' targets (sites and
	// device IDs); replaced by the hub whenever it changes.
	wanted  atomic.Pointer[map[string]struct{}]
	dropped prometheus.Counter // keys refused past maxKeys
}

func newTable(maxKeys int, dropped prometheus.Counter) *table {
	t := &table{seed: maphash.MakeSeed(), maxKeys: int64(maxKeys), dropped: dropped}
	for i := range t.shards {
		t.shards[i].m = make(map[defs.DeviceID]*device)
	}
	empty := map[string]struct{}{}
	t.wanted.Store(&empty)
	return t
}

func (t *table) shard(id defs.DeviceID) *shard {
	return &t.shards[maphash.String(t.seed, string(id))%telemetryShards]
}

// observe records fields of dev measured at ts. A value older than the
// one held is ignored, so each key only moves forward in time. It takes
// one shard lock and one map lookup, and allocates only for a device or
// field it has not seen.
func (t *table) observe(dev defs.Device, ts time.Time, fields []defs.Field) {
	w := *t.wanted.Load()
	want := false
	if len(w) > 0 {
		_, want = w[string(dev.ID)]
		if !want {
			_, want = w[dev.Site]
		}
	}
	sh := t.shard(dev.ID)
	sh.mu.Lock()
	d := sh.m[dev.ID]
	if d == nil {
		d = &device{id: dev.ID, fields: make([]latest, 0, len(fields))}
		sh.m[dev.ID] = d
	}
	d.site = dev.Site
	changed := false
	for _, f := range fields {
		i := 0
		for i < len(d.fields) && d.fields[i].f.Key != f.Key {
			i++
		}
		if i == len(d.fields) {
			if t.keys.Load() >= t.maxKeys {
				t.dropped.Inc()
				continue
			}
			t.keys.Add(1)
			d.fields = append(d.fields, latest{ts: ts, f: f})
		} else if ts.Before(d.fields[i].ts) {
			continue
		}
		e := &d.fields[i]
		e.ts, e.f = ts, f
		if want {
			e.dirty, changed = true, true
		}
	}
	if changed && !d.dirty {
		d.dirty = true
		sh.dirty = append(sh.dirty, d)
	}
	sh.mu.Unlock()
}

// reading is one value as the hub moves it from the table to clients.
type reading struct {
	key  tkey
	site string
	ts   time.Time
	f    defs.Field
}

// takeDirty appends every dirty value to out and clears the dirty
// marks.
func (t *table) takeDirty(out []reading) []reading {
	for i := range t.shards {
		sh := &t.shards[i]
		sh.mu.Lock()
		for _, d := range sh.dirty {
			d.dirty = false
			for j := range d.fields {
				e := &d.fields[j]
				if e.dirty {
					e.dirty = false
					out = append(out, reading{key: tkey{d.id, e.f.Key}, site: d.site, ts: e.ts, f: e.f})
				}
			}
		}
		clear(sh.dirty)
		sh.dirty = sh.dirty[:0]
		sh.mu.Unlock()
	}
	return out
}

// matching appends the values of every key of target (a site or a
// device ID) to out, for a snapshot.
func (t *table) matching(target string, out []reading) []reading {
	for i := range t.shards {
		sh := &t.shards[i]
		sh.mu.Lock()
		for id, d := range sh.m {
			if string(id) != target && d.site != target {
				continue
			}
			for _, e := range d.fields {
				out = append(out, reading{key: tkey{id, e.f.Key}, site: d.site, ts: e.ts, f: e.f})
			}
		}
		sh.mu.Unlock()
	}
	return out
}

// setWanted replaces the subscription targets.
func (t *table) setWanted(targets map[string]int) {
	w := make(map[string]struct{}, len(targets))
	for k := range targets {
		w[k] = struct{}{}
	}
	t.wanted.Store(&w)
}

// appendReading encodes r as the protocol's Reading:
// {"device","site","field","value","ts"}.
func appendReading(b []byte, r reading) []byte {
	b = append(b, `{"device":`...)
	b = appendString(b, string(r.key.device))
	b = append(b, `,"site":`...)
	b = appendString(b, r.site)
	b = append(b, `,"field":`...)
	b = appendString(b, r.key.field)
	b = append(b, `,"value":`...)
	switch r.f.Type {
	case defs.FieldBool:
		b = strconv.AppendBool(b, r.f.Bool)
	case defs.FieldString:
		b = appendString(b, r.f.Str)
	default:
		if math.IsNaN(r.f.Num) || math.IsInf(r.f.Num, 0) {
			b = append(b, "null"...)
		} else {
			b = strconv.AppendFloat(b, r.f.Num, 'g', -1, 64)
		}
	}
	b = append(b, `,"ts":"`...)
	b = r.ts.UTC().AppendFormat(b, time.RFC3339Nano)
	return append(b, `"}`...)
}

const hexDigits = "0123456789abcdef"

// appendString appends s as a JSON string. Invalid UTF-8 becomes U+FFFD,
// as encoding/json does, so a frame is always valid websocket text.
func appendString(b []byte, s string) []byte {
	b = append(b, '"')
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			switch {
			case c == '"' || c == '\\':
				b = append(b, '\\', c)
			case c < 0x20:
				b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
			default:
				b = append(b, c)
			}
			i++
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			b = append(b, `\ufffd`...)
		} else if r == '\u2028' || r == '\u2029' {
			b = append(b, '\\', 'u', '2', '0', '2', hexDigits[r&0xf])
		} else {
			b = append(b, s[i:i+size]...)
		}
		i += size
	}
	return append(b, '"')
}
