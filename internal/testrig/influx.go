package testrig

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"
)

// InfluxServer is a real InfluxDB 1.8 server (influxd) listening on loopback
// ports, with all of its data in a test temp dir. Authentication is off and
// Flux is enabled on the /api/v2/query endpoint.
type InfluxServer struct {
	t        testing.TB
	dir      string
	httpPort int
	rpcPort  int
	proc     *process
	client   *http.Client
	flux     bool
}

// InfluxOption changes how Influx configures influxd.
type InfluxOption func(*InfluxServer)

// WithoutFlux turns the Flux engine off. Compiling the Flux standard library
// adds about four seconds to every influxd start, which adds up in tests
// that restart the server and only need InfluxQL.
func WithoutFlux() InfluxOption {
	return func(s *InfluxServer) { s.flux = false }
}

// Influx starts influxd on free 127.0.0.1 ports and stops it when the test
// ends. The HTTP API is at URL(); the RPC (backup) service gets its own free
// port, because its default :8088 would clash between parallel tests.
func Influx(t testing.TB, opts ...InfluxOption) *InfluxServer {
	t.Helper()
	bin := Binary(t, "influxd")
	dir := t.TempDir()
	s := &InfluxServer{
		t:        t,
		dir:      dir,
		httpPort: FreePort(t),
		rpcPort:  FreePort(t),
		client:   &http.Client{Timeout: 30 * time.Second},
		flux:     true,
	}
	for _, o := range opts {
		o(s)
	}
	conf := filepath.Join(dir, "influxdb.conf")
	if err := os.WriteFile(conf, []byte(s.config()), 0o644); err != nil {
		t.Fatalf("writing influxd config: %v", err)
	}
	s.proc = &process{
		name:    "influxd",
		path:    bin,
		args:    []string{"run", "-config", conf},
		logPath: filepath.Join(dir, "influxd.log"),
	}
	t.Cleanup(func() {
		s.proc.stop()
		s.client.CloseIdleConnections()
		if t.Failed() {
			t.Logf("influxd log:\n%s", s.proc.logTail())
		}
	})
	if err := s.start(); err != nil {
		unavailable(t, "influxd did not start: %v\n%s", err, s.proc.logTail())
	}
	return s
}

// config renders influxdb.conf. Logging is kept to warnings so the log shown
// on failure is about the failure; the _internal monitor database and the
// usage reporter are off because tests neither need nor should send them.
func (s *InfluxServer) config() string {
	return fmt.Sprintf(`reporting-disabled = true
bind-address = "127.0.0.1:%[2]d"

[meta]
  dir = %[1]q
  logging-enabled = false

[data]
  dir = %[3]q
  wal-dir = %[4]q
  query-log-enabled = false
  trace-logging-enabled = false

[coordinator]
  log-queries-after = "0s"

[monitor]
  store-enabled = false

[http]
  enabled = true
  bind-address = "127.0.0.1:%[5]d"
  auth-enabled = false
  log-enabled = false
  flux-enabled = %[6]t
  flux-log-enabled = false
  pprof-enabled = false

[logging]
  level = "warn"
  suppress-logo = true

[continuous_queries]
  log-enabled = false
`,
		filepath.Join(s.dir, "meta"), s.rpcPort,
		filepath.Join(s.dir, "data"), filepath.Join(s.dir, "wal"),
		s.httpPort, s.flux)
}

func (s *InfluxServer) start() error {
	if err := s.proc.start(); err != nil {
		return err
	}
	if err := waitReady(s.proc, startTimeout, s.ping); err != nil {
		s.proc.kill()
		return fmt.Errorf("waiting for influxd on %s: %w", s.URL(), err)
	}
	return nil
}

// ping checks that the HTTP API answers /ping with 204 No Content, which
// influxd does only once its stores are open.
func (s *InfluxServer) ping(ctx context.Context) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, s.URL()+"/ping", nil)
	if err != nil {
		return err
	}
	resp, err := s.client.Do(req)
	if err != nil {
		return err
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNoContent {
		return fmt.Errorf("ping: status %s", resp.Status)
	}
	return nil
}

// URL returns the base URL of the HTTP API, http://127.0.0.1:port.
func (s *InfluxServer) URL() string {
	return "http://" + net.JoinHostPort("127.0.0.1", strconv.Itoa(s.httpPort))
}

// Stop shuts influxd down gracefully. Written points are kept for Start.
// Clients see connection refused until then, as in an outage.
func (s *InfluxServer) Stop() {
	s.t.Helper()
	s.proc.stop()
	s.client.CloseIdleConnections()
}

// Kill ends influxd with SIGKILL, as a crash would. Points acknowledged
// before the kill survive through the WAL.
func (s *InfluxServer) Kill() {
	s.t.Helper()
	s.proc.kill()
	s.client.CloseIdleConnections()
}

// Start starts a stopped influxd again on the same ports with the same data
// and waits until /ping answers. It fails the test on error.
func (s *InfluxServer) Start() {
	s.t.Helper()
	if err := s.start(); err != nil {
		s.t.Fatalf("restarting influxd: %v\n%s", err, s.proc.logTail())
	}
}

// Restart stops influxd gracefully and starts it again on the same ports
// with the same data. It fails the test on error.
func (s *InfluxServer) Restart() {
	s.t.Helper()
	s.Stop()
	s.Start()
}
