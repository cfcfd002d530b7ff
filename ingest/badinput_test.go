package ingest

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/iocd/iocd/bus"
	"github.com/iocd/iocd/config"
	"github.com/iocd/iocd/defs"
	"github.com/iocd/iocd/devices"
	"github.com/iocd/iocd/internal/testrig"
)

// The reproductions of bad input, each through a running Ingester
// on a real Mosquitto and InfluxDB.

// countField returns how many values of field device has in telemetry.
func countField(t *testing.T, ix *testrig.InfluxServer, field, device string) int {
	t.Helper()
	series, err := ix.Query(context.Background(), "iocd",
		fmt.Sprintf(`SELECT count(%q) FROM "telemetry" WHERE "device" = '%s'`, field, device))
	if err != nil {
		t.Fatalf("counting %s of %s: %v", field, device, err)
	}
	if len(series) == 0 || len(series[0].Values) == 0 {
		return 0
	}
	var n int
	fmt.Sscan(fmt.Sprint(series[0].Values[0][1]), &n)
	return n
}

func (p *pipeline) rejected(r Reason) float64 { return testutil.ToFloat64(p.in.m.rejected[r]) }

// labelled returns the value of the counter name{label=value}.
func (p *pipeline) labelled(t *testing.T, name, label, value string) float64 {
	t.Helper()
	mfs, err := p.prom.Gather()
	if err != nil {
		t.Fatalf("gathering metrics: %v", err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == label && l.GetValue() == value {
					return m.GetCounter().GetValue()
				}
			}
		}
	}
	return 0
}

// TestDuplicateKeyCostsOnlyItself: one message {"fw_state":1,"fw_state":"ok"}
// in the middle of another device's 2,000 readings. It used to become a
// point with one field of two types, InfluxDB refused the batch, and the
// writer dropped all 2,000 of the other device's readings.
func TestDuplicateKeyCostsOnlyItself(t *testing.T) {
	mq := testrig.Mosquitto(t)
	ix := testrig.Influx(t, testrig.WithoutFlux())
	ix.CreateDB("iocd")
	devs := []defs.Device{device("good-01", "tan-an", defs.KindSensor), device("bad-01", "tan-an", defs.KindSensor)}
	p := startPipeline(t, mq.URL(), ix.URL(), "iocd", pipelineOpts{devices: devs})
	pub := publisher(t, mq.URL(), "dev-pub", nil)
	const n = 2000
	for i := range n {
		if i == n/2 {
			publish(t, pub, "ioc/tan-an/bad-01/telemetry", `{"fw_state":1,"fw_state":"ok"}`)
		}
		tok := pub.Publish("ioc/tan-an/good-01/telemetry", 1, false, fmt.Sprintf(`{"ts": %d, "values": {"level_m": %d}}`, 1732233600000+i, i))
		if i%100 == 99 {
			tok.Wait()
		}
	}
	waitFor(t, "good-01's 2,000 readings", func() bool { return countField(t, ix, "level_m", "good-01") == n })
	if got := p.rejected(ReasonDuplicateKey); got != 1 {
		t.Errorf("rejected as duplicate_key: want 1, got %v", got)
	}
	if got := countField(t, ix, "fw_state", "bad-01"); got != 0 {
		t.Errorf("bad-01 fw_state points: want 0, got %d", got)
	}
	// Nothing was refused, so nothing may be counted as dropped (the
	// writer used to count the whole batch, 2,000 readings it had in fact
	// had written, as dropped).
	if got := p.labelled(t, "iocd_influx_points_dropped_total", "reason", "rejected"); got != 0 {
		t.Errorf("points dropped as rejected: want 0, got %v", got)
	}
}

