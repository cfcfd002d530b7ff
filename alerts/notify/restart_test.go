package notify

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/iocd/iocd/defs"
	"github.com/iocd/iocd/internal/testrig"
)

// TestRestartResendsPendingOnce: a notifier stopped while a delivery is in
// flight (no answer yet, as in a kill -9) leaves it pending in the outbox;
// the next notifier on the same store sends it exactly once more, with the
// same delivery id, and does not resend the one already delivered, nor
// anything the engine notifies again.
func TestRestartResendsPendingOnce(t *testing.T) {
	dir := t.TempDir()
	hang := make(chan struct{}, 1)
	rv := newReceiver(t, func(r *http.Request, rc received) int {
		if rc.delivery == "a1-2" && r.Header.Get("X-Test-Run") == "" {
			select {
			case hang <- struct{}{}:
			default:
			}
			<-r.Context().Done() // never answers the first run
			return http.StatusServiceUnavailable
		}
		return http.StatusOK
	})
	rule := defs.AlertRule{ID: "water-high"}
	now := time.Now().UTC().Truncate(time.Millisecond)
	first := transition("a1", 1, defs.ChangeFired, defs.SeverityCritical, now)
	second := transition("a1", 2, defs.ChangeResolved, defs.SeverityCritical, now.Add(time.Second))

	// First run: seq 1 is delivered, seq 2 is in flight when it stops.
	st := openStore(t, dir)
	a := New(Config{Webhooks: []Webhook{{Name: "ops", URL: rv.srv.URL, Secret: "k", Default: true}}}, Deps{Outbox: st})
	a.Start()
	a.Notify(first, rule)
	testrig.WaitFor(t, "seq 1 delivered and recorded", wait, func() bool {
		ds, _ := st.RecentAlertDeliveries(context.Background(), "webhook:ops", time.Time{}, 10)
		return len(ds) == 1 && ds[0].Status == defs.DeliveryDone
	})
	a.Notify(second, rule)
	<-hang
	a.Close()
	if got := rv.count("a1-2"); got != 1 {
		t.Fatalf("first run sent a1-2 %d times, want 1 (unanswered)", got)
	}
	st.Close()

	// Second run on the same store.
	st = openStore(t, dir)
	b := New(Config{Webhooks: []Webhook{{Name: "ops", URL: rv.srv.URL, Secret: "k", Default: true}}},
		Deps{Outbox: st, Transport: headerTransport{"X-Test-Run", "2"}})
	b.Start()
	t.Cleanup(func() { b.Close() })
	testrig.WaitFor(t, "the pending a1-2 resent", wait, func() bool { return rv.count("a1-2") == 2 })
	// The engine, unsure what was notified before the crash, notifies
	// both again: neither is sent.
	b.Notify(first, rule)
	b.Notify(second, rule)
	// Barrier: one sender per webhook, in order.
	b.Notify(transition("a1", 3, defs.ChangeReopened, defs.SeverityCritical, now.Add(2*time.Second)), rule)
	testrig.WaitFor(t, "the barrier", wait, func() bool { return rv.count("a1-3") == 1 })
	if got := rv.count("a1-1"); got != 1 {
		t.Errorf("a1-1 sent %d times in all, want 1", got)
	}
	if got := rv.count("a1-2"); got != 2 {
		t.Errorf("a1-2 sent %d times in all, want 2 (the unanswered one and one resend)", got)
	}
	if got := testutil.ToFloat64(b.m.resent); got != 1 {
		t.Errorf("resent = %v, want 1", got)
	}
	var bodies [][]byte
	for _, r := range rv.all() {
		if r.delivery == "a1-2" {
			bodies = append(bodies, r.body)
		}
	}
	if len(bodies) == 2 && string(bodies[0]) != string(bodies[1]) {
		t.Errorf("the resent body differs from the first:\n%s\n%s", bodies[0], bodies[1])
	}
	if pending, _ := st.PendingAlertDeliveries(context.Background(), 10); len(pending) != 0 {
		t.Errorf("pending after the second run = %+v, want none", pending)
	}
}

// headerTransport adds a header to every request.
type headerTransport struct{ k, v string }

func (h headerTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	r.Header.Set(h.k, h.v)
	return http.DefaultTransport.RoundTrip(r)
}

// TestNotifyBeforeStartAndBrokerDown: what is notified between New and
// Start is sent once, not again by Start's reload; with the broker down,
// MQTT deliveries wait and Close still returns, leaving them pending for
// the next start.
func TestNotifyBeforeStartAndBrokerDown(t *testing.T) {
	rv := newReceiver(t, nil)
	st := openStore(t, t.TempDir())
	down := "tcp://" + newBlackhole(t).ln.Addr().String() // accepts, never answers CONNECT
	n := New(Config{
		MQTT:     MQTT{URL: down, ClientID: "iocd-test", TopicPrefix: "ioc", ConnectTimeout: time.Second},
		Webhooks: []Webhook{{Name: "ops", URL: rv.srv.URL, Default: true}},
	}, Deps{Outbox: st})
	now := time.Now()
	n.Notify(transition("early", 1, defs.ChangeFired, defs.SeverityCritical, now), defs.AlertRule{})
	n.Start()
	n.Notify(transition("late", 1, defs.ChangeFired, defs.SeverityCritical, now), defs.AlertRule{})
	testrig.WaitFor(t, "the late delivery", wait, func() bool { return rv.count("late-1") == 1 })
	n.Close()
	if got := rv.count("early-1"); got != 1 {
		t.Errorf("early-1 sent %d times, want 1", got)
	}
	pending, err := st.PendingAlertDeliveries(context.Background(), 10)
	if err != nil {
		t.Fatal(err)
	}
	if len(pending) != 2 || pending[0].Destination != DestMQTT || pending[1].Destination != DestMQTT {
		t.Errorf("pending after Close = %+v, want the two MQTT deliveries", pending)
	}
}
