package main

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"

	"github.com/iocd/iocd/alerts/notify"
	"github.com/iocd/iocd/defs"
	"github.com/iocd/iocd/internal/testrig"
)

// childEnv makes the test binary run iocd's main instead of the tests:
// iocd as a child process, with the wiring of the real binary, that a
// test can SIGKILL.
const childEnv = "IOCD_TEST_CHILD_IOCD"

func TestMain(m *testing.M) {
	if os.Getenv(childEnv) == "1" {
		ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
		code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
		stop()
		os.Exit(code)
	}
	os.Exit(m.Run())
}

// iocdChild is `iocd serve` in a child process.
type iocdChild struct {
	cmd  *exec.Cmd
	base string
	done chan struct{}
}

func startChild(t *testing.T, logPath string, args ...string) *iocdChild {
	t.Helper()
	addr := fmt.Sprintf("127.0.0.1:%d", testrig.FreePort(t))
	logf, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	defer logf.Close()
	cmd := exec.Command(os.Args[0], append([]string{"serve", "-http_addr", addr}, args...)...)
	cmd.Env = append(os.Environ(), childEnv+"=1")
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	c := &iocdChild{cmd: cmd, base: "http://" + addr, done: make(chan struct{})}
	go func() { _ = cmd.Wait(); close(c.done) }()
	t.Cleanup(func() {
		c.signal(syscall.SIGTERM)
		if t.Failed() {
			out, _ := os.ReadFile(logPath)
			t.Logf("iocd log:\n%s", tail(string(out), 6000))
		}
	})
	testrig.WaitFor(t, "iocd /readyz 200", 60*time.Second, func() bool {
		select {
		case <-c.done:
			out, _ := os.ReadFile(logPath)
			t.Fatalf("iocd exited before it was ready:\n%s", tail(string(out), 4000))
		default:
		}
		resp, err := http.Get(c.base + "/readyz")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	})
	return c
}

// signal sends sig and waits for the child to exit.
func (c *iocdChild) signal(sig syscall.Signal) {
	select {
	case <-c.done:
		return
	default:
	}
	_ = c.cmd.Process.Signal(sig)
	select {
	case <-c.done:
	case <-time.After(60 * time.Second):
		_ = c.cmd.Process.Kill()
		<-c.done
	}
}

func tail(s string, n int) string {
	if len(s) > n {
		return s[len(s)-n:]
	}
	return s
}

