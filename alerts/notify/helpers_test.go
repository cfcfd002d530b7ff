package notify

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/iocd/iocd/defs"
	"github.com/iocd/iocd/store"
)

// wait is how long a test waits for a condition on loopback servers.
const wait = 30 * time.Second

var _ Outbox = (*store.SQLite)(nil)

func openStore(t *testing.T, dir string) *store.SQLite {
	t.Helper()
	st, err := openStoreAt(dir)
	if err != nil {
		t.Fatalf("opening store: %v", err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

func openStoreAt(dir string) (*store.SQLite, error) {
	return store.Open(context.Background(), filepath.Join(dir, "iocd.db"), slog.New(slog.DiscardHandler))
}

// syncBuffer is a log sink safe for the notifier's goroutines.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// received is one request a test webhook got.
type received struct {
	body      []byte
	signature string
	delivery  string
	timestamp string
}

// receiver is a webhook on loopback that records what it gets; answer, if
// set, decides the status for each request (it may block on r.Context()).
type receiver struct {
	srv    *httptest.Server
	mu     sync.Mutex
	got    []received
	answer func(r *http.Request, rc received) int
}

func newReceiver(t *testing.T, answer func(r *http.Request, rc received) int) *receiver {
	rv := &receiver{answer: answer}
	rv.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		rc := received{body: body, signature: r.Header.Get(HeaderSignature), delivery: r.Header.Get(HeaderDelivery), timestamp: r.Header.Get(HeaderTimestamp)}
		rv.mu.Lock()
		rv.got = append(rv.got, rc)
		rv.mu.Unlock()
		status := http.StatusNoContent
		if rv.answer != nil {
			status = rv.answer(r, rc)
		}
		w.WriteHeader(status)
	}))
	t.Cleanup(rv.srv.Close)
	return rv
}

func (rv *receiver) all() []received {
	rv.mu.Lock()
	defer rv.mu.Unlock()
	return append([]received(nil), rv.got...)
}

// count returns how many requests carried delivery id.
func (rv *receiver) count(id string) int {
	n := 0
	for _, r := range rv.all() {
		if r.delivery == id {
			n++
		}
	}
	return n
}

// transition makes a notification of alert id's seq-th transition.
func transition(id string, seq int, change defs.AlertChange, sev defs.Severity, at time.Time) defs.AlertNotification {
	to := defs.AlertFiring
	if change == defs.ChangeResolved {
		to = defs.AlertResolved
	}
	return defs.AlertNotification{
		Transition: defs.AlertTransition{Alert: id, Seq: seq, Change: change, To: to, Severity: sev, Value: 212.5, At: at},
		Alert: defs.Alert{
			ID: id, Rule: "water-high", RuleName: "Mực nước cao", Kind: defs.RuleThreshold,
			Subject: "tan-an-wl-01", Site: "tan-an", Device: "tan-an-wl-01", Severity: sev, State: to,
			Message: "Mực nước 212.5 cm tại tan-an-wl-01", MessageEN: "Water at 212.5 cm at tan-an-wl-01", Value: 212.5,
		},
	}
}

// points records WritePoint calls.
type points struct {
	mu  sync.Mutex
	got []point
}

type point struct {
	measurement string
	tags        map[string]string
	fields      map[string]any
	ts          time.Time
}

func (p *points) WritePoint(m string, tags map[string]string, fields map[string]any, ts time.Time) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.got = append(p.got, point{m, tags, fields, ts})
}

func (p *points) all() []point {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]point(nil), p.got...)
}
