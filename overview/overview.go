// Package overview composes the wall's key figures (defs.Overview) and its
// "what changed" list from the domains that own each one: device health
// from fleet, camera sessions from streams, violations and alert counts
// from the store, readings per second from a Meter that ingest reports to.
// It owns no state of its own beyond that meter: every figure is asked of
// its owner when the overview is asked for, so the API, the feed and every
// screen agree on one definition of each number.
package overview

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/iocd/iocd/defs"
)

// Fleet is device health as the overview reads it (*fleet.Tracker).
type Fleet interface {
	Devices() []defs.DeviceStatus
}

// Cameras is the camera sessions' state (*streams.Manager).
type Cameras interface {
	CameraStates() []defs.CameraState
}

// Violations counts violations by type since a time (*store.SQLite).
type Violations interface {
	CountViolationsByType(ctx context.Context, since time.Time) (map[string]int, error)
}

// Deadlines counts the violations whose owner-notification deadline
// falls in [from, to) (*violations.Service, which owns the deadlines).
type Deadlines interface {
	DueBetween(ctx context.Context, from, to time.Time) (int, error)
}

// Alerts counts the open (firing and acknowledged) alerts by severity
// (*store.SQLite).
type Alerts interface {
	CountOpenAlerts(ctx context.Context) (map[defs.Severity]int, error)
}

// Readings says how many readings ingest accepts per second (*Meter).
type Readings interface {
	PerSecond() float64
}

// HealthChanges lists the recent device health changes and camera stream
// ups and downs, newest first (*fleet.Tracker).
type HealthChanges interface {
	HealthChangesSince(since time.Time) []defs.HealthChange
	CameraChangesSince(since time.Time) []defs.CameraState
}

// AlertChanges lists alert transitions since a time, newest first
// (*store.SQLite).
type AlertChanges interface {
	AlertTransitionsSince(ctx context.Context, since time.Time, changes []defs.AlertChange, limit int) ([]defs.AlertNotification, error)
}

// Deps are the owners of the figures. A nil member counts as having
// nothing to say (zero counts, no changes).
type Deps struct {
	Fleet         Fleet
	Cameras       Cameras
	Violations    Violations
	Alerts        Alerts
	Readings      Readings
	HealthChanges HealthChanges
	AlertChanges  AlertChanges
	Deadlines     Deadlines
}

// Config holds the overview's settings.
type Config struct {
	// Location is the time zone whose midnight starts "today"
	// (ui.timezone); nil: UTC.
	Location *time.Location
	// MaxChanges bounds the "what changed" answer (default 200).
	MaxChanges int
	// Now is the clock; nil: time.Now. Tests set it.
	Now func() time.Time
}

// Service composes overviews. It is safe for concurrent use.
type Service struct {
	cfg Config
	d   Deps
}

