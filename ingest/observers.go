package ingest

import (
	"time"

	"github.com/iocd/iocd/defs"
)

// Observers returns an Observer that tells each of obs in turn, in the
// decoder's goroutine; each must keep to Observer's rules (cheap, never
// blocking, not keeping fields). The alerts engine and the feed hub both
// observe this way.
func Observers(obs ...Observer) Observer { return observers(obs) }

type observers []Observer

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
