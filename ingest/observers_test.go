package ingest

import (
	"testing"
	"time"

	"github.com/iocd/iocd/defs"
)

type tallyObserver struct{ readings, rejected int }

func (c *tallyObserver) ObserveReading(defs.Device, time.Time, []defs.Field) { c.readings++ }
func (c *tallyObserver) ObserveRejected(defs.DeviceID, string, time.Time)    { c.rejected++ }

func TestObserversTellEach(t *testing.T) {
	a, b := &tallyObserver{}, &tallyObserver{}
	o := Observers(a, b)
	o.ObserveReading(defs.Device{ID: "d"}, time.Now(), []defs.Field{{Key: "x", Type: defs.FieldFloat}})
	o.ObserveRejected("d", "bad_json", time.Now())
	for i, c := range []*tallyObserver{a, b} {
		if c.readings != 1 || c.rejected != 1 {
			t.Errorf("observer %d saw %d readings and %d refusals, want 1 and 1", i, c.readings, c.rejected)
		}
	}
}
