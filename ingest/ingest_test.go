package ingest

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/url"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/iocd/iocd/bus"
	"github.com/iocd/iocd/conditions"
	"github.com/iocd/iocd/config"
	"github.com/iocd/iocd/defs"
	"github.com/iocd/iocd/fleet"
	"github.com/iocd/iocd/influx"
	"github.com/iocd/iocd/internal/testrig"
)

// fakeRegistry is an in-test Registry: a fixed device list and the register
// policy for ids starting with "auto-".
type fakeRegistry struct {
	mu   sync.Mutex
	devs map[defs.DeviceID]defs.Device
}

func newRegistry(devs ...defs.Device) *fakeRegistry {
	r := &fakeRegistry{devs: map[defs.DeviceID]defs.Device{}}
	for _, d := range devs {
		r.devs[d.ID] = d
	}
	return r
}

func (r *fakeRegistry) Lookup(id defs.DeviceID) (defs.Device, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	d, ok := r.devs[id]
	return d, ok
}

func (r *fakeRegistry) Unknown(_ context.Context, site string, id defs.DeviceID) (defs.Device, bool, error) {
	if !strings.HasPrefix(string(id), "auto-") {
		return defs.Device{}, false, nil
	}
	d := defs.Device{ID: id, Site: site, Kind: defs.KindSensor, Status: defs.StatusActive}
	r.mu.Lock()
	r.devs[id] = d
	r.mu.Unlock()
	return d, true, nil
}

var _ Registry = (*fakeRegistry)(nil)

func device(id, site string, kind defs.Kind) defs.Device {
	return defs.Device{ID: defs.DeviceID(id), Site: site, Kind: kind, Status: defs.StatusActive}
}

// pipeline is iocd's ingest path on real servers: an Ingester, an
// influx.Writer and a fleet.Tracker.
type pipeline struct {
	in      *Ingester
	writer  *influx.Writer
	tracker *fleet.Tracker
	bus     *bus.Bus
	prom    *prometheus.Registry
}

// counter returns the value of a counter without labels from the
// pipeline's registry.
func (p *pipeline) counter(t *testing.T, name string) float64 {
	t.Helper()
	mfs, err := p.prom.Gather()
	if err != nil {
		t.Fatalf("gathering metrics: %v", err)
	}
	for _, mf := range mfs {
		if mf.GetName() == name && len(mf.GetMetric()) == 1 {
			return mf.GetMetric()[0].GetCounter().GetValue()
		}
	}
	t.Fatalf("no counter %s", name)
	return 0
}

type pipelineOpts struct {
	clientID   string
	shareGroup string
	minStale   time.Duration
	devices    []defs.Device
	registry   Registry // nil: newRegistry(devices...)
}

func startPipeline(t *testing.T, mqttURL, influxURL, db string, o pipelineOpts) *pipeline {
	t.Helper()
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	icfg := config.Default().Influx
	icfg.URL, icfg.Bucket = influxURL, db
	icfg.FlushInterval = config.Duration(100 * time.Millisecond)
	prom := prometheus.NewRegistry()
	w, err := influx.New(icfg, t.TempDir(), logger, prom)
	if err != nil {
		t.Fatalf("influx.New: %v", err)
	}
	w.Start()
	b := bus.New(nil)
	fcfg := config.Default().Fleet
	if o.minStale > 0 {
		fcfg.MinStale = config.Duration(o.minStale)
		fcfg.CheckInterval = config.Duration(50 * time.Millisecond)
	}
	tr := fleet.New(fcfg, o.devices, b, w, logger, nil)
	mcfg := config.Default().MQTT
	mcfg.URL, mcfg.ClientID, mcfg.ShareGroup = mqttURL, o.clientID, o.shareGroup
	if mcfg.ClientID == "" {
		mcfg.ClientID = "iocd-test"
	}
	var reg Registry = newRegistry(o.devices...)
	if o.registry != nil {
		reg = o.registry
	}
	in, err := New(mcfg, config.Default().Ingest, Deps{
		Registry: reg, Sink: w, Health: tr, Bus: b, Logger: logger,
	})
	if err != nil {
		t.Fatalf("ingest.New: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Add(2)
	go func() { defer wg.Done(); _ = tr.Run(ctx) }()
	go func() { defer wg.Done(); _ = in.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		wg.Wait()
		w.Close()
	})
	waitFor(t, "ingest connected", func() bool { return testutil.ToFloat64(in.m.connected) == 1 })
	return &pipeline{in: in, writer: w, tracker: tr, bus: b, prom: prom}
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	testrig.WaitFor(t, what, 20*time.Second, cond)
}

// publisher is a device-side MQTT client.
func publisher(t *testing.T, url, id string, will func(*mqtt.ClientOptions)) mqtt.Client {
	t.Helper()
	o := mqtt.NewClientOptions().AddBroker(url).SetClientID(id).SetAutoReconnect(false)
	if will != nil {
		will(o)
	}
	c := mqtt.NewClient(o)
	if tok := c.Connect(); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		t.Fatalf("connecting publisher: %v", tok.Error())
	}
	t.Cleanup(func() { c.Disconnect(100) })
	return c
}