// TestKill9KeepsAlerts: iocd holding a pending, a firing and an
// acknowledged alert is killed with SIGKILL and started again on the same
// data dir: all three are as they were, and neither MQTT nor the webhook
// receives any notification twice.
func TestKill9KeepsAlerts(t *testing.T) {
	mosq := testrig.Mosquitto(t)
	notes := newNoteSink(t, mosq.URL())
	conf := notes.config(t, "")
	dataDir := t.TempDir()
	logPath := filepath.Join(t.TempDir(), "iocd.log")
	args := []string{"-data_dir", dataDir, "-mqtt.url", mosq.URL(), "-mqtt.client_id", "iocd-kill9",
		"-unknown_devices", "register", "-admin_token", e2eAdmin, "-config", conf, "-log.level", "warn"}
	c := startChild(t, logPath, args...)

	rule := func(id, dev string, forD time.Duration) defs.AlertRule {
		return defs.AlertRule{ID: id, Name: id, Kind: defs.RuleThreshold, Field: "water_cm", Op: ">", Value: 200,
			For: defs.Duration(forD), Severity: defs.SeverityMajor, Selector: defs.Selector{ID: defs.DeviceID(dev)},
			Message: defs.Messages{VI: "Mực nước {{value}} cm tại {{device}}", EN: "Water {{value}} cm at {{device}}"}}
	}
	subjects := map[string]string{"k-pending": "wl-k1", "k-firing": "wl-k2", "k-acked": "wl-k3"}
	for _, r := range []defs.AlertRule{rule("k-pending", "wl-k1", time.Hour), rule("k-firing", "wl-k2", 0), rule("k-acked", "wl-k3", 0)} {
		if code := apiDo(t, c.base, http.MethodPost, "/api/v1/alert-rules", r, nil); code/100 != 2 {
			t.Fatalf("POST rule %s = %d", r.ID, code)
		}
	}

	pub := mqtt.NewClient(mqtt.NewClientOptions().AddBroker(mosq.URL()).SetClientID("e2e-kill9-pub"))
	if tok := pub.Connect(); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		t.Fatalf("publisher connect: %v", tok.Error())
	}
	t.Cleanup(func() { pub.Disconnect(100) })
	publish := func() {
		for _, dev := range subjects {
			if tok := pub.Publish("ioc/tanan/"+dev+"/telemetry", 1, false, `{"water_cm": 250}`); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
				t.Fatalf("publish: %v", tok.Error())
			}
		}
	}

	type view struct {
		Alert   defs.Alert
		History []defs.AlertTransition
	}
	get := func(base, rule string) (view, bool) {
		var list struct{ Alerts []defs.Alert }
		q := url.Values{"rule": {rule}, "state": {"pending,firing,acknowledged,resolved"}}
		apiDo(t, base, http.MethodGet, "/api/v1/alerts?"+q.Encode(), nil, &list)
		if len(list.Alerts) != 1 {
			return view{}, false
		}
		var v view
		apiDo(t, base, http.MethodGet, "/api/v1/alerts/"+list.Alerts[0].ID, nil, &v)
		return v, v.Alert.ID != ""
	}
	want := map[string]defs.AlertState{"k-pending": defs.AlertPending, "k-firing": defs.AlertFiring, "k-acked": defs.AlertFiring}
	// The broker may hand iocd a reading before its subscription is
	// complete; publishing again until the alerts exist is harmless
	// (the same level is no new transition).
	testrig.WaitFor(t, "a pending and two firing alerts", 60*time.Second, func() bool {
		publish()
		for r, st := range want {
			if v, ok := get(c.base, r); !ok || v.Alert.State != st {
				return false
			}
		}
		return true
	})
	acked, _ := get(c.base, "k-acked")
	ack := map[string]string{"note": "đang cử người ra trạm", "assignee": "lan"}
	if code := apiDo(t, c.base, http.MethodPost, "/api/v1/alerts/"+acked.Alert.ID+"/ack", ack, nil); code != http.StatusOK {
		t.Fatalf("ack = %d", code)
	}
	want["k-acked"] = defs.AlertAcknowledged

	// Every transition so far has been notified, once, on MQTT and to the
	// webhook, before the kill.
	before := map[string]view{}
	testrig.WaitFor(t, "every transition notified", 30*time.Second, func() bool {
		mq, hook, _ := notes.counts()
		for r, st := range want {
			v, ok := get(c.base, r)
			if !ok || v.Alert.State != st {
				return false
			}
			for _, h := range v.History {
				k := notify.DeliveryID(h.Alert, h.Seq)
				if mq[k] == 0 || hook[k] == 0 {
					return false
				}
			}
			before[r] = v
		}
		return true
	})
	if v := before["k-acked"].Alert; v.AckNote != ack["note"] || v.AckAssignee != ack["assignee"] || v.AckedBy == "" {
		t.Fatalf("acked alert %+v, want the note, assignee and who", v)
	}

	c.signal(syscall.SIGKILL)
	c = startChild(t, logPath, args...)
	// Several ticks, with the devices still reporting the same level.
	publish()
	from := evaluations(t, c.base)
	testrig.WaitFor(t, "10 evaluations after the restart", 60*time.Second, func() bool { return evaluations(t, c.base) >= from+10 })
	publish()
	from = evaluations(t, c.base)
	testrig.WaitFor(t, "5 more evaluations", 60*time.Second, func() bool { return evaluations(t, c.base) >= from+5 })

	for r, b := range before {
		a, ok := get(c.base, r)
		if !ok {
			t.Errorf("%s: no alert after the restart", r)
			continue
		}
		x, y := b.Alert, a.Alert
		if x.ID != y.ID || x.State != y.State || !x.PendingSince.Equal(y.PendingSince) || !x.RaisedAt.Equal(y.RaisedAt) ||
			x.AckedBy != y.AckedBy || x.AckNote != y.AckNote || x.AckAssignee != y.AckAssignee || !x.AckedAt.Equal(y.AckedAt) {
			t.Errorf("%s after kill -9 and restart:\n got %+v\nwant %+v", r, y, x)
		}
		if len(a.History) != len(b.History) {
			t.Errorf("%s: history %v after the restart, was %v", r, changes(a.History), changes(b.History))
		}
	}

	flushNotes(t, notes)
	mq, hook, bad := notes.counts()
	if bad != 0 {
		t.Errorf("%d webhook deliveries with a bad signature", bad)
	}
	n := 0
	for _, b := range before {
		n += len(b.History)
	}
	t.Logf("%d transitions; mqtt %v; webhook %v", n, mq, hook)
	for name, m := range map[string]map[string]int{"mqtt": mq, "webhook": hook} {
		if len(m) != n {
			t.Errorf("%s got %d distinct notifications, want the %d transitions: %v", name, len(m), n, m)
		}
		for k, v := range m {
			if v != 1 {
				t.Errorf("%s got %s %d times", name, k, v)
			}
		}
	}
}
