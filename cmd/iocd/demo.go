package main

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/iocd/iocd/config"
	"github.com/iocd/iocd/defs"
	"github.com/iocd/iocd/sim"
)

const demoSummary = `Runs iocd as a province's IOC would, on this machine alone: the embedded MQTT
broker, a local InfluxDB 1.8 under ./var (started and stopped with the demo),
simulated devices at Tân An, Bến Lức, Cần Giuộc and Đức Hòa (some drop out and
come back), and simulated cameras firing violations. It prints the dashboard
URL and an admin token. Stop it with Ctrl-C.`

func runDemo(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("demo", demoSummary, stderr)
	varDir := fs.String("var", "./var", "`dir` for the demo's data and its InfluxDB")
	perSite := fs.Int("devices-per-site", 3, "simulated devices of each model per site")
	speed := fs.Float64("speed", 1, "simulation speed: heartbeats are divided by it")
	rtspAddr := fs.String("rtsp-addr", "127.0.0.1:8554", "where the simulated cameras serve RTSP (fixed, so URLs registered by an earlier run still work)")
	violationEvery := fs.Duration("violation-every", 20*time.Second, "mean interval between violation events per simulated camera")
	ld := config.Bind(fs)
	if err := fs.Parse(args); err != nil {
		return parseError(err)
	}
	// The demo's own defaults, under what the user sets.
	demoEnv := map[string]string{
		"IOCD_DATA_DIR":      filepath.Join(*varDir, "data"),
		"IOCD_INFLUX_BUCKET": "iocd",
	}
	cfg, err := ld.Load(func(k string) (string, bool) {
		if v, ok := os.LookupEnv(k); ok {
			return v, true
		}
		v, ok := demoEnv[k]
		return v, ok
	})
	if err != nil {
		return err
	}
	log := newLogger(cfg.Log, stderr)

	if !cfg.Influx.Enabled() {
		influxDir := filepath.Join(*varDir, "influxdb")
		if err := os.MkdirAll(influxDir, 0o750); err != nil {
			return err
		}
		influxLog, err := os.OpenFile(filepath.Join(influxDir, "influxd.log"), os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o640)
		if err != nil {
			return err
		}
		defer influxLog.Close()
		li, err := startLocalInflux(ctx, influxDir, cfg.Influx.Bucket, influxLog)
		if err != nil {
			return fmt.Errorf("local InfluxDB: %w", err)
		}
		defer li.Stop() // after iocd has flushed to it
		cfg.Influx.URL = li.url
		log.Info("local InfluxDB started", "url", li.url, "dir", influxDir, "log", influxLog.Name())
	}
	if cfg.AdminToken == "" {
		cfg.AdminToken = randomToken()
	}

	// The simulated cameras loop recorded H.264 and H.265 with a burnt-in
	// clock; DemoCameras gives each camera device its RTSP URL.
	cams, fleetDevs, err := sim.DemoCameras(*rtspAddr, sim.Province(*perSite), log.With("component", "sim-cameras"))
	if err != nil {
		return fmt.Errorf("simulated cameras on %s: %w", *rtspAddr, err)
	}
	defer cams.Close()
	var camDevs []defs.Device
	for _, d := range fleetDevs {
		if d.Kind == defs.KindCamera {
			camDevs = append(camDevs, d)
		}
	}

	// The simulated fleet goes into the registry through the seed file, so
	// a second run keeps what the first registered and any edits made.
	seed := filepath.Join(*varDir, "demo-devices.json")
	if cfg.Devices.SeedFile == "" {
		if err := writeJSONFile(seed, fleetDevs); err != nil {
			return err
		}
		cfg.Devices.SeedFile = seed
	}

	return serve(ctx, cfg, log, func(ctx context.Context, s *service) error {
		simDevs := sim.NewDevices(sim.DevicesConfig{
			URL: s.cfg.MQTT.URL, Prefix: cfg.MQTT.TopicPrefix, Speed: *speed, DropoutChance: 0.002,
		}, fleetDevs, log.With("component", "sim"))
		s.runLoop("device simulator", simDevs.Run)
		events := sim.NewEvents(sim.EventsConfig{URL: s.cfg.MQTT.URL, Prefix: cfg.MQTT.TopicPrefix, Every: *violationEvery},
			camDevs, log.With("component", "sim"))
		s.runLoop("violation simulator", events.Run)

		fmt.Fprintf(stdout, "\niocd demo is running.\n\n  Dashboard:   http://%s/#token=%s\n  Admin token: %s\n  MQTT broker: %s (topics %s/{site}/{device}/telemetry|status|event)\n  Cameras:     %d simulated on rtsp://%s\n  InfluxDB:    %s (database %s)\n\nTry: curl -H 'Authorization: Bearer %s' http://%s/api/v1/fleet\nStop with Ctrl-C.\n\n",
			s.httpAddr, cfg.AdminToken, cfg.AdminToken, defs.RedactURL(s.cfg.MQTT.URL), cfg.MQTT.TopicPrefix, len(camDevs), cams.Addr(), defs.RedactURL(cfg.Influx.URL), cfg.Influx.Bucket, cfg.AdminToken, s.httpAddr)
		return nil
	})
}

// randomToken returns a bootstrap admin token for this demo run.
func randomToken() string {
	var b [24]byte
	rand.Read(b[:])
	return "iocd_demo_" + base64.RawURLEncoding.EncodeToString(b[:])
}

// writeJSONFile writes v to path as indented JSON, mode 0600.
func writeJSONFile(path string, v any) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o750); err != nil {
		return fmt.Errorf("creating %s: %w", filepath.Dir(path), err)
	}
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	// The device list holds the cameras' RTSP URLs with their passwords:
	// owner-only, through a fresh file renamed into place, because
	// os.WriteFile keeps the mode of a file that already exists (an
	// earlier run's 0640 list would stay readable by the group).
	tmp, err := os.CreateTemp(filepath.Dir(path), ".tmp-"+filepath.Base(path)+"-*")
	if err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	defer os.Remove(tmp.Name()) // after the rename, a no-op
	if err := tmp.Chmod(0o600); err != nil {
		tmp.Close()
		return fmt.Errorf("writing %s: %w", path, err)
	}
	if _, err := tmp.Write(b); err != nil {
		tmp.Close()
		return fmt.Errorf("writing %s: %w", path, err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	return nil
}
