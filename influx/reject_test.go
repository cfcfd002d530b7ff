package influx

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/iocd/iocd/config"
	"github.com/iocd/iocd/defs"
	"github.com/iocd/iocd/internal/testrig"
)

func num(k string, v float64) defs.Field { return defs.Field{Key: k, Type: defs.FieldFloat, Num: v} }
func str(k, v string) defs.Field         { return defs.Field{Key: k, Type: defs.FieldString, Str: v} }

// fieldTypesIn returns SHOW FIELD KEYS of telemetry as field → types.
func fieldTypesIn(t *testing.T, ix *testrig.InfluxServer) map[string][]string {
	t.Helper()
	series, err := ix.Query(context.Background(), "iocd", `SHOW FIELD KEYS FROM "telemetry"`)
	if err != nil {
		t.Fatalf("show field keys: %v", err)
	}
	out := map[string][]string{}
	for _, s := range series {
		for _, row := range s.Values {
			out[fmt.Sprint(row[0])] = append(out[fmt.Sprint(row[0])], fmt.Sprint(row[1]))
		}
	}
	return out
}

func countWhere(t *testing.T, ix *testrig.InfluxServer, q string) int {
	t.Helper()
	series, err := ix.Query(context.Background(), "iocd", q)
	if err != nil {
		t.Fatalf("%s: %v", q, err)
	}
	if len(series) == 0 || len(series[0].Values) == 0 {
		return 0
	}
	var n int
	fmt.Sscan(fmt.Sprint(series[0].Values[0][1]), &n)
	return n
}

func waitSeeded(t *testing.T, w *Writer) {
	t.Helper()
	select {
	case <-w.types.seeded:
	case <-time.After(30 * time.Second):
		t.Fatal("field types not seeded within 30s")
	}
}

// TestNewFieldTwoTypesInOneBatch: two devices introduce one new field with
// different types in the same batch. Before the registry, InfluxDB refused
// the batch and every point in it was dropped; now only the second type is
// refused, and the reading keeps its other fields.
func TestNewFieldTwoTypesInOneBatch(t *testing.T) {
	ix := testrig.Influx(t, testrig.WithoutFlux())
	ix.CreateDB("iocd")
	cfg := testConfig(ix.URL())
	cfg.BatchSize = 5000
	w := newWriter(t, cfg, t.TempDir())
	defer w.Close()
	waitSeeded(t, w)

	base := time.UnixMilli(1732233600000)
	for i := range 1000 {
		ts := base.Add(time.Duration(i) * time.Millisecond)
		if err := w.WriteTelemetry("aq-01", "tan-an", defs.KindSensor, ts, []defs.Field{num("mode", 1), num("pm25", float64(i))}, nil); err != nil {
			t.Fatal(err)
		}
		if err := w.WriteTelemetry("aq-02", "tan-an", defs.KindSensor, ts, []defs.Field{str("mode", "auto"), num("pm25", float64(i))}, nil); err != nil {
			t.Fatal(err)
		}
	}
	if got := ix.WaitCount("iocd", "telemetry", 2000, 20*time.Second); got != 2000 {
		t.Errorf("telemetry points: want 2000 (both devices' readings), got %d", got)
	}
	if got := countWhere(t, ix, `SELECT count("pm25") FROM "telemetry" WHERE "device" = 'aq-02'`); got != 1000 {
		t.Errorf("aq-02 pm25 values: want 1000 (the reading keeps its other fields), got %d", got)
	}
	if got := fieldTypesIn(t, ix)["mode"]; len(got) != 1 || got[0] != "float" {
		t.Errorf("mode's types in influxdb: want [float], got %v", got)
	}
	cs := w.Conflicts()
	if len(cs) != 1 || cs[0].Device != "aq-02" || cs[0].Field != "mode" || cs[0].WantType != "float" || cs[0].GotType != "string" || cs[0].Count != 1000 {
		t.Errorf("conflicts: want one for aq-02 mode float<-string x1000, got %+v", cs)
	}
	if got := testutil.ToFloat64(w.types.metric.WithLabelValues("mode")); got != 1000 {
		t.Errorf("iocd_influx_field_type_conflicts_total{field=mode}: want 1000, got %v", got)
	}
	if got := testutil.ToFloat64(w.m.pointsDropped.WithLabelValues(dropRejected)); got != 0 {
		t.Errorf("points dropped as rejected: want 0, got %v", got)
	}
}

