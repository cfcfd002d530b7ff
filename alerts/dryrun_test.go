package alerts

import (
	"context"
	"errors"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/iocd/iocd/defs"
)

type fakeHistory struct{ pts []defs.FieldPoint }

func (h fakeHistory) FieldHistory(_ context.Context, field string, devs []defs.DeviceID, from, to time.Time) ([]defs.FieldPoint, error) {
	var out []defs.FieldPoint
	for _, d := range devs {
		for _, p := range h.pts {
			if p.Device == d && !p.Time.Before(from) && p.Time.Before(to) {
				out = append(out, p)
			}
		}
	}
	return out, nil
}

// expectFired counts, independently of the engine's machine, the alerts
// a `>` rule with hysteresis and `for` raises over one device's points
// taken every step: an episode is a run of points from one above value
// until the first at or below clear; it fires if it lasts `for` (from
// its first point to a point at or past first+for while still on).
func expectFired(vals []float64, value, clr float64, forN int) int {
	n, on, run, fired := 0, false, 0, false
	for _, v := range vals {
		switch {
		case !on && v > value:
			on, run, fired = true, 0, false
		case on && v <= clr:
			on = false
			continue
		}
		if on {
			if run >= forN && !fired {
				fired = true
				n++
			}
			run++
		}
	}
	return n
}

func TestDryRunCountsWhatTheTestComputes(t *testing.T) {
	rnd := rand.New(rand.NewPCG(7, 7))
	step := 10 * time.Second
	var pts []defs.FieldPoint
	want := 0
	for _, dev := range []defs.DeviceID{"wl-01", "wl-02", "wl-03"} {
		var vals []float64
		v := 180.0
		for i := 0; i < 2000; i++ {
			v += rnd.NormFloat64() * 6
			vals = append(vals, v)
			pts = append(pts, defs.FieldPoint{Device: dev, Time: t0.Add(time.Duration(i) * step), Value: v})
		}
		want += expectFired(vals, 200, 190, 3) // `for` 30s = 3 steps
	}
	if want == 0 {
		t.Fatal("the seeded walk never crossed: the test proves nothing")
	}
	r := newRig(t, Config{})
	for _, id := range []defs.DeviceID{"wl-01", "wl-02", "wl-03"} {
		d := wl01
		d.ID = id
		r.fleet.set(d, defs.HealthOnline, t0)
	}
	r.e.d.History = fakeHistory{pts}
	rule := waterRule
	res, err := r.e.DryRun(r.ctx, rule, t0, t0.Add(2000*step))
	if err != nil {
		t.Fatal(err)
	}
	if res.Alerts != want {
		t.Fatalf("dry run: %d alerts, the test counts %d", res.Alerts, want)
	}

	rule = defs.AlertRule{Name: "off", Kind: defs.RuleOffline, Severity: defs.SeverityMajor, Message: defs.Messages{VI: "{{device}} cảnh báo", EN: "{{device}} alert"}}
	if _, err := r.e.DryRun(r.ctx, rule, t0, t0.Add(time.Hour)); !isInvalid(err, "kind") {
		t.Fatalf("dry run of an offline rule: %v, want invalid kind", err)
	}
	r.e.d.History = nil
	if _, err := r.e.DryRun(r.ctx, waterRule, t0, t0.Add(time.Hour)); err == nil {
		t.Fatal("dry run with no history succeeded")
	}
}

func TestDryRunAbsence(t *testing.T) {
	r := newRig(t, Config{})
	r.fleet.set(wl01, defs.HealthOnline, t0)
	var pts []defs.FieldPoint
	for _, m := range []int{0, 1, 2, 10, 11, 30} { // gaps of 8 and 19 minutes, and 30 to the end
		pts = append(pts, defs.FieldPoint{Device: "wl-01", Time: t0.Add(time.Duration(m) * time.Minute), Value: 1})
	}
	r.e.d.History = fakeHistory{pts}
	rule := defs.AlertRule{Name: "no level", Kind: defs.RuleAbsence, Field: "water_cm", For: defs.Duration(5 * time.Minute), Severity: defs.SeverityMinor, Message: defs.Messages{VI: "{{device}} cảnh báo", EN: "{{device}} alert"}}
	res, err := r.e.DryRun(r.ctx, rule, t0, t0.Add(60*time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	if res.Alerts != 3 {
		t.Fatalf("absence dry run: %+v, want 3 alerts", res)
	}
}

func isInvalid(err error, field string) bool {
	var de *defs.Error
	return errors.As(err, &de) && de.Code == defs.EINVALID && de.Field == field
}
