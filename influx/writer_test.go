package influx

import (
	"fmt"
	"log/slog"
	"math"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/iocd/iocd/config"
	"github.com/iocd/iocd/defs"
	"github.com/iocd/iocd/internal/testrig"
)

func testConfig(url string) config.Influx {
	c := config.Default().Influx
	c.URL, c.Bucket = url, "iocd"
	c.BatchSize = 500
	c.FlushInterval = config.Duration(100 * time.Millisecond)
	c.Timeout = config.Duration(2 * time.Second)
	return c
}

func newWriter(t *testing.T, cfg config.Influx, dir string) *Writer {
	t.Helper()
	w, err := New(cfg, dir, slog.New(slog.DiscardHandler), nil)
	if err != nil {
		t.Fatalf("influx.New: %v", err)
	}
	w.Start()
	return w
}

func writeReadings(t *testing.T, w *Writer, dev string, from, n int) {
	t.Helper()
	base := time.UnixMilli(1732233600000)
	for i := from; i < from+n; i++ {
		err := w.WriteTelemetry(defs.DeviceID(dev), "tan-an", defs.KindSensor, base.Add(time.Duration(i)*time.Millisecond),
			[]defs.Field{{Key: "v", Type: defs.FieldFloat, Num: float64(i)}}, nil)
		if err != nil {
			t.Fatalf("WriteTelemetry: %v", err)
		}
	}
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	testrig.WaitFor(t, what, 30*time.Second, cond)
}

// TestSpoolSurvivesRestart writes while InfluxDB is down, closes the writer
// (everything ends up in the spool), and checks that a new writer on the
// same data dir replays it all once InfluxDB is back.
func TestSpoolSurvivesRestart(t *testing.T) {
	ix := testrig.Influx(t, testrig.WithoutFlux())
	ix.CreateDB("iocd")
	ix.Stop()
	dir := t.TempDir()
	cfg := testConfig(ix.URL())

	w := newWriter(t, cfg, dir)
	var done atomic.Int64 // callbacks run on the writer's goroutines
	for i := range 6000 {
		err := w.WriteTelemetry("wl-01", "tan-an", defs.KindSensor, time.UnixMilli(1732233600000+int64(i)),
			[]defs.Field{{Key: "v", Type: defs.FieldFloat, Num: float64(i)}}, func() { done.Add(1) })
		if err != nil {
			t.Fatal(err)
		}
	}
	w.Close()
	if got := testutil.ToFloat64(w.m.spooledPoints); got != 6000 {
		t.Errorf("spooled points: want 6000, got %v", got)
	}
	if done.Load() != 6000 {
		t.Errorf("done callbacks: want 6000 (each point durable in the spool), got %d", done.Load())
	}
	files, _ := filepath.Glob(filepath.Join(dir, "spool", "*"+spoolSuffix))
	if len(files) == 0 {
		t.Fatal("no spool files after closing with InfluxDB down")
	}

	ix.Start()
	w2 := newWriter(t, cfg, dir)
	defer w2.Close()
	if got := ix.WaitCount("iocd", "telemetry", 6000, 30*time.Second); got != 6000 {
		t.Errorf("points after replay: want 6000, got %d", got)
	}
	waitFor(t, "spool to empty", func() bool { return testutil.ToFloat64(w2.m.spoolBytes) == 0 })
	if files, _ := filepath.Glob(filepath.Join(dir, "spool", "*")); len(files) != 0 {
		t.Errorf("spool files left after replay: %v", files)
	}
}

