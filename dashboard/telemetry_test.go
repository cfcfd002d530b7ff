package dashboard

import (
	"fmt"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/iocd/iocd/defs"
)

// BenchmarkObserveReading measures the decoders' cost of feeding the hub:
// a reading of four fields for one of 1,000 devices, half of them wanted
// by a subscription, from parallel goroutines as the decoders call it.
func BenchmarkObserveReading(b *testing.B) {
	tb := newTable(200_000, prometheus.NewCounter(prometheus.CounterOpts{Name: "x"}))
	tb.setWanted(map[string]int{"tan-an": 1})
	devs := make([]defs.Device, 1000)
	for i := range devs {
		site := "ben-luc"
		if i%2 == 0 {
			site = "tan-an"
		}
		devs[i] = defs.Device{ID: defs.DeviceID(fmt.Sprintf("dev-%04d", i)), Site: site}
	}
	fields := []string{"temp_c", "humidity", "pm25", "level_m"}
	stop := make(chan struct{})
	defer close(stop)
	go func() { // the hub taking dirty keys, as on every flush
		var buf []reading
		for {
			select {
			case <-stop:
				return
			case <-time.After(50 * time.Millisecond):
				buf = tb.takeDirty(buf[:0])
			}
		}
	}()
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		fs := make([]defs.Field, len(fields))
		for i := range fs {
			fs[i] = defs.Field{Key: fields[i], Type: defs.FieldFloat}
		}
		i := 0
		ts := time.Now()
		for pb.Next() {
			i++
			for j := range fs {
				fs[j].Num = float64(i)
			}
			tb.observe(devs[i%len(devs)], ts.Add(time.Duration(i)), fs)
		}
	})
}
