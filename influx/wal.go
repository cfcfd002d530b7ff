package influx

// This file holds the write-ahead log: what makes a point durable before
// InfluxDB has it, so that ingest can acknowledge an MQTT message as soon
// as its points are on disk rather than after the next batch is written.
//
// Each batch has its own WAL file in the spool dir, <seq>.wal, plain line
// protocol. The committer goroutine appends what producers added to the
// current batch since its last commit, fsyncs, and only then runs the
// points' done callbacks: one fsync covers every point added while the
// previous one ran (group commit), so the cost per message is a memcpy.
// A sealed batch gets its last commit before a sender may post it. Once
// InfluxDB accepts the batch its WAL file is removed; if InfluxDB fails,
// the file stays the batch's durable copy while it is retried from memory,
// and is replaced by a gzip spool file when the batch moves to the spool.
// After a crash, WAL files left over are recovered as spool entries (a torn
// last line is cut off) and replayed like the rest of the spool.
//
// Receipt records: a reading without its own timestamp is stored with its
// receipt time. So that a message redelivered after a crash writes the same
// point again (which InfluxDB merges) rather than a second one at a new
// time, ingest notes (hash of topic and payload, receipt time) in the batch
// as a line-protocol comment, "#r <hash> <ms>", which InfluxDB ignores. At
// start the records of the recovered WAL files are loaded, and Receipt
// answers them, each once, for the redelivered messages.

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"time"
)

// commitDelay is how long the committer lets points gather after the first
// one arrives before it writes and fsyncs them. It bounds the fsyncs to
// about 1/commitDelay a second and adds at most this to an ack's delay.
const commitDelay = time.Millisecond

// walSuffix names a batch's write-ahead log file in the spool dir.
const walSuffix = ".wal"

// maxReceipts bounds the receipt records kept from recovered WAL files.
const maxReceipts = 1 << 20

// kickCommit wakes the committer; it never blocks.
func (w *Writer) kickCommit() {
	select {
	case w.kick <- struct{}{}:
	default:
	}
}

// commitLoop is the one goroutine that writes WAL files. It takes sealed
// batches (final commit, then hand-over to the senders) and, when kicked,
// commits what has been added to the current batch. A committed batch
// waits in out for a sender, so that a slow InfluxDB does not stop the
// current batch's commits (and with them the acks); out is bounded by
// committedBatches, past which sealed batches wait, which blocks
// producers. It closes ready once sealed is closed and out is drained.
func (w *Writer) commitLoop() {
	defer w.commitWG.Done()
	defer close(w.ready)
	var out []*batch
	sealed := w.sealed
	for sealed != nil || len(out) > 0 {
		in := sealed
		if len(out) >= committedBatches {
			in = nil
		}
		var send chan *batch
		var next *batch
		if len(out) > 0 {
			send, next = w.ready, out[0]
		}
		select {
		case b, ok := <-in:
			if !ok {
				sealed = nil
				continue
			}
			w.commit(b)
			out = append(out, b)
		case send <- next:
			out[0] = nil
			out = out[1:]
		case <-w.kick:
			time.Sleep(commitDelay)
			w.mu.Lock()
			b := w.cur
			if b == nil {
				w.mu.Unlock()
				continue
			}
			tail := b.buf[b.synced:len(b.buf):len(b.buf)]
			dones := b.done[b.called:len(b.done):len(b.done)]
			w.mu.Unlock()
			// Producers may append to b meanwhile, and may seal it;
			// the sealed batch reaches commit only after this returns,
			// since this goroutine is the one that takes it.
			w.commitRange(b, tail, dones)
		}
	}
}

// committedBatches bounds the committed batches waiting for a sender.
const committedBatches = 2

// commit makes all of a sealed batch durable.
func (w *Writer) commit(b *batch) {
	w.commitRange(b, b.buf[b.synced:], b.done[b.called:])
	if b.wal != nil {
		if err := b.wal.Close(); err != nil {
			w.walFailed(b, fmt.Errorf("closing wal file: %w", err))
		}
		b.wal = nil
	}
}

// commitRange appends tail to b's WAL file, fsyncs, and runs dones. On a
// WAL failure the dones are left for InfluxDB's answer (complete runs
// them), so a broken disk delays acknowledgements but loses nothing.
func (w *Writer) commitRange(b *batch, tail []byte, dones []func()) {
	if len(tail) == 0 && len(dones) == 0 {
		return
	}
	if b.walErr {
		return
	}
	if err := w.walAppend(b, tail); err != nil {
		w.walFailed(b, err)
		return
	}
	b.synced += len(tail)
	for _, f := range dones {
		f()
	}
	b.called += len(dones)
}

