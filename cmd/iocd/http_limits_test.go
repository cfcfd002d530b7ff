package main

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/iocd/iocd/internal/testrig"
)

// TestServeCutsIdleClients checks the wiring of http.*: a served iocd with
// max_conns 8 and a 300ms body deadline, probed by 16 clients announcing
// a body they never send, refuses the excess (counted), cuts the rest, and
// answers /healthz.
func TestServeCutsIdleClients(t *testing.T) {
	mqttAddr := fmt.Sprintf("127.0.0.1:%d", testrig.FreePort(t))
	base, _ := startServe(t, "-mqtt.embedded_addr", mqttAddr, "-http.max_conns", "8", "-http.body_timeout", "300ms")
	addr := strings.TrimPrefix(base, "http://")
	var closed atomic.Int64
	const clients = 16
	for range clients {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			closed.Add(1)
			continue
		}
		t.Cleanup(func() { c.Close() })
		fmt.Fprintf(c, "POST /api/v1/devices HTTP/1.1\r\nHost: iocd\r\nContent-Length: 1000\r\n\r\n")
		go func() {
			_, _ = io.Copy(io.Discard, c)
			closed.Add(1)
		}()
	}
	testrig.WaitFor(t, "every idle client refused or cut", 30*time.Second, func() bool { return closed.Load() == clients })
	var metrics string
	testrig.WaitFor(t, "/metrics to answer with the refusals counted", 10*time.Second, func() bool {
		resp, err := http.Get(base + "/metrics")
		if err != nil {
			return false
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		metrics = string(b)
		return resp.StatusCode == http.StatusOK
	})
	if !strings.Contains(metrics, "iocd_http_connections_refused_total") || strings.Contains(metrics, "iocd_http_connections_refused_total 0\n") {
		t.Errorf("want refusals counted in /metrics, got %q", grepLines(metrics, "iocd_http_connections"))
	}
	if got := get(t, base+"/healthz", "", nil); got != http.StatusOK {
		t.Errorf("/healthz after the probe: %d", got)
	}
}

func grepLines(s, sub string) string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if strings.Contains(l, sub) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}
