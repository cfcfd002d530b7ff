package main

import (
	"time"

	"github.com/iocd/iocd/api"
	"github.com/iocd/iocd/defs"
	"github.com/iocd/iocd/fleet"
	"github.com/iocd/iocd/ingest"
	"github.com/iocd/iocd/overview"
	"github.com/iocd/iocd/store"
	"github.com/iocd/iocd/streams"
)

// The providers of the fleet and overview consumers' small interfaces,
// checked here so that no consumer imports its provider.
var (
	_ fleet.Cameras            = (*streams.Manager)(nil)
	_ fleet.History            = (*store.SQLite)(nil)
	_ api.HealthHistoryService = (*store.SQLite)(nil)
	_ overview.Fleet           = (*fleet.Tracker)(nil)
	_ overview.Cameras         = (*streams.Manager)(nil)
	_ overview.Violations      = (*store.SQLite)(nil)
	_ overview.Alerts          = (*store.SQLite)(nil)
	_ overview.HealthChanges   = (*fleet.Tracker)(nil)
	_ overview.AlertChanges    = (*store.SQLite)(nil)
	_ ingest.Observer          = (*overview.Meter)(nil)
)

// observers hands every reading ingest accepts to each observer in turn
// (the alerts engine, the wall's readings meter); each must be cheap and
// never block, as ingest.Observer requires.
type observers []ingest.Observer

func (o observers) ObserveReading(dev defs.Device, ts time.Time, fields []defs.Field) {
	for _, x := range o {
		x.ObserveReading(dev, ts, fields)
	}
}

func (o observers) ObserveRejected(device defs.DeviceID, reason string, at time.Time) {
	for _, x := range o {
		x.ObserveRejected(device, reason, at)
	}
}
