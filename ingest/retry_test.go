package ingest

import (
	"context"
	"errors"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/iocd/iocd/bus"
	"github.com/iocd/iocd/config"
	"github.com/iocd/iocd/defs"
)

// flakyEvents fails its first failures calls with err, then accepts.
type flakyEvents struct {
	failures int
	err      error
	calls    int
}

func (f *flakyEvents) HandleEvent(context.Context, defs.Device, []byte, time.Time) error {
	f.calls++
	if f.calls <= f.failures {
		return f.err
	}
	return nil
}

// testJob gives msg its ack slot as onMessage does.
func (in *Ingester) testJob(msg *benchMessage) job {
	acks := in.tel
	if strings.HasSuffix(msg.topic, "/event") {
		acks = in.ev
	}
	return job{msg: msg, recv: time.Now(), s: acks.acquire(msg, nil, nil)}
}

func eventWorker(t *testing.T, ev EventHandler) (*Ingester, *worker) {
	t.Helper()
	mcfg := config.Default().MQTT
	mcfg.URL = "tcp://127.0.0.1:1"
	in, err := New(mcfg, config.Default().Ingest, Deps{
		Registry: newRegistry(device("cam-01", "tan-an", defs.KindCamera)),
		Events:   ev, Bus: bus.New(nil), Logger: slog.New(slog.DiscardHandler),
	})
	if err != nil {
		t.Fatal(err)
	}
	return in, &worker{in: in, dec: NewDecoder(1 << 16)}
}

// TestEventFailures checks what a camera event's failure does to its MQTT
// message: a transient failure (a busy store) is retried until it passes
// and then acknowledged once; an invalid event is counted as bad_event and
// acknowledged at once; while stopping, a failing event is left
// unacknowledged for the broker to redeliver.
func TestEventFailures(t *testing.T) {
	busy := errors.New("database is locked (SQLITE_BUSY)")
	cases := []struct {
		name      string
		events    *flakyEvents
		stopping  bool
		wantCalls int
		wantAcks  int
		wantCount Reason
	}{
		{"transient, then ok", &flakyEvents{failures: 2, err: busy}, false, 3, 1, ""},
		{"invalid payload", &flakyEvents{failures: 1, err: defs.Invalid("ts", "is not a time")}, false, 1, 1, ReasonBadEvent},
		{"transient while stopping", &flakyEvents{failures: 100, err: busy}, true, 1, 0, ReasonShutdown},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			in, w := eventWorker(t, tc.events)
			if tc.stopping {
				close(in.stopping)
			}
			msg := &benchMessage{topic: "ioc/tan-an/cam-01/event", payload: []byte(`{"event_id":"e1"}`)}
			w.handle(context.Background(), in.testJob(msg))
			if tc.events.calls != tc.wantCalls || msg.acked != tc.wantAcks {
				t.Fatalf("handler called %d times, message acked %d times; want %d and %d",
					tc.events.calls, msg.acked, tc.wantCalls, tc.wantAcks)
			}
			if tc.wantCount != "" {
				if got := testutil.ToFloat64(in.m.rejected[tc.wantCount]); got != 1 {
					t.Errorf("rejected{reason=%s} = %v, want 1", tc.wantCount, got)
				}
			}
			if got := testutil.ToFloat64(in.m.rejected[ReasonHandlerError]); got != 0 {
				t.Errorf("rejected{reason=handler_error} = %v, want 0: nothing was given up on", got)
			}
		})
	}
}

// ctxEvents fails, as the SQL store does, when its context is cancelled.
type ctxEvents struct{ stored int }

func (c *ctxEvents) HandleEvent(ctx context.Context, _ defs.Device, _ []byte, _ time.Time) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	c.stored++
	return nil
}

// TestShutdownFinishesQueuedEvents queues events, then shuts down: the
// drain must store and acknowledge every one, not fail them on the
// cancelled context.
func TestShutdownFinishesQueuedEvents(t *testing.T) {
	ev := &ctxEvents{}
	in, _ := eventWorker(t, ev)
	msgs := make([]*benchMessage, 5)
	for i := range msgs {
		msgs[i] = &benchMessage{topic: "ioc/tan-an/cam-01/event", payload: []byte(`{}`)}
		in.events <- in.testJob(msgs[i])
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	close(in.stopping)
	in.work(ctx, in.events)
	if ev.stored != len(msgs) {
		t.Errorf("stored %d of %d queued events at shutdown", ev.stored, len(msgs))
	}
	for i, m := range msgs {
		if m.acked != 1 {
			t.Errorf("event %d acked %d times, want 1", i, m.acked)
		}
	}
}
