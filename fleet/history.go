package fleet

import (
	"context"
	"time"

	"github.com/iocd/iocd/defs"
)

// History keeps health changes for a device's health history;
// *store.SQLite is one. The history lives in the store, not only in
// InfluxDB's device_status measurement, so that the fleet page can still
// say when a device went offline while InfluxDB is down (often the very
// outage being looked into).
type History interface {
	AddHealthChanges(ctx context.Context, chs []defs.HealthChange) error
}

type noHistory struct{}

func (noHistory) AddHealthChanges(context.Context, []defs.HealthChange) error { return nil }

// historyQueue bounds the changes waiting for the store; past it changes
// are dropped and counted (iocd_fleet_history_dropped_total): a store
// that is slow must never hold up ingest, which reports through Seen.
const historyQueue = 4096

// historyBatch is the most changes written in one transaction.
const historyBatch = 256

// writeHistory writes queued health changes to the history in batches
// until ctx ends, then writes what is still queued (bounded by a short
// deadline, so a stuck store cannot hold up shutdown).
func (t *Tracker) writeHistory(ctx context.Context) {
	batch := make([]defs.HealthChange, 0, historyBatch)
	flush := func(parent context.Context) {
		if len(batch) == 0 {
			return
		}
		wctx, cancel := context.WithTimeout(parent, 5*time.Second)
		err := t.history.AddHealthChanges(wctx, batch)
		cancel()
		if err != nil {
			t.histFailed.Add(float64(len(batch)))
			t.log.Warn("writing health history", "changes", len(batch), "err", err)
		}
		batch = batch[:0]
	}
	for {
		select {
		case <-ctx.Done():
			// At most one queue's worth: producers may still be running.
			for range historyQueue {
				select {
				case ch := <-t.histQ:
					batch = append(batch, ch)
					if len(batch) == historyBatch {
						flush(context.WithoutCancel(ctx))
					}
					continue
				default:
				}
				break
			}
			flush(context.WithoutCancel(ctx))
			return
		case ch := <-t.histQ:
			batch = append(batch, ch)
		drain:
			for len(batch) < historyBatch {
				select {
				case ch := <-t.histQ:
					batch = append(batch, ch)
				default:
					break drain
				}
			}
			flush(ctx)
		}
	}
}
