package dashboard

import (
	"context"

	"github.com/iocd/iocd/auth"
	"github.com/iocd/iocd/defs"
)

// The hub reads the state behind each snapshot through these small
// interfaces, each owned here and satisfied by the domain that owns the
// state; cmd/iocd wires them. An absent one is a no-op (an empty
// snapshot), never a nil the hub has to check.

// FleetSource lists every device as the wall shows it, camera health
// including its stream's state. The hub also re-reads it on the overview
// tick and sends a `device` frame for each device whose status changed,
// so a lost bus event delays an update but never leaves it wrong.
type FleetSource interface {
	Devices() []defs.DeviceStatus
}

// OverviewSource composes the wall's key figures now.
type OverviewSource interface {
	Overview() defs.Overview
}

// AlertLister lists alerts, newest first; *alerts.Engine is one.
type AlertLister interface {
	List(ctx context.Context, f defs.AlertFilter) ([]defs.Alert, string, error)
}

// ViolationLister lists violations, newest first;
// *violations.Service is one. The hub applies the plate policy
// (violations.ForRole) itself, per client.
type ViolationLister interface {
	List(ctx context.Context, f defs.ViolationFilter) ([]defs.Violation, string, error)
}

// CameraSource reports every camera session's state;
// *streams.Manager is one.
type CameraSource interface {
	CameraStates() []defs.CameraState
}

// Sessions tells the hub when a principal's credential stops being
// valid (token revoked, session logged out or expired, user disabled):
// the returned channel is closed then, and the principal's feeds close
// at once. *auth.Authenticator is one.
type Sessions interface {
	Ended(p auth.Principal) <-chan struct{}
}

type noFleet struct{}

func (noFleet) Devices() []defs.DeviceStatus { return nil }

type noOverview struct{}

func (noOverview) Overview() defs.Overview { return defs.Overview{} }

type noAlerts struct{}

func (noAlerts) List(context.Context, defs.AlertFilter) ([]defs.Alert, string, error) {
	return nil, "", nil
}

type noViolations struct{}

func (noViolations) List(context.Context, defs.ViolationFilter) ([]defs.Violation, string, error) {
	return nil, "", nil
}

type noCameras struct{}

func (noCameras) CameraStates() []defs.CameraState { return nil }

// neverEnds is the Sessions of a hub built without one: no feed is ever
// closed for its credential.
type neverEnds struct{}

func (neverEnds) Ended(auth.Principal) <-chan struct{} { return nil }