// TestRejectedBatchIsCountedAndOthersLand sends a point whose field type
// conflicts between good ones: the field is refused before it reaches a
// batch (fieldtypes.go), counted, and everything else lands.
func TestRejectedBatchIsCountedAndOthersLand(t *testing.T) {
	ix := testrig.Influx(t, testrig.WithoutFlux())
	ix.CreateDB("iocd")
	cfg := testConfig(ix.URL())
	cfg.BatchSize = 1 // one point per request
	w := newWriter(t, cfg, t.TempDir())
	defer w.Close()

	writeReadings(t, w, "aq-01", 0, 5)
	ix.WaitCount("iocd", "telemetry", 5, 20*time.Second)
	// v was a float; a string now conflicts.
	if err := w.WriteTelemetry("aq-01", "tan-an", defs.KindSensor, time.UnixMilli(1732233700000),
		[]defs.Field{{Key: "v", Type: defs.FieldString, Str: "high"}}, nil); err != nil {
		t.Fatal(err)
	}
	writeReadings(t, w, "aq-01", 5, 5)
	w.WritePoint("device_status", map[string]string{"device": "aq-01", "site": "tan-an", "kind": "sensor"},
		map[string]any{"health": "online", "online": 1}, time.UnixMilli(1732233600000))

	ix.WaitCount("iocd", "telemetry", 10, 20*time.Second)
	ix.WaitCount("iocd", "device_status", 1, 20*time.Second)
	if got := testutil.ToFloat64(w.types.metric.WithLabelValues("v")); got != 1 {
		t.Errorf("conflicting fields counted: want 1, got %v", got)
	}
	if got := ix.Count("iocd", "telemetry"); got != 10 {
		t.Errorf("telemetry points: want 10, got %d", got)
	}
}

// TestSpoolBound evicts the oldest spooled points when the spool is full.
func TestSpoolBound(t *testing.T) {
	dir := t.TempDir()
	s, err := openSpool(dir, 2000, &receipts{})
	if err != nil {
		t.Fatal(err)
	}
	body := func(i int) []byte {
		var b []byte
		for j := range 50 {
			b = fmt.Appendf(b, "telemetry,device=d%d v=%d %d\n", i, j, 1732233600000+int64(j))
		}
		return b
	}
	evicted := 0
	for i := range 30 {
		n, err := s.put(body(i), 50, time.Now())
		if err != nil {
			t.Fatalf("put %d: %v", i, err)
		}
		evicted += n
	}
	if s.bytes > 2000 {
		t.Errorf("spool bytes %d over the bound 2000", s.bytes)
	}
	if kept := len(s.files) * 50; kept+evicted != 30*50 || evicted == 0 {
		t.Errorf("kept %d + evicted %d points: want %d in all, some evicted", kept, evicted, 30*50)
	}
	// Reopening finds the same files in the same order: the newest kept.
	s2, err := openSpool(dir, 2000, &receipts{})
	if err != nil {
		t.Fatal(err)
	}
	if len(s2.files) != len(s.files) || s2.files[len(s2.files)-1].name != s.files[len(s.files)-1].name || s2.bytes != s.bytes {
		t.Errorf("reopened spool: want %d files ending %s (%d bytes), got %d files (%d bytes)",
			len(s.files), s.files[len(s.files)-1].name, s.bytes, len(s2.files), s2.bytes)
	}
	os.RemoveAll(dir)
}

// TestUnstorableReadingIsDoneAtOnce checks that a reading with no field
// InfluxDB can store is acknowledged by WriteTelemetry itself: nothing will
// ever flush it, so a queued done would stall ingest's ack until some
// unrelated point arrived.
func TestUnstorableReadingIsDoneAtOnce(t *testing.T) {
	cfg := testConfig(fmt.Sprintf("http://127.0.0.1:%d", testrig.FreePort(t))) // nothing listens
	w := newWriter(t, cfg, t.TempDir())
	defer w.Close()
	cases := []struct {
		name   string
		fields []defs.Field
	}{
		{"NaN", []defs.Field{{Key: "v", Type: defs.FieldFloat, Num: math.NaN()}}},
		{"+Inf", []defs.Field{{Key: "v", Type: defs.FieldFloat, Num: math.Inf(1)}}},
		{"NaN and -Inf", []defs.Field{{Key: "v", Type: defs.FieldFloat, Num: math.NaN()}, {Key: "w", Type: defs.FieldFloat, Num: math.Inf(-1)}}},
		{"no fields", nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var done atomic.Int64
			err := w.WriteTelemetry("aq-01", "tan-an", defs.KindSensor, time.UnixMilli(1732233600000), c.fields, func() { done.Add(1) })
			if err != nil {
				t.Fatalf("WriteTelemetry: %v", err)
			}
			if got := done.Load(); got != 1 {
				t.Errorf("done calls on return from WriteTelemetry: want 1, got %d", got)
			}
		})
	}
}