// TestReservedFieldsKeepGrafanaQueriesWorking: a device sending fields named
// device, site or kind is refused, so the README's Grafana query still
// filters on the tags and finds every reading of the site.
func TestReservedFieldsKeepGrafanaQueriesWorking(t *testing.T) {
	mq := testrig.Mosquitto(t)
	ix := testrig.Influx(t, testrig.WithoutFlux())
	ix.CreateDB("iocd")
	devs := []defs.Device{device("aq-01", "tan-an", defs.KindSensor), device("aq-02", "tan-an", defs.KindSensor)}
	p := startPipeline(t, mq.URL(), ix.URL(), "iocd", pipelineOpts{devices: devs})
	pub := publisher(t, mq.URL(), "dev-pub", nil)
	for _, payload := range []string{
		`{"ts": 1732233600000, "values": {"pm25": 10, "site": "ben-luc"}}`,
		`{"ts": 1732233600000, "values": {"pm25": 10, "device": "aq-01"}}`,
		`{"ts": 1732233600000, "values": {"pm25": 10, "kind": "camera"}}`,
	} {
		publish(t, pub, "ioc/tan-an/aq-02/telemetry", payload)
	}
	publish(t, pub, "ioc/tan-an/aq-01/telemetry", `{"ts": 1732233600000, "values": {"pm25": 20}}`)
	publish(t, pub, "ioc/tan-an/aq-02/telemetry", `{"ts": 1732233601000, "values": {"pm25": 30}}`)
	waitFor(t, "the two good readings", func() bool { return ix.Count("iocd", "telemetry") == 2 })
	if got := p.rejected(ReasonReservedField); got != 3 {
		t.Errorf("rejected as reserved_field: want 3, got %v", got)
	}
	// The README's query, with the time filter spelled out.
	series, err := ix.Query(context.Background(), "iocd",
		`SELECT mean("pm25") FROM "telemetry" WHERE "site" = 'tan-an' AND time >= 1732233600000ms AND time < 1732233700000ms GROUP BY time(1h), "device"`)
	if err != nil {
		t.Fatalf("the README's Grafana query: %v", err)
	}
	got := map[string]string{}
	for _, s := range series {
		for _, row := range s.Values {
			if row[1] != nil {
				got[s.Tags["device"]] = fmt.Sprint(row[1])
			}
		}
	}
	if len(got) != 2 || got["aq-01"] != "20" || got["aq-02"] != "30" {
		t.Errorf("mean pm25 by device for site tan-an: want aq-01 20, aq-02 30, got %v", got)
	}
	keys, err := ix.Query(context.Background(), "iocd", `SHOW FIELD KEYS FROM "telemetry"`)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range keys {
		for _, row := range s.Values {
			if k := fmt.Sprint(row[0]); ReservedField(k) {
				t.Errorf("field key %q exists", k)
			}
		}
	}
}

// TestNewFieldNamesAreBounded: 30 messages with 1,000 new field names each
// (30,000 new field keys for InfluxDB's index, which stalled every device's
// writes for 35 s) are refused, and another device's readings keep flowing.
func TestNewFieldNamesAreBounded(t *testing.T) {
	mq := testrig.Mosquitto(t)
	ix := testrig.Influx(t, testrig.WithoutFlux())
	ix.CreateDB("iocd")
	devs := []defs.Device{device("good-01", "tan-an", defs.KindSensor)}
	for i := range 30 {
		devs = append(devs, device(fmt.Sprintf("noisy-%02d", i), "tan-an", defs.KindSensor))
	}
	p := startPipeline(t, mq.URL(), ix.URL(), "iocd", pipelineOpts{devices: devs})
	pub := publisher(t, mq.URL(), "dev-pub", nil)
	for m := range 30 {
		var b strings.Builder
		b.WriteString("{")
		for f := range 1000 {
			if f > 0 {
				b.WriteString(",")
			}
			fmt.Fprintf(&b, `"m%d_f%d":%d`, m, f, f)
		}
		b.WriteString("}")
		publish(t, pub, fmt.Sprintf("ioc/tan-an/noisy-%02d/telemetry", m), b.String())
		publish(t, pub, "ioc/tan-an/good-01/telemetry", fmt.Sprintf(`{"ts": %d, "values": {"level_m": %d}}`, 1732233600000+m, m))
	}
	waitFor(t, "good-01's 30 readings", func() bool { return countField(t, ix, "level_m", "good-01") == 30 })
	if got := p.rejected(ReasonTooManyFieldNames); got != 30 {
		t.Errorf("rejected as too_many_field_names: want 30, got %v", got)
	}
	keys, err := ix.Query(context.Background(), "iocd", `SHOW FIELD KEYS FROM "telemetry"`)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, s := range keys {
		n += len(s.Values)
	}
	if n != 1 {
		t.Errorf("field keys in influxdb: want 1 (level_m), got %d", n)
	}
}

// checkedRegistry is fakeRegistry with the devices registry's id rules for
// devices that register themselves, as `unknown_devices: register` does.
type checkedRegistry struct{ *fakeRegistry }

func (r checkedRegistry) Unknown(ctx context.Context, site string, id defs.DeviceID) (defs.Device, bool, error) {
	if err := devices.CheckID("site", site); err != nil {
		return defs.Device{}, false, err
	}
	if err := devices.CheckID("id", string(id)); err != nil {
		return defs.Device{}, false, err
	}
	return r.fakeRegistry.Unknown(ctx, site, id)
}