func publish(t *testing.T, c mqtt.Client, topic, payload string) {
	t.Helper()
	tok := c.Publish(topic, 1, false, payload)
	if !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		t.Fatalf("publishing to %s: %v", topic, tok.Error())
	}
}

func TestPayloadFormsLand(t *testing.T) {
	mq := testrig.Mosquitto(t)
	ix := testrig.Influx(t, testrig.WithoutFlux())
	ix.CreateDB("iocd")
	devs := []defs.Device{device("aq-01", "tan-an", defs.KindSensor), device("tl-07", "ben-luc", defs.KindController)}
	startPipeline(t, mq.URL(), ix.URL(), "iocd", pipelineOpts{devices: devs})
	pub := publisher(t, mq.URL(), "dev-pub", nil)

	before := time.Now().UTC().Truncate(time.Millisecond)
	publish(t, pub, "ioc/tan-an/aq-01/telemetry", `{"temp_c": 41.2, "door_open": false, "mode": "auto"}`)
	publish(t, pub, "ioc/ben-luc/tl-07/telemetry", `{"ts": 1732233600123, "values": {"phase": 2}}`)
	publish(t, pub, "ioc/ben-luc/tl-07/telemetry", `{"ts": "2024-11-22T00:00:01.5+00:00", "values": {"phase": 3}}`)
	publish(t, pub, "ioc/tan-an/aq-01/telemetry", `[{"ts": 1732233700000, "values": {"pm25": 10}}, {"ts": 1732233701000, "values": {"pm25": 11}}]`)

	// Count counts per field; five points here share no field, so wait
	// for the rows themselves.
	var series []testrig.Series
	waitFor(t, "five telemetry rows", func() bool {
		var err error
		series, err = ix.Query(context.Background(), "iocd", `SELECT * FROM telemetry GROUP BY device, site, kind`)
		n := 0
		for _, s := range series {
			n += len(s.Values)
		}
		return err == nil && n >= 5
	})
	type row struct {
		tags   string
		ms     int64
		fields string
	}
	var got []row
	for _, s := range series {
		for _, v := range s.Values {
			ns, _ := v[0].(json.Number).Int64()
			var fs []string
			for i := 1; i < len(v); i++ {
				if v[i] != nil {
					fs = append(fs, fmt.Sprintf("%s=%v", s.Columns[i], v[i]))
				}
			}
			got = append(got, row{fmt.Sprintf("%s/%s/%s", s.Tags["site"], s.Tags["device"], s.Tags["kind"]), ns / 1e6, strings.Join(fs, ",")})
		}
	}
	sort.Slice(got, func(i, j int) bool {
		if got[i].tags != got[j].tags {
			return got[i].tags < got[j].tags
		}
		return got[i].ms < got[j].ms
	})
	want := []row{ // sorted the same way; the receipt time is the latest
		{"ben-luc/tl-07/controller", 1732233600123, "phase=2"},
		{"ben-luc/tl-07/controller", 1732233601500, "phase=3"},
		{"tan-an/aq-01/sensor", 1732233700000, "pm25=10"},
		{"tan-an/aq-01/sensor", 1732233701000, "pm25=11"},
		{"tan-an/aq-01/sensor", -1, "door_open=false,mode=auto,temp_c=41.2"},
	}
	if len(got) != len(want) {
		t.Fatalf("rows: want %v, got %v", want, got)
	}
	for i := range want {
		w, g := want[i], got[i]
		if w.ms == -1 { // receipt time
			if g.ms < before.UnixMilli() || g.ms > time.Now().UnixMilli() {
				t.Errorf("row %d: receipt time %d outside [%d, now]", i, g.ms, before.UnixMilli())
			}
			g.ms = -1
		}
		if g != w {
			t.Errorf("row %d: want %+v, got %+v", i, w, g)
		}
	}
}

