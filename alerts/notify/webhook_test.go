package notify

import (
	"context"
	"encoding/json"
	"log/slog"
	"net"
	"net/http"
	"reflect"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/iocd/iocd/defs"
	"github.com/iocd/iocd/internal/testrig"
)

// TestWebhooksSignedAndRouted: default webhooks get every notification, the
// others only those of rules that name them; every body is signed with the
// webhook's own secret, carries its delivery id, and decodes back to the
// notification; a 5xx is retried and a 4xx is not; silenced and suppressed
// alerts reach no webhook; the secret is in no log line, note or metric.
func TestWebhooksSignedAndRouted(t *testing.T) {
	const opsSecret, riverSecret = "ops-s3cret-do-not-log", "river-s3cret-do-not-log"
	var fails atomic.Int32
	fails.Store(2)
	ops := newReceiver(t, func(_ *http.Request, rc received) int {
		if rc.delivery == "a-flaky-1" && fails.Add(-1) >= 0 {
			return http.StatusServiceUnavailable
		}
		if rc.delivery == "a-refused-1" {
			return http.StatusBadRequest
		}
		return http.StatusOK
	})
	river := newReceiver(t, nil)
	logs := &syncBuffer{}
	reg := prometheus.NewRegistry()
	st := openStore(t, t.TempDir())
	n := New(Config{
		Webhooks: []Webhook{
			{Name: "ops", URL: ops.srv.URL + "/hook?token=url-token", Secret: opsSecret, Default: true},
			{Name: "river", URL: river.srv.URL, Secret: riverSecret},
		},
		BackoffMin: time.Millisecond, BackoffMax: 4 * time.Millisecond, MaxAttempts: 5,
	}, Deps{Outbox: st, Logger: slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug})), Registerer: reg})
	n.Start()
	t.Cleanup(func() { n.Close() })

	now := time.Date(2026, 12, 1, 8, 0, 0, 0, time.UTC)
	plain := defs.AlertRule{ID: "water-high"}
	named := defs.AlertRule{ID: "water-high", Webhooks: []string{"river", "nowhere"}}
	silenced := transition("a-silenced", 1, defs.ChangeFired, defs.SeverityCritical, now)
	silenced.Alert.Silenced = "sil-1"
	suppressed := transition("a-suppressed", 1, defs.ChangeFired, defs.SeverityCritical, now)
	suppressed.Alert.SuppressedBy = "gateway:gw-01"
	sent := map[string]defs.AlertNotification{}
	for _, c := range []struct {
		note defs.AlertNotification
		rule defs.AlertRule
	}{
		{transition("a-plain", 1, defs.ChangeFired, defs.SeverityCritical, now), plain},
		{transition("a-named", 1, defs.ChangeFired, defs.SeverityMajor, now), named},
		{silenced, named},
		{suppressed, named},
		{transition("a-flaky", 1, defs.ChangeFired, defs.SeverityMinor, now), plain},
		{transition("a-refused", 1, defs.ChangeFired, defs.SeverityMinor, now), plain},
		{transition("a-plain", 2, defs.ChangeResolved, defs.SeverityCritical, now.Add(time.Minute)), plain},
	} {
		n.Notify(c.note, c.rule)
		sent[DeliveryID(c.note.Transition.Alert, c.note.Transition.Seq)] = c.note
	}
	testrig.WaitFor(t, "the ops webhook's deliveries", wait, func() bool {
		return len(ops.all()) >= 2+2+1+1+1 && len(river.all()) >= 1
	})
	// A barrier: each webhook delivers in order, so once this arrives
	// everything notified before it has been tried.
	n.Notify(transition("a-barrier", 1, defs.ChangeFired, defs.SeverityInfo, now), named)
	testrig.WaitFor(t, "the barrier", wait, func() bool { return ops.count("a-barrier-1") == 1 && river.count("a-barrier-1") == 1 })

	wantOps := map[string]int{"a-plain-1": 1, "a-named-1": 1, "a-flaky-1": 3, "a-refused-1": 1, "a-plain-2": 1, "a-barrier-1": 1}
	wantRiver := map[string]int{"a-named-1": 1, "a-barrier-1": 1}
	for _, c := range []struct {
		name   string
		rv     *receiver
		secret string
		want   map[string]int
	}{{"ops", ops, opsSecret, wantOps}, {"river", river, riverSecret, wantRiver}} {
		t.Run(c.name, func(t *testing.T) {
			got := map[string]int{}
			for _, r := range c.rv.all() {
				got[r.delivery]++
				if !Verify([]byte(c.secret), r.body, r.signature) {
					t.Errorf("delivery %s: signature %q does not verify with the webhook's secret", r.delivery, r.signature)
				}
				if _, err := strconv.ParseInt(r.timestamp, 10, 64); err != nil {
					t.Errorf("delivery %s: timestamp %q is not Unix seconds", r.delivery, r.timestamp)
				}
				var back defs.AlertNotification
				if err := json.Unmarshal(r.body, &back); err != nil {
					t.Fatalf("delivery %s: body does not decode: %v", r.delivery, err)
				}
				if want, ok := sent[r.delivery]; ok && !reflect.DeepEqual(back, want) {
					t.Errorf("delivery %s: body decodes to\n%+v\nwant\n%+v", r.delivery, back, want)
				}
			}
			if !reflect.DeepEqual(got, c.want) {
				t.Errorf("deliveries (id: requests) = %v, want %v", got, c.want)
			}
		})
	}

	if got := testutil.ToFloat64(n.m.delivered.WithLabelValues("ops")); got != 5 {
		t.Errorf("ops delivered = %v, want 5", got)
	}
	if got := testutil.ToFloat64(n.m.failed.WithLabelValues("ops")); got != 1 {
		t.Errorf("ops failed = %v, want 1 (the 400)", got)
	}
	if got := testutil.ToFloat64(n.m.retries.WithLabelValues("ops")); got != 2 {
		t.Errorf("ops retries = %v, want 2", got)
	}
	if got := testutil.ToFloat64(n.m.held); got != 2 {
		t.Errorf("held = %v, want 2 (silenced, suppressed)", got)
	}
	if got := testutil.ToFloat64(n.m.unknownWebhook); got == 0 {
		t.Errorf("a rule naming an unconfigured webhook was not counted")
	}

	// Neither secret (nor the URL's token) in the logs, the outbox notes
	// or the metrics.
	var notes strings.Builder
	rows, err := st.DB().QueryContext(context.Background(), `SELECT note FROM alert_outbox`)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var s string
		rows.Scan(&s)
		notes.WriteString(s + "\n")
	}
	rows.Close()
	mfs, _ := reg.Gather()
	var metrics strings.Builder
	for _, mf := range mfs {
		metrics.WriteString(mf.String())
	}
	if !strings.Contains(notes.String(), "400") {
		t.Errorf("the refused delivery's note does not say why: %q", notes.String())
	}
	for _, where := range []struct{ name, text string }{{"logs", logs.String()}, {"outbox notes", notes.String()}, {"metrics", metrics.String()}} {
		for _, secret := range []string{opsSecret, riverSecret, "url-token"} {
			if strings.Contains(where.text, secret) {
				t.Errorf("%s contain %q:\n%s", where.name, secret, where.text)
			}
		}
	}
}

