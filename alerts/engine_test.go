package alerts

import (
	"context"
	"log/slog"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/iocd/iocd/bus"
	"github.com/iocd/iocd/defs"
)

func startEngine(t *testing.T) (*Engine, *bus.Bus, *bus.Subscription) {
	t.Helper()
	b := bus.New(nil)
	feed := b.Subscribe("test", defs.Mask(defs.EventAlert), 100)
	e := New(b, slog.New(slog.DiscardHandler), nil)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); e.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done; feed.Close() })
	return e, b, feed
}

func next(t *testing.T, feed *bus.Subscription) defs.Alert {
	t.Helper()
	select {
	case ev := <-feed.C():
		return *ev.Alert
	case <-time.After(5 * time.Second):
		t.Fatal("no alert event within 5s")
		return defs.Alert{}
	}
}

func health(dev string, from, to defs.Health) defs.Event {
	return defs.Event{Kind: defs.EventHealth, Health: &defs.HealthChange{Device: defs.DeviceID(dev), Site: "tan-an", From: from, To: to}}
}

func TestRulesRaiseAndResolve(t *testing.T) {
	cases := []struct {
		name        string
		raise       defs.Event
		clear       defs.Event
		wantRule    string
		wantSev     defs.Severity
		wantSubject string
	}{
		{"offline device", health("wl-01", defs.HealthOnline, defs.HealthOffline), health("wl-01", defs.HealthOffline, defs.HealthOnline), RuleDeviceOffline, defs.SeverityWarning, "wl-01"},
		{"silent device", health("aq-02", defs.HealthOnline, defs.HealthStale), health("aq-02", defs.HealthStale, defs.HealthOnline), RuleDeviceStale, defs.SeverityWarning, "aq-02"},
		{"camera down", defs.Event{Kind: defs.EventCamera, Camera: &defs.CameraState{Camera: "cam-1", Site: "tan-an", Reason: "read timeout"}},
			defs.Event{Kind: defs.EventCamera, Camera: &defs.CameraState{Camera: "cam-1", Site: "tan-an", Connected: true}}, RuleCameraDown, defs.SeverityCritical, "cam-1"},
		{"disk low notice", defs.Event{Kind: defs.EventNotice, Notice: &defs.Notice{Source: "retention", Code: "disk_low", Severity: defs.SeverityCritical, Message: "3% free"}},
			defs.Event{Kind: defs.EventNotice, Notice: &defs.Notice{Source: "retention", Code: "disk_low", Severity: defs.SeverityInfo}}, "disk_low", defs.SeverityCritical, "retention"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			e, b, feed := startEngine(t)
			b.Publish(tc.raise)
			a := next(t, feed)
			if a.Rule != tc.wantRule || a.Severity != tc.wantSev || a.Subject != tc.wantSubject || a.State != defs.AlertFiring {
				t.Fatalf("raised %+v, want rule %s severity %s subject %s firing", a, tc.wantRule, tc.wantSev, tc.wantSubject)
			}
			// A repeat of the condition does not raise a second alert.
			b.Publish(tc.raise)
			b.Publish(tc.clear)
			r := next(t, feed)
			if r.ID != a.ID || r.State != defs.AlertResolved || r.ResolvedAt.IsZero() {
				t.Fatalf("after clearing got %+v, want alert %s resolved", r, a.ID)
			}
			if got := e.List(false); len(got) != 0 {
				t.Errorf("firing after resolve = %+v, want none", got)
			}
			if got := e.List(true); len(got) != 1 || got[0].ID != a.ID {
				t.Errorf("List(true) = %+v, want the one resolved alert", got)
			}
		})
	}
}

func TestAck(t *testing.T) {
	e, b, feed := startEngine(t)
	b.Publish(health("tl-07", defs.HealthOnline, defs.HealthOffline))
	a := next(t, feed)

	if _, err := e.Ack("al_nope", "op"); defs.ErrorCode(err) != defs.ENOTFOUND {
		t.Fatalf("Ack of unknown id: err = %v, want not_found", err)
	}
	got, err := e.Ack(a.ID, "operator-ca-1")
	if err != nil {
		t.Fatal(err)
	}
	if got.AckedBy != "operator-ca-1" || got.AckedAt.IsZero() || got.State != defs.AlertFiring {
		t.Fatalf("acked alert = %+v, want acked by operator-ca-1 and still firing", got)
	}
	if ev := next(t, feed); ev.AckedBy != "operator-ca-1" {
		t.Errorf("bus event after ack = %+v, want the acknowledgement", ev)
	}
	// A second operator does not overwrite who took charge first.
	again, _ := e.Ack(a.ID, "someone-else")
	if again.AckedBy != "operator-ca-1" {
		t.Errorf("second ack changed AckedBy to %q", again.AckedBy)
	}
}

func TestListOrdersBySeverityThenAge(t *testing.T) {
	e, b, feed := startEngine(t)
	b.Publish(health("a", defs.HealthOnline, defs.HealthOffline))
	next(t, feed)
	b.Publish(defs.Event{Kind: defs.EventCamera, Camera: &defs.CameraState{Camera: "cam-9"}})
	next(t, feed)
	b.Publish(health("b", defs.HealthOnline, defs.HealthStale))
	next(t, feed)
	got := e.List(false)
	if len(got) != 3 || got[0].Rule != RuleCameraDown || got[1].Subject != "b" || got[2].Subject != "a" {
		t.Fatalf("List order = %v, want camera_down, then b (newer warning), then a", got)
	}
}

// TestSeverityChangeWhileFiring raises a notice alert, then the same code
// more severely: one alert, updated and republished, and the firing gauge
// moves from the old severity to the new one.
func TestSeverityChangeWhileFiring(t *testing.T) {
	e, b, feed := startEngine(t)
	notice := func(sev defs.Severity, msg string) defs.Event {
		return defs.Event{Kind: defs.EventNotice, Notice: &defs.Notice{Source: "retention", Code: "disk_low", Severity: sev, Message: msg}}
	}
	b.Publish(notice(defs.SeverityWarning, "9% free"))
	first := next(t, feed)
	b.Publish(notice(defs.SeverityCritical, "2% free"))
	upd := next(t, feed)
	if upd.ID != first.ID || upd.Severity != defs.SeverityCritical || upd.Message != "2% free" {
		t.Fatalf("update = %+v, want alert %s now critical with the new message", upd, first.ID)
	}
	if w, c := testutil.ToFloat64(e.firingGauge.WithLabelValues("warning")), testutil.ToFloat64(e.firingGauge.WithLabelValues("critical")); w != 0 || c != 1 {
		t.Errorf("firing gauge warning=%v critical=%v, want 0 and 1", w, c)
	}
	b.Publish(notice(defs.SeverityInfo, ""))
	next(t, feed)
	if c := testutil.ToFloat64(e.firingGauge.WithLabelValues("critical")); c != 0 {
		t.Errorf("firing gauge critical after resolve = %v, want 0", c)
	}
}
