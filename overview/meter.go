package overview

import (
	"context"
	"sync"
	"sync/atomic"
	"time"

	"github.com/iocd/iocd/defs"
)

// meterWindow is how far back readings per second is averaged.
const meterWindow = 5 * time.Second

// Meter counts accepted readings and says how many arrive per second,
// averaged over the last few seconds. It is an ingest.Observer: its
// ObserveReading is one atomic add, cheap enough for the decoder
// goroutines, and never blocks. Run samples the count once a second.
type Meter struct {
	total atomic.Uint64

	mu      sync.Mutex
	samples []meterSample // oldest first, spanning at most meterWindow
}

type meterSample struct {
	at time.Time
	n  uint64
}

// NewMeter returns a Meter at zero.
func NewMeter() *Meter { return &Meter{} }

// ObserveReading counts one accepted reading.
func (m *Meter) ObserveReading(defs.Device, time.Time, []defs.Field) { m.total.Add(1) }

// ObserveRejected ignores a rejected message: only accepted readings count.
func (m *Meter) ObserveRejected(defs.DeviceID, string, time.Time) {}

// Total returns the readings counted since start.
func (m *Meter) Total() uint64 { return m.total.Load() }

// Run samples the count every second until ctx ends.
func (m *Meter) Run(ctx context.Context) error {
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	m.Sample(time.Now())
	for {
		select {
		case <-ctx.Done():
			return nil
		case now := <-tick.C:
			m.Sample(now)
		}
	}
}

// Sample records the count at now; Run calls it every second.
func (m *Meter) Sample(now time.Time) {
	n := m.total.Load()
	m.mu.Lock()
	defer m.mu.Unlock()
	m.samples = append(m.samples, meterSample{now, n})
	// Keep one sample at or before the window's start as the base.
	cut := 0
	for i, s := range m.samples {
		if now.Sub(s.at) >= meterWindow {
			cut = i
		}
	}
	m.samples = m.samples[cut:]
}

// PerSecond returns the readings per second between the oldest and newest
// sample, 0 before two samples.
func (m *Meter) PerSecond() float64 {
	m.mu.Lock()
	defer m.mu.Unlock()
	if len(m.samples) < 2 {
		return 0
	}
	first, last := m.samples[0], m.samples[len(m.samples)-1]
	dt := last.at.Sub(first.at).Seconds()
	if dt <= 0 {
		return 0
	}
	return float64(last.n-first.n) / dt
}