// blackhole is a listener that accepts connections and never answers.
type blackhole struct {
	ln       net.Listener
	accepted atomic.Int32
}

func newBlackhole(t *testing.T) *blackhole {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	b := &blackhole{ln: ln}
	var conns []net.Conn
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			c, err := ln.Accept()
			if err != nil {
				for _, c := range conns {
					c.Close()
				}
				return
			}
			conns = append(conns, c)
			b.accepted.Add(1)
		}
	}()
	t.Cleanup(func() { ln.Close(); <-done })
	return b
}

// TestBlackholedWebhookNeverBlocks: a webhook that accepts and never
// answers holds one delivery in flight; its queue fills and every further
// notification drops its oldest, counted, while Notify keeps returning and
// a healthy webhook beside it receives everything.
func TestBlackholedWebhookNeverBlocks(t *testing.T) {
	const queue, more = 3, 50
	hole := newBlackhole(t)
	ok := newReceiver(t, nil)
	st := openStore(t, t.TempDir())
	n := New(Config{
		QueueSize: queue,
		Webhooks: []Webhook{
			{Name: "hole", URL: "http://" + hole.ln.Addr().String() + "/", Default: true, Timeout: 10 * time.Minute},
			{Name: "ok", URL: ok.srv.URL, Default: true},
		},
	}, Deps{Outbox: st})
	n.Start()
	t.Cleanup(func() { n.Close() })

	now := time.Now()
	n.Notify(transition("first", 1, defs.ChangeFired, defs.SeverityCritical, now), defs.AlertRule{})
	// Once the blackhole has the connection, its sender has taken the
	// first delivery off the queue and waits for an answer.
	testrig.WaitFor(t, "the blackhole to be dialled", wait, func() bool { return hole.accepted.Load() >= 1 })
	for i := range more {
		n.Notify(transition("a"+strconv.Itoa(i), 1, defs.ChangeFired, defs.SeverityCritical, now), defs.AlertRule{})
		// One at a time, so the healthy webhook's own queue never fills:
		// it keeps delivering while the other hangs.
		testrig.WaitFor(t, "the healthy webhook's delivery", wait, func() bool { return len(ok.all()) == i+2 })
	}
	if got, want := testutil.ToFloat64(n.m.dropped.WithLabelValues("hole")), float64(more-queue); got != want {
		t.Errorf("dropped for the blackholed webhook = %v, want %v (%d notified, queue %d)", got, want, more, queue)
	}
	if got := testutil.ToFloat64(n.m.dropped.WithLabelValues("ok")); got != 0 {
		t.Errorf("dropped for the healthy webhook = %v, want 0", got)
	}
	// The dropped deliveries are finished in the outbox, so a restart
	// does not send them; the in-flight one and the queued ones stay
	// pending.
	pending, err := st.PendingAlertDeliveries(context.Background(), 1000)
	if err != nil {
		t.Fatal(err)
	}
	var holePending int
	for _, d := range pending {
		if d.Destination == "webhook:hole" {
			holePending++
		}
	}
	if holePending != 1+queue {
		t.Errorf("pending for the blackhole = %d, want %d (one in flight, a full queue)", holePending, 1+queue)
	}
}