// TestCloseDuringOutageKeepsRetryBuffer closes the writer while InfluxDB is
// unreachable, right after its last batch failed and went to the in-memory
// retry buffer. The idle retry loop then sees both the wake-up for that
// batch and the quit signal at once (the hook holds it until quit is
// closed, the state a busy loop would be in); whichever Go's select picks,
// the batch must reach the spool and a later writer on the same data dir
// must replay it. The choice is random, so a loop that drops the buffer on
// quit survives all rounds with probability 2^-rounds.
func TestCloseDuringOutageKeepsRetryBuffer(t *testing.T) {
	testHookRetryIdle = func(w *Writer) { <-w.quit }
	defer func() { testHookRetryIdle = nil }()
	// Fewer points than a batch: only Close flushes them.
	const rounds, perRound = 12, 300
	down := testConfig(fmt.Sprintf("http://127.0.0.1:%d", testrig.FreePort(t))) // nothing listens
	down.FlushInterval = config.Duration(time.Hour)
	dirs := make([]string, rounds)
	for r := range rounds {
		dirs[r] = t.TempDir()
		w := newWriter(t, down, dirs[r])
		var done atomic.Int64
		for i := range perRound {
			err := w.WriteTelemetry(defs.DeviceID(fmt.Sprintf("wl-%02d", r)), "tan-an", defs.KindSensor, time.UnixMilli(1732233600000+int64(i)),
				[]defs.Field{{Key: "v", Type: defs.FieldFloat, Num: float64(i)}}, func() { done.Add(1) })
			if err != nil {
				t.Fatalf("round %d: WriteTelemetry: %v", r, err)
			}
		}
		w.Close()
		if got := testutil.ToFloat64(w.m.spooledPoints); got != perRound {
			t.Errorf("round %d: spooled points: want %d, got %v", r, perRound, got)
		}
		if got := done.Load(); got != perRound {
			t.Errorf("round %d: done callbacks: want %d, got %d", r, perRound, got)
		}
	}
	testHookRetryIdle = nil

	ix := testrig.Influx(t, testrig.WithoutFlux())
	ix.CreateDB("iocd")
	cfg := testConfig(ix.URL())
	for _, dir := range dirs {
		w := newWriter(t, cfg, dir)
		defer w.Close()
	}
	if got := ix.WaitCount("iocd", "telemetry", rounds*perRound, 30*time.Second); got != rounds*perRound {
		t.Errorf("points after replay: want %d, got %d", rounds*perRound, got)
	}
}

// TestUnreadableSpoolFileIsDropped damages the oldest spool file and checks
// that the writer drops it, counts its points as spool_error, and goes on
// to replay the rest and write new points, instead of retrying the file
// forever while every new batch piles up in the spool behind it.
func TestUnreadableSpoolFileIsDropped(t *testing.T) {
	cases := []struct {
		name   string
		damage func(path string) error
	}{
		{"truncated", func(path string) error {
			b, err := os.ReadFile(path)
			if err != nil {
				return err
			}
			return os.WriteFile(path, b[:len(b)/2], 0o640)
		}},
		{"not gzip", func(path string) error {
			return os.WriteFile(path, []byte("telemetry,device=x v=1 1\n"), 0o640)
		}},
		// Root can read any file, so a directory in its place stands in for
		// EIO or a permission error.
		{"unreadable", func(path string) error {
			if err := os.Remove(path); err != nil {
				return err
			}
			return os.Mkdir(path, 0o750)
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			// A server per case: its helpers fail the test that started it.
			ix := testrig.Influx(t, testrig.WithoutFlux())
			const db = "iocd"
			ix.CreateDB(db)
			dir := t.TempDir()
			s, err := openSpool(filepath.Join(dir, "spool"), 1<<20, &receipts{})
			if err != nil {
				t.Fatal(err)
			}
			const files, perFile = 3, 200
			for f := range files {
				var body []byte
				for j := range perFile {
					body = fmt.Appendf(body, "telemetry,device=old v=%d %d\n", j, 1732233600000+int64(f*perFile+j))
				}
				if _, err := s.put(body, perFile, time.Now()); err != nil {
					t.Fatalf("spool put: %v", err)
				}
			}
			if err := c.damage(filepath.Join(s.dir, s.files[0].name)); err != nil {
				t.Fatalf("damaging the oldest spool file: %v", err)
			}

			w := newWriter(t, testConfig(ix.URL()), dir)
			defer w.Close()
			writeReadings(t, w, "new", 0, 100)

			want := (files-1)*perFile + 100
			if got := ix.WaitCount(db, "telemetry", want, 30*time.Second); got != want {
				t.Errorf("points in InfluxDB: want %d (the intact spool files and the new points), got %d", want, got)
			}
			if got := testutil.ToFloat64(w.m.pointsDropped.WithLabelValues(dropSpoolError)); got != perFile {
				t.Errorf("points dropped as spool_error: want %d, got %v", perFile, got)
			}
			waitFor(t, "spool to empty", func() bool { return testutil.ToFloat64(w.m.spoolFiles) == 0 })
		})
	}
}

