package main

import (
	"sort"
	"time"

	"github.com/iocd/iocd/alerts"
	"github.com/iocd/iocd/dashboard"
	"github.com/iocd/iocd/defs"
	"github.com/iocd/iocd/fleet"
	"github.com/iocd/iocd/ingest"
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

// TODO(integrator): the fleetapi branch gives fleet.Tracker a Devices()
// (camera health including the stream) and package overview a composed
// defs.Overview; wire those to dashboard.Options.Fleet and .Overview and
// delete these two adapters. Until then they build the same types from
// what the tracker and the stream manager offer today.

// feedFleet builds the feed's device statuses from the fleet tracker.
type feedFleet struct{ t *fleet.Tracker }

var _ dashboard.FleetSource = feedFleet{}

func (f feedFleet) Devices() []defs.DeviceStatus {
	var out []defs.DeviceStatus
	f.t.EachDevice(func(d defs.Device, h defs.Health, lastSeen time.Time) {
		st := defs.DeviceStatus{ID: d.ID, Name: d.Name, Site: d.Site, Kind: d.Kind, Status: d.Status,
			Lat: d.Lat, Lon: d.Lon, Health: h, LastSeen: lastSeen}
		if snap, ok := f.t.Snapshot(d.ID); ok {
			st.Values, st.Firmware = snap.Values, snap.Meta["fw"]
		}
		out = append(out, st)
	})
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out
}

// feedOverview composes the part of defs.Overview known today: device
// health and camera sessions, in total and per site.
type feedOverview struct {
	t *fleet.Tracker
	s *streams.Manager
}

var _ dashboard.OverviewSource = feedOverview{}

func (o feedOverview) Overview() defs.Overview {
	ov := defs.Overview{At: time.Now().UTC(), ViolationsToday: map[string]int{}, AlertsOpen: map[defs.Severity]int{}}
	sites := map[string]*defs.SiteOverview{}
	site := func(name string) *defs.SiteOverview {
		s, ok := sites[name]
		if !ok {
			s = &defs.SiteOverview{Site: name}
			sites[name] = s
		}
		return s
	}
	o.t.EachDevice(func(d defs.Device, h defs.Health, _ time.Time) {
		if d.Status != defs.StatusActive {
			return
		}
		ov.Devices.Add(h)
		site(d.Site).Devices.Add(h)
	})
	for _, c := range o.s.CameraStates() {
		s := site(c.Site)
		ov.Cameras.Total++
		s.Cameras.Total++
		if c.State == defs.CameraStreaming {
			ov.Cameras.Streaming++
			s.Cameras.Streaming++
		}
	}
	for _, s := range sites {
		ov.Sites = append(ov.Sites, *s)
	}
	sort.Slice(ov.Sites, func(i, j int) bool { return ov.Sites[i].Site < ov.Sites[j].Site })
	return ov
}
