package influx

import (
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/iocd/iocd/conditions"
	"github.com/iocd/iocd/config"
	"github.com/iocd/iocd/defs"
	"github.com/iocd/iocd/internal/testrig"
)

// copyDir copies the spool dir as a crash would leave it: whatever the
// writer had written to its files, with no shutdown.
func copyDir(t *testing.T, from, to string) {
	t.Helper()
	if err := os.MkdirAll(to, 0o750); err != nil {
		t.Fatal(err)
	}
	entries, err := os.ReadDir(from)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		b, err := os.ReadFile(filepath.Join(from, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(to, e.Name()), b, 0o640); err != nil {
			t.Fatal(err)
		}
	}
}

// TestDoneOnceInWALAndReplayedAfterCrash checks that a point's done callback
// runs once the point is in the write-ahead log, long before InfluxDB (here
// unreachable, with a flush interval of an hour) has it; that the WAL as a
// crash leaves it, torn last line included, is replayed whole by the next
// writer; and that its receipt records come back, once each.
func TestDoneOnceInWALAndReplayedAfterCrash(t *testing.T) {
	cfg := testConfig(fmt.Sprintf("http://127.0.0.1:%d", testrig.FreePort(t))) // nothing listens
	cfg.FlushInterval = config.Duration(time.Hour)
	dir := t.TempDir()
	w := newWriter(t, cfg, dir)
	defer w.Close()
	const n = 300 // under the batch size: nothing is sealed or sent
	var done atomic.Int64
	base := time.UnixMilli(1732233600000)
	w.NoteReceipt(0xabc, base)
	for i := range n {
		err := w.WriteTelemetry("wl-01", "tan-an", defs.KindSensor, base.Add(time.Duration(i)*time.Millisecond),
			[]defs.Field{{Key: "v", Type: defs.FieldFloat, Num: float64(i)}}, func() { done.Add(1) })
		if err != nil {
			t.Fatal(err)
		}
	}
	waitFor(t, "every point durable in the WAL", func() bool { return done.Load() == n })
	if got := testutil.ToFloat64(w.m.pointsWritten); got != 0 {
		t.Fatalf("points written to the unreachable InfluxDB: %v", got)
	}

	crashed := filepath.Join(t.TempDir(), "data")
	copyDir(t, filepath.Join(dir, "spool"), filepath.Join(crashed, "spool"))
	wals, _ := filepath.Glob(filepath.Join(crashed, "spool", "*"+walSuffix))
	if len(wals) != 1 {
		t.Fatalf("WAL files after the crash: %v, want one", wals)
	}
	// A write cut short: half a line, never acknowledged.
	f, err := os.OpenFile(wals[0], os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	fmt.Fprint(f, "telemetry,device=wl-01 v=99")
	f.Close()

	ix := testrig.Influx(t, testrig.WithoutFlux())
	ix.CreateDB("iocd")
	w2 := newWriter(t, testConfig(ix.URL()), crashed)
	defer w2.Close()
	if at, ok := w2.Receipt(0xabc); !ok || !at.Equal(base) {
		t.Errorf("receipt after the crash: %v %v, want %v", at, ok, base)
	}
	if _, ok := w2.Receipt(0xabc); ok {
		t.Error("a receipt record answered twice")
	}
	if got := ix.WaitCount("iocd", "telemetry", n, 30*time.Second); got != n {
		t.Errorf("points replayed from the WAL: want %d, got %d", n, got)
	}
	waitFor(t, "the recovered WAL to be removed", func() bool {
		left, _ := filepath.Glob(filepath.Join(crashed, "spool", "*"))
		return len(left) == 0 && w2.OldestUnflushed().IsZero()
	})
}

// TestConditionsFollowTheOutage checks that influx_unreachable and
// spool_growing are raised while InfluxDB is down and the spool fills, and
// cleared once it is back and the spool has drained.
func TestConditionsFollowTheOutage(t *testing.T) {
	ix := testrig.Influx(t, testrig.WithoutFlux())
	ix.CreateDB("iocd")
	ix.Stop()
	reg := conditions.New()
	w, err := New(testConfig(ix.URL()), t.TempDir(), slog.New(slog.DiscardHandler), nil)
	if err != nil {
		t.Fatal(err)
	}
	w.SetConditions(reg)
	w.Start()
	defer w.Close()
	has := func(code string) (defs.Condition, bool) {
		for _, c := range reg.List() {
			if c.Code == code {
				return c, true
			}
		}
		return defs.Condition{}, false
	}
	writeReadings(t, w, "wl-01", 0, 500*(retryBatches+3)) // more than the retry buffer holds
	waitFor(t, "influx_unreachable and spool_growing", func() bool {
		_, down := has(defs.ConditionInfluxUnreachable)
		c, growing := has(defs.ConditionSpoolGrowing)
		return down && growing && c.Value > 0
	})
	ix.Start()
	waitFor(t, "both conditions cleared", func() bool {
		_, down := has(defs.ConditionInfluxUnreachable)
		_, growing := has(defs.ConditionSpoolGrowing)
		return !down && !growing
	})
	if got := ix.Count("iocd", "telemetry"); got != 500*(retryBatches+3) {
		t.Errorf("points after the outage: %d, want %d", got, 500*(retryBatches+3))
	}
}