// TestSeededTypeRefusesBeforeTheBatch: a field InfluxDB already holds as a
// string is known from the start, so a float for it is refused in iocd
// and InfluxDB never sees a conflict.
func TestSeededTypeRefusesBeforeTheBatch(t *testing.T) {
	ix := testrig.Influx(t, testrig.WithoutFlux())
	ix.CreateDB("iocd")
	ix.Write("iocd", `telemetry,device=old-01 fw_state="ok" 1732233500000000000`)
	cfg := testConfig(ix.URL())
	w := newWriter(t, cfg, t.TempDir())
	defer w.Close()
	waitSeeded(t, w)
	if err := w.WriteTelemetry("aq-01", "tan-an", defs.KindSensor, time.UnixMilli(1732233600000), []defs.Field{num("fw_state", 1), num("v", 1)}, nil); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "aq-01's reading without fw_state", func() bool {
		return countWhere(t, ix, `SELECT count("v") FROM "telemetry" WHERE "device" = 'aq-01'`) == 1
	})
	if got := testutil.ToFloat64(w.m.writeFailures.WithLabelValues("rejected")); got != 0 {
		t.Errorf("refused write requests: want 0 (refused before the batch), got %v", got)
	}
	if cs := w.Conflicts(); len(cs) != 1 || cs[0].Device != "aq-01" || cs[0].WantType != "string" {
		t.Errorf("conflicts: want aq-01 fw_state string, got %+v", cs)
	}
}

// TestPartialWriteCountsOnlyTheDropped: InfluxDB holds a type iocd did not
// know (written by someone else after iocd started). InfluxDB 1.8 writes
// the batch but for that point and says "partial write ... dropped=1": the
// batch is not counted as dropped, the one point is, against its device,
// and the field's type is learned so the next such point is refused early.
func TestPartialWriteCountsOnlyTheDropped(t *testing.T) {
	ix := testrig.Influx(t, testrig.WithoutFlux())
	ix.CreateDB("iocd")
	cfg := testConfig(ix.URL())
	cfg.BatchSize = 5000
	w := newWriter(t, cfg, t.TempDir())
	defer w.Close()
	waitSeeded(t, w)
	ix.Write("iocd", `telemetry,device=other fw_state="ok" 1732233500000000000`)

	base := time.UnixMilli(1732233600000)
	for i := range 2000 {
		if i == 1000 {
			if err := w.WriteTelemetry("bad-01", "tan-an", defs.KindSensor, base, []defs.Field{num("fw_state", 1)}, nil); err != nil {
				t.Fatal(err)
			}
		}
		if err := w.WriteTelemetry("good-01", "tan-an", defs.KindSensor, base.Add(time.Duration(i)*time.Millisecond), []defs.Field{num("v", float64(i))}, nil); err != nil {
			t.Fatal(err)
		}
	}
	waitFor(t, "the dropped point to be counted", func() bool {
		return testutil.ToFloat64(w.m.pointsDropped.WithLabelValues(dropTypeConflict)) == 1
	})
	if got := ix.WaitCount("iocd", "telemetry", 2000, 20*time.Second); got != 2000 {
		t.Errorf("telemetry points: want 2000, got %d", got)
	}
	if got := countWhere(t, ix, `SELECT count("fw_state") FROM "telemetry" WHERE "device" = 'bad-01'`); got != 0 {
		t.Errorf("bad-01's fw_state points: want 0, got %d", got)
	}
	if got := testutil.ToFloat64(w.m.pointsWritten); got != 2000 {
		t.Errorf("points written: want 2000, got %v", got)
	}
	if got := testutil.ToFloat64(w.m.pointsDropped.WithLabelValues(dropRejected)); got != 0 {
		t.Errorf("points dropped as rejected: want 0 (the batch was written), got %v", got)
	}
	cs := w.Conflicts()
	if len(cs) != 1 || cs[0].Device != "bad-01" || cs[0].Field != "fw_state" || cs[0].WantType != "string" || cs[0].GotType != "float" {
		t.Fatalf("conflicts: want bad-01 fw_state string<-float, got %+v", cs)
	}
	// Learned: the next one is refused before it reaches a batch.
	before := testutil.ToFloat64(w.m.writeFailures.WithLabelValues("rejected"))
	if err := w.WriteTelemetry("bad-01", "tan-an", defs.KindSensor, base.Add(time.Hour), []defs.Field{num("fw_state", 2), num("v", 1)}, nil); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "bad-01's reading without fw_state", func() bool {
		return countWhere(t, ix, `SELECT count("v") FROM "telemetry" WHERE "device" = 'bad-01'`) == 1
	})
	if got := testutil.ToFloat64(w.m.writeFailures.WithLabelValues("rejected")); got != before {
		t.Errorf("refused requests after learning: want %v, got %v", before, got)
	}
}