func (w *Writer) walAppend(b *batch, tail []byte) error {
	if b.wal == nil {
		w.blMu.Lock()
		w.spool.seq++
		b.walName = fmt.Sprintf("%020d%s", w.spool.seq, walSuffix)
		w.blMu.Unlock()
		f, err := os.OpenFile(filepath.Join(w.spool.dir, b.walName), os.O_CREATE|os.O_WRONLY|os.O_EXCL, 0o640)
		if err != nil {
			b.walName = ""
			return fmt.Errorf("creating wal file: %w", err)
		}
		b.wal = f
	}
	if _, err := b.wal.Write(tail); err != nil {
		return fmt.Errorf("writing wal file: %w", err)
	}
	if err := b.wal.Sync(); err != nil {
		return fmt.Errorf("syncing wal file: %w", err)
	}
	w.m.walSyncs.Inc()
	return nil
}

// walFailed gives up on b's WAL: its points are now durable only once
// InfluxDB or the spool has them.
func (w *Writer) walFailed(b *batch, err error) {
	b.walErr = true
	if b.wal != nil {
		b.wal.Close()
		b.wal = nil
	}
	w.removeWAL(b)
	w.m.walErrors.Inc()
	w.warn.Do(func() {
		w.log.Error("write-ahead log failed; acknowledgements now wait for InfluxDB", "err", err)
	})
}

// removeWAL deletes b's WAL file once its points are written, spooled or
// given up on.
func (w *Writer) removeWAL(b *batch) {
	if b.walName == "" {
		return
	}
	os.Remove(filepath.Join(w.spool.dir, b.walName))
	b.walName = ""
}

// NoteReceipt records in the current batch that the message with key (a
// hash of its topic and payload) was stored with receipt time recv, so
// that a redelivery after a crash can get the same time back from Receipt.
// Call it before writing the message's readings.
func (w *Writer) NoteReceipt(key uint64, recv time.Time) {
	w.mu.Lock()
	if w.closed {
		w.mu.Unlock()
		return
	}
	b := w.cur
	b.buf = append(b.buf, "#r "...)
	b.buf = strconv.AppendUint(b.buf, key, 16)
	b.buf = append(b.buf, ' ')
	b.buf = strconv.AppendInt(b.buf, recv.UnixMilli(), 10)
	b.buf = append(b.buf, '\n')
	w.mu.Unlock()
}

// Receipt returns the receipt time recorded for key in a WAL file left by
// an earlier run, once per record.
func (w *Writer) Receipt(key uint64) (time.Time, bool) {
	return w.receipts.take(key)
}

// Receipts reports whether any recovered receipt record is still unclaimed,
// so that callers can skip hashing when none is.
func (w *Writer) Receipts() bool { return w.receipts.any() }

// receipts are the recovered receipt records, by key, oldest first.
type receipts struct {
	mu sync.Mutex
	m  map[uint64][]int64
	n  int
}

func (r *receipts) add(key uint64, ms int64) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.n >= maxReceipts {
		return
	}
	if r.m == nil {
		r.m = make(map[uint64][]int64)
	}
	r.m[key] = append(r.m[key], ms)
	r.n++
}

func (r *receipts) any() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.n > 0
}

func (r *receipts) take(key uint64) (time.Time, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	l := r.m[key]
	if len(l) == 0 {
		return time.Time{}, false
	}
	if len(l) == 1 {
		delete(r.m, key)
	} else {
		r.m[key] = l[1:]
	}
	r.n--
	return time.UnixMilli(l[0]).UTC(), true
}

// recoverWAL reads a WAL file left by an earlier run: it cuts a torn last
// line (a write cut short), counts the points and loads the receipt
// records. A file with no point left is removed.
func recoverWAL(path string, rc *receipts) (size int64, points int, err error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return 0, 0, fmt.Errorf("reading wal file: %w", err)
	}
	if i := bytes.LastIndexByte(data, '\n'); i+1 != len(data) {
		data = data[:i+1]
		if err := os.Truncate(path, int64(len(data))); err != nil {
			return 0, 0, fmt.Errorf("truncating torn wal file: %w", err)
		}
	}
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 0, 64<<10), maxBatchBytes+1<<20)
	for sc.Scan() {
		line := sc.Bytes()
		switch {
		case len(line) == 0:
		case line[0] != '#':
			points++
		case bytes.HasPrefix(line, []byte("#r ")):
			f := bytes.Fields(line[3:])
			if len(f) != 2 {
				continue
			}
			key, err1 := strconv.ParseUint(string(f[0]), 16, 64)
			ms, err2 := strconv.ParseInt(string(f[1]), 10, 64)
			if err1 == nil && err2 == nil {
				rc.add(key, ms)
			}
		}
	}
	if err := sc.Err(); err != nil {
		return 0, 0, fmt.Errorf("scanning wal file: %w", err)
	}
	if points == 0 {
		os.Remove(path)
		return 0, 0, nil
	}
	return int64(len(data)), points, nil
}
