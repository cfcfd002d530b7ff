package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"

	"github.com/iocd/iocd/alerts"
	"github.com/iocd/iocd/alerts/notify"
	"github.com/iocd/iocd/defs"
	"github.com/iocd/iocd/internal/testrig"
	"github.com/iocd/iocd/sim"
	"github.com/iocd/iocd/store"
)

const e2eAdmin = "test-admin-token-0123456789"

// e2eIocd is one in-process `serve` on a data dir, stoppable and
// restartable on the same dir.
type e2eIocd struct {
	s      *service
	base   string
	cancel context.CancelFunc
	done   chan error
}

// startE2E runs serve with args on top of the loopback HTTP listener,
// dataDir and mqttURL, and waits until it is ready.
func startE2E(t *testing.T, dataDir, mqttURL string, args ...string) *e2eIocd {
	t.Helper()
	httpAddr := fmt.Sprintf("127.0.0.1:%d", testrig.FreePort(t))
	fs := newFlags("serve", serveSummary, io.Discard)
	cfg, err := loadConfig(fs, append([]string{"-http_addr", httpAddr, "-data_dir", dataDir, "-mqtt.url", mqttURL,
		"-mqtt.client_id", "iocd-e2e", "-unknown_devices", "register", "-admin_token", e2eAdmin}, args...))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	ready := make(chan *service, 1)
	x := &e2eIocd{cancel: cancel, done: make(chan error, 1), base: "http://" + httpAddr}
	go func() {
		x.done <- serve(ctx, cfg, testLogger(), func(_ context.Context, s *service) error { ready <- s; return nil })
	}()
	select {
	case x.s = <-ready:
	case err := <-x.done:
		cancel()
		t.Fatalf("iocd did not start: %v", err)
	case <-time.After(60 * time.Second):
		cancel()
		t.Fatal("iocd not ready within 60s")
	}
	t.Cleanup(func() { x.stop(t) })
	return x
}

// stop cancels serve's context (what SIGTERM does) and waits for it.
func (x *e2eIocd) stop(t *testing.T) {
	t.Helper()
	if x.cancel == nil {
		return
	}
	x.cancel()
	x.cancel = nil
	select {
	case err := <-x.done:
		if err != nil {
			t.Errorf("iocd stopped with %v", err)
		}
	case <-time.After(60 * time.Second):
		t.Error("iocd did not stop within 60s")
	}
}

// api sends a request with the admin token and decodes a 2xx answer into out.
func (x *e2eIocd) api(t *testing.T, method, path string, body, out any) int {
	t.Helper()
	return apiDo(t, x.base, method, path, body, out)
}

// apiDo sends a request to base with the admin token and decodes a 2xx
// answer into out.
func apiDo(t *testing.T, base, method, path string, body, out any) int {
	t.Helper()
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req, _ := http.NewRequest(method, base+path, rd)
	req.Header.Set("Authorization", "Bearer "+e2eAdmin)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode/100 != 2 {
		t.Logf("%s %s = %d: %s", method, path, resp.StatusCode, b)
	} else if out != nil {
		if err := json.Unmarshal(b, out); err != nil {
			t.Fatalf("%s %s: decoding %s: %v", method, path, b, err)
		}
	}
	return resp.StatusCode
}

// noteSink records the alert notifications received on MQTT and by a
// webhook, by (alert id, seq).
type noteSink struct {
	mu      sync.Mutex
	mqtt    map[string]int
	hook    map[string]int
	mqttLog []defs.AlertNotification
	hookLog []defs.AlertNotification
	badSig  int
	sub     mqtt.Client
	srv     *httptest.Server
}

const e2eSecret = "e2e-webhook-secret"