// refusingProxy forwards writes to InfluxDB but refuses a whole request,
// as InfluxDB 2.x does and as 1.8 does for some errors, when it holds a
// line with marker; then nothing of it is written.
func refusingProxy(t *testing.T, target, marker string) (*httptest.Server, *atomic.Int64) {
	t.Helper()
	u, _ := url.Parse(target)
	rp := httputil.NewSingleHostReverseProxy(u)
	requests := new(atomic.Int64)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.Contains(r.URL.Path, "write") {
			requests.Add(1)
			body, _ := io.ReadAll(r.Body)
			if bytes.Contains(body, []byte(marker)) {
				w.Header().Set("X-Influxdb-Error", "unable to parse 'x': invalid field format")
				w.WriteHeader(http.StatusBadRequest)
				return
			}
			r.Body = io.NopCloser(bytes.NewReader(body))
			r.ContentLength = int64(len(body))
		}
		rp.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	return srv, requests
}

// TestRefusedBatchIsSplitToTheBadPoint: a 400 that is not a partial write
// refused the whole batch; splitting it finds the one bad point, which is
// dropped alone against its device, and every other point is written.
func TestRefusedBatchIsSplitToTheBadPoint(t *testing.T) {
	ix := testrig.Influx(t, testrig.WithoutFlux())
	ix.CreateDB("iocd")
	proxy, requests := refusingProxy(t, ix.URL(), "device=bad-01")
	cfg := testConfig(proxy.URL)
	cfg.BatchSize = 2001
	cfg.FlushInterval = config.Duration(10 * time.Second)
	w := newWriter(t, cfg, t.TempDir())
	base := time.UnixMilli(1732233600000)
	for i := range 2000 {
		if i == 1234 {
			if err := w.WriteTelemetry("bad-01", "tan-an", defs.KindSensor, base, []defs.Field{num("v", 1)}, nil); err != nil {
				t.Fatal(err)
			}
		}
		if err := w.WriteTelemetry("good-01", "tan-an", defs.KindSensor, base.Add(time.Duration(i)*time.Millisecond), []defs.Field{num("v", float64(i))}, nil); err != nil {
			t.Fatal(err)
		}
	}
	if got := ix.WaitCount("iocd", "telemetry", 2000, 20*time.Second); got != 2000 {
		t.Errorf("telemetry points: want 2000, got %d", got)
	}
	waitFor(t, "the bad point to be dropped", func() bool {
		return testutil.ToFloat64(w.m.pointsDropped.WithLabelValues(dropBadPoint)) == 1
	})
	w.Close()
	if got := testutil.ToFloat64(w.m.pointsWritten); got != 2000 {
		t.Errorf("points written: want 2000, got %v", got)
	}
	if got := testutil.ToFloat64(w.m.pointsDropped.WithLabelValues(dropRejected)); got != 0 {
		t.Errorf("points dropped as rejected: want 0, got %v", got)
	}
	// One request for the batch, then two per halving down to one point.
	if n := requests.Load(); n > 1+2*12 {
		t.Errorf("write requests: want at most 25, got %d", n)
	}
}

func TestParsePartial(t *testing.T) {
	tests := []struct {
		name string
		err  error
		want partialWrite
		ok   bool
	}{
		{"type conflict", &WriteError{Status: 400, msg: `400 Bad Request: partial write: field type conflict: input field "x" on measurement "telemetry" is type float, already exists as type string dropped=1`},
			partialWrite{dropped: 1, conflict: true, field: "x", got: typeFloat, want: typeString}, true},
		{"field with quote and space", &WriteError{Status: 400, msg: `partial write: field type conflict: input field "a \"b" on measurement "telemetry" is type boolean, already exists as type float dropped=7`},
			partialWrite{dropped: 7, conflict: true, field: `a \"b`, got: typeBoolean, want: typeFloat}, true},
		{"other measurement", &WriteError{Status: 400, msg: `partial write: field type conflict: input field "x" on measurement "violations" is type float, already exists as type string dropped=2`},
			partialWrite{dropped: 2}, true},
		{"beyond retention", &WriteError{Status: 400, msg: `partial write: points beyond retention policy dropped=3`},
			partialWrite{dropped: 3}, true},
		{"2.x unprocessable", &WriteError{Status: 422, msg: `unprocessable entity: failure writing points to database: partial write: field type conflict: input field "x" on measurement "telemetry" is type string, already exists as type float dropped=1`},
			partialWrite{dropped: 1, conflict: true, field: "x", got: typeString, want: typeFloat}, true},
		{"not partial", &WriteError{Status: 400, msg: `unable to parse 'x': invalid field format`}, partialWrite{}, false},
		{"server error", &WriteError{Status: 500, msg: `partial write: dropped=1`}, partialWrite{}, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, ok := parsePartial(tc.err)
			if ok != tc.ok || got != tc.want {
				t.Errorf("want %+v %v, got %+v %v", tc.want, tc.ok, got, ok)
			}
		})
	}
}

