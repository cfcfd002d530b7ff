package dashboard

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/iocd/iocd/auth"
	"github.com/iocd/iocd/bus"
	"github.com/iocd/iocd/defs"
	"github.com/iocd/iocd/internal/testrig"
)

// Sources standing in for the domains.

type fixedFleet []defs.DeviceStatus

func (f fixedFleet) Devices() []defs.DeviceStatus { return f }

type fixedOverview defs.Overview

func (o fixedOverview) Overview() defs.Overview { return defs.Overview(o) }

type fixedAlerts []defs.Alert

func (a fixedAlerts) List(_ context.Context, f defs.AlertFilter) ([]defs.Alert, string, error) {
	var out []defs.Alert
	for _, x := range a {
		for _, s := range f.States {
			if x.State == s {
				out = append(out, x)
			}
		}
	}
	return out, "", nil
}

type fixedViolations []defs.Violation

func (v fixedViolations) List(context.Context, defs.ViolationFilter) ([]defs.Violation, string, error) {
	return v, "", nil
}

type fixedCameras []defs.CameraState

func (c fixedCameras) CameraStates() []defs.CameraState { return c }

// endings hands out one Ended channel per principal name.
type endings struct {
	mu sync.Mutex
	ch map[string]chan struct{}
}

func (e *endings) Ended(p auth.Principal) <-chan struct{} {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.ch == nil {
		e.ch = map[string]chan struct{}{}
	}
	if e.ch[p.Name] == nil {
		e.ch[p.Name] = make(chan struct{})
	}
	return e.ch[p.Name]
}

func (e *endings) end(name string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	close(e.ch[name])
}

// startHub serves the hub on a real loopback HTTP server; the principal
// of each connection comes from ?role= and ?name=, standing in for the
// authentication the API does in front of it.
func startHub(t *testing.T, o Options) (*Hub, *bus.Bus, string) {
	t.Helper()
	b := bus.New(nil)
	o.Bus = b
	h := New(o)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); h.Run(ctx) }()
	srv := httptest.NewServer(h.Handler(func(r *http.Request) auth.Principal {
		role, _ := defs.ParseRole(r.URL.Query().Get("role"))
		return auth.Principal{Kind: auth.PrincipalUser, Name: r.URL.Query().Get("name"), Role: role}
	}))
	t.Cleanup(func() { cancel(); <-done; srv.Close() })
	return h, b, "ws" + strings.TrimPrefix(srv.URL, "http")
}

