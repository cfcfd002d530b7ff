package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/iocd/iocd/internal/testrig"
)

// startServe runs `iocd serve` in-process with the given arguments and
// returns its HTTP base URL and a stop function that cancels it and
// returns its exit code.
func startServe(t *testing.T, args ...string) (string, func() int) {
	t.Helper()
	return startServeTo(t, io.Discard, args...)
}

// startServeTo is startServe with the service's log written to stderr.
func startServeTo(t *testing.T, stderr io.Writer, args ...string) (string, func() int) {
	t.Helper()
	httpAddr := fmt.Sprintf("127.0.0.1:%d", testrig.FreePort(t))
	args = append([]string{"serve", "-http_addr", httpAddr, "-data_dir", t.TempDir(), "-log.level", "warn"}, args...)
	ctx, cancel := context.WithCancel(context.Background())
	code := make(chan int, 1)
	go func() { code <- run(ctx, args, io.Discard, stderr) }()
	base := "http://" + httpAddr
	stopped := false
	stop := func() int {
		if stopped {
			return 0
		}
		stopped = true
		cancel()
		select {
		case c := <-code:
			return c
		case <-time.After(30 * time.Second):
			t.Error("iocd serve did not stop within 30s of its signal")
			return -1
		}
	}
	// Registered first, so a serve that never gets ready is stopped too.
	t.Cleanup(func() { stop() })
	testrig.WaitFor(t, "iocd serve to answer /readyz 200", 20*time.Second, func() bool {
		select {
		case c := <-code:
			stopped = true
			cancel()
			t.Fatalf("iocd serve exited with %d before it was ready", c)
		default:
		}
		resp, err := http.Get(base + "/readyz")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	})
	return base, stop
}

func get(t *testing.T, url, token string, v any) int {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, url, nil)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	if v != nil && resp.StatusCode == http.StatusOK {
		if err := json.NewDecoder(resp.Body).Decode(v); err != nil {
			t.Fatalf("decoding %s: %v", url, err)
		}
	}
	return resp.StatusCode
}

// TestServeEmbeddedDefault runs iocd with nothing configured but where
// to listen and keep data: the embedded broker must take a publish from
// the real mosquitto_pub, and the reading must reach fleet health.
func TestServeEmbeddedDefault(t *testing.T) {
	mqttAddr := fmt.Sprintf("127.0.0.1:%d", testrig.FreePort(t))
	const admin = "test-admin-token-0123456789"
	base, stop := startServe(t, "-mqtt.embedded_addr", mqttAddr, "-admin_token", admin, "-unknown_devices", "register")

	if got := get(t, base+"/healthz", "", nil); got != http.StatusOK {
		t.Errorf("/healthz = %d, want 200", got)
	}
	if got := get(t, base+"/api/v1/devices", "", nil); got != http.StatusUnauthorized {
		t.Errorf("/api/v1/devices without a token = %d, want 401", got)
	}
	resp, err := http.Get(base + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	metrics, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	for _, name := range []string{"iocd_ingest_messages_received_total", "iocd_broker_messages_dropped_total", "iocd_bus_events_dropped_total", "go_goroutines"} {
		if !strings.Contains(string(metrics), name) {
			t.Errorf("/metrics lacks %s", name)
		}
	}

	pub := testrig.Binary(t, "mosquitto_pub")
	host, port, _ := strings.Cut(mqttAddr, ":")
	out, err := exec.Command(pub, "-h", host, "-p", port, "-q", "1", "-t", "ioc/tan-an/wl-01/telemetry",
		"-m", `{"level_m": 1.25, "pump_on": true}`).CombinedOutput()
	if err != nil {
		t.Fatalf("mosquitto_pub to the embedded broker: %v: %s", err, out)
	}

	// unknown_devices=register: the publish registers wl-01 and its
	// reading shows up in the device's health.
	var dev struct {
		Device struct{ ID, Site, Status string }
	}
	testrig.WaitFor(t, "wl-01 to be registered by its publish", 10*time.Second, func() bool {
		return get(t, base+"/api/v1/devices/wl-01", admin, &dev) == http.StatusOK
	})
	if dev.Device.Site != "tan-an" || dev.Device.Status != "active" {
		t.Errorf("registered device = %+v, want site tan-an, active", dev.Device)
	}
	if code := stop(); code != 0 {
		t.Errorf("exit code after cancel = %d, want 0", code)
	}
}

// TestReadyzNamesTheBroker runs iocd against an external broker that is
// down: /readyz must answer 503 naming mqtt, then 200 once it is up.
func TestReadyzNamesTheBroker(t *testing.T) {
	mosq := testrig.Mosquitto(t)
	mosq.Stop()
	httpAddr := fmt.Sprintf("127.0.0.1:%d", testrig.FreePort(t))
	ctx, cancel := context.WithCancel(context.Background())
	code := make(chan int, 1)
	go func() {
		code <- run(ctx, []string{"serve", "-http_addr", httpAddr, "-data_dir", t.TempDir(), "-log.level", "error",
			"-mqtt.url", mosq.URL(), "-mqtt.client_id", "iocd-readyz-test"}, io.Discard, io.Discard)
	}()
	t.Cleanup(func() { cancel(); <-code })

	var body struct {
		Status string
		Failed map[string]string
	}
	testrig.WaitFor(t, "/readyz to answer 503 naming mqtt with the broker down", 10*time.Second, func() bool {
		resp, err := http.Get("http://" + httpAddr + "/readyz")
		if err != nil {
			return false
		}
		defer resp.Body.Close()
		body.Failed = nil
		json.NewDecoder(resp.Body).Decode(&body)
		return resp.StatusCode == http.StatusServiceUnavailable && body.Failed["mqtt"] != ""
	})
	if _, ok := body.Failed["store"]; ok {
		t.Errorf("/readyz blames the store, which is open: %+v", body)
	}
	mosq.Start()
	testrig.WaitFor(t, "/readyz to answer 200 once the broker is up", 20*time.Second, func() bool {
		resp, err := http.Get("http://" + httpAddr + "/readyz")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	})
}

func TestServeRejectsBadConfig(t *testing.T) {
	cases := []struct {
		name string
		args []string
		want string
	}{
		{"bad policy", []string{"serve", "-unknown_devices", "maybe"}, "unknown_devices"},
		{"bad mqtt url", []string{"serve", "-mqtt.url", "http://x"}, "mqtt.url"},
		{"unknown command", []string{"frobnicate"}, "unknown command"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var stderr strings.Builder
			code := run(context.Background(), tc.args, io.Discard, &stderr)
			if code == 0 || !strings.Contains(stderr.String(), tc.want) {
				t.Fatalf("exit %d, stderr %q: want non-zero naming %q", code, stderr.String(), tc.want)
			}
		})
	}
}
