package main

import (
	"context"
	"sync"
	"time"

	"github.com/iocd/iocd/alerts"
	"github.com/iocd/iocd/config"
	"github.com/iocd/iocd/dashboard"
	"github.com/iocd/iocd/defs"
	"github.com/iocd/iocd/fleet"
	"github.com/iocd/iocd/ingest"
	"github.com/iocd/iocd/overview"
	"github.com/iocd/iocd/store"
	"github.com/iocd/iocd/streams"
	"github.com/iocd/iocd/violations"
)

// The feed's sources and the hub as ingest's observer, checked here.
var (
	_ dashboard.AlertLister     = (*alerts.Engine)(nil)
	_ dashboard.ViolationLister = (*violations.Service)(nil)
	_ dashboard.CameraSource    = (*streams.Manager)(nil)
	_ ingest.Observer           = (*dashboard.Hub)(nil)
)

var _ dashboard.FleetSource = (*fleet.Tracker)(nil)

// newOverview builds the wall's figures from the owner of each: the fleet
// (a camera's health includes its stream), the camera sessions, the store's
// violations and alerts, and the readings meter.
func newOverview(cfg config.Config, st *store.SQLite, f *fleet.Tracker, cams *streams.Manager, m *overview.Meter, viol *violations.Service) *overview.Service {
	return overview.New(overview.Config{Location: cfg.UI.Location()}, overview.Deps{
		Fleet: f, Cameras: cams, Violations: st, Alerts: st, Readings: m,
		HealthChanges: f, AlertChanges: st, Deadlines: viol,
	})
}

// deskConfig is the review desk's settings from review.* and ui.timezone.
func deskConfig(cfg config.Config) violations.DeskConfig {
	reasons := make([]violations.Reason, len(cfg.Review.Reasons))
	for i, r := range cfg.Review.Reasons {
		ds := make([]defs.ReviewStatus, len(r.Decisions))
		for j, d := range r.Decisions {
			ds[j] = defs.ReviewStatus(d)
		}
		reasons[i] = violations.Reason{Code: r.Code, Label: r.Label, Decisions: ds}
	}
	return violations.DeskConfig{
		Reasons: reasons, RequireSecond: cfg.Review.RequireSecond, ClaimTTL: cfg.Review.ClaimTTL.D(),
		NotifyDays: cfg.Review.NotifyDays, PublishDays: cfg.Review.PublishDays, Location: cfg.UI.Location(),
	}
}

// feedOverview hands the feed the same figures as GET /api/v1/overview.
// The hub asks every 2 s and for each fleet snapshot; a composition that fails
// (the store busy past the timeout) hands on the last good figures, so a
// screen shows slightly old numbers rather than zeros, and the API reports
// the error to whoever asks it.
type feedOverview struct {
	s *overview.Service

	mu   sync.Mutex
	last defs.Overview // the last good figures
}

var _ dashboard.OverviewSource = (*feedOverview)(nil)

// feedOverviewTimeout bounds one composition of the figures for the feed.
const feedOverviewTimeout = time.Second

func (o *feedOverview) Overview() defs.Overview {
	ctx, cancel := context.WithTimeout(context.Background(), feedOverviewTimeout)
	defer cancel()
	ov, err := o.s.Overview(ctx)
	o.mu.Lock()
	defer o.mu.Unlock()
	if err != nil && !o.last.At.IsZero() {
		return o.last
	}
	o.last = ov
	return ov
}
