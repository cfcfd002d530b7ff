package api_test

import (
	"context"
	"log/slog"
	"path/filepath"
	"testing"
	"time"

	"github.com/iocd/iocd/alerts"
	"github.com/iocd/iocd/bus"
	"github.com/iocd/iocd/config"
	"github.com/iocd/iocd/defs"
	"github.com/iocd/iocd/fleet"
	"github.com/iocd/iocd/influx"
	"github.com/iocd/iocd/overview"
	"github.com/iocd/iocd/store"
	"github.com/iocd/iocd/streams"
	"github.com/iocd/iocd/violations"
)

// The plate every fixture violation carries, as normalised and as read.
const (
	fixturePlate    = "51F-123.45"
	fixturePlateRaw = "51F12345"
)

type fixedSeries []defs.SeriesPoint

func (f fixedSeries) Series(context.Context, influx.SeriesQuery) ([]defs.SeriesPoint, error) {
	return f, nil
}

type fixedCameras []streams.CameraStats

func (f fixedCameras) Cameras() []streams.CameraStats { return f }

// wallRig is the API with every domain wired over real components (one
// store of fixtures, a fleet tracker, the violations service, the
// overview) and fixtures in each, so that every GET route answers data.
type wallRig struct {
	*rig
	st        *store.SQLite
	fleet     *fleet.Tracker
	devices   []defs.Device
	violation []defs.Violation // newest first
	alertIDs  []string
	ruleID    string
}

func newWallRig(t *testing.T) *wallRig {
	t.Helper()
	ctx := context.Background()
	log := slog.New(slog.DiscardHandler)
	st, err := store.Open(ctx, filepath.Join(t.TempDir(), "fixtures.db"), log)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	cfg := config.Default()
	w := &wallRig{st: st}
	w.devices = []defs.Device{
		{ID: "tan-an-cam-01", Site: "tan-an", Kind: defs.KindCamera, Name: "Ngã tư Quốc lộ 1", Status: defs.StatusActive,
			RTSPURL: "rtsp://admin:cam-secret-pw@10.0.0.9/live", Lat: 10.53, Lon: 106.41},
		{ID: "tan-an-aq-01", Site: "tan-an", Kind: defs.KindSensor, Name: "Air quality", Status: defs.StatusActive, HeartbeatS: 60},
		{ID: "ben-luc-wl-01", Site: "ben-luc", Kind: defs.KindSensor, Name: "=Water level", Status: defs.StatusActive, HeartbeatS: 60},
		{ID: "ben-luc-wl-02", Site: "ben-luc", Kind: defs.KindSensor, Name: "Water level 2", Status: defs.StatusPending},
	}
	w.fleet = fleet.New(cfg.Fleet, w.devices, bus.New(nil), nil, log, nil, fleet.WithHistory(st))
	vsvc := violations.New(cfg.Violations, cfg.Retention, cfg.Streams, t.TempDir(), st, nil, nil, nil, nil, log)
	ov := overview.New(overview.Config{Location: cfg.UI.Location()}, overview.Deps{
		Fleet: w.fleet, Violations: st, Alerts: st, HealthChanges: w.fleet, AlertChanges: st,
		Readings: overview.NewMeter(),
	})
	alertSvc := &storeAlerts{st: st}
	w.rig = newRig(t, func(s *rigSetup) {
		s.opts.Fleet = w.fleet
		s.opts.HealthHistory = st
		s.opts.Overview = ov
		s.opts.Violations, s.opts.Audit = vsvc, vsvc
		s.opts.Alerts = alertSvc
		s.opts.Cameras = fixedCameras{{Camera: "tan-an-cam-01", Site: "tan-an", Name: "Ngã tư", RTSPURL: "rtsp://admin:xxxxx@10.0.0.9/live", Connected: true}}
		s.opts.Telemetry = fixedSeries{{Time: time.Now().Add(-time.Minute), Value: ptr(1.5)}}
		s.opts.Conflicts = fakeConflicts{{Device: "ben-luc-wl-01", Field: "level_m", WantType: "float", GotType: "string", Count: 1}}
		s.opts.Ingest = fixedBacklog{Unacked: 1}
	})
	for _, d := range w.devices {
		if _, err := w.reg.Create(ctx, d); err != nil {
			t.Fatalf("creating %s: %v", d.ID, err)
		}
	}

	// Health: the camera and a sensor heard from, one gone offline.
	now := time.Now()
	w.fleet.Status(w.devices[0], "online", map[string]string{"fw": "cam-2.4.1"}, now)
	w.fleet.Seen(w.devices[1], now, []defs.Field{{Key: "pm25", Type: defs.FieldFloat, Num: 35}})
	w.fleet.Seen(w.devices[2], now.Add(-time.Minute), []defs.Field{{Key: "level_m", Type: defs.FieldFloat, Num: 1.2}})
	w.fleet.Status(w.devices[2], "offline", nil, now)
	if err := st.AddHealthChanges(ctx, []defs.HealthChange{
		{Device: "ben-luc-wl-01", Site: "ben-luc", Kind: defs.KindSensor, From: defs.HealthUnknown, To: defs.HealthOnline, At: now.Add(-time.Minute)},
		{Device: "ben-luc-wl-01", Site: "ben-luc", Kind: defs.KindSensor, From: defs.HealthOnline, To: defs.HealthOffline, At: now, Reason: "status"},
	}); err != nil {
		t.Fatal(err)
	}

	// Violations, each with a plate, out of time order; one updated twice
	// (recording, then complete) as a clip finishing does.
	for i, min := range []int{3, 1, 5, 2, 4} {
		at := now.Add(-time.Duration(min) * time.Minute).Truncate(time.Millisecond)
		v := defs.Violation{ID: "vio-" + string(rune('a'+i)), Camera: "tan-an-cam-01", Site: "tan-an", EventID: string(rune('a' + i)),
			Type: []string{"red_light", "speeding"}[i%2], Time: at, Plate: fixturePlate, PlateRaw: fixturePlateRaw, PlateValid: true,
			PlateConfidence: 0.93, Status: defs.ReviewPending, ClipStatus: defs.ClipRecording, CreatedAt: at, UpdatedAt: at}
		if _, _, err := st.InsertViolation(ctx, v); err != nil {
			t.Fatal(err)
		}
	}
	vs, _, err := st.ListViolations(ctx, defs.ViolationFilter{})
	if err != nil {
		t.Fatal(err)
	}
	w.violation = vs
	done := vs[2]
	done.ClipStatus, done.UpdatedAt = defs.ClipComplete, now
	if _, err := st.SealEvidence(ctx, done, func(v defs.Violation, prev string) defs.LedgerEntry {
		return defs.LedgerEntry{ViolationID: v.ID, Kind: defs.LedgerEvidence, ContentHash: "x", PrevHash: prev, Hash: "h-" + v.ID, At: now}
	}, nil); err != nil {
		t.Fatal(err)
	}

	for _, a := range seedAlerts(t, st, now.Add(-10*time.Minute)) {
		w.alertIDs = append(w.alertIDs, a.ID)
	}
	rule := alerts.DefaultRules()[0]
	if err := st.PutAlertRule(ctx, rule); err != nil {
		t.Fatal(err)
	}
	w.ruleID = rule.ID
	if err := st.PutSilence(ctx, defs.Silence{ID: "sil-1", Rule: rule.ID, Until: now.Add(time.Hour), Reason: "works", By: "user:lan", CreatedAt: now}); err != nil {
		t.Fatal(err)
	}
	return w
}

func ptr[T any](v T) *T { return &v }