// New returns a Service reading from d.
func New(cfg Config, d Deps) *Service {
	if cfg.Location == nil {
		cfg.Location = time.UTC
	}
	if cfg.MaxChanges <= 0 {
		cfg.MaxChanges = 200
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if d.Fleet == nil {
		d.Fleet = noFleet{}
	}
	if d.Cameras == nil {
		d.Cameras = noCameras{}
	}
	if d.Violations == nil {
		d.Violations = noViolations{}
	}
	if d.Alerts == nil {
		d.Alerts = noAlerts{}
	}
	if d.Readings == nil {
		d.Readings = noReadings{}
	}
	if d.HealthChanges == nil {
		d.HealthChanges = noHealthChanges{}
	}
	if d.AlertChanges == nil {
		d.AlertChanges = noAlertChanges{}
	}
	if d.Deadlines == nil {
		d.Deadlines = noDeadlines{}
	}
	return &Service{cfg: cfg, d: d}
}

// Midnight returns the last local midnight at or before t in loc: the
// start of "today" on the wall.
func Midnight(t time.Time, loc *time.Location) time.Time {
	lt := t.In(loc)
	return time.Date(lt.Year(), lt.Month(), lt.Day(), 0, 0, 0, 0, loc)
}

// Overview returns the key figures now. Device counts hold every active
// device (a camera's health includes its stream); pending and disabled
// ones are not part of the fleet. When a store count fails the rest is
// still filled in and the error says which figure is missing.
func (s *Service) Overview(ctx context.Context) (defs.Overview, error) {
	now := s.cfg.Now()
	o := defs.Overview{
		At:    now.UTC(),
		Since: Midnight(now, s.cfg.Location),
		Sites: []defs.SiteOverview{},
	}
	sites := map[string]*defs.SiteOverview{}
	site := func(name string) *defs.SiteOverview {
		so, ok := sites[name]
		if !ok {
			so = &defs.SiteOverview{Site: name}
			sites[name] = so
		}
		return so
	}
	for _, d := range s.d.Fleet.Devices() {
		if d.Status != defs.StatusActive {
			continue
		}
		o.Devices.Add(d.Health)
		site(d.Site).Devices.Add(d.Health)
	}
	for _, c := range s.d.Cameras.CameraStates() {
		if c.State == defs.CameraStopped {
			continue
		}
		so := site(c.Site)
		o.Cameras.Total++
		so.Cameras.Total++
		if c.State == defs.CameraStreaming || (c.State == "" && c.Connected) {
			o.Cameras.Streaming++
			so.Cameras.Streaming++
		}
	}
	for _, so := range sites {
		o.Sites = append(o.Sites, *so)
	}
	slices.SortFunc(o.Sites, func(a, b defs.SiteOverview) int { return strings.Compare(a.Site, b.Site) })
	o.ReadingsPerSecond = s.d.Readings.PerSecond()

	var errs []error
	vt, err := s.d.Violations.CountViolationsByType(ctx, o.Since)
	if err != nil {
		errs = append(errs, fmt.Errorf("violations today: %w", err))
	}
	if vt == nil {
		vt = map[string]int{}
	}
	o.ViolationsToday = vt
	ao, err := s.d.Alerts.CountOpenAlerts(ctx)
	if err != nil {
		errs = append(errs, fmt.Errorf("open alerts: %w", err))
	}
	if ao == nil {
		ao = map[defs.Severity]int{}
	}
	o.AlertsOpen = ao
	tomorrow := o.Since.AddDate(0, 0, 1)
	if o.ViolationsDueTomorrow, err = s.d.Deadlines.DueBetween(ctx, tomorrow, tomorrow.AddDate(0, 0, 1)); err != nil {
		errs = append(errs, fmt.Errorf("violations due tomorrow: %w", err))
	}
	return o, errors.Join(errs...)
}

type noFleet struct{}

func (noFleet) Devices() []defs.DeviceStatus { return nil }

type noCameras struct{}

func (noCameras) CameraStates() []defs.CameraState { return nil }

type noViolations struct{}

func (noViolations) CountViolationsByType(context.Context, time.Time) (map[string]int, error) {
	return map[string]int{}, nil
}

type noAlerts struct{}

func (noAlerts) CountOpenAlerts(context.Context) (map[defs.Severity]int, error) {
	return map[defs.Severity]int{}, nil
}

type noReadings struct{}

func (noReadings) PerSecond() float64 { return 0 }

type noHealthChanges struct{}

func (noHealthChanges) HealthChangesSince(time.Time) []defs.HealthChange { return nil }
func (noHealthChanges) CameraChangesSince(time.Time) []defs.CameraState  { return nil }

type noDeadlines struct{}

func (noDeadlines) DueBetween(context.Context, time.Time, time.Time) (int, error) { return 0, nil }

type noAlertChanges struct{}

func (noAlertChanges) AlertTransitionsSince(context.Context, time.Time, []defs.AlertChange, int) ([]defs.AlertNotification, error) {
	return nil, nil
}