func TestBadPayloadsCountedGoodOnesLand(t *testing.T) {
	mq := testrig.Mosquitto(t)
	ix := testrig.Influx(t, testrig.WithoutFlux())
	ix.CreateDB("iocd")
	disabled := device("wl-09", "duc-hoa", defs.KindSensor)
	disabled.Status = defs.StatusDisabled
	devs := []defs.Device{device("wl-01", "duc-hoa", defs.KindSensor), disabled}
	p := startPipeline(t, mq.URL(), ix.URL(), "iocd", pipelineOpts{devices: devs})
	pub := publisher(t, mq.URL(), "dev-pub", nil)

	bad := []struct {
		topic, payload string
		reason         Reason
	}{
		{"ioc/duc-hoa/wl-01/telemetry", `{"level_m": `, ReasonBadJSON},
		{"ioc/duc-hoa/wl-01/telemetry", `{"ts": 1732233600, "values": {"level_m": 1}}`, ReasonBadTimestamp},
		{"ioc/duc-hoa/wl-01/telemetry", `{}`, ReasonNoValues},
		{"ioc/duc-hoa/wl-01/telemetry", `{"x":"` + strings.Repeat("a", 300<<10) + `"}`, ReasonTooLarge},
		{"ioc/duc-hoa/nobody/telemetry", `{"level_m": 1}`, ReasonUnknownDevice},
		{"ioc/tan-an/wl-01/telemetry", `{"level_m": 1}`, ReasonSiteMismatch},
		{"ioc/duc-hoa/wl-09/telemetry", `{"level_m": 1}`, ReasonInactiveDevice},
		{"ioc/duc-hoa/wl-01/status", `{"state": "sleepy"}`, ReasonBadStatus},
		{"ioc/duc-hoa/wl-01/event", `{"type": "red_light"}`, ReasonNoHandler},
	}
	const rounds, good = 20, 200
	// Interleave a flood of bad messages with good ones.
	for i := range good {
		if i%10 == 0 && i/10 < rounds {
			for _, b := range bad {
				pub.Publish(b.topic, 1, false, b.payload)
			}
		}
		publish(t, pub, "ioc/duc-hoa/wl-01/telemetry", fmt.Sprintf(`{"ts": %d, "values": {"level_m": %d}}`, 1732233600000+i, i))
	}
	if n := ix.WaitCount("iocd", "telemetry", good, 20*time.Second); n != good {
		t.Errorf("good points: want %d, got %d", good, n)
	}
	for _, b := range bad {
		b := b
		waitFor(t, "rejections counted as "+string(b.reason), func() bool {
			return testutil.ToFloat64(p.in.m.rejected[b.reason]) == rounds
		})
	}
	if got := testutil.ToFloat64(p.in.m.decoded[topicTelemetry]); got != good {
		t.Errorf("decoded telemetry: want %d, got %v", good, got)
	}
}

func TestLastWillAndStale(t *testing.T) {
	mq := testrig.Mosquitto(t)
	ix := testrig.Influx(t, testrig.WithoutFlux())
	ix.CreateDB("iocd")
	gw, aq := device("gw-01", "can-giuoc", defs.KindGateway), device("aq-02", "can-giuoc", defs.KindSensor)
	p := startPipeline(t, mq.URL(), ix.URL(), "iocd", pipelineOpts{devices: []defs.Device{gw, aq}, minStale: 300 * time.Millisecond})
	health := func(id defs.DeviceID) defs.Health { s, _ := p.tracker.Snapshot(id); return s.Health }

	// The gateway announces itself and sets its last will, as firmware does.
	var raw net.Conn
	conn := publisher(t, mq.URL(), "gw-01", func(o *mqtt.ClientOptions) {
		o.SetBinaryWill("ioc/can-giuoc/gw-01/status", []byte(`{"state":"offline"}`), 1, true)
		dialKeep(&raw)(o)
	})
	tok := conn.Publish("ioc/can-giuoc/gw-01/status", 1, true, `{"state":"online","fw":"2.4.1"}`)
	tok.Wait()
	waitFor(t, "gateway online", func() bool { return health(gw.ID) == defs.HealthOnline })
	if s, _ := p.tracker.Snapshot(gw.ID); s.Meta["fw"] != "2.4.1" {
		t.Errorf("status meta: want fw 2.4.1, got %v", s.Meta)
	}
	// A broken connection (not a clean disconnect) fires the last will.
	raw.Close()
	waitFor(t, "gateway offline by last will", func() bool { return health(gw.ID) == defs.HealthOffline })

	// The sensor reports once, then falls silent past min_stale.
	pub := publisher(t, mq.URL(), "dev-pub", nil)
	publish(t, pub, "ioc/can-giuoc/aq-02/telemetry", `{"pm25": 12}`)
	waitFor(t, "sensor online", func() bool { return health(aq.ID) == defs.HealthOnline })
	waitFor(t, "sensor stale", func() bool { return health(aq.ID) == defs.HealthStale })

	// device_status holds every change.
	ix.WaitCount("iocd", "device_status", 4, 20*time.Second)
	series, err := ix.Query(context.Background(), "iocd", `SELECT health, online FROM device_status GROUP BY device`)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string][]string{}
	for _, s := range series {
		for _, v := range s.Values {
			got[s.Tags["device"]] = append(got[s.Tags["device"]], fmt.Sprintf("%v/%v", v[1], v[2]))
		}
	}
	want := map[string][]string{"gw-01": {"online/1", "offline/0"}, "aq-02": {"online/1", "stale/0"}}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("device_status: want %v, got %v", want, got)
	}
}

