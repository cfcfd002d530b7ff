package api_test

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/iocd/iocd/api"
	"github.com/iocd/iocd/auth"
	"github.com/iocd/iocd/internal/testrig"
	"github.com/iocd/iocd/store"
)

// metricValue reads one unlabelled counter or gauge from reg.
func metricValue(t *testing.T, reg prometheus.Gatherer, name string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.GetMetric() {
			if c := m.GetCounter(); c != nil {
				return c.GetValue()
			}
			if g := m.GetGauge(); g != nil {
				return g.GetValue()
			}
		}
	}
	t.Fatalf("metric %s not registered", name)
	return 0
}

// TestSlowBodyClientsAreCut reproduces the probe on loopback, at a
// bounded scale: with max_conns 50, 100 clients send a request's headers
// announcing Content-Length: 1000 and then nothing, half of them with a
// valid token. Without a body deadline net/http waits for that body
// forever (even after answering 401), and they held every descriptor.
// Here the connections over the limit are refused and counted, the
// others are cut once the body deadline passes, and /healthz answers.
func TestSlowBodyClientsAreCut(t *testing.T) {
	const maxConns, clients = 50, 100
	ctx := context.Background()
	log := slog.New(slog.DiscardHandler)
	st, err := store.Open(ctx, filepath.Join(t.TempDir(), "iocd.db"), log)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	a := auth.New(st, adminToken, log)
	reg := prometheus.NewRegistry()
	h := api.New(api.Options{
		Logger: log, Auth: a, Tokens: a, Gatherer: reg,
		Deadlines: api.Deadlines{Body: 300 * time.Millisecond, Write: 2 * time.Second},
	}).Handler()
	srv := httptest.NewUnstartedServer(h)
	srv.Listener = api.LimitListener(srv.Listener, maxConns, reg)
	srv.Config.ReadHeaderTimeout = 5 * time.Second
	srv.Start()
	t.Cleanup(srv.Close)
	addr := srv.Listener.Addr().String()

	var closed atomic.Int64
	conns := make([]net.Conn, 0, clients)
	t.Cleanup(func() {
		for _, c := range conns {
			c.Close()
		}
	})
	for i := range clients {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			// Refused so fast that the handshake saw the reset.
			closed.Add(1)
			continue
		}
		conns = append(conns, c)
		token := ""
		if i%2 == 0 {
			token = "Authorization: Bearer " + adminToken + "\r\n"
		}
		fmt.Fprintf(c, "POST /api/v1/tokens HTTP/1.1\r\nHost: iocd\r\n%sContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n", token)
		// Each client reads until the server closes its connection: a
		// refusal (reset at once) or the cut after the body deadline.
		go func() {
			_, _ = io.Copy(io.Discard, c)
			closed.Add(1)
		}()
	}
	testrig.WaitFor(t, "every idle client to be refused or cut", 30*time.Second, func() bool {
		return closed.Load() == clients
	})
	if refused := metricValue(t, reg, "iocd_http_connections_refused_total"); refused < clients-maxConns {
		t.Errorf("refused connections: want at least %d counted, got %v", clients-maxConns, refused)
	}
	testrig.WaitFor(t, "the connection slots to be given back", 10*time.Second, func() bool {
		return metricValue(t, reg, "iocd_http_connections_open") == 0
	})
	resp, err := http.Get(srv.URL + "/healthz")
	if err != nil {
		t.Fatalf("/healthz after the probe: %v", err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("/healthz after the probe: %d", resp.StatusCode)
	}
}

// TestBodyInTimeIsServed: the body deadline does not get in the way of a
// client that sends its body.
func TestBodyInTimeIsServed(t *testing.T) {
	r := newRig(t)
	c, err := net.Dial("tcp", r.srv.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	body := `{"name":"wall","role":"viewer"}`
	fmt.Fprintf(c, "POST /api/v1/tokens HTTP/1.1\r\nHost: iocd\r\nAuthorization: Bearer %s\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n%s", adminToken, len(body), body)
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("a body sent in time: want 201, got %d", resp.StatusCode)
	}
}
