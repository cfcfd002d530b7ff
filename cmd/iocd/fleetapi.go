package main

import (
	"github.com/iocd/iocd/api"
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
