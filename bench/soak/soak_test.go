// Package soak is the soak run, by hand, never in CI (`make soak`): iocd as
// a child process on real Mosquitto and InfluxDB, with 50 simulated
// cameras (in this process) and their violation events, and 10,000
// telemetry messages per second from 1,000 devices, for SOAK_MINUTES
// (default 30). Every minute it prints iocd's RSS, goroutines, open files,
// spool bytes and bus drops; at the end, how much each grew. They must stay
// flat.
package soak

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
	"syscall"
	"testing"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"

	"github.com/iocd/iocd/defs"
	"github.com/iocd/iocd/internal/testrig"
	"github.com/iocd/iocd/sim"
)

func env(name string, def int) int {
	if v, err := strconv.Atoi(os.Getenv(name)); err == nil && v > 0 {
		return v
	}
	return def
}

// sample is what the soak prints each minute.
type sample struct {
	at         time.Duration
	rssMB      float64
	goroutines float64
	openFiles  int
	spoolBytes float64
	busDrops   float64
	written    float64
	violations float64
	cameras    float64
}

func BenchmarkSoak(b *testing.B) {
	minutes := env("SOAK_MINUTES", 30)
	rate := env("SOAK_RATE", 10_000)
	nCams := env("SOAK_CAMERAS", 50)
	nDevs := env("SOAK_DEVICES", 1000)
	every := time.Duration(env("SOAK_SAMPLE_SECONDS", 60)) * time.Second

	bin := filepath.Join(b.TempDir(), "iocd")
	build := exec.Command("go", "build", "-o", bin, "./cmd/iocd")
	build.Dir = "../.."
	if out, err := build.CombinedOutput(); err != nil {
		b.Fatalf("building iocd: %v\n%s", err, out)
	}
	mq := testrig.Mosquitto(b)
	ix := testrig.Influx(b, testrig.WithoutFlux())
	ix.CreateDB("iocd")

	cams, err := sim.NewCameraServer("127.0.0.1:0", nil)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(cams.Close)
	sites := []string{"tan-an", "ben-luc", "can-giuoc", "duc-hoa"}
	var devs, camDevs []defs.Device
	for i := range nDevs {
		devs = append(devs, defs.Device{ID: defs.DeviceID(fmt.Sprintf("soak-%04d", i)), Site: sites[i%len(sites)],
			Kind: defs.KindSensor, HeartbeatS: 60, Status: defs.StatusActive})
	}
	recs := map[sim.Codec]*sim.Recording{}
	for _, c := range []sim.Codec{sim.H264, sim.H265} {
		if recs[c], err = sim.LoadRecording(c); err != nil {
			b.Fatal(err)
		}
	}
	for i := range nCams {
		codec := []sim.Codec{sim.H264, sim.H265}[i%2]
		id := fmt.Sprintf("soak-cam-%02d", i)
		c, err := cams.AddCamera(sim.CameraSpec{Path: id, Recording: recs[codec], User: "admin", Pass: fmt.Sprintf("soak-%d", i)})
		if err != nil {
			b.Fatal(err)
		}
		d := defs.Device{ID: defs.DeviceID(id), Site: sites[i%len(sites)], Kind: defs.KindCamera, RTSPURL: c.URL(),
			HeartbeatS: 60, Status: defs.StatusActive}
		camDevs = append(camDevs, d)
	}
	seed := filepath.Join(b.TempDir(), "devices.json")
	data, _ := json.Marshal(append(append([]defs.Device(nil), devs...), camDevs...))
	if err := os.WriteFile(seed, data, 0o600); err != nil {
		b.Fatal(err)
	}

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	dir := b.TempDir()
	logf, err := os.Create(filepath.Join(dir, "iocd.log"))
	if err != nil {
		b.Fatal(err)
	}
	defer logf.Close()
	cmd := exec.Command(bin, "serve")
	cmd.Env = append(os.Environ(), "IOCD_MQTT_URL="+mq.URL(), "IOCD_MQTT_CLIENT_ID=iocd-soak", "IOCD_INFLUX_URL="+ix.URL(),
		"IOCD_INFLUX_BUCKET=iocd", "IOCD_DATA_DIR="+dir, "IOCD_HTTP_ADDR="+addr, "IOCD_DEVICES_SEED_FILE="+seed,
		"IOCD_LOG_LEVEL=warn")
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		b.Fatalf("starting iocd: %v", err)
	}
	defer func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		done := make(chan struct{})
		go func() { _ = cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(30 * time.Second):
			_ = cmd.Process.Kill()
			<-done
		}
	}()
	metricsURL := "http://" + addr + "/metrics"
	deadline := time.Now().Add(60 * time.Second)
	for scrape(metricsURL)["iocd_mqtt_connected"] != 1 {
		if time.Now().After(deadline) {
			b.Fatal("iocd did not connect to the broker")
		}
		time.Sleep(100 * time.Millisecond)
	}

	ctx, cancel := context.WithTimeout(context.Background(), time.Duration(minutes)*time.Minute)
	defer cancel()
	var wg sync.WaitGroup
	// Violation events: one per camera every 20 s on average.
	events := sim.NewEvents(sim.EventsConfig{URL: mq.URL(), Prefix: "ioc", Every: 20 * time.Second, Seed: 1}, camDevs, nil)
	wg.Add(1)
	go func() { defer wg.Done(); _ = events.Run(ctx) }()
	// Telemetry at rate, paced by the clock over 4 connections.
	const conns, tick = 4, 10 * time.Millisecond
	for c := range conns {
		cl := mqtt.NewClient(mqtt.NewClientOptions().AddBroker(mq.URL()).SetClientID(fmt.Sprintf("soak-pub-%d", c)).
			SetCleanSession(true).SetWriteTimeout(30 * time.Second))
		if tok := cl.Connect(); !tok.WaitTimeout(30*time.Second) || tok.Error() != nil {
			b.Fatalf("connecting publisher: %v", tok.Error())
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer cl.Disconnect(250)
			t := time.NewTicker(tick)
			defer t.Stop()
			began, due, i := time.Now(), 0, c
			var toks []mqtt.Token
			for {
				select {
				case <-ctx.Done():
					return
				case <-t.C:
				}
				target := int(time.Since(began) * time.Duration(rate) / time.Second / conns)
				for range target - due {
					d := devs[i%len(devs)]
					p := fmt.Appendf(nil, `{"ts":%d,"values":{"temp_c":%d.5,"level_m":1.%03d}}`, time.Now().UnixMilli(), 20+i%15, i%1000)
					toks = append(toks, cl.Publish("ioc/"+d.Site+"/"+string(d.ID)+"/telemetry", 1, false, p))
					i += conns
				}
				due = target
				if len(toks) >= 1000 {
					for _, t := range toks {
						t.WaitTimeout(30 * time.Second)
					}
					toks = toks[:0]
				}
			}
		}()
	}

	pid := cmd.Process.Pid
	began := time.Now()
	var samples []sample
	take := func() {
		m := scrape(metricsURL)
		s := sample{at: time.Since(began).Round(time.Second), rssMB: float64(rss(pid)) / (1 << 20), goroutines: m["go_goroutines"],
			openFiles: openFiles(pid), spoolBytes: m["iocd_influx_spool_bytes"], written: m["iocd_influx_points_written_total"],
			cameras: m["iocd_camera_sessions_connected"]}
		for k, v := range m {
			if strings.HasPrefix(k, "iocd_bus_events_dropped_total") {
				s.busDrops += v
			}
			if strings.HasPrefix(k, "iocd_violations_total") {
				s.violations += v
			}
		}
		samples = append(samples, s)
		fmt.Printf("soak %8s  rss %7.1f MB  goroutines %5.0f  open files %4d  spool %9.0f B  bus drops %6.0f  points %10.0f  violations %5.0f  cameras streaming %3.0f\n",
			s.at, s.rssMB, s.goroutines, s.openFiles, s.spoolBytes, s.busDrops, s.written, s.violations, s.cameras)
	}
	fmt.Printf("soak: %d msg/s from %d devices, %d cameras, %d min; sampling every %s\n", rate, nDevs, nCams, minutes, every)
	t := time.NewTicker(every)
	take()
loop:
	for {
		select {
		case <-ctx.Done():
			break loop
		case <-t.C:
			take()
		}
	}
	t.Stop()
	wg.Wait()
	take()
	if len(samples) >= 3 {
		// From the first full minute (after start-up) to the end.
		first, last := samples[1], samples[len(samples)-1]
		fmt.Printf("soak: from %s to %s: rss %+.1f MB, goroutines %+.0f, open files %+d, spool %+.0f B, bus drops %+.0f; %.0f points/s written\n",
			first.at, last.at, last.rssMB-first.rssMB, last.goroutines-first.goroutines, last.openFiles-first.openFiles,
			last.spoolBytes-first.spoolBytes, last.busDrops-first.busDrops, (last.written-first.written)/(last.at-first.at).Seconds())
	}
}

// rss is the process's resident set in bytes.
func rss(pid int) int64 {
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
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

// openFiles counts the process's open file descriptors.
func openFiles(pid int) int {
	ents, err := os.ReadDir(fmt.Sprintf("/proc/%d/fd", pid))
	if err != nil {
		return -1
	}
	return len(ents)
}

// scrape returns iocd's metric samples by name (with labels).
func scrape(url string) map[string]float64 {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return map[string]float64{}
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
