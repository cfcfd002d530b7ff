package ingest

import (
	"sync"

	"github.com/iocd/iocd/defs"
)

// fieldNames bounds the distinct field names each device may introduce.
// Every new field name is a new field key in InfluxDB's index (and for
// InfluxDB 1.8 a rewrite of the shard's field set), so a device inventing
// names per message makes every device's writes slow; past the bound its
// messages with new names are refused as too_many_field_names, while the
// names it already has keep being accepted. The set starts empty at each
// start: after a restart a device may introduce up to the bound again.
type fieldNames struct {
	max  int
	mu   sync.Mutex
	devs map[defs.DeviceID]*deviceNames
}

// deviceNames are the names one device has. last is the key list of its
// last admitted message: devices mostly send the same keys every time, and
// comparing against it (the decoder interns keys, so the strings share
// their bytes and compare by pointer) spares a map lookup per field.
type deviceNames struct {
	known map[string]struct{}
	last  []string
}

func newFieldNames(maxPerDevice int) *fieldNames {
	return &fieldNames{max: maxPerDevice, devs: make(map[defs.DeviceID]*deviceNames)}
}

// admit reports whether the samples' field names fit dev's bound, and
// records the new ones if they do. A message is admitted or refused whole.
// In the steady state (every name known) it only looks names up, which
// does not allocate.
func (f *fieldNames) admit(dev defs.DeviceID, samples []Sample) bool {
	if f.max <= 0 {
		return true
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	e := f.devs[dev]
	if e == nil {
		e = &deviceNames{known: make(map[string]struct{}, 16)}
		f.devs[dev] = e
	}
	if len(samples) == 1 && sameKeys(e.last, samples[0].Fields) {
		return true
	}
	fresh := 0
	for _, s := range samples {
		for _, fl := range s.Fields {
			if _, ok := e.known[fl.Key]; !ok {
				fresh++
			}
		}
	}
	// fresh counts a new name once per sample it is in: an upper bound.
	// Only when it might not fit are the new names counted exactly.
	if fresh > 0 && len(e.known)+fresh > f.max && len(e.known)+distinctNew(e.known, samples) > f.max {
		return false
	}
	for _, s := range samples {
		for _, fl := range s.Fields {
			e.known[fl.Key] = struct{}{}
		}
	}
	if len(samples) == 1 {
		e.last = e.last[:0]
		for _, fl := range samples[0].Fields {
			e.last = append(e.last, fl.Key)
		}
	}
	return true
}

func sameKeys(last []string, fields []defs.Field) bool {
	if len(last) != len(fields) || len(last) == 0 {
		return false
	}
	for i, fl := range fields {
		if last[i] != fl.Key {
			return false
		}
	}
	return true
}

// distinctNew counts the names in samples that are not in known, each once.
func distinctNew(known map[string]struct{}, samples []Sample) int {
	seen := make(map[string]struct{})
	for _, s := range samples {
		for _, fl := range s.Fields {
			if _, ok := known[fl.Key]; !ok {
				seen[fl.Key] = struct{}{}
			}
		}
	}
	return len(seen)
}
