package bus

import (
	"context"
	"fmt"
	"time"

	"github.com/iocd/iocd/defs"
)

// Conditions is where the bus says that a subscriber is losing events;
// *conditions.Registry is one.
type Conditions interface {
	Set(defs.Condition)
	Clear(code, subject string)
}

// WatchDrops owns the bus_drops condition: every `every` it reads each
// subscriber's drop count, sets the condition for a subscriber that
// dropped events since the last look (Value: how many), and clears it once
// that subscriber has dropped nothing for `quiet`. The counts are the
// state; no event is needed to clear it. It returns when ctx ends.
func (b *Bus) WatchDrops(ctx context.Context, conds Conditions, every, quiet time.Duration) error {
	last := map[string]uint64{}        // drops per subscriber name at the last look
	lastDrop := map[string]time.Time{} // when a subscriber was last seen dropping
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case now := <-t.C:
			b.checkDrops(conds, last, lastDrop, now, quiet)
		}
	}
}

func (b *Bus) checkDrops(conds Conditions, last map[string]uint64, lastDrop map[string]time.Time, now time.Time, quiet time.Duration) {
	total := map[string]uint64{}
	b.mu.RLock()
	for _, s := range b.subs {
		total[s.name] += s.drops.Load()
	}
	b.mu.RUnlock()
	for name, n := range total {
		prev, seen := last[name]
		last[name] = n
		if !seen || n <= prev {
			continue
		}
		lastDrop[name] = now
		conds.Set(defs.Condition{
			Code: defs.ConditionBusDrops, Subject: name, Source: "bus", Severity: defs.SeverityWarning,
			Message: fmt.Sprintf("the %s subscriber dropped %d events (its queue was full)", name, n-prev),
			Value:   float64(n - prev), Labels: map[string]string{"subscriber": name},
		})
	}
	for name, at := range lastDrop {
		if now.Sub(at) >= quiet {
			conds.Clear(defs.ConditionBusDrops, name)
			delete(lastDrop, name)
		}
	}
}