// TestTopicInjection publishes to topics whose site or device level is
// crafted for line protocol (newline, space, comma, '=', quote, backslash,
// '#'), one vector per case: each is refused as bad_topic and nothing
// reaches InfluxDB, while an honest self-registering device lands.
func TestTopicInjection(t *testing.T) {
	mq := testrig.Mosquitto(t)
	ix := testrig.Influx(t, testrig.WithoutFlux())
	ix.CreateDB("iocd")
	p := startPipeline(t, mq.URL(), ix.URL(), "iocd", pipelineOpts{registry: checkedRegistry{newRegistry()}})
	pub := publisher(t, mq.URL(), "dev-pub", nil)
	// A newline (any control character) in a topic never reaches iocd:
	// Mosquitto disconnects the client for a malformed packet. The line
	// protocol test in package influx covers newlines in every name.
	vectors := []struct{ name, topic string }{
		{"space in device", "ioc/tan-an/auto-b evil=1/telemetry"},
		{"comma in device", "ioc/tan-an/auto-c,evil=1/telemetry"},
		{"equals in device", "ioc/tan-an/auto-d=evil/telemetry"},
		{"quote in device", `ioc/tan-an/auto-e"evil/telemetry`},
		{"backslash in device", `ioc/tan-an/auto-f\/telemetry`},
		{"comma in site", "ioc/tan,evil=1/auto-g/telemetry"},
		{"space in site", "ioc/tan an/auto-h/telemetry"},
		{"percent-encoded hash in device", "ioc/tan-an/auto-i%23evil/telemetry"},
	}
	want := 0.0
	for _, v := range vectors {
		t.Run(v.name, func(t *testing.T) {
			publish(t, pub, v.topic, `{"v": 1}`)
			want++
			waitFor(t, "the refusal", func() bool { return p.rejected(ReasonBadTopic) == want })
		})
	}
	publish(t, pub, "ioc/tan-an/auto-honest/telemetry", `{"v": 1}`)
	waitFor(t, "the honest reading", func() bool { return ix.Count("iocd", "telemetry") == 1 })
	series, err := ix.Query(context.Background(), "iocd", `SHOW TAG VALUES FROM "telemetry" WITH KEY IN ("device", "site")`)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range series {
		for _, row := range s.Values {
			if v := fmt.Sprint(row[1]); v != "auto-honest" && v != "tan-an" {
				t.Errorf("tag %v = %q exists", row[0], v)
			}
		}
	}
}

// countingEvents is an EventHandler that counts what reaches it.
type countingEvents struct{ n int }

func (c *countingEvents) HandleEvent(context.Context, defs.Device, []byte, time.Time) error {
	c.n++
	return nil
}

// TestEventPayloadIsBounded: event payloads skipped every size limit (a
// 30 MB event was decoded whole); now ingest.max_event_bytes applies.
func TestEventPayloadIsBounded(t *testing.T) {
	cam := device("cam-01", "tan-an", defs.KindCamera)
	ev := &countingEvents{}
	mcfg := config.Default().MQTT
	mcfg.URL = "tcp://127.0.0.1:1"
	icfg := config.Default().Ingest
	icfg.MaxEventBytes = 1 << 10
	in, err := New(mcfg, icfg, Deps{Registry: newRegistry(cam), Events: ev, Bus: bus.New(nil), Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	w := &worker{in: in, dec: NewDecoder(icfg.MaxPayloadBytes)}
	for _, tc := range []struct {
		size    int
		handled int
		large   float64
	}{{1 << 10, 1, 0}, {1<<10 + 1, 1, 1}, {30 << 20, 1, 2}} {
		msg := &benchMessage{topic: "ioc/tan-an/cam-01/event", payload: make([]byte, tc.size)}
		w.handle(context.Background(), job{msg: msg, recv: time.Now(), s: in.ev.acquire(msg, nil, in.stopping)})
		if ev.n != tc.handled || testutil.ToFloat64(in.m.rejected[ReasonTooLarge]) != tc.large || msg.acked != 1 {
			t.Errorf("%d bytes: want handled %d, too_large %v, acked once; got %d, %v, %d",
				tc.size, tc.handled, tc.large, ev.n, testutil.ToFloat64(in.m.rejected[ReasonTooLarge]), msg.acked)
		}
	}
}
