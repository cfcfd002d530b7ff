package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"path/filepath"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/iocd/iocd/alerts"
	"github.com/iocd/iocd/alerts/notify"
	"github.com/iocd/iocd/api"
	"github.com/iocd/iocd/auth"
	"github.com/iocd/iocd/broker"
	"github.com/iocd/iocd/bus"
	"github.com/iocd/iocd/conditions"
	"github.com/iocd/iocd/config"
	"github.com/iocd/iocd/dashboard"
	"github.com/iocd/iocd/devices"
	"github.com/iocd/iocd/fleet"
	"github.com/iocd/iocd/influx"
	"github.com/iocd/iocd/ingest"
	"github.com/iocd/iocd/overview"
	"github.com/iocd/iocd/store"
	"github.com/iocd/iocd/streams"
	"github.com/iocd/iocd/violations"
	"github.com/iocd/iocd/web"
)

const serveSummary = `Runs iocd: the MQTT ingest, the camera sessions, the API on http_addr and the
dashboard feed. Without mqtt.url it starts the embedded broker; without
influx.url metrics history is off.`

func runServe(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("serve", serveSummary, stderr)
	cfg, err := loadConfig(fs, args)
	if err != nil {
		return err
	}
	return serve(ctx, cfg, newLogger(cfg.Log, stderr), nil)
}

// service holds the running components. Its fields are set by start in
// start order; stop undoes them in the order its comments give.
type service struct {
	cfg  config.Config
	log  *slog.Logger
	prom *prometheus.Registry

	store    *store.SQLite
	bus      *bus.Bus
	registry *devices.Registry
	auth     *auth.Authenticator
	users    *auth.Users
	broker   *broker.Broker // nil with an external broker
	alerts   *alerts.Engine
	// conditions is the registry of the service's own conditions
	// (disk low, InfluxDB unreachable, ...): components set and clear
	// them, the alerts engine reads them on every tick.
	conditions *conditions.Registry
	writer     *influx.Writer  // nil without InfluxDB
	history    *influx.History // nil without InfluxDB
	fleet      *fleet.Tracker
	streams    *streams.Manager
	viol       *violations.Service
	ingest     *ingest.Ingester
	hub        *dashboard.Hub
	notifier   *notify.Notifier
	meter      *overview.Meter
	overview   *overview.Service

	httpSrv  *http.Server
	httpAddr string // the bound address, for the demo's URL

	// stops holds, last started first, what shutdown must undo.
	stops []stopStep
}

type stopStep struct {
	name string
	fn   func(ctx context.Context) error
}

func (s *service) onStop(name string, fn func(ctx context.Context) error) {
	s.stops = append(s.stops, stopStep{name, fn})
}

// runLoop runs a component's Run in a goroutine and registers its stop:
// cancel, then wait for Run to return.
func (s *service) runLoop(name string, run func(ctx context.Context) error) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- run(ctx) }()
	s.onStop(name, func(stopCtx context.Context) error {
		cancel()
		select {
		case err := <-done:
			return err
		case <-stopCtx.Done():
			return fmt.Errorf("%s did not stop in time", name)
		}
	})
}

// serve starts iocd, calls onReady (the demo's hook) once it serves, and
// runs until ctx is cancelled (SIGINT or SIGTERM), then shuts down.
func serve(ctx context.Context, cfg config.Config, log *slog.Logger, onReady func(context.Context, *service) error) error {
	began := time.Now()
	log.Info("iocd starting", append([]any{"version", versionString()}, cfg.Describe()...)...)
	s := &service{cfg: cfg, log: log}
	err := s.start(ctx)
	if err == nil {
		log.Info("iocd ready", "http", s.httpAddr, "took", time.Since(began).Round(time.Millisecond))
		if onReady != nil {
			err = onReady(ctx, s)
		}
		if err == nil {
			<-ctx.Done()
			log.Info("iocd shutting down")
		}
	}
	stopCtx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	return errors.Join(err, s.shutdown(stopCtx))
}