// TestLargePointsAreSplitAcrossRequests writes points with 256 KiB string
// fields, far fewer than BatchSize, through a proxy that records each write
// request. They must go out in several requests, none much over
// maxBatchBytes, so that a batch of them cannot outgrow InfluxDB's body
// limit and be refused whole; and all of them must land.
func TestLargePointsAreSplitAcrossRequests(t *testing.T) {
	ix := testrig.Influx(t, testrig.WithoutFlux())
	ix.CreateDB("iocd")
	target, err := url.Parse(ix.URL())
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var bodies []int64
	proxy := httputil.NewSingleHostReverseProxy(target)
	srv := httptest.NewServer(http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodPost && strings.HasSuffix(r.URL.Path, "/write") {
			mu.Lock()
			bodies = append(bodies, r.ContentLength)
			mu.Unlock()
		}
		proxy.ServeHTTP(rw, r)
	}))
	defer srv.Close()

	cfg := testConfig(srv.URL)
	cfg.FlushInterval = config.Duration(time.Hour) // only size and Close hand batches over
	w := newWriter(t, cfg, t.TempDir())
	const n, strLen = 24, 256 << 10 // 6 MiB in all, far under BatchSize points
	big := strings.Repeat("x", strLen)
	for i := range n {
		err := w.WriteTelemetry("cam-01", "tan-an", defs.KindCamera, time.UnixMilli(1732233600000+int64(i)),
			[]defs.Field{{Key: "note", Type: defs.FieldString, Str: big}}, nil)
		if err != nil {
			t.Fatalf("WriteTelemetry: %v", err)
		}
	}
	w.Close()

	if got := ix.Count("iocd", "telemetry"); got != n {
		t.Errorf("points in InfluxDB: want %d, got %d", n, got)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(bodies) < 2 {
		t.Errorf("write requests: want at least 2 for %d MiB, got %d (%v bytes)", n*strLen>>20, len(bodies), bodies)
	}
	for _, size := range bodies {
		if size > maxBatchBytes+strLen+1024 {
			t.Errorf("write request of %d bytes: want at most maxBatchBytes (%d) plus one point", size, maxBatchBytes)
		}
	}
}

// TestOversizedBatchKeepsSpool checks that a batch that cannot fit in the
// spool even when empty is dropped and counted as spool_full without first
// evicting the points already spooled.
func TestOversizedBatchKeepsSpool(t *testing.T) {
	cfg := testConfig(fmt.Sprintf("http://127.0.0.1:%d", testrig.FreePort(t))) // nothing listens
	cfg.SpoolMaxBytes = 4000
	w, err := New(cfg, t.TempDir(), slog.New(slog.DiscardHandler), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	small := &batch{buf: []byte("telemetry,device=a v=1 1732233600000\n"), n: 1}
	// Random hex does not compress to under the bound.
	rnd := make([]byte, 8000)
	for i := range rnd {
		rnd[i] = "0123456789abcdef"[rand.IntN(16)]
	}
	huge := &batch{buf: fmt.Appendf(nil, "telemetry,device=b s=\"%s\" 1732233600000\n", rnd), n: 1}

	w.blMu.Lock()
	w.spoolLocked(small)
	w.spoolLocked(huge)
	files := len(w.spool.files)
	w.blMu.Unlock()
	if files != 1 {
		t.Errorf("spool files after the oversized batch: want 1 (the small one kept), got %d", files)
	}
	if got := testutil.ToFloat64(w.m.pointsDropped.WithLabelValues(dropSpoolFull)); got != 1 {
		t.Errorf("points dropped as spool_full: want 1 (the oversized batch), got %v", got)
	}
	if got := testutil.ToFloat64(w.m.pointsDropped.WithLabelValues(dropSpoolError)); got != 0 {
		t.Errorf("points dropped as spool_error: want 0, got %v", got)
	}
}
