package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"sync/atomic"
	"time"

	"github.com/iocd/iocd/config"
	"github.com/iocd/iocd/defs"
	"github.com/iocd/iocd/sim"
)

const demoSummary = `Runs iocd as a province's IOC would, on this machine alone: the embedded MQTT
broker, a local InfluxDB 1.8 under ./var (started and stopped with the demo),
simulated devices at Tân An, Bến Lức, Cần Giuộc and Đức Hòa (some drop out and
come back), and simulated cameras firing violations. It prints the wall's
address with a user name and password for the wall (viewer), an operator, a
reviewer and an admin, and a curl example with an admin bearer token; the
logs go to var/demo.log. While it runs, iocd token|user|verify run from the
same directory work on its data dir. Stop it with Ctrl-C.`

func runDemo(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("demo", demoSummary, stderr)
	varDir := fs.String("var", "./var", "`dir` for the demo's data and its InfluxDB")
	perSite := fs.Int("devices-per-site", 3, "simulated devices of each model per site")
	speed := fs.Float64("speed", 1, "simulation speed: heartbeats are divided by it")
	rtspAddr := fs.String("rtsp-addr", "127.0.0.1:8554", "where the simulated cameras serve RTSP (fixed, so URLs registered by an earlier run still work)")
	violationEvery := fs.Duration("violation-every", 20*time.Second, "mean interval between violation events per simulated camera")
	logFile := fs.String("log-file", "", "`file` for the log of iocd and the simulators (default <var>/demo.log; - for the terminal)")
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

	// The log goes to a file so that the box of passwords stays on the
	// terminal (see demo_terminal.go); warnings are counted for the
	// status line.
	logPath, logOut := "", stderr // "": the log is on the terminal
	if *logFile != "-" {
		logPath = *logFile
		if logPath == "" {
			logPath = filepath.Join(*varDir, "demo.log")
		}
		if err := os.MkdirAll(filepath.Dir(logPath), 0o750); err != nil {
			return err
		}
		f, err := os.OpenFile(logPath, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o600)
		if err != nil {
			return fmt.Errorf("demo log: %w", err)
		}
		defer f.Close()
		logOut = f
		fmt.Fprintf(stdout, "Starting the iocd demo (InfluxDB, iocd, simulated devices and cameras); logs in %s.\n", logPath)
		// Shutdown takes a few seconds and logs to the file: say it began.
		stop := context.AfterFunc(ctx, func() { fmt.Fprintf(stdout, "\nStopping the iocd demo.\n") })
		defer stop()
	}
	var warnings atomic.Int64
	log := slog.New(warnCounter{newLogger(cfg.Log, logOut).Handler(), &warnings})
	if err := runDemoService(ctx, cfg, log, demoOptions{
		varDir: *varDir, perSite: *perSite, speed: *speed, rtspAddr: *rtspAddr,
		violationEvery: *violationEvery, logPath: logPath, warnings: &warnings,
	}, stdout); err != nil {
		if logPath != "" {
			return fmt.Errorf("%w (the log: %s)", err, logPath)
		}
		return err
	}
	return nil
}

// demoOptions are runDemo's flags, for runDemoService.
type demoOptions struct {
	varDir         string
	perSite        int
	speed          float64
	rtspAddr       string
	violationEvery time.Duration
	logPath        string
	warnings       *atomic.Int64
}