func dial(t *testing.T, url string) *websocket.Conn {
	t.Helper()
	c, _, err := websocket.DefaultDialer.Dial(url, nil)
	if err != nil {
		t.Fatalf("dial %s: %v", url, err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

type frame struct {
	Type string          `json:"type"`
	At   time.Time       `json:"at"`
	Data json.RawMessage `json:"data"`
}

func read(t *testing.T, c *websocket.Conn) frame {
	t.Helper()
	c.SetReadDeadline(time.Now().Add(10 * time.Second))
	var m frame
	if err := c.ReadJSON(&m); err != nil {
		t.Fatalf("reading feed: %v", err)
	}
	return m
}

func send(t *testing.T, c *websocket.Conn, msg string) {
	t.Helper()
	if err := c.WriteMessage(websocket.TextMessage, []byte(msg)); err != nil {
		t.Fatalf("sending %s: %v", msg, err)
	}
}

// expect reads one frame and checks its type and that its data holds
// each of parts.
func expect(t *testing.T, c *websocket.Conn, typ string, parts ...string) frame {
	t.Helper()
	m := read(t, c)
	if m.Type != typ {
		t.Fatalf("frame = %s %s, want type %s", m.Type, m.Data, typ)
	}
	for _, p := range parts {
		if !strings.Contains(string(m.Data), p) {
			t.Fatalf("%s frame %s does not hold %s", typ, m.Data, p)
		}
	}
	if m.At.IsZero() {
		t.Fatalf("%s frame has no at", typ)
	}
	return m
}

func TestSubscribeSnapshotChangesUnsubscribe(t *testing.T) {
	_, b, url := startHub(t, Options{
		Fleet:    fixedFleet{{ID: "wl-01", Site: "tan-an", Kind: defs.KindSensor, Health: defs.HealthOnline, Lat: 10.5}},
		Overview: fixedOverview{Devices: defs.HealthCounts{Online: 1}},
		Alerts: fixedAlerts{{ID: "a1", State: defs.AlertFiring, Severity: "critical"},
			{ID: "a2", State: defs.AlertResolved}},
		Violations: fixedViolations{{ID: "v1", Type: "red_light"}},
		Cameras:    fixedCameras{{Camera: "cam-1", Site: "tan-an", State: defs.CameraStreaming, Connected: true}},
	})
	c := dial(t, url+"?role=viewer")
	send(t, c, `{"subscribe":["fleet","alerts","violations","cameras","weather","telemetry:"]}`)
	expect(t, c, "subscribed", `"topics":["fleet","alerts","violations","cameras"]`,
		`{"topic":"weather","reason":"unknown topic`, `{"topic":"telemetry:","reason":`)
	expect(t, c, "snapshot", `"topic":"fleet"`, `"online":1`, `"id":"wl-01"`, `"lat":10.5`)
	m := expect(t, c, "snapshot", `"topic":"alerts"`, `"id":"a1"`)
	if strings.Contains(string(m.Data), `"a2"`) {
		t.Errorf("alerts snapshot %s holds the resolved alert a2", m.Data)
	}
	expect(t, c, "snapshot", `"topic":"violations"`, `"id":"v1"`)
	expect(t, c, "snapshot", `"topic":"cameras"`, `"camera":"cam-1"`)

	// Changes, in order, to the topics subscribed.
	b.Publish(defs.Event{Kind: defs.EventAlert, Alert: &defs.Alert{ID: "a3", State: defs.AlertFiring}})
	expect(t, c, "alert", `"id":"a3"`)
	b.Publish(defs.Event{Kind: defs.EventHealth, Health: &defs.HealthChange{Device: "wl-01", From: defs.HealthOnline, To: defs.HealthOffline, Reason: "status: offline"}})
	expect(t, c, "device", `"id":"wl-01"`, `"health":"offline"`, `"lat":10.5`, `"reason":"status: offline"`)

	send(t, c, `{"unsubscribe":["alerts"]}`)
	expect(t, c, "unsubscribed", `"topics":["alerts"]`)
	b.Publish(defs.Event{Kind: defs.EventAlert, Alert: &defs.Alert{ID: "a4", State: defs.AlertFiring}})
	b.Publish(defs.Event{Kind: defs.EventCamera, Camera: &defs.CameraState{Camera: "cam-1", State: defs.CameraBackingOff}})
	expect(t, c, "camera", `"camera":"cam-1"`, `"state":"backing_off"`) // and no alert before it

	// A subscription already held is confirmed without a new snapshot.
	send(t, c, `{"subscribe":["cameras"]}`)
	expect(t, c, "subscribed", `"topics":["cameras"]`, `"refused":[]`)
	b.Publish(defs.Event{Kind: defs.EventCamera, Camera: &defs.CameraState{Camera: "cam-2"}})
	expect(t, c, "camera", `"camera":"cam-2"`)

	// Bad messages are answered, and the feed goes on.
	for _, bad := range []string{`{"subscribe":"fleet"}`, `{"subscibe":["fleet"]}`, `not json`, `{}`} {
		send(t, c, bad)
		expect(t, c, "error", `"message":"bad message`)
	}
	// A reconnecting screen subscribes again and gets fresh snapshots.
	c.Close()
	c2 := dial(t, url+"?role=viewer")
	send(t, c2, `{"subscribe":["cameras"]}`)
	expect(t, c2, "subscribed", `"topics":["cameras"]`)
	expect(t, c2, "snapshot", `"topic":"cameras"`, `"camera":"cam-1"`)
}

func TestSubscriptionsAreBounded(t *testing.T) {
	_, _, url := startHub(t, Options{})
	c := dial(t, url+"?role=viewer")
	topics := make([]string, maxSubscriptions+1)
	for i := range topics {
		topics[i] = fmt.Sprintf("%q", fmt.Sprintf("telemetry:dev-%02d", i))
	}
	send(t, c, `{"subscribe":[`+strings.Join(topics, ",")+`]}`)
	expect(t, c, "subscribed", fmt.Sprintf(`"refused":[{"topic":"telemetry:dev-%02d","reason":"too many subscriptions`, maxSubscriptions))
	// A message past the size limit ends the connection.
	send(t, c, `{"subscribe":["`+strings.Repeat("x", maxClientMessage)+`"]}`)
	for {
		c.SetReadDeadline(time.Now().Add(10 * time.Second))
		if _, _, err := c.ReadMessage(); err != nil {
			if !websocket.IsCloseError(err, websocket.CloseMessageTooBig) {
				t.Fatalf("read after an oversized message: %v, want close 1009", err)
			}
			break
		}
	}
}

func TestViewerNeverGetsAPlate(t *testing.T) {
	const plate, raw = "62A-123.45", "62a12345"
	cases := []struct {
		role      string
		wantPlate bool
	}{
		{"viewer", false},
		{"operator", false},
		{"reviewer", true},
		{"admin", true},
	}
	_, b, url := startHub(t, Options{Violations: fixedViolations{{ID: "v0", Type: "speeding", Plate: plate, PlateRaw: raw, PlateValid: true}}})
	conns := make([]*websocket.Conn, len(cases))
	for i, tc := range cases {
		conns[i] = dial(t, url+"?role="+tc.role)
		send(t, conns[i], `{"subscribe":["violations"]}`)
		expect(t, conns[i], "subscribed")
	}
	for i, tc := range cases {
		m := expect(t, conns[i], "snapshot", `"id":"v0"`)
		if got := strings.Contains(string(m.Data), plate) || strings.Contains(string(m.Data), raw); got != tc.wantPlate {
			t.Errorf("snapshot: plate shown to %s = %v, want %v: %s", tc.role, got, tc.wantPlate, m.Data)
		}
	}
	// The violation, then the same id again when its clip completes.
	for _, clip := range []defs.ClipStatus{defs.ClipRecording, defs.ClipComplete} {
		b.Publish(defs.Event{Kind: defs.EventViolation, Violation: &defs.Violation{ID: "v1", Type: "red_light", Plate: plate, PlateRaw: raw, ClipStatus: clip}})
		for i, tc := range cases {
			m := expect(t, conns[i], "violation", `"id":"v1"`, `"clip_status":"`+string(clip)+`"`)
			if got := strings.Contains(string(m.Data), plate) || strings.Contains(string(m.Data), raw); got != tc.wantPlate {
				t.Errorf("%s: plate shown to %s = %v, want %v: %s", clip, tc.role, got, tc.wantPlate, m.Data)
			}
		}
	}
}

func TestOriginIsChecked(t *testing.T) {
	_, _, url := startHub(t, Options{AllowedOrigins: []string{"https://wall.example.vn"}})
	host := strings.TrimPrefix(url, "ws://")
	cases := []struct {
		origin string
		want   int
	}{
		{"", http.StatusSwitchingProtocols}, // not a browser
		{"http://" + host, http.StatusSwitchingProtocols},
		{"https://wall.example.vn", http.StatusSwitchingProtocols},
		{"https://evil.example", http.StatusForbidden},
		{"http://" + host + ".evil.example", http.StatusForbidden},
		{"null", http.StatusForbidden},
	}
	for _, tc := range cases {
		t.Run(tc.origin, func(t *testing.T) {
			hdr := http.Header{}
			if tc.origin != "" {
				hdr.Set("Origin", tc.origin)
			}
			c, resp, err := websocket.DefaultDialer.Dial(url+"?role=viewer", hdr)
			if c != nil {
				c.Close()
			}
			if resp == nil {
				t.Fatalf("dial: %v", err)
			}
			if resp.StatusCode != tc.want {
				t.Errorf("origin %q: status %d, want %d", tc.origin, resp.StatusCode, tc.want)
			}
		})
	}
}

func TestEndedCredentialClosesItsFeeds(t *testing.T) {
	ends := &endings{}
	h, b, url := startHub(t, Options{Sessions: ends})
	revoked := dial(t, url+"?role=reviewer&name=ana")
	other := dial(t, url+"?role=reviewer&name=binh")
	for _, c := range []*websocket.Conn{revoked, other} {
		send(t, c, `{"subscribe":["violations"]}`)
		expect(t, c, "subscribed")
		expect(t, c, "snapshot")
	}
	ends.end("ana")
	revoked.SetReadDeadline(time.Now().Add(10 * time.Second))
	for {
		_, _, err := revoked.ReadMessage()
		if err == nil {
			continue
		}
		if !websocket.IsCloseError(err, websocket.ClosePolicyViolation) {
			t.Fatalf("revoked feed ended with %v, want close 1008 (credential ended)", err)
		}
		break
	}
	if v := testutil.ToFloat64(h.m.ended); v != 1 {
		t.Errorf("feeds ended = %v, want 1", v)
	}
	b.Publish(defs.Event{Kind: defs.EventViolation, Violation: &defs.Violation{ID: "v9", Plate: "51F-999.99"}})
	expect(t, other, "violation", `"plate":"51F-999.99"`)
}

// keyValues collects the values of one telemetry key, in arrival order.
func keyValues(t *testing.T, m frame, device, field string) []float64 {
	t.Helper()
	var d struct {
		Topic    string `json:"topic"`
		Readings []struct {
			Device string    `json:"device"`
			Site   string    `json:"site"`
			Field  string    `json:"field"`
			Value  any       `json:"value"`
			TS     time.Time `json:"ts"`
		} `json:"readings"`
	}
	if err := json.Unmarshal(m.Data, &d); err != nil {
		t.Fatalf("telemetry frame %s: %v", m.Data, err)
	}
	var out []float64
	for _, r := range d.Readings {
		if r.Device == device && r.Field == field {
			v, ok := r.Value.(float64)
			if !ok {
				t.Fatalf("reading %+v: value is not a number", r)
			}
			out = append(out, v)
		}
	}
	return out
}

func TestTelemetryCoalescesToTheNewestValue(t *testing.T) {
	h, _, url := startHub(t, Options{})
	dev := defs.Device{ID: "wl-01", Site: "tan-an", Kind: defs.KindSensor}
	other := defs.Device{ID: "aq-07", Site: "ben-luc", Kind: defs.KindSensor}
	t0 := time.Date(2026, 12, 2, 8, 0, 0, 0, time.UTC)
	h.ObserveReading(dev, t0, []defs.Field{{Key: "level", Type: defs.FieldFloat, Num: 0}})

	c := dial(t, url+"?role=viewer")
	send(t, c, `{"subscribe":["telemetry:tan-an"]}`)
	expect(t, c, "subscribed", `"topics":["telemetry:tan-an"]`)
	expect(t, c, "snapshot", `"topic":"telemetry:tan-an"`, `{"device":"wl-01","site":"tan-an","field":"level","value":0,"ts":"2026-12-02T08:00:00Z"}`)

	// The client reads nothing while n values of one key arrive, then
	// catches up: it gets the newest value, each key moving forward, and
	// far fewer frames than values.
	const n = 20000
	for i := 1; i <= n; i++ {
		ts := t0.Add(time.Duration(i) * time.Millisecond)
		h.ObserveReading(dev, ts, []defs.Field{{Key: "level", Type: defs.FieldFloat, Num: float64(i)}})
		h.ObserveReading(other, ts, []defs.Field{{Key: "pm25", Type: defs.FieldFloat, Num: float64(i)}})
		// An older value than the one held is ignored.
		h.ObserveReading(dev, ts.Add(-time.Hour), []defs.Field{{Key: "level", Type: defs.FieldFloat, Num: -1}})
	}
	var got []float64
	for len(got) == 0 || got[len(got)-1] != n {
		m := expect(t, c, "telemetry", `"topic":"telemetry:tan-an"`)
		if strings.Contains(string(m.Data), "aq-07") {
			t.Fatalf("telemetry:tan-an frame %s holds a ben-luc device", m.Data)
		}
		got = append(got, keyValues(t, m, "wl-01", "level")...)
	}
	for i := 1; i < len(got); i++ {
		if got[i] <= got[i-1] {
			t.Fatalf("values of wl-01/level went %v then %v: want each newer than the last", got[i-1], got[i])
		}
	}
	if len(got) >= n/2 {
		t.Errorf("got %d values of %d: want them coalesced", len(got), n)
	}
}

func TestStalledClientIsCutOffWhileOthersKeepReceiving(t *testing.T) {
	h, b, url := startHub(t, Options{CutOffAfter: time.Second, ClientQueue: 16})
	stalled := dial(t, url+"?role=viewer")
	fast := dial(t, url+"?role=viewer")
	for _, c := range []*websocket.Conn{stalled, fast} {
		send(t, c, `{"subscribe":["telemetry:tan-an","cameras"]}`)
		expect(t, c, "subscribed")
		expect(t, c, "snapshot")
		expect(t, c, "snapshot")
	}
	// The fast client reads in the background and reports the newest
	// marker value it saw.
	var mu sync.Mutex
	newest := -1.0
	readErr := make(chan error, 1)
	go func() {
		for {
			fast.SetReadDeadline(time.Now().Add(30 * time.Second))
			_, data, err := fast.ReadMessage()
			if err != nil {
				readErr <- err
				return
			}
			// Only the marker's frames are decoded, so that this client
			// keeps up however slow the machine.
			if !strings.Contains(string(data), `"marker"`) {
				continue
			}
			var m frame
			var d struct {
				Readings []struct {
					Field string `json:"field"`
					Value any    `json:"value"`
				} `json:"readings"`
			}
			if json.Unmarshal(data, &m) != nil || json.Unmarshal(m.Data, &d) != nil {
				continue
			}
			for _, r := range d.Readings {
				if v, ok := r.Value.(float64); ok && r.Field == "marker" {
					mu.Lock()
					newest = max(newest, v)
					mu.Unlock()
				}
			}
		}
	}()
	seen := func(v float64) bool {
		mu.Lock()
		defer mu.Unlock()
		return newest >= v
	}
	cutOff := func() float64 {
		return testutil.ToFloat64(h.m.cutOff.WithLabelValues("queue_full")) + testutil.ToFloat64(h.m.cutOff.WithLabelValues("write_stalled"))
	}

	dev := defs.Device{ID: "wl-01", Site: "tan-an", Kind: defs.KindSensor}
	big := strings.Repeat("x", 4<<10)
	fields := make([]defs.Field, 64)
	for i := range fields {
		fields[i] = defs.Field{Key: fmt.Sprintf("f%02d", i), Type: defs.FieldString}
	}
	round := 0
	// Megabytes of telemetry and camera events until the stalled client,
	// which reads nothing, is cut off.
	testrig.WaitFor(t, "the stalled client to be cut off", 60*time.Second, func() bool {
		for range 2 {
			round++
			for i := range fields {
				fields[i].Str = fmt.Sprintf("%d-%s", round, big)
			}
			h.ObserveReading(dev, time.Now(), fields)
			b.Publish(defs.Event{Kind: defs.EventCamera, Camera: &defs.CameraState{Camera: "cam-1", Detail: big}})
		}
		return cutOff() == 1
	})
	// The other client still gets what is new.
	h.ObserveReading(dev, time.Now(), []defs.Field{{Key: "marker", Type: defs.FieldFloat, Num: 1}})
	testrig.WaitFor(t, "the fast client to see the marker", 30*time.Second, func() bool {
		select {
		case err := <-readErr:
			t.Fatalf("fast client: %v", err)
		default:
		}
		return seen(1)
	})
	if v := cutOff(); v != 1 {
		t.Errorf("clients cut off = %v, want 1 (the stalled one)", v)
	}
	// The stalled client's connection is closed: what it reads now ends.
	stalled.SetReadDeadline(time.Now().Add(30 * time.Second))
	for {
		if _, _, err := stalled.ReadMessage(); err != nil {
			var ne interface{ Timeout() bool }
			if errors.As(err, &ne) && ne.Timeout() {
				t.Fatalf("stalled client's connection still open: %v", err)
			}
			break
		}
	}
}

func TestClientThatLostFramesIsResentSnapshots(t *testing.T) {
	h, b, url := startHub(t, Options{ClientQueue: 4, CutOffAfter: time.Hour,
		Cameras: fixedCameras{{Camera: "cam-1", State: defs.CameraStreaming}}})
	c := dial(t, url+"?role=viewer")
	send(t, c, `{"subscribe":["cameras"]}`)
	expect(t, c, "subscribed")
	expect(t, c, "snapshot", `"camera":"cam-1"`)

	// The client reads nothing while large changes pile up, until its
	// queue overflows.
	big := strings.Repeat("x", 64<<10)
	testrig.WaitFor(t, "the client's queue to overflow", 60*time.Second, func() bool {
		for range 8 {
			b.Publish(defs.Event{Kind: defs.EventCamera, Camera: &defs.CameraState{Camera: "cam-9", Detail: big}})
		}
		return testutil.ToFloat64(h.m.dropped) > 0
	})
	// Once it reads again and its queue drains, it gets the snapshot
	// again, so what it shows is whole.
	for {
		m := read(t, c)
		if m.Type == "snapshot" {
			if !strings.Contains(string(m.Data), `"camera":"cam-1"`) {
				t.Fatalf("resent snapshot %s, want cam-1", m.Data)
			}
			break
		}
		if m.Type != "camera" {
			t.Fatalf("frame %s %s while catching up, want camera changes then the snapshot", m.Type, m.Data)
		}
	}
	if v := testutil.ToFloat64(h.m.resyncs); v < 1 {
		t.Errorf("resyncs = %v, want at least 1", v)
	}
}
