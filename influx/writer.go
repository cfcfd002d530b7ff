package influx

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	nethttp "net/http"
	"net/url"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	influxdb2 "github.com/influxdata/influxdb-client-go/v2"
	influxhttp "github.com/influxdata/influxdb-client-go/v2/api/http"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/iocd/iocd/config"
	"github.com/iocd/iocd/defs"
	"github.com/iocd/iocd/internal/throttle"
)

// Tuning that is not worth a configuration key.
const (
	// senders is the number of write requests in flight. Two keep
	// InfluxDB busy while iocd builds the next batch, without letting a
	// slow InfluxDB pile up requests.
	senders = 2
	// readyBatches bounds the full batches waiting for a sender; when it
	// is full, producers block, which is ingest's back-pressure.
	readyBatches = 4
	// retryBatches bounds the failed batches retried from memory before
	// newer failures go to the spool on disk.
	retryBatches = 4
	// maxBatchBytes hands a batch over before BatchSize points when its
	// line protocol passes this size. A point can carry a 256 KiB string,
	// so a batch bounded by count alone can exceed InfluxDB 1.8's default
	// max-body-size (25 MB); the 413 it answers is not retryable and would
	// drop every point of the batch, other devices' too. 4 MiB keeps a
	// request well under that even with one huge point past the bound,
	// and is still large enough that ordinary batches are bounded by count.
	maxBatchBytes = 4 << 20
	backoffMin    = 250 * time.Millisecond
	backoffMax    = 30 * time.Second
)

// ErrClosed is returned by writes after Close.
var ErrClosed = errors.New("influx writer closed")

// Writer batches points into line protocol and writes them to InfluxDB
// (2.x, or 1.8 through its /api/v2 compatibility endpoints). A batch is
// sent when it holds BatchSize points or its first point is FlushInterval
// old. Points are made durable before that in a write-ahead log (wal.go),
// which is when their done callbacks run. Failed batches are retried with
// backoff oldest-first, from memory and, once the retry buffer is full,
// from a bounded on-disk spool, so that points survive an outage and a
// restart.
//
// Start it once and Close it once the producers have stopped.
type Writer struct {
	log        *slog.Logger
	client     influxdb2.Client
	svc        influxhttp.Service
	writeURL   string
	batchSize  int
	flushEvery time.Duration
	timeout    time.Duration
	m          *metrics

	mu        sync.Mutex
	cur       *batch
	closed    bool
	producers sync.WaitGroup // producers handing a full batch over

	// sealed takes full batches to the committer (wal.go), which
	// passes them on to ready once durable; kick wakes it for the
	// current batch.
	sealed   chan *batch
	kick     chan struct{}
	commitWG sync.WaitGroup
	receipts *receipts

	ready chan *batch
	free  chan *batch

	// live holds the batches handed over and not yet written, spooled or
	// given up on, for the age of the oldest unflushed point.
	liveMu sync.Mutex
	live   map[*batch]struct{}

	conds Conditions

	// backlog: batches waiting for InfluxDB to come back.
	blMu     sync.Mutex
	mem      []*batch
	spool    *spool
	degraded atomic.Bool
	failing  atomic.Bool // the last write failed retryably
	wake     chan struct{}

	quit      chan struct{}
	sendersWG sync.WaitGroup
	bgWG      sync.WaitGroup
	startOnce sync.Once
	closeOnce sync.Once
	warn      *throttle.Throttle

	// types keeps each telemetry field's type; with salvage it makes a
	// refused point cost only itself (fieldtypes.go, reject.go).
	types *fieldTypes
}

// batch is line protocol for up to batchSize points, with what to do when
// it is done.
type batch struct {
	buf   []byte
	n     int
	ts    []int64 // telemetry reading times (ms), for the delay histogram
	done  []func()
	first time.Time

	// The write-ahead log, touched only by the committer until the
	// batch is handed to a sender: the batch's file, how much of buf it
	// holds, how many of done have run, and whether it failed.
	wal     *os.File
	walName string
	synced  int
	called  int
	walErr  bool
}