// runDemoService starts the local InfluxDB and the simulated cameras, runs
// iocd on them with the simulated devices, and prints the box once it
// serves; it returns when ctx ends and iocd has stopped.
func runDemoService(ctx context.Context, cfg config.Config, log *slog.Logger, o demoOptions, stdout io.Writer) error {
	if !cfg.Influx.Enabled() {
		influxDir := filepath.Join(o.varDir, "influxdb")
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

	// Passwords and the API token, the same on every run with this data
	// dir. The API token is the bootstrap admin token unless the user set
	// one.
	creds, err := loadDemoCredentials(cfg.DataDir)
	if err != nil {
		return err
	}
	if cfg.AdminToken == "" {
		cfg.AdminToken = creds.APIToken
	} else {
		creds.APIToken = cfg.AdminToken
	}

	// The simulated cameras loop recorded H.264 and H.265 with a burnt-in
	// clock; DemoCameras gives each camera device its RTSP URL.
	cams, fleetDevs, err := sim.DemoCameras(o.rtspAddr, sim.Province(o.perSite), log.With("component", "sim-cameras"))
	if err != nil {
		return fmt.Errorf("simulated cameras on %s: %w", o.rtspAddr, err)
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
	seed := filepath.Join(o.varDir, "demo-devices.json")
	if cfg.Devices.SeedFile == "" {
		if err := writeJSONFile(seed, fleetDevs); err != nil {
			return err
		}
		cfg.Devices.SeedFile = seed
	}

	// The marker lets iocd token|user|verify find this data dir (see
	// datadir.go); it goes when the demo stops.
	markers := demoMarkerPaths(o.varDir, os.Getenv)
	defer removeDemoMarkers(markers, log)

	return serve(ctx, cfg, log, func(ctx context.Context, s *service) error {
		// The accounts the box prints are made real in the user store;
		// on a restarted demo they exist, and get the printed password
		// and role again (someone may have changed them meanwhile).
		usersErr := ensureDemoUsers(ctx, creds, demoUserStore(s.users))
		if usersErr != nil {
			log.Warn("demo users not created", "err", usersErr)
		}
		if err := writeDemoMarkers(markers, cfg.DataDir, s.httpAddr, log); err != nil {
			return err
		}

		simDevs := sim.NewDevices(sim.DevicesConfig{
			URL: s.cfg.MQTT.URL, Prefix: cfg.MQTT.TopicPrefix, Speed: o.speed, DropoutChance: 0.002,
		}, fleetDevs, log.With("component", "sim"))
		s.runLoop("device simulator", simDevs.Run)
		events := sim.NewEvents(sim.EventsConfig{URL: s.cfg.MQTT.URL, Prefix: cfg.MQTT.TopicPrefix, Every: o.violationEvery},
			camDevs, log.With("component", "sim"))
		s.runLoop("violation simulator", events.Run)

		demoBanner{
			HTTPAddr:   s.httpAddr,
			Creds:      creds,
			CredsPath:  filepath.Join(cfg.DataDir, demoCredentialsFile),
			UsersError: usersErr,
			LogPath:    o.logPath,
			Details: []string{
				fmt.Sprintf("MQTT broker: %s (topics %s/{site}/{device}/telemetry|status|event)", defs.RedactURL(s.cfg.MQTT.URL), cfg.MQTT.TopicPrefix),
				fmt.Sprintf("Cameras:     %d simulated on rtsp://%s", len(camDevs), cams.Addr()),
				fmt.Sprintf("InfluxDB:    %s (database %s)", defs.RedactURL(cfg.Influx.URL), cfg.Influx.Bucket),
				fmt.Sprintf("Data dir:    %s (iocd token|user|verify run here find it)", cfg.DataDir),
			},
		}.write(stdout)
		if o.logPath == "" {
			return nil // the log is on the terminal: no status line between its lines
		}
		status := demoStatus{counts: s.fleet.Counts, cameras: s.streams.CameraStates, warnings: o.warnings}
		tty := writerIsTerminal(stdout)
		every := time.Minute
		if tty {
			every = 2 * time.Second
		}
		s.runLoop("demo status line", func(ctx context.Context) error { return status.run(ctx, stdout, tty, every) })
		return nil
	})
}

// writeDemoMarkers tells the CLI where this demo's data dir is. The first
// marker (in the var dir) must be written; the user's runtime marker is a
// convenience, so failing to write it is only logged.
func writeDemoMarkers(paths []string, dataDir, httpAddr string, log *slog.Logger) error {
	abs, err := filepath.Abs(dataDir)
	if err != nil {
		return err
	}
	m := demoMarker{PID: os.Getpid(), DataDir: abs, HTTP: httpAddr, Started: time.Now().UTC()}
	for i, p := range paths {
		if err := writeJSONFile(p, m); err != nil {
			if i == 0 {
				return fmt.Errorf("demo marker: %w", err)
			}
			log.Warn("demo marker not written", "path", p, "err", err)
		}
	}
	return nil
}

// removeDemoMarkers removes the markers that still name this process: a
// demo started later may have replaced the user's runtime marker.
func removeDemoMarkers(paths []string, log *slog.Logger) {
	for _, p := range paths {
		m, err := readDemoMarker(p)
		if err != nil || m.PID != os.Getpid() {
			continue
		}
		if err := os.Remove(p); err != nil {
			log.Warn("demo marker not removed", "path", p, "err", err)
		}
	}
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