// start builds and starts every component, dependencies first. On error
// the caller's shutdown undoes what had started.
func (s *service) start(ctx context.Context) error {
	cfg, log := s.cfg, s.log
	s.prom = prometheus.NewRegistry()
	s.prom.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))

	st, err := store.Open(ctx, filepath.Join(cfg.DataDir, "iocd.db"), log.With("component", "store"))
	if err != nil {
		return err
	}
	s.store = st
	s.onStop("store", func(context.Context) error { return st.Close() })

	s.bus = bus.New(s.prom)

	s.registry, err = devices.New(ctx, cfg, st, s.bus, s.prom, log.With("component", "devices"))
	if err != nil {
		return fmt.Errorf("device registry: %w", err)
	}
	// Users log in with a password; their sessions, the login rate limit
	// and the re-check behind Ended live in the authenticator.
	s.users = auth.NewUsers(st, log.With("component", "auth"))
	s.auth = auth.New(st, cfg.AdminToken, log.With("component", "auth"), auth.WithSessions(auth.SessionConfig{
		Idle: cfg.Auth.SessionIdle.D(), Max: cfg.Auth.SessionMax.D(), KioskMax: cfg.Auth.KioskSessionMax.D(),
		FailuresPerMinute: cfg.Auth.LoginFailures,
	}, s.users, st, s.prom))
	s.runLoop("auth", s.auth.Run)

	s.conditions = conditions.New()
	// The bus owns its drop counts: bus_drops holds while a subscriber
	// loses events and clears after a quiet minute.
	s.runLoop("bus drops", func(ctx context.Context) error {
		return s.bus.WatchDrops(ctx, s.conditions, 10*time.Second, time.Minute)
	})

	if cfg.MQTT.Embedded() {
		// The broker cuts a client whose packet could never be accepted
		// (the larger payload limit plus room for the topic), so a flood
		// of huge publishes costs it nothing.
		maxPacket := max(cfg.Ingest.MaxPayloadBytes, cfg.Ingest.MaxEventBytes) + 64<<10
		b, err := broker.New(cfg.MQTT.EmbeddedAddr, log, broker.WithMaxPacketBytes(maxPacket))
		if err != nil {
			return fmt.Errorf("embedded broker: %w", err)
		}
		if err := b.Start(ctx); err != nil {
			return fmt.Errorf("embedded broker: %w", err)
		}
		s.broker = b
		s.prom.MustRegister(b.Collector())
		s.onStop("embedded broker", func(context.Context) error { return b.Close() })
		// iocd connects to its own broker like any client, so the ingest
		// path is the same with an embedded or an external broker.
		cfg.MQTT.URL = "tcp://" + b.Addr()
		s.cfg.MQTT.URL = cfg.MQTT.URL
	}

	if cfg.Influx.Enabled() {
		w, err := influx.New(cfg.Influx, cfg.DataDir, log, s.prom)
		if err != nil {
			return fmt.Errorf("influx writer: %w", err)
		}
		w.SetConditions(s.conditions)
		w.Start()
		s.writer = w
		// Close flushes what is buffered, or spools it if InfluxDB is
		// down, so stopping iocd loses no accepted reading.
		s.onStop("influx writer", func(context.Context) error { return w.Close() })
		s.history = influx.NewHistory(cfg.Influx)
		s.onStop("influx history", func(context.Context) error { s.history.Close(); return nil })
	} else {
		log.Warn("influx.url (IOCD_INFLUX_URL) is not set: metrics history is off; readings update fleet health and the feed only")
	}

	// Alert notifications (MQTT, the `alerts` history, webhooks): after
	// the broker, the writer and the store it uses, before the alerts
	// engine that calls it, so it stops after the engine and before the
	// writer, which then flushes its last points.
	s.notifier, err = newNotifier(cfg, st, s.writer, log, s.prom)
	if err != nil {
		return fmt.Errorf("alert notifier: %w", err)
	}
	s.notifier.Start()
	s.onStop("alert notifier", func(context.Context) error { return s.notifier.Close() })

	known, err := s.registry.List(ctx, devices.Filter{})
	if err != nil {
		return fmt.Errorf("listing devices: %w", err)
	}
	var statusSink fleet.StatusSink // a nil *Writer must not become a non-nil interface
	if s.writer != nil {
		statusSink = s.writer
	}

	// Cameras: one RTSP session per active camera in the registry, each
	// with its pre-event buffer; violations cut clips from those buffers.
	var points violations.PointWriter // nil without InfluxDB, never a nil *Writer
	if s.writer != nil {
		points = s.writer
	}
	// The evidential gate (README "Evidence: time and camera health").
	gate := streams.Gate{
		MinFPS:              cfg.Evidence.MinFPS,
		MaxKeyframeInterval: cfg.Evidence.MaxKeyframeInterval.D(),
		MaxClockOffset:      cfg.Evidence.MaxClockOffset.D(),
		RequireHostSync:     cfg.Evidence.RequireHostSync,
	}
	s.streams = streams.New(cfg.Streams, cfg.Violations, s.registry, s.bus, points, s.prom, log,
		streams.WithGate(gate), streams.WithConditions(s.conditions))
	s.runLoop("streams", s.streams.Run)
	// Fleet after streams: a camera's health includes its stream's state,
	// re-read from the sessions on every check; health history in the store.
	s.fleet = fleet.New(cfg.Fleet, known, s.bus, statusSink, log.With("component", "fleet"), s.prom,
		fleet.WithCameras(s.streams), fleet.WithHistory(st))
	s.runLoop("fleet", s.fleet.Run)
	keyPath, createKey := evidenceKeyPath(cfg)
	keys, err := violations.OpenKeyring(keyPath, createKey)
	if err != nil {
		return fmt.Errorf("evidence signing key: %w", err)
	}
	violOpts := []violations.Option{violations.WithConditions(s.conditions), violations.WithKeyring(keys), violations.WithDesk(deskConfig(cfg))}
	if cfg.Evidence.TSAURL != "" {
		violOpts = append(violOpts, violations.WithTSA(cfg.Evidence.TSAURL))
	}
	// Viewing copies and stills (README "Viewing copies and stills"): made
	// by ffmpeg beside the clips, recorded in the store; the maker runs
	// and stops with the violations service.
	violOpts = append(violOpts, violations.WithMedia(violations.MediaConfig{
		FFmpeg: cfg.Media.FFmpeg, ViewingCopies: cfg.Media.ViewingCopies, MaxJobs: cfg.Media.MaxJobs, Timeout: cfg.Media.Timeout.D(),
	}, st))
	s.viol = violations.New(cfg.Violations, cfg.Retention, cfg.Streams, cfg.DataDir, st, s.streams, s.bus, points, s.prom, log, violOpts...)
	// The key (or its rotation) is sealed before the first event can be.
	if err := s.viol.OpenLedger(ctx); err != nil {
		return err
	}
	s.runLoop("violations", s.viol.Run)

	// The alerts engine reads the fleet, the camera sessions and the
	// conditions on its tick, and sees every reading and violation as it
	// is decoded; Load fails the start on a bad rules file.
	alertDeps := alerts.Deps{
		Store: st, Fleet: s.fleet, Cameras: s.streams, Conditions: s.conditions,
		Notifier: s.notifier, Bus: s.bus, Logger: log.With("component", "alerts"), Registerer: s.prom,
	}
	if s.history != nil { // a nil *History must not become a non-nil interface
		alertDeps.History = s.history
	}
	s.alerts = alerts.New(alerts.Config{
		Tick:           cfg.Alerts.Tick.D(),
		GroupThreshold: cfg.Alerts.GroupThreshold,
		GroupWindow:    cfg.Alerts.GroupWindow.D(),
		RulesFile:      cfg.Alerts.RulesFile,
	}, alertDeps)
	if err := s.alerts.Load(ctx); err != nil {
		return err
	}
	s.viol.SetObserver(s.alerts)

	// The wall's readings per second: a meter beside the alerts engine.
	s.meter = overview.NewMeter()
	s.runLoop("readings meter", s.meter.Run)
	// The wall's figures, composed from the owner of each; the API and the
	// feed's fleet topic answer the same ones.
	s.overview = newOverview(cfg, st, s.fleet, s.streams, s.meter, s.viol)

	// The feed hub: built before ingest, whose decoders tell it every
	// reading (beside the alerts engine and the meter), and run after it
	// (below). A feed closes as soon as its principal's credential ends.
	s.hub = dashboard.New(dashboard.Options{
		Bus: s.bus, Fleet: s.fleet, Overview: &feedOverview{s: s.overview},
		Alerts: s.alerts, Violations: s.viol, Cameras: s.streams, Sessions: s.auth,
		AllowedOrigins: cfg.UI.AllowedOrigins, TelemetryEvery: cfg.UI.TelemetryFlush.D(),
		Logger: log.With("component", "dashboard"), Registerer: s.prom,
	})

	deps := ingest.Deps{Registry: s.registry, Health: s.fleet, Events: s.viol, Observer: ingest.Observers(s.alerts, s.hub, s.meter),
		Bus: s.bus, Logger: log, Metrics: s.prom, Conditions: s.conditions}
	if s.writer != nil {
		deps.Sink = s.writer
		deps.Receipts = s.writer
	}
	s.ingest, err = ingest.New(cfg.MQTT, cfg.Ingest, deps)
	if err != nil {
		return err
	}
	s.runLoop("ingest", s.ingest.Run)
	// Started after ingest so that it stops first: a stopping iocd
	// evaluates nothing, so stopping raises no alert.
	s.runLoop("alerts", s.alerts.Run)

	s.runLoop("dashboard", s.hub.Run)

	return s.startHTTP()
}