func newNoteSink(t *testing.T, mqttURL string) *noteSink {
	t.Helper()
	n := &noteSink{mqtt: map[string]int{}, hook: map[string]int{}}
	n.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		n.mu.Lock()
		if r.Header.Get(notify.HeaderSignature) != notify.Sign([]byte(e2eSecret), body) {
			n.badSig++
		}
		n.hook[r.Header.Get(notify.HeaderDelivery)]++
		var an defs.AlertNotification
		if json.Unmarshal(body, &an) == nil {
			n.hookLog = append(n.hookLog, an)
		}
		n.mu.Unlock()
		w.WriteHeader(http.StatusNoContent)
	}))
	t.Cleanup(n.srv.Close)
	opts := mqtt.NewClientOptions().AddBroker(mqttURL).SetClientID(fmt.Sprintf("e2e-alerts-sub-%d", time.Now().UnixNano()))
	n.sub = mqtt.NewClient(opts)
	if tok := n.sub.Connect(); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		t.Fatalf("subscriber connect: %v", tok.Error())
	}
	t.Cleanup(func() { n.sub.Disconnect(100) })
	tok := n.sub.Subscribe("ioc/iocd/alerts/#", 1, func(_ mqtt.Client, m mqtt.Message) {
		var an defs.AlertNotification
		if err := json.Unmarshal(m.Payload(), &an); err != nil {
			return
		}
		n.mu.Lock()
		n.mqtt[notify.DeliveryID(an.Transition.Alert, an.Transition.Seq)]++
		n.mqttLog = append(n.mqttLog, an)
		n.mu.Unlock()
	})
	if !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		t.Fatalf("subscribe: %v", tok.Error())
	}
	return n
}

// config writes an iocd config file whose one default webhook is n's.
func (n *noteSink) config(t *testing.T, extra string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "iocd.yaml")
	conf := fmt.Sprintf("alerts:\n  tick: 200ms\n  webhooks:\n    - name: test\n      url: %q\n      secret: %q\n      default: true\n      timeout: 5s\n%s",
		n.srv.URL+"/hook", e2eSecret, extra)
	if err := os.WriteFile(path, []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func (n *noteSink) counts() (mq, hook map[string]int, badSig int) {
	n.mu.Lock()
	defer n.mu.Unlock()
	mq, hook = map[string]int{}, map[string]int{}
	for k, v := range n.mqtt {
		mq[k] = v
	}
	for k, v := range n.hook {
		hook[k] = v
	}
	return mq, hook, n.badSig
}

func (n *noteSink) total() int {
	n.mu.Lock()
	defer n.mu.Unlock()
	c := 0
	for _, v := range n.mqtt {
		c += v
	}
	for _, v := range n.hook {
		c += v
	}
	return c
}

// allAlerts returns every alert the store holds, in every state, with
// the number of transitions of each.
func allAlerts(t *testing.T, ctx context.Context, st interface {
	ListAlerts(context.Context, defs.AlertFilter) ([]defs.Alert, string, error)
	GetAlert(context.Context, string) (defs.Alert, []defs.AlertTransition, error)
}) map[string]int {
	t.Helper()
	as, _, err := st.ListAlerts(ctx, defs.AlertFilter{Limit: 1000, States: []defs.AlertState{
		defs.AlertPending, defs.AlertFiring, defs.AlertAcknowledged, defs.AlertResolved}})
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]int{}
	for _, a := range as {
		_, hist, err := st.GetAlert(ctx, a.ID)
		if err != nil {
			t.Fatal(err)
		}
		out[a.ID+" "+a.Rule+"/"+a.Subject+" "+string(a.State)] = len(hist)
	}
	return out
}

