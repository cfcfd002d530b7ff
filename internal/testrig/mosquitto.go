package testrig

import (
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// startTimeout bounds how long a server may take to accept connections; a
// loaded 2-core CI runner with -race tests in parallel needs headroom.
const startTimeout = 30 * time.Second

// MosquittoServer is a real Mosquitto broker listening on a loopback port,
// with persistence and its log in a test temp dir.
type MosquittoServer struct {
	t    testing.TB
	port int
	dir  string
	proc *process
}

// MosquittoOption changes the generated mosquitto.conf.
type MosquittoOption func(*mosquittoConfig)

type mosquittoConfig struct {
	extra       []string
	listener    []string // options of the one listener (TLS)
	noAnonymous bool
}

// MosquittoTLS makes the broker's listener TLS-only, with the server
// certificate and key given and the CA that clients' certificates must be
// signed by. requireCert makes Mosquitto refuse a client without a
// certificate from that CA (require_certificate true). Clients connect to
// SSLURL.
func MosquittoTLS(caFile, certFile, keyFile string, requireCert bool) MosquittoOption {
	return func(c *mosquittoConfig) {
		c.listener = append(c.listener, "cafile "+caFile, "certfile "+certFile, "keyfile "+keyFile,
			"require_certificate "+strconv.FormatBool(requireCert), "tls_version tlsv1.2")
	}
}

// MosquittoAuth turns anonymous access off and makes the broker check
// clients against passwordFile (made with mosquitto_passwd) and, if not
// empty, what they may publish and subscribe to against aclFile.
func MosquittoAuth(passwordFile, aclFile string) MosquittoOption {
	return func(c *mosquittoConfig) {
		c.noAnonymous = true
		c.extra = append(c.extra, "password_file "+passwordFile)
		if aclFile != "" {
			c.extra = append(c.extra, "acl_file "+aclFile)
		}
	}
}

// MosquittoConf appends raw lines to the generated mosquitto.conf, for
// tests that need a setting the defaults do not cover.
func MosquittoConf(lines ...string) MosquittoOption {
	return func(c *mosquittoConfig) { c.extra = append(c.extra, lines...) }
}

// Mosquitto starts a Mosquitto broker on a free 127.0.0.1 port and stops it
// when the test ends. Anonymous clients are allowed, and queues are sized so
// that load tests measure iocd rather than broker limits: 1000 inflight and
// 1,000,000 queued messages per client with no byte limit. Persistence is on,
// so a persistent session's queued messages survive Stop and Start.
func Mosquitto(t testing.TB, opts ...MosquittoOption) *MosquittoServer {
	t.Helper()
	bin := Binary(t, "mosquitto")
	var cfg mosquittoConfig
	for _, o := range opts {
		o(&cfg)
	}

	dir := t.TempDir()
	m := &MosquittoServer{t: t, port: FreePort(t), dir: dir}
	conf := filepath.Join(dir, "mosquitto.conf")
	if err := os.WriteFile(conf, []byte(m.config(cfg)), 0o644); err != nil {
		t.Fatalf("writing mosquitto config: %v", err)
	}
	m.proc = &process{
		name: "mosquitto",
		path: bin,
		args: []string{"-c", conf},
		// Mosquitto writes startup errors (bad config, port in use) to
		// stderr before its log file is open, so both go to files here.
		logPath: filepath.Join(dir, "mosquitto.out"),
	}
	t.Cleanup(func() {
		m.proc.stop()
		if t.Failed() {
			t.Logf("mosquitto output:\n%s\nmosquitto log:\n%s", m.proc.logTail(), tailFile(m.LogPath()))
		}
	})
	if err := m.start(); err != nil {
		unavailable(t, "mosquitto did not start: %v\n%s\n%s", err, m.proc.logTail(), tailFile(m.LogPath()))
	}
	return m
}

func (m *MosquittoServer) config(cfg mosquittoConfig) string {
	lines := []string{"listener " + strconv.Itoa(m.port) + " 127.0.0.1"}
	lines = append(lines, cfg.listener...)
	lines = append(lines,
		"allow_anonymous "+strconv.FormatBool(!cfg.noAnonymous),
		"persistence true",
		"persistence_location "+m.dir+"/",
		"max_inflight_messages 1000",
		"max_queued_messages 1000000",
		"max_queued_bytes 0",
		"log_dest file "+m.LogPath(),
		"log_type error",
		"log_type warning",
		"log_type notice",
		"log_type information",
		"connection_messages true",
		"log_timestamp_format %Y-%m-%dT%H:%M:%S",
	)
	// Mosquitto started as root drops to the "mosquitto" user, which
	// cannot write the root-owned temp dir; keep the invoking user.
	if os.Geteuid() == 0 {
		lines = append(lines, "user root")
	}
	lines = append(lines, cfg.extra...)
	return strings.Join(lines, "\n") + "\n"
}

func (m *MosquittoServer) start() error {
	if err := m.proc.start(); err != nil {
		return err
	}
	if err := waitReady(m.proc, startTimeout, dialReady(m.Addr())); err != nil {
		m.proc.kill()
		return fmt.Errorf("waiting for mosquitto on %s: %w", m.Addr(), err)
	}
	return nil
}

// Addr returns the broker's host:port.
func (m *MosquittoServer) Addr() string {
	return net.JoinHostPort("127.0.0.1", strconv.Itoa(m.port))
}

// URL returns the broker URL in the form MQTT clients take, tcp://host:port.
func (m *MosquittoServer) URL() string {
	return "tcp://" + m.Addr()
}

// SSLURL returns the broker URL for a TLS listener (MosquittoTLS),
// ssl://host:port.
func (m *MosquittoServer) SSLURL() string {
	return "ssl://" + m.Addr()
}

// LogPath returns the path of the broker's log file.
func (m *MosquittoServer) LogPath() string {
	return filepath.Join(m.dir, "mosquitto.log")
}

// Stop shuts the broker down gracefully (SIGTERM), which saves persistent
// sessions and queued messages to disk. Clients see the connection drop.
func (m *MosquittoServer) Stop() {
	m.t.Helper()
	m.proc.stop()
}

// Kill ends the broker with SIGKILL, as a crash would; state not yet saved
// to the persistence file is lost.
func (m *MosquittoServer) Kill() {
	m.t.Helper()
	m.proc.kill()
}

// Start starts a stopped broker again on the same port with the same data,
// and waits until it accepts connections. It fails the test on error.
func (m *MosquittoServer) Start() {
	m.t.Helper()
	if err := m.start(); err != nil {
		m.t.Fatalf("restarting mosquitto: %v\n%s", err, tailFile(m.LogPath()))
	}
}

// tailFile returns the end of a log file for failure messages.
func tailFile(path string) string {
	p := process{logPath: path}
	return p.logTail()
}

// Restart stops the broker gracefully (saving its persistent sessions and
// queued messages) and starts it again on the same port with the same
// data, as an operator's restart would. It fails the test on error.
func (m *MosquittoServer) Restart() {
	m.t.Helper()
	m.Stop()
	m.Start()
}
