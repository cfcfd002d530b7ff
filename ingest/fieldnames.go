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
	devs map[defs.DeviceID]map[string]struct{}
}

func newFieldNames(maxPerDevice int) *fieldNames {
	return &fieldNames{max: maxPerDevice, devs: make(map[defs.DeviceID]map[string]struct{})}
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
	known := f.devs[dev]
	fresh := 0
	for _, s := range samples {
		for _, fl := range s.Fields {
			if _, ok := known[fl.Key]; !ok {
				fresh++
			}
		}
	}
	if fresh == 0 {
		return true
	}
	// fresh counts a new name once per sample it is in: an upper bound.
	// Only when it might not fit are the new names counted exactly.
	if len(known)+fresh > f.max && len(known)+distinctNew(known, samples) > f.max {
		return false
	}
	if known == nil {
		known = make(map[string]struct{}, 16)
		f.devs[dev] = known
	}
	for _, s := range samples {
		for _, fl := range s.Fields {
			known[fl.Key] = struct{}{}
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
