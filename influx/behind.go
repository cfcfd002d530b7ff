package influx

// This file holds what the writer reports about how far behind it is: the
// age of its oldest unflushed point, the spool's size, and the conditions
// it owns (InfluxDB unreachable, spool growing), each derived from its own
// state and re-set whenever that state changes.

import (
	"fmt"
	"time"

	"github.com/iocd/iocd/defs"
)

// Conditions is where the writer raises and clears its conditions;
// *conditions.Registry is one.
type Conditions interface {
	Set(defs.Condition)
	Clear(code, subject string)
}

type noConditions struct{}

func (noConditions) Set(defs.Condition)   {}
func (noConditions) Clear(string, string) {}

// SetConditions gives the writer the registry for its conditions
// (defs.ConditionInfluxUnreachable, defs.ConditionSpoolGrowing). Call it
// before Start; without it the conditions are not reported.
func (w *Writer) SetConditions(c Conditions) {
	if c != nil {
		w.conds = c
	}
}

// unreachable records a retryable write failure.
func (w *Writer) unreachable(err error) {
	w.m.writeFailures.WithLabelValues("retryable").Inc()
	w.failing.Store(true)
	w.conds.Set(defs.Condition{
		Code: defs.ConditionInfluxUnreachable, Source: "influx", Severity: defs.SeverityMajor,
		Message: "InfluxDB writes are failing and being retried: " + trim(err.Error(), 200),
	})
}

// reachable records a write InfluxDB accepted.
func (w *Writer) reachable() {
	if w.failing.Swap(false) {
		w.conds.Clear(defs.ConditionInfluxUnreachable, "")
	}
}

// checkSpool re-derives the spool condition from the spool.
func (w *Writer) checkSpool() {
	w.blMu.Lock()
	w.checkSpoolLocked()
	w.blMu.Unlock()
}

// checkSpoolLocked is checkSpool with blMu held.
func (w *Writer) checkSpoolLocked() {
	if w.spool.empty() {
		w.conds.Clear(defs.ConditionSpoolGrowing, "")
		return
	}
	w.conds.Set(defs.Condition{
		Code: defs.ConditionSpoolGrowing, Source: "influx", Severity: defs.SeverityWarning,
		Message: fmt.Sprintf("%d bytes of points wait in the disk spool for InfluxDB", w.spool.bytes),
		Value:   float64(w.spool.bytes),
	})
}

// track records a batch handed over; untrack, one done with.
func (w *Writer) track(b *batch) {
	w.liveMu.Lock()
	w.live[b] = struct{}{}
	w.liveMu.Unlock()
}

func (w *Writer) untrack(b *batch) {
	w.liveMu.Lock()
	delete(w.live, b)
	w.liveMu.Unlock()
}

// OldestUnflushed returns when the oldest point not yet accepted by
// InfluxDB was added (for spooled points, about when: the spool file keeps
// its batch's first point), or the zero time when every point is written.
func (w *Writer) OldestUnflushed() time.Time {
	var oldest time.Time
	older := func(t time.Time) {
		if !t.IsZero() && (oldest.IsZero() || t.Before(oldest)) {
			oldest = t
		}
	}
	w.mu.Lock()
	if b := w.cur; b != nil && b.n > 0 {
		older(b.first)
	}
	w.mu.Unlock()
	w.liveMu.Lock()
	for b := range w.live {
		if b.n > 0 {
			older(b.first)
		}
	}
	w.liveMu.Unlock()
	w.blMu.Lock()
	for _, f := range w.spool.files {
		older(f.first)
	}
	w.blMu.Unlock()
	return oldest
}

// SpoolBytes returns the bytes waiting in the disk spool.
func (w *Writer) SpoolBytes() int64 {
	w.blMu.Lock()
	defer w.blMu.Unlock()
	return w.spool.bytes
}
