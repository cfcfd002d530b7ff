package alerts

import (
	"time"

	"github.com/iocd/iocd/defs"
)

// Discard is a Notifier that sends nothing (iocd without notifiers, tests).
type Discard struct{}

// Notify does nothing.
func (Discard) Notify(defs.AlertNotification, defs.AlertRule) {}

type noFleet struct{}

func (noFleet) EachDevice(func(defs.Device, defs.Health, time.Time)) {}

type noCameras struct{}

func (noCameras) CameraStates() []defs.CameraState { return nil }

type noConditions struct{}

func (noConditions) List() []defs.Condition { return nil }
