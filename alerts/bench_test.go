package alerts

import (
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/iocd/iocd/defs"
)

// benchRig is 200 rules (150 threshold rules over 10 fields, half with
// a site selector, and 50 rate rules) and 1,000 devices over 10 sites,
// each reading carrying the 10 fields, every value inside its rule's
// normal band: the path where no rule changes state.
func benchRig(tb testing.TB) (*rig, []defs.Device, [][]defs.Field) {
	return benchRigFor(tb, 30*time.Second)
}

// benchRigFor is benchRig with the threshold rules' `for`.
func benchRigFor(tb testing.TB, forD time.Duration) (*rig, []defs.Device, [][]defs.Field) {
	var rules []defs.AlertRule
	for i := 0; i < 150; i++ {
		r := defs.AlertRule{Name: fmt.Sprintf("t%03d", i), Kind: defs.RuleThreshold, Field: fmt.Sprintf("f%d", i%10),
			Op: ">", Value: 1000 + float64(i), Clear: f64(900), For: defs.Duration(forD), Severity: defs.SeverityMajor, Message: defs.Messages{VI: "{{device}} cảnh báo", EN: "{{device}} alert"}}
		if i%2 == 0 {
			r.Selector.Site = fmt.Sprintf("site-%d", i%10)
		}
		rules = append(rules, r)
	}
	for i := 0; i < 50; i++ {
		rules = append(rules, defs.AlertRule{Name: fmt.Sprintf("r%03d", i), Kind: defs.RuleRate, Event: EventViolation,
			Count: 10, Window: defs.Duration(time.Minute), Per: "camera", Severity: defs.SeverityMinor, Message: defs.Messages{VI: "{{device}} cảnh báo", EN: "{{device}} alert"}})
	}
	t, ok := tb.(*testing.T)
	if !ok {
		t = &testing.T{}
	}
	r := newRig(t, Config{}, rules...)
	devs := make([]defs.Device, 1000)
	for i := range devs {
		devs[i] = defs.Device{ID: defs.DeviceID(fmt.Sprintf("d-%04d", i)), Site: fmt.Sprintf("site-%d", i%10), Kind: defs.KindSensor, Status: defs.StatusActive}
	}
	rnd := rand.New(rand.NewPCG(1, 2))
	readings := make([][]defs.Field, 64)
	for i := range readings {
		for f := 0; f < 10; f++ {
			readings[i] = append(readings[i], defs.Field{Key: fmt.Sprintf("f%d", f), Type: defs.FieldFloat, Num: rnd.Float64() * 800})
		}
	}
	return r, devs, readings
}

// BenchmarkObserveReading is `make bench-alerts`: the cost per reading of
// evaluating 200 threshold and rate rules, with no state change.
func BenchmarkObserveReading(b *testing.B) {
	r, devs, readings := benchRig(b)
	now := time.Now()
	for _, d := range devs { // warm the per-device rule lists
		r.e.ObserveReading(d, now, readings[0])
	}
	b.ReportAllocs()
	b.ResetTimer()
	i := 0
	for b.Loop() { // each reading newer than the last, as from a live device
		r.e.ObserveReading(devs[i%len(devs)], now.Add(time.Duration(i)), readings[i%len(readings)])
		i++
	}
	b.StopTimer()
	if n := len(r.e.obs); n != 0 {
		b.Fatalf("%d state changes on the no-change path", n)
	}
}

// BenchmarkObserveReadingParallel is the same with every core decoding.
func BenchmarkObserveReadingParallel(b *testing.B) {
	r, devs, readings := benchRig(b)
	now := time.Now()
	for _, d := range devs {
		r.e.ObserveReading(d, now, readings[0])
	}
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		i := rand.IntN(1000)
		for pb.Next() {
			r.e.ObserveReading(devs[i%len(devs)], now.Add(time.Duration(i)), readings[i%len(readings)])
			i++
		}
	})
}

// TestObserveReadingAllocatesNothing guards the no-change path.
func TestObserveReadingAllocatesNothing(t *testing.T) {
	r, devs, readings := benchRig(t)
	now := time.Now()
	for _, d := range devs {
		r.e.ObserveReading(d, now, readings[0])
	}
	i := 0
	allocs := testing.AllocsPerRun(1000, func() {
		r.e.ObserveReading(devs[i%len(devs)], now.Add(time.Duration(i)), readings[i%len(readings)])
		i++
	})
	if allocs != 0 {
		t.Fatalf("%.1f allocations per reading on the no-change path, want 0", allocs)
	}
	if len(r.e.obs) != 0 {
		t.Fatalf("%d state changes: the readings were meant to stay in band", len(r.e.obs))
	}
}
