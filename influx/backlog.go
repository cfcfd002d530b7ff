package influx

// This file holds what happens to a batch InfluxDB did not take: the
// in-memory retry buffer, the spool on disk it overflows into, and the
// retry loop that replays both, oldest first, once InfluxDB answers again.

import (
	"errors"
	"math/rand/v2"
	"time"
)

// defer_ puts a failed batch in the backlog: in memory while the retry
// buffer has room and nothing is spooled (so memory always holds the
// oldest), else on disk.
func (w *Writer) defer_(b *batch) {
	w.blMu.Lock()
	w.degraded.Store(true)
	if w.spool.empty() && len(w.mem) < retryBatches {
		w.mem = append(w.mem, b)
		w.blMu.Unlock()
	} else {
		w.spoolLocked(b)
		w.blMu.Unlock()
		w.complete(b)
	}
	select {
	case w.wake <- struct{}{}:
	default:
	}
}

// spoolLocked writes b to the spool; blMu must be held.
func (w *Writer) spoolLocked(b *batch) {
	evicted, err := w.spool.put(b.buf, b.n, b.first)
	if evicted > 0 {
		w.m.pointsDropped.WithLabelValues(dropSpoolFull).Add(float64(evicted))
		w.warn.Do(func() { w.log.Warn("spool full; dropped the oldest points", "points", evicted) })
	}
	switch {
	case errors.Is(err, errBatchTooBig):
		w.m.pointsDropped.WithLabelValues(dropSpoolFull).Add(float64(b.n))
		w.warn.Do(func() { w.log.Warn("batch larger than the whole spool; dropping it", "points", b.n, "err", err) })
	case err != nil && b.walName != "":
		// The batch's WAL file still holds it durably: keep that as
		// the spool entry instead.
		w.spool.adopt(b.walName, int64(len(b.buf)), b.n, b.first)
		b.walName = ""
		w.m.spooledPoints.Add(float64(b.n))
		w.log.Error("spooling points failed; keeping their write-ahead log file instead", "points", b.n, "err", err)
	case err != nil:
		w.m.pointsDropped.WithLabelValues(dropSpoolError).Add(float64(b.n))
		w.log.Error("spooling points failed; dropping them", "points", b.n, "err", err)
	default:
		w.m.spooledPoints.Add(float64(b.n))
	}
	w.m.spoolBytes.Set(float64(w.spool.bytes))
	w.m.spoolFiles.Set(float64(len(w.spool.files)))
	w.checkSpoolLocked()
}

// retryLoop replays the backlog oldest-first, one batch at a time, backing
// off exponentially with jitter while InfluxDB keeps failing. When the
// backlog is empty, senders write directly again. On Close, batches still
// in memory go to the spool for the next run.
func (w *Writer) retryLoop() {
	defer w.bgWG.Done()
	backoff := backoffMin
	for {
		select {
		case <-w.quit:
			// Shutting down: what is spooled stays for the next run
			// rather than holding up shutdown for a long replay.
			w.spoolMemory()
			return
		default:
		}
		b, f, ok := w.nextBacklog()
		if !ok {
			if testHookRetryIdle != nil {
				testHookRetryIdle(w)
			}
			select {
			case <-w.wake:
				continue
			case <-w.quit:
				// A last failed batch may have gone to memory with its
				// wake-up still pending: select picks at random among
				// ready cases, so spool it here too, or acked points
				// vanish at shutdown.
				w.spoolMemory()
				return
			}
		}
		var err error
		if b != nil {
			err = w.post(b.buf, false)
		} else {
			body, rerr := w.spoolRead(f)
			if rerr != nil {
				// Retrying cannot make a damaged file readable, and as
				// the oldest entry it would hold back every later write.
				w.dropSpoolFile(f, rerr)
				backoff = backoffMin
				continue
			}
			err = w.post(body, !f.plain)
		}
		if err == nil {
			w.reachable()
		}
		if err != nil && !isRetryable(err) {
			// Refused (4xx): write what InfluxDB did not refuse and
			// count the rest point by point (reject.go).
			if err = w.salvageBacklog(b, f, err); err == nil {
				backoff = backoffMin
				continue
			}
		}
		if err == nil || !isRetryable(err) {
			if err != nil {
				w.rejected(points(b, f), err)
			}
			w.popBacklog(b, f, err == nil)
			backoff = backoffMin
			continue
		}
		w.unreachable(err)
		w.m.retries.Inc()
		wait := backoff/2 + rand.N(backoff/2+1)
		backoff = min(backoff*2, backoffMax)
		select {
		case <-time.After(wait):
		case <-w.quit:
			w.spoolMemory()
			return
		}
	}
}

// testHookRetryIdle, when set by a test, runs in retryLoop just before it
// waits with an empty backlog, so that a test can make the wake-up and the
// quit signal arrive together.
var testHookRetryIdle func(*Writer)

func points(b *batch, f spoolFile) int {
	if b != nil {
		return b.n
	}
	return f.points
}

// nextBacklog returns the oldest backlog entry: a memory batch, or else a
// spool file. With none, the writer leaves degraded mode.
func (w *Writer) nextBacklog() (*batch, spoolFile, bool) {
	w.blMu.Lock()
	defer w.blMu.Unlock()
	if len(w.mem) > 0 {
		return w.mem[0], spoolFile{}, true
	}
	if f, ok := w.spool.oldest(); ok {
		return nil, f, true
	}
	if w.degraded.Swap(false) {
		w.log.Info("influxdb writes caught up")
	}
	return nil, spoolFile{}, false
}

func (w *Writer) spoolRead(f spoolFile) ([]byte, error) {
	w.blMu.Lock()
	defer w.blMu.Unlock()
	return w.spool.read(f)
}

// dropSpoolFile gives up on a spool file that cannot be read, counting the
// points its name says it holds.
func (w *Writer) dropSpoolFile(f spoolFile, err error) {
	w.blMu.Lock()
	w.spool.remove(f)
	w.m.spoolBytes.Set(float64(w.spool.bytes))
	w.m.spoolFiles.Set(float64(len(w.spool.files)))
	w.checkSpoolLocked()
	w.blMu.Unlock()
	w.m.pointsDropped.WithLabelValues(dropSpoolError).Add(float64(f.points))
	w.warn.Do(func() {
		w.log.Warn("unreadable spool file; dropping it", "file", f.name, "points", f.points, "err", err)
	})
}

// popBacklog removes the entry nextBacklog returned.
func (w *Writer) popBacklog(b *batch, f spoolFile, written bool) {
	w.blMu.Lock()
	if b != nil {
		w.mem = w.mem[1:]
	} else {
		w.spool.remove(f)
		w.m.spoolBytes.Set(float64(w.spool.bytes))
		w.m.spoolFiles.Set(float64(len(w.spool.files)))
		w.checkSpoolLocked()
	}
	w.blMu.Unlock()
	switch {
	case b != nil && written:
		w.written(b)
	case b != nil:
		w.complete(b)
	case written:
		w.m.pointsWritten.Add(float64(f.points))
	}
}

// spoolMemory moves the in-memory retry buffer to disk at shutdown. Those
// batches are older than the spooled ones but get later file numbers, so
// replay after a restart is only roughly oldest-first; InfluxDB does not
// mind, since points carry their own timestamps.
func (w *Writer) spoolMemory() {
	w.blMu.Lock()
	mem := w.mem
	w.mem = nil
	for _, b := range mem {
		w.spoolLocked(b)
	}
	w.blMu.Unlock()
	for _, b := range mem {
		w.complete(b)
	}
}
