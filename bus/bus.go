// Package bus is iocd's one in-process event stream. Ingest, fleet health,
// the registry, streams and violations publish to it; the alerts engine, the
// dashboard feed and the camera supervisor subscribe to it.
//
// Publishing never blocks: each subscriber has its own bounded queue, and an
// event that does not fit is dropped for that subscriber alone and counted,
// so one slow consumer cannot stall ingest or starve the others.
package bus

import (
	"sync"
	"sync/atomic"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/iocd/iocd/defs"
)

// Bus fans events out to subscribers.
type Bus struct {
	mu   sync.RWMutex
	subs []*Subscription

	published *prometheus.CounterVec
	dropped   *prometheus.CounterVec
}

// New returns an empty Bus whose counters are registered with reg (nil:
// not registered, for tests and tools).
func New(reg prometheus.Registerer) *Bus {
	b := &Bus{
		published: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "iocd_bus_events_published_total",
			Help: "Events published on the in-process bus, by kind.",
		}, []string{"kind"}),
		dropped: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "iocd_bus_events_dropped_total",
			Help: "Events dropped because a subscriber's queue was full, by subscriber.",
		}, []string{"subscriber"}),
	}
	if reg != nil {
		reg.MustRegister(b.published, b.dropped)
	}
	return b
}

// Subscription is one subscriber's bounded queue.
type Subscription struct {
	bus     *Bus
	name    string
	mask    defs.KindMask
	ch      chan defs.Event
	closed  bool // guarded by bus.mu
	drops   atomic.Uint64
	dropCtr prometheus.Counter
}

// Subscribe returns a subscription that receives the kinds in mask into a
// queue of size events. name labels its drop counter; subscribers with the
// same name share it.
func (b *Bus) Subscribe(name string, mask defs.KindMask, size int) *Subscription {
	if size < 1 {
		size = 1
	}
	s := &Subscription{
		bus:     b,
		name:    name,
		mask:    mask,
		ch:      make(chan defs.Event, size),
		dropCtr: b.dropped.WithLabelValues(name),
	}
	b.mu.Lock()
	b.subs = append(b.subs, s)
	b.mu.Unlock()
	return s
}

// Publish offers ev to every subscriber that selected its kind. It never
// blocks.
func (b *Bus) Publish(ev defs.Event) {
	b.published.WithLabelValues(ev.Kind.String()).Inc()
	b.mu.RLock()
	for _, s := range b.subs {
		if !s.mask.Has(ev.Kind) {
			continue
		}
		select {
		case s.ch <- ev:
		default:
			s.drops.Add(1)
			s.dropCtr.Inc()
		}
	}
	b.mu.RUnlock()
}

// Wants reports whether any subscriber selects kind, so a publisher can skip
// building events nobody reads.
func (b *Bus) Wants(kind defs.EventKind) bool {
	b.mu.RLock()
	defer b.mu.RUnlock()
	for _, s := range b.subs {
		if s.mask.Has(kind) {
			return true
		}
	}
	return false
}

// C returns the channel to receive from. It is closed by Close.
func (s *Subscription) C() <-chan defs.Event { return s.ch }

// Name returns the name given at Subscribe.
func (s *Subscription) Name() string { return s.name }

// Dropped returns how many events this subscription lost to a full queue.
func (s *Subscription) Dropped() uint64 { return s.drops.Load() }

// Close unsubscribes and closes the channel. It is idempotent.
func (s *Subscription) Close() {
	b := s.bus
	b.mu.Lock()
	defer b.mu.Unlock()
	if s.closed {
		return
	}
	s.closed = true
	for i, x := range b.subs {
		if x == s {
			b.subs = append(b.subs[:i:i], b.subs[i+1:]...)
			break
		}
	}
	close(s.ch)
}

// SubscriberStats describes one subscription for the API and metrics.
type SubscriberStats struct {
	Name     string `json:"name"`
	Queued   int    `json:"queued"`
	Capacity int    `json:"capacity"`
	Dropped  uint64 `json:"dropped"`
}

// Stats returns the state of every live subscription.
func (b *Bus) Stats() []SubscriberStats {
	b.mu.RLock()
	defer b.mu.RUnlock()
	out := make([]SubscriberStats, 0, len(b.subs))
	for _, s := range b.subs {
		out = append(out, SubscriberStats{Name: s.name, Queued: len(s.ch), Capacity: cap(s.ch), Dropped: s.drops.Load()})
	}
	return out
}