// TestCameraWrongPasswordFromStart: a camera whose configured password is
// wrong from the first attempt is told as down, with the reason
// unauthorized, once the rule's `for` has held.
func TestCameraWrongPasswordFromStart(t *testing.T) {
	mosq := testrig.Mosquitto(t)
	cams, err := sim.NewCameraServer("127.0.0.1:0", slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cams.Close)
	rec, err := sim.LoadRecording(sim.H264)
	if err != nil {
		t.Fatal(err)
	}
	cam, err := cams.AddCamera(sim.CameraSpec{Path: "cam-pw", Recording: rec, User: "admin", Pass: "right-one"})
	if err != nil {
		t.Fatal(err)
	}
	wrong := strings.Replace(cam.URL(), "right-one", "wrong-one", 1)
	seed := filepath.Join(t.TempDir(), "devices.json")
	if err := writeJSONFile(seed, []defs.Device{{ID: "cam-pw", Site: "tanan", Kind: defs.KindCamera, Name: "Cổng A",
		RTSPURL: wrong, Status: defs.StatusActive, HeartbeatS: 30}}); err != nil {
		t.Fatal(err)
	}
	notes := newNoteSink(t, mosq.URL())
	x := startE2E(t, t.TempDir(), mosq.URL(), "-devices.seed_file", seed, "-config", notes.config(t, ""))

	// The shipped rule is there and enabled, with its 30 s `for`.
	var got0 struct{ Rule defs.AlertRule }
	if code := x.api(t, http.MethodGet, "/api/v1/alert-rules/"+alerts.RuleIDCameraDown, nil, &got0); code != http.StatusOK {
		t.Fatalf("GET the default camera_down rule = %d", code)
	}
	def := got0.Rule
	if def.Disabled || !def.Builtin || def.Kind != defs.RuleCameraDown || def.For.D() != 30*time.Second {
		t.Fatalf("default camera_down rule %+v, want builtin, enabled, for 30s", def)
	}
	// A shorter `for` through the API keeps the test short.
	def.For = defs.Duration(2 * time.Second)
	if code := x.api(t, http.MethodPut, "/api/v1/alert-rules/"+alerts.RuleIDCameraDown, def, nil); code != http.StatusOK {
		t.Fatalf("PUT camera_down = %d", code)
	}

	var a defs.Alert
	testrig.WaitFor(t, "camera_down firing for cam-pw", 60*time.Second, func() bool {
		as, _, err := x.s.alerts.List(context.Background(), defs.AlertFilter{Rule: alerts.RuleIDCameraDown, Device: "cam-pw"})
		if err != nil {
			t.Fatal(err)
		}
		for _, v := range as {
			if v.Subject == "cam-pw" && v.State == defs.AlertFiring {
				a = v
				return true
			}
		}
		return false
	})
	got, hist, err := x.s.alerts.Get(context.Background(), a.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.Labels["reason"] != defs.CameraReasonUnauthorized {
		t.Errorf("labels %v, want reason %s", got.Labels, defs.CameraReasonUnauthorized)
	}
	if !strings.Contains(got.Message, defs.CameraReasonUnauthorized) || !strings.Contains(got.MessageEN, defs.CameraReasonUnauthorized) {
		t.Errorf("messages %q / %q do not carry the reason", got.Message, got.MessageEN)
	}
	if strings.Contains(got.Message+got.MessageEN+fmt.Sprint(got.Labels), "wrong-one") {
		t.Errorf("the alert shows the password: %+v", got)
	}
	if got.Severity != defs.SeverityCritical {
		t.Errorf("severity %s, want critical", got.Severity)
	}
	if len(hist) < 2 || hist[0].Change != defs.ChangePending || hist[len(hist)-1].Change != defs.ChangeFired {
		t.Fatalf("history %v, want pending then fired", changes(hist))
	}
	if d := got.RaisedAt.Sub(got.PendingSince); d < 2*time.Second {
		t.Errorf("fired %v after pending, want at least the 2s `for`", d)
	}
	// The reason is in /api/v1/cameras too.
	var cs struct {
		Cameras []struct {
			ID     defs.DeviceID `json:"id"`
			Reason string        `json:"reason"`
			State  string        `json:"state"`
		}
	}
	x.api(t, http.MethodGet, "/api/v1/cameras", nil, &cs)
	if len(cs.Cameras) != 1 || cs.Cameras[0].Reason != defs.CameraReasonUnauthorized {
		t.Errorf("/api/v1/cameras = %+v, want cam-pw with reason unauthorized", cs.Cameras)
	}
	// And the notification carries it, on MQTT and the webhook.
	key := notify.DeliveryID(got.ID, hist[len(hist)-1].Seq)
	testrig.WaitFor(t, "the fired notification on MQTT and the webhook", 20*time.Second, func() bool {
		mq, hook, _ := notes.counts()
		return mq[key] > 0 && hook[key] > 0
	})
	notes.mu.Lock()
	defer notes.mu.Unlock()
	if notes.badSig != 0 {
		t.Errorf("%d webhook deliveries with a bad signature", notes.badSig)
	}
	for _, n := range notes.mqttLog {
		if n.Transition.Alert == got.ID && n.Transition.Change == defs.ChangeFired && n.Alert.Labels["reason"] != defs.CameraReasonUnauthorized {
			t.Errorf("fired notification's labels %v, want the reason", n.Alert.Labels)
		}
	}
}

// evaluations reads iocd_alerts_evaluations_total from /metrics.
func (x *e2eIocd) evaluations(t *testing.T) float64 {
	t.Helper()
	return evaluations(t, x.base)
}

func evaluations(t *testing.T, base string) float64 {
	t.Helper()
	resp, err := http.Get(base + "/metrics")
	if err != nil {
		return -1
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "iocd_alerts_evaluations_total "); ok {
			var f float64
			fmt.Sscan(v, &f)
			return f
		}
	}
	return -1
}

