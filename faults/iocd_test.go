package faults

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"

	"github.com/iocd/iocd/defs"
)

// iocdBin is the iocd binary the tests run, built once by TestMain.
var iocdBin string

func TestMain(m *testing.M) {
	if os.Getenv("IOCD_FAULTS") == "" {
		fmt.Println("faults: skipped; run with IOCD_FAULTS=1 (make test-faults)")
		os.Exit(0)
	}
	iocdBin = os.Getenv("IOCD_FAULTS_BIN")
	if iocdBin == "" {
		dir, err := os.MkdirTemp("", "iocd-faults-")
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		iocdBin = filepath.Join(dir, "iocd")
		cmd := exec.Command("go", "build", "-o", iocdBin, "./cmd/iocd")
		cmd.Dir = ".."
		if out, err := cmd.CombinedOutput(); err != nil {
			fmt.Fprintf(os.Stderr, "building iocd: %v\n%s", err, out)
			os.Exit(1)
		}
		code := m.Run()
		os.RemoveAll(dir)
		os.Exit(code)
	}
	os.Exit(m.Run())
}

const (
	clientID   = "iocd-faults"
	adminToken = "faults-admin-token-0123456789abcdef"
)

// fleetFile writes n active sensors over four sites as a seed file.
func fleetFile(t *testing.T, n int) ([]defs.Device, string) {
	t.Helper()
	sites := []string{"tan-an", "ben-luc", "can-giuoc", "duc-hoa"}
	devs := make([]defs.Device, n)
	for i := range devs {
		devs[i] = defs.Device{
			ID: defs.DeviceID(fmt.Sprintf("f-%04d", i)), Site: sites[i%len(sites)],
			Kind: defs.KindSensor, Name: fmt.Sprintf("fault sensor %d", i), HeartbeatS: 60, Status: defs.StatusActive,
		}
	}
	data, err := json.Marshal(devs)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "devices.json")
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
	return devs, path
}

// iocd is `iocd serve` as a child process. Its data dir outlives a kill,
// so a restart finds its write-ahead log and spool.
type iocd struct {
	t       *testing.T
	env     []string
	dataDir string
	addr    string
	logPath string
	cmd     *exec.Cmd
	exited  chan struct{}
}

func newIocd(t *testing.T, mqttURL, influxURL, seed string, extra ...string) *iocd {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	p := &iocd{t: t, dataDir: t.TempDir(), addr: addr}
	p.logPath = filepath.Join(p.dataDir, "iocd.log")
	p.env = append(os.Environ(),
		"IOCD_MQTT_URL="+mqttURL,
		"IOCD_MQTT_CLIENT_ID="+clientID,
		"IOCD_INFLUX_URL="+influxURL,
		"IOCD_INFLUX_BUCKET=iocd",
		"IOCD_DATA_DIR="+p.dataDir,
		"IOCD_HTTP_ADDR="+addr,
		"IOCD_DEVICES_SEED_FILE="+seed,
		"IOCD_ADMIN_TOKEN="+adminToken,
		"IOCD_LOG_LEVEL=info",
	)
	p.env = append(p.env, extra...)
	t.Cleanup(func() {
		p.stop()
		if t.Failed() {
			out, _ := os.ReadFile(p.logPath)
			s := string(out)
			if len(s) > 6000 {
				s = s[len(s)-6000:]
			}
			t.Logf("iocd log:\n%s", s)
		}
	})
	p.start()
	return p
}

// start runs iocd and waits until it is subscribed (/readyz).
func (p *iocd) start() {
	p.t.Helper()
	logf, err := os.OpenFile(p.logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		p.t.Fatal(err)
	}
	defer logf.Close()
	cmd := exec.Command(iocdBin, "serve")
	cmd.Env = p.env
	cmd.Stdout, cmd.Stderr = logf, logf
	// Killed with the test binary if it dies first.
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		p.t.Fatalf("starting iocd: %v", err)
	}
	p.cmd, p.exited = cmd, make(chan struct{})
	go func() { _ = cmd.Wait(); close(p.exited) }()
	p.waitFor("iocd ready (subscribed)", 60*time.Second, func() bool {
		resp, err := http.Get("http://" + p.addr + "/readyz")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	})
}

// kill9 ends iocd with SIGKILL, as a crash would.
func (p *iocd) kill9() {
	p.t.Helper()
	if p.cmd == nil {
		return
	}
	_ = p.cmd.Process.Signal(syscall.SIGKILL)
	<-p.exited
	p.cmd = nil
}

// stop ends iocd with SIGTERM, as an operator would.
func (p *iocd) stop() {
	if p.cmd == nil {
		return
	}
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.exited:
	case <-time.After(60 * time.Second):
		_ = p.cmd.Process.Kill()
		<-p.exited
	}
	p.cmd = nil
}