// startHTTP serves the API, the feed and the page. It listens before
// returning so that a bad or busy http_addr fails the start.
func (s *service) startHTTP() error {
	opts := api.Options{
		Logger:   s.log.With("component", "api"),
		Auth:     s.auth,
		Gatherer: s.prom,
		Ready: []api.ReadyCheck{
			{Name: "store", Check: s.store.Ping},
			{Name: "mqtt", Check: s.ingest.Ready},
		},
		Devices:    s.registry,
		Tokens:     s.auth,
		Logins:     s.auth,
		Users:      s.users,
		Alerts:     s.alerts,
		WebSocket:  s.hub.Handler(principal),
		Fleet:      s.fleet,
		Violations: s.viol,
		Media:      s.viol,
		Desk:       s.viol,
		Cases:      s.viol,
		Cameras:    s.streams,
		Audit:      s.viol,
		Ingest:     ingestBacklog{in: s.ingest, w: s.writer},
		Deadlines: api.Deadlines{
			Body: s.cfg.HTTP.BodyTimeout.D(), Write: s.cfg.HTTP.WriteTimeout.D(), StreamIdle: s.cfg.HTTP.StreamIdle.D(),
		},
	}
	if s.writer != nil { // a nil *Writer must not become a non-nil interface
		opts.Conflicts = s.writer
	}
	if s.history != nil { // a nil *History must not become a non-nil interface
		opts.Telemetry = s.history
	}
	// The wall's figures, what changed, and the devices' health history.
	opts.HealthHistory = s.store
	opts.Overview = s.overview
	apiSrv := api.New(opts)
	mux := http.NewServeMux()
	mux.Handle("/api/", apiSrv.Handler())
	for _, p := range []string{"/ws", "/healthz", "/readyz", "/metrics"} {
		mux.Handle(p, apiSrv.Handler())
	}
	pages, err := web.New(web.Config{MapGeoJSON: s.cfg.UI.MapGeoJSON, PMTiles: s.cfg.UI.PMTiles, Charts: uiCharts(s.cfg.UI.Charts), Timezone: s.cfg.UI.Timezone},
		web.Deps{Logger: s.log.With("component", "web"), Auth: s.auth})
	if err != nil {
		return err
	}
	// Logging in and out are the API's (POST); GET /login is the page.
	mux.Handle("POST /login", apiSrv.Handler())
	mux.Handle("POST /logout", apiSrv.Handler())
	mux.Handle("/", opts.Deadlines.Wrap(pages))

	ln, err := net.Listen("tcp", s.cfg.HTTPAddr)
	if err != nil {
		return fmt.Errorf("http_addr: %w", err)
	}
	s.httpAddr = ln.Addr().String()
	// A bounded number of connections, each with deadlines: no client,
	// with or without a token, holds a file descriptor without sending
	// or reading (http.*).
	ln = api.LimitListener(ln, s.cfg.HTTP.MaxConns, s.prom)
	warnFileLimit(s.log, s.cfg.HTTP.MaxConns)
	s.httpSrv = &http.Server{
		Handler:           mux,
		ReadHeaderTimeout: s.cfg.HTTP.HeaderTimeout.D(),
		IdleTimeout:       s.cfg.HTTP.IdleTimeout.D(),
		// No server-wide ReadTimeout or WriteTimeout: the API sets them
		// per request (api.Deadlines), since clips stream for long and
		// the feed keeps its own ping/pong deadlines.
		ErrorLog: slog.NewLogLogger(s.log.Handler(), slog.LevelDebug),
	}
	served := make(chan error, 1)
	if s.cfg.HTTP.TLS() {
		// Validate has loaded the pair once; ServeTLS loads it again.
		go func() { served <- s.httpSrv.ServeTLS(ln, s.cfg.HTTP.TLSCert, s.cfg.HTTP.TLSKey) }()
	} else {
		go func() { served <- s.httpSrv.Serve(ln) }()
	}
	s.onStop("http", func(ctx context.Context) error {
		// Stop accepting first, so nothing new arrives while the rest
		// drains; open websockets are cut when the hub stops.
		err := s.httpSrv.Shutdown(ctx)
		if e := <-served; !errors.Is(e, http.ErrServerClosed) {
			err = errors.Join(err, e)
		}
		return err
	})
	return nil
}

