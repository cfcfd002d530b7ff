package bench

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
	"syscall"
	"testing"
	"time"

	"github.com/iocd/iocd/defs"
)

// env reads an integer knob with a default.
func env(name string, def int) int {
	if v, err := strconv.Atoi(os.Getenv(name)); err == nil && v > 0 {
		return v
	}
	return def
}

// iocdBinary builds ./cmd/iocd into a temp dir, or uses IOCD_BENCH_BIN.
func iocdBinary(b *testing.B) string {
	b.Helper()
	if bin := os.Getenv("IOCD_BENCH_BIN"); bin != "" {
		return bin
	}
	bin := filepath.Join(b.TempDir(), "iocd")
	cmd := exec.Command("go", "build", "-o", bin, "./cmd/iocd")
	cmd.Dir = ".."
	if out, err := cmd.CombinedOutput(); err != nil {
		b.Fatalf("building iocd: %v\n%s", err, out)
	}
	return bin
}

// benchDevices returns n sensors spread over four sites, and writes them
// as a registry seed file.
func benchDevices(b *testing.B, n int) ([]defs.Device, string) {
	b.Helper()
	sites := []string{"tan-an", "ben-luc", "can-giuoc", "duc-hoa"}
	devs := make([]defs.Device, n)
	for i := range devs {
		devs[i] = defs.Device{
			ID: defs.DeviceID(fmt.Sprintf("bench-%04d", i)), Site: sites[i%len(sites)],
			Kind: defs.KindSensor, Name: fmt.Sprintf("bench sensor %d", i), HeartbeatS: 60, Status: defs.StatusActive,
		}
	}
	data, err := json.Marshal(devs)
	if err != nil {
		b.Fatal(err)
	}
	path := filepath.Join(b.TempDir(), "devices.json")
	if err := os.WriteFile(path, data, 0o644); err != nil {
		b.Fatal(err)
	}
	return devs, path
}

// iocdProc is iocd running as a child process.
type iocdProc struct {
	cmd     *exec.Cmd
	metrics string
	logPath string
}

// startIocd runs `iocd serve` with env config on top of extraEnv.
func startIocd(b *testing.B, bin, mqttURL, influxURL, seed, clientID string, extraEnv ...string) *iocdProc {
	b.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	dir := b.TempDir()
	logPath := filepath.Join(dir, "iocd.log")
	logf, err := os.Create(logPath)
	if err != nil {
		b.Fatal(err)
	}
	cmd := exec.Command(bin, "serve")
	cmd.Env = append(os.Environ(),
		"IOCD_MQTT_URL="+mqttURL,
		"IOCD_MQTT_CLIENT_ID="+clientID,
		"IOCD_INFLUX_URL="+influxURL,
		"IOCD_INFLUX_BUCKET=iocd",
		"IOCD_DATA_DIR="+dir,
		"IOCD_HTTP_ADDR="+addr,
		"IOCD_DEVICES_SEED_FILE="+seed,
		"IOCD_LOG_LEVEL=warn",
	)
	cmd.Env = append(cmd.Env, benchAlertsEnv(b)...)
	cmd.Env = append(cmd.Env, extraEnv...)
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		b.Fatalf("starting iocd: %v", err)
	}
	p := &iocdProc{cmd: cmd, metrics: "http://" + addr + "/metrics", logPath: logPath}
	b.Cleanup(func() {
		p.stop()
		logf.Close()
		if b.Failed() {
			out, _ := os.ReadFile(logPath)
			b.Logf("iocd log:\n%s", tail(string(out), 4000))
		}
	})
	return p
}

func tail(s string, n int) string {
	if len(s) > n {
		return s[len(s)-n:]
	}
	return s
}

func (p *iocdProc) stop() {
	if p.cmd.ProcessState != nil {
		return
	}
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	done := make(chan struct{})
	go func() { _ = p.cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(30 * time.Second):
		_ = p.cmd.Process.Kill()
		<-done
	}
}

// usage reads the process's CPU seconds (user+system) and peak RSS in bytes
// from /proc.
func (p *iocdProc) usage() (cpu float64, peakRSS int64, err error) {
	pid := p.cmd.Process.Pid
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, 0, err
	}
	// Fields after the parenthesised command name; utime and stime are
	// fields 14 and 15 of the whole line, in clock ticks (100 Hz).
	rest := string(stat[strings.LastIndexByte(string(stat), ')')+2:])
	f := strings.Fields(rest)
	ut, _ := strconv.ParseFloat(f[11], 64)
	st, _ := strconv.ParseFloat(f[12], 64)
	cpu = (ut + st) / 100
	status, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, 0, err
	}
	defer status.Close()
	sc := bufio.NewScanner(status)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "VmHWM:"); ok {
			kb, _ := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
			peakRSS = kb << 10
		}
	}
	return cpu, peakRSS, nil
}

// syscalls returns the read and write system calls iocd has made so far
// (/proc/PID/io: read, readv, pread, recv... and their write side; fsync
// and the rest are not counted there).
func (p *iocdProc) syscalls() (reads, writes int64, err error) {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/io", p.cmd.Process.Pid))
	if err != nil {
		return 0, 0, err
	}
	for _, line := range strings.Split(string(data), "\n") {
		if v, ok := strings.CutPrefix(line, "syscr: "); ok {
			reads, _ = strconv.ParseInt(v, 10, 64)
		}
		if v, ok := strings.CutPrefix(line, "syscw: "); ok {
			writes, _ = strconv.ParseInt(v, 10, 64)
		}
	}
	return reads, writes, nil
}

// scrapeClient asks for /metrics uncompressed: gzip is work for iocd, and
// the benchmarks measure iocd's CPU.
var scrapeClient = &http.Client{Transport: &http.Transport{DisableCompression: true}}

// scrape returns iocd's metric samples by name (with labels), or nil while
// it is not answering yet.
func (p *iocdProc) scrape() map[string]float64 {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, p.metrics, nil)
	resp, err := scrapeClient.Do(req)
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
		v, err := strconv.ParseFloat(line[i+1:], 64)
		if err == nil {
			out[line[:i]] = v
		}
	}
	return out
}