// waitFor polls cond, failing the test if iocd exits or limit passes.
func (p *iocd) waitFor(what string, limit time.Duration, cond func() bool) {
	p.t.Helper()
	deadline := time.Now().Add(limit)
	for !cond() {
		select {
		case <-p.exited:
			p.t.Fatalf("iocd exited while waiting for %s", what)
		default:
		}
		if time.Now().After(deadline) {
			p.t.Fatalf("timed out after %s waiting for %s", limit, what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// metrics returns iocd's samples by name with labels; nil while it does
// not answer.
func (p *iocd) metrics() map[string]float64 {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+p.addr+"/metrics", nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil
	}
	defer resp.Body.Close()
	out := map[string]float64{}
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if line == "" || line[0] == '#' {
			continue
		}
		i := strings.LastIndexByte(line, ' ')
		if v, err := strconv.ParseFloat(line[i+1:], 64); err == nil {
			out[line[:i]] = v
		}
	}
	return out
}

// ingestBacklog is GET /api/v1/ingest.
type ingestBacklog struct {
	Unacked         int        `json:"unacked"`
	SpoolBytes      int64      `json:"spool_bytes"`
	OldestUnflushed *time.Time `json:"oldest_unflushed"`
	BehindSeconds   float64    `json:"behind_seconds"`
}

func (p *iocd) backlog() (ingestBacklog, error) {
	var b ingestBacklog
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+p.addr+"/api/v1/ingest", nil)
	req.Header.Set("Authorization", "Bearer "+adminToken)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return b, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return b, fmt.Errorf("GET /api/v1/ingest: %s", resp.Status)
	}
	return b, json.NewDecoder(resp.Body).Decode(&b)
}

// rss returns iocd's resident set size in bytes, from /proc.
func (p *iocd) rss() int64 {
	if p.cmd == nil {
		return 0
	}
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", p.cmd.Process.Pid))
	if err != nil {
		return 0
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "VmRSS:"); ok {
			kb, _ := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
			return kb << 10
		}
	}
	return 0
}

// load publishes telemetry at a steady rate from several QoS 1 clients:
// message i goes to device i mod len(devs) with the timestamp base + i/len(devs)
// ms, unique per device, so every message is one point. A client that
// loses its broker reconnects and goes on. It never fails the test itself;
// the test reads its counters.
type load struct {
	attempted atomic.Int64 // publishes handed to a client
	acked     atomic.Int64 // publishes the broker acknowledged
	failed    atomic.Int64
	done      chan struct{}
}

func startLoad(t *testing.T, url string, devs []defs.Device, total, rate int, base int64) *load {
	t.Helper()
	const conns = 4
	l := &load{done: make(chan struct{})}
	var wg sync.WaitGroup
	began := time.Now()
	for c := range conns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			l.publisher(url, fmt.Sprintf("faults-pub-%d", c), devs, c, conns, total, rate/conns, base, began)
		}()
	}
	go func() { wg.Wait(); close(l.done) }()
	t.Cleanup(func() {
		select {
		case <-l.done:
		case <-time.After(2 * time.Minute):
		}
	})
	return l
}

func (l *load) publisher(url, id string, devs []defs.Device, first, step, total, rate int, base int64, began time.Time) {
	connect := func() mqtt.Client {
		for range 60 {
			c := mqtt.NewClient(mqtt.NewClientOptions().AddBroker(url).SetClientID(id).
				SetCleanSession(true).SetAutoReconnect(false).SetWriteTimeout(10 * time.Second))
			if tok := c.Connect(); tok.WaitTimeout(10*time.Second) && tok.Error() == nil {
				return c
			}
			time.Sleep(500 * time.Millisecond)
		}
		return nil
	}
	c := connect()
	if c == nil {
		return
	}
	defer func() { c.Disconnect(250) }()
	var toks []mqtt.Token
	flush := func() bool {
		ok := true
		for _, tok := range toks {
			if tok.WaitTimeout(30*time.Second) && tok.Error() == nil {
				l.acked.Add(1)
			} else {
				l.failed.Add(1)
				ok = false
			}
		}
		toks = toks[:0]
		return ok
	}
	sent := 0
	for i := first; i < total; i += step {
		// Pace by the clock: message number sent is due at sent/rate.
		if ahead := time.Until(began.Add(time.Duration(sent) * time.Second / time.Duration(rate))); ahead > 2*time.Millisecond {
			time.Sleep(ahead)
		}
		sent++
		d := devs[i%len(devs)]
		payload := fmt.Sprintf(`{"ts":%d,"values":{"temp_c":%d.%d,"humidity":%d.5,"pm25":%d,"level_m":1.%03d}}`,
			base+int64(i/len(devs)), 20+i%15, i%10, 50+i%40, i%97, i%1000)
		l.attempted.Add(1)
		toks = append(toks, c.Publish("ioc/"+d.Site+"/"+string(d.ID)+"/telemetry", 1, false, payload))
		if len(toks) >= 500 || !c.IsConnectionOpen() {
			if !flush() || !c.IsConnectionOpen() {
				c.Disconnect(0)
				if c = connect(); c == nil {
					return
				}
			}
		}
	}
	flush()
}

func (l *load) wait(t *testing.T, limit time.Duration) {
	t.Helper()
	select {
	case <-l.done:
	case <-time.After(limit):
		t.Fatalf("the load did not finish within %s", limit)
	}
}