// waitTicks waits until the engine has evaluated n more times.
func (x *e2eIocd) waitTicks(t *testing.T, n float64) {
	t.Helper()
	from := x.evaluations(t)
	testrig.WaitFor(t, fmt.Sprintf("%v alert evaluations", n), 30*time.Second, func() bool { return x.evaluations(t) >= from+n })
}

// TestStopRaisesNoAlert: stopping an iocd whose cameras and devices are
// healthy raises nothing (no alert, no transition, no notification), even
// with camera_down and device_offline set to fire at once; and a restart
// on the same data dir, with the shipped `for`, raises nothing while the
// cameras come back.
func TestStopRaisesNoAlert(t *testing.T) {
	mosq := testrig.Mosquitto(t)
	cams, err := sim.NewCameraServer("127.0.0.1:0", slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cams.Close)
	rec, err := sim.LoadRecording(sim.H264)
	if err != nil {
		t.Fatal(err)
	}
	var devs []defs.Device
	for i := 1; i <= 3; i++ {
		id := fmt.Sprintf("cam-ok-%d", i)
		c, err := cams.AddCamera(sim.CameraSpec{Path: id, Recording: rec, User: "admin", Pass: fmt.Sprintf("pw-%d", i)})
		if err != nil {
			t.Fatal(err)
		}
		u := c.URL()
		if i == 3 {
			// A camera slow to answer, as one over a real network is:
			// its first attempt spans several evaluations.
			u = strings.Replace(u, cams.Addr(), slowProxy(t, cams.Addr(), 700*time.Millisecond), 1)
		}
		devs = append(devs, defs.Device{ID: defs.DeviceID(id), Site: "tanan", Kind: defs.KindCamera, RTSPURL: u,
			Status: defs.StatusActive, HeartbeatS: 30})
	}
	sensors := []string{"wl-s1", "wl-s2", "wl-s3"}
	for _, id := range sensors {
		devs = append(devs, defs.Device{ID: defs.DeviceID(id), Site: "tanan", Kind: defs.KindSensor, Status: defs.StatusActive, HeartbeatS: 30})
	}
	seed := filepath.Join(t.TempDir(), "devices.json")
	if err := writeJSONFile(seed, devs); err != nil {
		t.Fatal(err)
	}
	notes := newNoteSink(t, mosq.URL())
	conf := notes.config(t, "")
	dataDir := t.TempDir()

	// The sensors report throughout, as real ones would across a restart.
	pub := mqtt.NewClient(mqtt.NewClientOptions().AddBroker(mosq.URL()).SetClientID("e2e-stop-pub"))
	if tok := pub.Connect(); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		t.Fatalf("publisher connect: %v", tok.Error())
	}
	t.Cleanup(func() { pub.Disconnect(100) })
	stopPub := make(chan struct{})
	pubDone := make(chan struct{})
	go func() {
		defer close(pubDone)
		for {
			for _, id := range sensors {
				pub.Publish("ioc/tanan/"+id+"/telemetry", 1, false, `{"water_cm": 100}`)
			}
			select {
			case <-stopPub:
				return
			case <-time.After(200 * time.Millisecond):
			}
		}
	}()
	t.Cleanup(func() { close(stopPub); <-pubDone })

	healthy := func(x *e2eIocd) func() bool {
		return func() bool {
			n := 0
			for _, c := range x.s.streams.CameraStates() {
				if c.State == defs.CameraStreaming {
					n++
				}
			}
			for _, id := range sensors {
				if h, _ := x.s.fleet.Snapshot(defs.DeviceID(id)); h.Health != defs.HealthOnline {
					return false
				}
			}
			return n == 3
		}
	}

	x := startE2E(t, dataDir, mosq.URL(), "-devices.seed_file", seed, "-config", conf)
	// At once: anything the stop made the engine see would fire.
	for _, id := range []string{alerts.RuleIDCameraDown, alerts.RuleIDDeviceOffline} {
		r, err := x.s.alerts.Rule(context.Background(), id)
		if err != nil {
			t.Fatal(err)
		}
		r.For = 0
		if _, err := x.s.alerts.PutRule(context.Background(), r, "test"); err != nil {
			t.Fatal(err)
		}
	}
	testrig.WaitFor(t, "3 cameras streaming and 3 sensors online", 60*time.Second, healthy(x))
	x.waitTicks(t, 5)
	before := allAlerts(t, context.Background(), x.s.store)
	if len(before) != 0 {
		t.Fatalf("alerts before the stop, the rig is not healthy: %v", before)
	}
	if n := notes.total(); n != 0 {
		t.Fatalf("%d notifications before the stop", n)
	}

	x.stop(t)

	ctx := context.Background()
	st, err := store.Open(ctx, filepath.Join(dataDir, "iocd.db"), slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	if after := allAlerts(t, ctx, st); len(after) != 0 {
		t.Errorf("the stop left alerts: %v", after)
	}
	// The restart runs the shipped rules, with their `for`.
	for _, r := range alerts.DefaultRules() {
		if r.ID == alerts.RuleIDCameraDown || r.ID == alerts.RuleIDDeviceOffline {
			if err := st.PutAlertRule(ctx, r); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}
	// Whatever the stopped iocd had published has reached the subscriber
	// once a later message on the same topics has.
	flushNotes(t, notes)
	if n := notes.total(); n != 0 {
		mq, hook, _ := notes.counts()
		t.Errorf("the stop was notified: mqtt %v webhook %v", mq, hook)
	}

	y := startE2E(t, dataDir, mosq.URL(), "-devices.seed_file", seed, "-config", conf)
	testrig.WaitFor(t, "the cameras back and the sensors online after the restart", 60*time.Second, healthy(y))
	y.waitTicks(t, 5)
	if got := allAlerts(t, ctx, y.s.store); len(got) != 0 {
		t.Errorf("the restart raised alerts: %v", got)
	}
	flushNotes(t, notes)
	if n := notes.total(); n != 0 {
		mq, hook, _ := notes.counts()
		t.Errorf("the restart notified: mqtt %v webhook %v", mq, hook)
	}
}

// slowProxy forwards TCP connections to upstream, each after delay, and
// returns its address.
func slowProxy(t *testing.T, upstream string, delay time.Duration) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	t.Cleanup(func() { ln.Close(); wg.Wait() })
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer c.Close()
				time.Sleep(delay)
				u, err := net.Dial("tcp", upstream)
				if err != nil {
					return
				}
				defer u.Close()
				done := make(chan struct{}, 2)
				go func() { io.Copy(u, c); done <- struct{}{} }()
				go func() { io.Copy(c, u); done <- struct{}{} }()
				<-done
			}()
		}
	}()
	return ln.Addr().String()
}

// flushNotes publishes a marker on the alerts topics and waits until the
// subscriber has it: what was published before it has arrived.
func flushNotes(t *testing.T, n *noteSink) {
	t.Helper()
	marker := defs.AlertNotification{Transition: defs.AlertTransition{Alert: "marker", Seq: int(time.Now().UnixNano() % 1e9)}}
	b, _ := json.Marshal(marker)
	if tok := n.sub.Publish("ioc/iocd/alerts/info", 1, false, b); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		t.Fatalf("marker: %v", tok.Error())
	}
	key := notify.DeliveryID(marker.Transition.Alert, marker.Transition.Seq)
	testrig.WaitFor(t, "the marker notification", 10*time.Second, func() bool {
		mq, _, _ := n.counts()
		return mq[key] > 0
	})
	n.mu.Lock()
	delete(n.mqtt, key)
	n.mqttLog = n.mqttLog[:len(n.mqttLog)-1]
	n.mu.Unlock()
}