func TestLineScanning(t *testing.T) {
	var b []byte
	b, _ = appendTelemetry(b, `dev,1 x=y`, "s", "sensor", time.UnixMilli(1), []defs.Field{str("a", `q"u, o=te`), num("fw state", 1), {Key: "on", Type: defs.FieldBool, Bool: true}})
	line := bytes.TrimSuffix(b, []byte("\n"))
	if got := lineDevice(line); got != `dev,1 x=y` {
		t.Errorf("device: want %q, got %q", `dev,1 x=y`, got)
	}
	for field, want := range map[string]fieldType{"a": typeString, "fw state": typeFloat, "on": typeBoolean} {
		if got, ok := lineField(line, field); !ok || got != want {
			t.Errorf("field %q: want %v, got %v %v", field, want, got, ok)
		}
	}
	if _, ok := lineField(line, "missing"); ok {
		t.Error("field missing: found")
	}
}

// TestReplayedBatchesCostOnlyTheirBadPoints: batches held through an
// outage, in the retry buffer and in the spool, each hold one point whose
// type InfluxDB already has otherwise. When InfluxDB is back, the replay
// writes everything else and drops those two alone.
func TestReplayedBatchesCostOnlyTheirBadPoints(t *testing.T) {
	ix := testrig.Influx(t, testrig.WithoutFlux())
	ix.CreateDB("iocd")
	cfg := testConfig(ix.URL())
	cfg.BatchSize = 100
	w := newWriter(t, cfg, t.TempDir())
	defer w.Close()
	waitSeeded(t, w)
	// Written behind iocd's back: the registry does not know it.
	ix.Write("iocd", `telemetry,device=other fw_state="ok" 1732233500000000000`)
	ix.Stop()
	base := time.UnixMilli(1732233600000)
	const n = 1000
	for i := range n {
		if i == 10 || i == n-10 { // the first batch (retry buffer) and the last (spool)
			if err := w.WriteTelemetry(defs.DeviceID(fmt.Sprintf("bad-%d", i)), "tan-an", defs.KindSensor, base, []defs.Field{num("fw_state", 1)}, nil); err != nil {
				t.Fatal(err)
			}
		}
		if err := w.WriteTelemetry("good-01", "tan-an", defs.KindSensor, base.Add(time.Duration(i)*time.Millisecond), []defs.Field{num("v", float64(i))}, nil); err != nil {
			t.Fatal(err)
		}
	}
	waitFor(t, "batches in the spool", func() bool { return testutil.ToFloat64(w.m.spooledPoints) > 0 })
	ix.Start()
	if got := ix.WaitCount("iocd", "telemetry", n, 60*time.Second); got != n {
		t.Errorf("telemetry points: want %d, got %d", n, got)
	}
	waitFor(t, "the two bad points to be counted", func() bool {
		return testutil.ToFloat64(w.m.pointsDropped.WithLabelValues(dropTypeConflict)) == 2
	})
	if got := testutil.ToFloat64(w.m.pointsDropped.WithLabelValues(dropRejected)); got != 0 {
		t.Errorf("points dropped as rejected: want 0, got %v", got)
	}
	devs := map[defs.DeviceID]bool{}
	for _, c := range w.Conflicts() {
		devs[c.Device] = true
	}
	if !devs["bad-10"] || !devs[defs.DeviceID(fmt.Sprintf("bad-%d", n-10))] {
		t.Errorf("conflicts: want bad-10 and bad-%d, got %+v", n-10, w.Conflicts())
	}
}

// TestSplitLinesSkipsReceipts: the WAL's receipt comments travel in a
// batch's body but are not points, so splitting a refused batch never
// sends (or counts) them alone.
func TestSplitLinesSkipsReceipts(t *testing.T) {
	body := []byte("#r 1f 1732233600123\ntelemetry,device=a x=1 1\n\n#r 2e 1732233600124\ntelemetry,device=b x=2 2")
	var got []string
	for _, l := range splitLines(body) {
		got = append(got, string(body[l.from:l.to]))
	}
	want := []string{"telemetry,device=a x=1 1", "telemetry,device=b x=2 2"}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("splitLines = %q, want %q", got, want)
	}
}