// New returns a Writer for cfg that spools under dataDir/spool. It does
// not contact InfluxDB: an unreachable server at start is an outage like
// any other.
func New(cfg config.Influx, dataDir string, logger *slog.Logger, reg prometheus.Registerer) (*Writer, error) {
	rc := &receipts{}
	sp, err := openSpool(filepath.Join(dataDir, "spool"), cfg.SpoolMaxBytes, rc)
	if err != nil {
		return nil, err
	}
	opts := influxdb2.DefaultOptions().
		SetHTTPRequestTimeout(uint(cfg.Timeout.D().Seconds() + 1)).
		SetApplicationName("iocd").
		SetLogLevel(0) // the client's own logger: errors only; iocd logs through slog
	client := influxdb2.NewClientWithOptions(cfg.URL, cfg.Token, opts)
	q := url.Values{"org": {cfg.Org}, "bucket": {cfg.Bucket}, "precision": {"ms"}}
	w := &Writer{
		log:        logger.With("component", "influx"),
		warn:       throttle.New(10 * time.Second),
		client:     client,
		svc:        client.HTTPService(),
		writeURL:   client.HTTPService().ServerAPIURL() + "write?" + q.Encode(),
		batchSize:  cfg.BatchSize,
		flushEvery: cfg.FlushInterval.D(),
		timeout:    cfg.Timeout.D(),
		sealed:     make(chan *batch, 1),
		kick:       make(chan struct{}, 1),
		receipts:   rc,
		live:       make(map[*batch]struct{}),
		conds:      noConditions{},
		ready:      make(chan *batch, readyBatches),
		free:       make(chan *batch, readyBatches+senders+retryBatches+2),
		spool:      sp,
		wake:       make(chan struct{}, 1),
		quit:       make(chan struct{}),
	}
	w.m = newMetrics(reg,
		func() float64 { return float64(len(w.ready)) },
		func() float64 { w.blMu.Lock(); defer w.blMu.Unlock(); return float64(len(w.mem)) },
		w.OldestUnflushed)
	w.initFieldTypes(cfg, reg) // fieldtypes.go
	w.m.spoolBytes.Set(float64(sp.bytes))
	w.m.spoolFiles.Set(float64(len(sp.files)))
	if !sp.empty() {
		w.degraded.Store(true)
		w.log.Info("replaying spooled points from an earlier run", "batches", len(sp.files), "bytes", sp.bytes)
	}
	w.cur = w.newBatch()
	return w, nil
}

// Start starts the senders, the flusher and the replayer.
func (w *Writer) Start() {
	w.startOnce.Do(func() {
		w.commitWG.Add(1)
		go w.commitLoop()
		for range senders {
			w.sendersWG.Add(1)
			go w.sendLoop()
		}
		w.checkSpool()
		w.bgWG.Add(3)
		go w.flushLoop()
		go w.retryLoop()
		go w.seedFieldTypes() // fieldtypes.go
	})
}

// Close stops accepting points, writes what is buffered, puts what cannot
// be written into the spool, and waits. It is idempotent.
func (w *Writer) Close() error {
	w.closeOnce.Do(func() {
		w.mu.Lock()
		w.closed = true
		last := w.cur
		w.cur = nil
		w.mu.Unlock()
		w.producers.Wait()
		if last != nil && (last.n > 0 || len(last.done) > 0) {
			w.track(last)
			w.sealed <- last
		}
		close(w.sealed) // the committer closes ready once it has drained
		w.commitWG.Wait()
		w.sendersWG.Wait()
		close(w.quit)
		w.bgWG.Wait()
		// Whichever way the retry loop left, nothing it held in memory
		// may be lost: those readings are already acknowledged.
		w.spoolMemory()
		w.client.Close()
	})
	return nil
}

// WriteTelemetry adds one reading of a device to the telemetry measurement.
// done, if not nil, is called once the point is durable: acknowledged by
// InfluxDB, spooled to disk, or given up on and counted; for a reading with
// no storable field it is called before WriteTelemetry returns. It blocks while
// the batch queue is full; that is the back-pressure on ingest.
func (w *Writer) WriteTelemetry(dev defs.DeviceID, site string, kind defs.Kind, ts time.Time, fields []defs.Field, done func()) error {
	w.mu.Lock()
	if w.closed {
		w.mu.Unlock()
		return ErrClosed
	}
	// A field whose type conflicts with the field's type is left out
	// and counted (fieldtypes.go).
	fields = w.types.check(dev, fields)
	b := w.cur
	var ok bool
	b.buf, ok = appendTelemetry(b.buf, dev, site, kind, ts, fields)
	if !ok {
		// Nothing to store (every field NaN or ±Inf): the reading is done
		// now. Queued on the batch, done would wait for some unrelated
		// later point, since an empty batch is never flushed.
		w.mu.Unlock()
		if done != nil {
			done()
		}
		return nil
	}
	if b.n == 0 {
		b.first = time.Now()
	}
	b.n++
	b.ts = append(b.ts, ts.UnixMilli())
	if done != nil {
		w.kickCommit()
	}
	return w.added(b, done, false)
}

// WritePoint adds one point of any measurement, for producers other than
// telemetry (camera_stats, violations, device_status). Integer values are
// stored as InfluxDB integers; a point without a storable field is
// ignored. It goes through the same batching, retry and spool as telemetry
// and never fails; after Close it is dropped.
func (w *Writer) WritePoint(measurement string, tags map[string]string, fields map[string]any, ts time.Time) {
	w.mu.Lock()
	if w.closed {
		w.mu.Unlock()
		return
	}
	b := w.cur
	var ok bool
	b.buf, ok = appendPoint(b.buf, measurement, tags, fields, ts)
	if ok {
		if b.n == 0 {
			b.first = time.Now()
		}
		b.n++
	}
	_ = w.added(b, nil, false)
}

// added finishes an append under w.mu: it records done, and hands the batch
// over when full or forced. It unlocks w.mu.
func (w *Writer) added(b *batch, done func(), force bool) error {
	if done != nil {
		b.done = append(b.done, done)
	}
	if b.n < w.batchSize && len(b.buf) < maxBatchBytes && !force {
		w.mu.Unlock()
		return nil
	}
	w.cur = w.newBatch()
	w.producers.Add(1)
	w.mu.Unlock()
	defer w.producers.Done()
	w.track(b)
	w.sealed <- b
	return nil
}