// principal reports the authenticated caller of a request to the feed.
func principal(r *http.Request) auth.Principal {
	p, _ := auth.PrincipalFrom(r.Context())
	return p
}

// shutdown stops the components in the reverse of their start order:
//  1. HTTP stops accepting, so no API call changes state mid-shutdown;
//  2. the dashboard hub disconnects the screens;
//  3. the alerts engine stops: started after ingest, it evaluates nothing
//     while the rest stops, so a stopping iocd raises no alert;
//  4. ingest stops taking messages, finishes those it holds, waits briefly
//     for their points to reach the write-ahead log (a message is acked
//     only once durable) and disconnects; with an external broker, what
//     it had not acknowledged stays in its persistent session and is
//     redelivered at the next start (the embedded broker keeps sessions
//     in memory, so with it, what devices publish from here on is lost
//     with the process: the README says to run Mosquitto where that
//     matters);
//  5. violations writes the clips being cut with what is buffered
//     (flagged partial), so no record is left unsealed;
//  6. the camera sessions close;
//  7. fleet tracking stops;
//  8. the alert notifier stops after the engine that feeds it; what it had
//     not delivered stays in its outbox and is sent at the next start;
//  9. the influx writer flushes, or spools to disk what InfluxDB cannot
//     take, so no accepted reading is lost;
//  10. the embedded broker closes after the clients that use it;
//  11. the store closes last, after everything that writes to it.
func (s *service) shutdown(ctx context.Context) error {
	var errs []error
	for i := len(s.stops) - 1; i >= 0; i-- {
		st := s.stops[i]
		if err := st.fn(ctx); err != nil {
			errs = append(errs, fmt.Errorf("stopping %s: %w", st.name, err))
		}
		s.log.Debug("stopped", "component", st.name)
	}
	s.stops = nil
	return errors.Join(errs...)
}

// uiCharts turns the ui.charts config into the web package's own type.
func uiCharts(cs []config.UIChart) []web.Chart {
	out := make([]web.Chart, 0, len(cs))
	for _, c := range cs {
		out = append(out, web.Chart{Site: c.Site, Field: c.Field, Label: c.Label})
	}
	return out
}
