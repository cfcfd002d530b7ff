package dashboard

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/iocd/iocd/bus"
	"github.com/iocd/iocd/defs"
	"github.com/iocd/iocd/internal/testrig"
)

type fixedFleet []defs.FleetCount

func (f fixedFleet) Counts() []defs.FleetCount { return f }

// startHub serves the hub on a real loopback HTTP server; the role of each
// connection is taken from a ?role= query parameter, standing in for the
// authentication the API does in front of it.
func startHub(t *testing.T, o Options) (*Hub, *bus.Bus, string) {
	t.Helper()
	b := bus.New(nil)
	o.Bus = b
	h := New(o)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); h.Run(ctx) }()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		role, _ := defs.ParseRole(r.URL.Query().Get("role"))
		h.Serve(r.Context(), w, r, "test-"+role.String(), role)
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

func read(t *testing.T, c *websocket.Conn) Message {
	t.Helper()
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	var m struct {
		Type string          `json:"type"`
		Data json.RawMessage `json:"data"`
	}
	if err := c.ReadJSON(&m); err != nil {
		t.Fatalf("reading feed: %v", err)
	}
	return Message{Type: m.Type, Data: m.Data}
}

// waitClients waits until the hub has registered n clients.
func waitClients(t *testing.T, h *Hub, n float64) {
	t.Helper()
	testrig.WaitFor(t, fmt.Sprintf("the hub to register %v clients", n), 10*time.Second, func() bool {
		return testutil.ToFloat64(h.connected) == n
	})
}

func TestFeedSendsSummaryThenEvents(t *testing.T) {
	fleet := fixedFleet{{Site: "tan-an", Kind: defs.KindSensor, Health: defs.HealthOnline, Count: 3}}
	h, b, url := startHub(t, Options{Fleet: fleet, SummaryEvery: time.Hour})
	c := dial(t, url+"?role=viewer")
	waitClients(t, h, 1)

	if m := read(t, c); m.Type != "fleet" || !strings.Contains(string(m.Data.(json.RawMessage)), `"count":3`) {
		t.Fatalf("first frame = %s %s, want the fleet summary with count 3", m.Type, m.Data)
	}
	b.Publish(defs.Event{Kind: defs.EventHealth, Health: &defs.HealthChange{Device: "wl-01", From: defs.HealthOnline, To: defs.HealthOffline}})
	m := read(t, c)
	if m.Type != "health" || !strings.Contains(string(m.Data.(json.RawMessage)), `"to":"offline"`) {
		t.Fatalf("frame = %s %s, want the health change to offline", m.Type, m.Data)
	}
}

func TestViolationPlateOnlyForReviewers(t *testing.T) {
	cases := []struct {
		role      string
		wantPlate bool
	}{
		{"viewer", false},
		{"operator", false},
		{"reviewer", true},
		{"admin", true},
	}
	h, b, url := startHub(t, Options{})
	conns := make([]*websocket.Conn, len(cases))
	for i, tc := range cases {
		conns[i] = dial(t, url+"?role="+tc.role)
	}
	waitClients(t, h, float64(len(cases)))
	b.Publish(defs.Event{Kind: defs.EventViolation, Violation: &defs.Violation{ID: "v1", Type: "red_light", Plate: "62A-123.45", PlateRaw: "62a12345"}})
	for i, tc := range cases {
		t.Run(tc.role, func(t *testing.T) {
			m := read(t, conns[i])
			data := string(m.Data.(json.RawMessage))
			if m.Type != "violation" || !strings.Contains(data, `"type":"red_light"`) {
				t.Fatalf("frame = %s %s, want the violation", m.Type, data)
			}
			if got := strings.Contains(data, "62A-123.45"); got != tc.wantPlate {
				t.Errorf("plate shown to %s = %v, want %v: %s", tc.role, got, tc.wantPlate, data)
			}
		})
	}
}

func TestSlowClientIsCutOffAndOthersKeepUp(t *testing.T) {
	h, b, url := startHub(t, Options{ClientQueue: 64})
	slow := dial(t, url+"?role=viewer") // never reads
	fast := dial(t, url+"?role=viewer")
	waitClients(t, h, 2)

	const n = 400
	big := strings.Repeat("x", 64<<10) // fills the slow client's socket buffers quickly
	recv := make(chan struct{})
	go func() {
		defer close(recv)
		for range n {
			fast.SetReadDeadline(time.Now().Add(10 * time.Second))
			if _, _, err := fast.ReadMessage(); err != nil {
				return
			}
			recv <- struct{}{}
		}
	}()
	for i := 0; i < n; i++ {
		b.Publish(defs.Event{Kind: defs.EventNotice, Notice: &defs.Notice{Code: "test", Message: big}})
		// Lockstep: the next frame goes out once the fast client has read
		// this one, so it keeps up however slow the machine, and only the
		// slow client falls behind.
		if _, ok := <-recv; !ok {
			t.Fatalf("fast client received %d of %d frames", i, n)
		}
	}
	if v := testutil.ToFloat64(h.cutOff); v != 1 {
		t.Errorf("clients cut off = %v, want 1 (the slow one)", v)
	}
	_ = slow
}