// flushLoop sends a partial batch once its first point is flushEvery old.
func (w *Writer) flushLoop() {
	defer w.bgWG.Done()
	tick := time.NewTicker(min(w.flushEvery/4, 100*time.Millisecond))
	defer tick.Stop()
	for {
		select {
		case <-w.quit:
			return
		case <-tick.C:
		}
		w.mu.Lock()
		b := w.cur
		if w.closed || b.n == 0 || time.Since(b.first) < w.flushEvery {
			w.mu.Unlock()
			continue
		}
		_ = w.added(b, nil, true) // unlocks
	}
}

func (w *Writer) newBatch() *batch {
	select {
	case b := <-w.free:
		return b
	default:
		return &batch{buf: make([]byte, 0, w.batchSize*128), ts: make([]int64, 0, w.batchSize)}
	}
}

func (w *Writer) recycle(b *batch) {
	b.buf, b.n, b.ts, b.done = b.buf[:0], 0, b.ts[:0], b.done[:0]
	b.wal, b.walName, b.synced, b.called, b.walErr = nil, "", 0, 0, false
	select {
	case w.free <- b:
	default:
	}
}

// complete finishes a batch that is written, spooled or given up on: it
// runs the done callbacks the WAL did not already run, removes its WAL
// file, and recycles it.
func (w *Writer) complete(b *batch) {
	for _, f := range b.done[b.called:] {
		f()
	}
	w.removeWAL(b)
	w.untrack(b)
	w.recycle(b)
}

// sendLoop writes ready batches; while InfluxDB is failing it passes them
// straight to the backlog so that order is kept and no sender waits on a
// dead server.
func (w *Writer) sendLoop() {
	defer w.sendersWG.Done()
	for b := range w.ready {
		if w.degraded.Load() {
			w.defer_(b)
			continue
		}
		err := w.post(b.buf, false)
		switch {
		case err == nil:
			w.reachable()
			w.written(b)
		case isRetryable(err):
			w.unreachable(err)
			w.warn.Do(func() { w.log.Warn("influxdb write failed; buffering and retrying", "err", err) })
			w.defer_(b)
		default:
			// Refused (4xx): write what InfluxDB did not refuse and
			// count the rest point by point (reject.go).
			w.refused(b, err)
		}
	}
}

func (w *Writer) written(b *batch) {
	w.m.pointsWritten.Add(float64(b.n))
	now := time.Now().UnixMilli()
	for _, ts := range b.ts {
		w.m.delay.Observe(float64(now-ts) / 1e3)
	}
	w.complete(b)
}

func (w *Writer) rejected(points int, err error) {
	w.m.writeFailures.WithLabelValues("rejected").Inc()
	w.m.pointsDropped.WithLabelValues(dropRejected).Add(float64(points))
	w.warn.Do(func() { w.log.Warn("influxdb rejected a batch; dropping it", "points", points, "err", err) })
}

// post sends one write request with its own timeout.
func (w *Writer) post(body []byte, gzipped bool) error {
	ctx, cancel := context.WithTimeout(context.Background(), w.timeout)
	defer cancel()
	perr := w.svc.DoPostRequest(ctx, w.writeURL, bytes.NewReader(body),
		func(req *nethttp.Request) {
			req.Header.Set("Content-Type", "text/plain; charset=utf-8")
			if gzipped {
				req.Header.Set("Content-Encoding", "gzip")
			}
		},
		func(resp *nethttp.Response) error {
			_, _ = io.Copy(io.Discard, resp.Body)
			return resp.Body.Close()
		})
	if perr == nil {
		return nil
	}
	return &WriteError{Status: perr.StatusCode, msg: trim(perr.Error(), maxErrorText)}
}

// WriteError is a failed write request.
type WriteError struct {
	// Status is the HTTP status, 0 when there was no response.
	Status int
	msg    string
}

// Error implements error.
func (e *WriteError) Error() string {
	if e.Status == 0 {
		return "writing batch: " + e.msg
	}
	return fmt.Sprintf("writing batch: status %d: %s", e.Status, e.msg)
}

// isRetryable says whether trying again later can succeed: no response at
// all, a server error, or rate limiting. Other 4xx (bad line protocol, a
// field type conflict, a missing database) will fail the same way again.
// Retrying an accepted write is harmless: InfluxDB overwrites a point with
// the same series and timestamp.
func isRetryable(err error) bool {
	var we *WriteError
	if !errors.As(err, &we) {
		return true
	}
	switch {
	case we.Status == 0, we.Status >= 500, we.Status == nethttp.StatusTooManyRequests, we.Status == nethttp.StatusRequestTimeout:
		return true
	case we.Status == nethttp.StatusNotFound:
		// A database not created yet: an operator can fix it, so keep
		// the points rather than drop them.
		return true
	}
	return false
}

func trim(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}