// dialKeep makes a publisher dial through a connection the test can cut,
// as a device losing power would: no DISCONNECT, so the broker publishes
// its will.
func dialKeep(conn *net.Conn) func(*mqtt.ClientOptions) {
	return func(o *mqtt.ClientOptions) {
		o.SetCustomOpenConnectionFn(func(u *url.URL, _ mqtt.ClientOptions) (net.Conn, error) {
			c, err := net.Dial("tcp", u.Host)
			*conn = c
			return c, err
		})
	}
}

// TestReadyFollowsTheBroker checks what /readyz reports for MQTT: not
// ready before the subscriptions are confirmed, ready after, and not
// ready, with the reason, while the broker is down; and that the
// broker_disconnected condition follows the connection.
func TestReadyFollowsTheBroker(t *testing.T) {
	mosq := testrig.Mosquitto(t)
	logger := slog.New(slog.DiscardHandler)
	mcfg := config.Default().MQTT
	mcfg.URL, mcfg.ClientID = mosq.URL(), "iocd-ready-test"
	conds := conditions.New()
	brokerDown := func() bool {
		for _, c := range conds.List() {
			if c.Code == defs.ConditionBrokerDown {
				return true
			}
		}
		return false
	}
	in, err := New(mcfg, config.Default().Ingest, Deps{Registry: newRegistry(), Bus: bus.New(nil), Logger: logger, Conditions: conds})
	if err != nil {
		t.Fatal(err)
	}
	if err := in.Ready(context.Background()); err == nil || !strings.Contains(err.Error(), "not connected") {
		t.Fatalf("Ready before Run = %v, want not connected", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); _ = in.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })

	waitFor(t, "ready", func() bool { return in.Ready(context.Background()) == nil })
	if brokerDown() {
		t.Error("broker_disconnected set while connected")
	}
	mosq.Stop()
	waitFor(t, "not ready after the broker stopped", func() bool {
		err := in.Ready(context.Background())
		return err != nil && strings.Contains(err.Error(), "connection lost")
	})
	if !brokerDown() {
		t.Error("broker_disconnected not set while the broker is down")
	}
	mosq.Start()
	waitFor(t, "ready again after the broker came back", func() bool { return in.Ready(context.Background()) == nil })
	waitFor(t, "broker_disconnected cleared", func() bool { return !brokerDown() })
}

// TestDeviceMessagesKeepTheirOrder: the decoders run in parallel, but a
// device's messages are handled in the order they arrived, so a last will
// followed at once by the device's reconnect leaves it online, for every
// device, however the messages fall between the workers.
func TestDeviceMessagesKeepTheirOrder(t *testing.T) {
	mq := testrig.Mosquitto(t)
	ix := testrig.Influx(t, testrig.WithoutFlux())
	ix.CreateDB("iocd")
	const n = 300
	devs := make([]defs.Device, n)
	for i := range devs {
		devs[i] = device(fmt.Sprintf("tl-%03d", i), "ben-luc", defs.KindController)
	}
	p := startPipeline(t, mq.URL(), ix.URL(), "iocd", pipelineOpts{devices: devs})
	pub := publisher(t, mq.URL(), "order-pub", nil)
	var toks []mqtt.Token
	for _, d := range devs {
		base := "ioc/ben-luc/" + string(d.ID) + "/status"
		toks = append(toks, pub.Publish(base, 1, false, `{"state":"offline"}`), pub.Publish(base, 1, false, `{"state":"online"}`))
	}
	for _, tok := range toks {
		if !tok.WaitTimeout(20*time.Second) || tok.Error() != nil {
			t.Fatalf("publishing: %v", tok.Error())
		}
	}
	waitFor(t, "all 600 status messages handled", func() bool {
		return testutil.ToFloat64(p.in.m.decoded[topicStatus]) == 2*n
	})
	for _, d := range devs {
		if s, _ := p.tracker.Snapshot(d.ID); s.Health != defs.HealthOnline {
			t.Errorf("%s is %s after offline then online, want online", d.ID, s.Health)
		}
	}
}

func TestShardKeepsADeviceOnOneQueue(t *testing.T) {
	for _, dev := range []string{"a", "tl-001", "cam-hn-0042", "x.y_z"} {
		base := "ioc/tan-an/" + dev
		want := shard(base+"/telemetry", 4)
		for _, kind := range []string{"status", "event", "telemetry"} {
			if got := shard(base+"/"+kind, 4); got != want {
				t.Errorf("shard(%s/%s) = %d, want %d as for its telemetry", base, kind, got, want)
			}
		}
	}
	if got := shard("ioc/tan-an/a/telemetry", 1); got != 0 {
		t.Errorf("shard with one queue = %d, want 0", got)
	}
}
