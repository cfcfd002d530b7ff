package alerts

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/iocd/iocd/defs"
)

// stampNotifier records when each fired notification arrived.
type stampNotifier struct {
	mu  sync.Mutex
	got map[string]time.Time // subject -> when notified
}

func (s *stampNotifier) Notify(n defs.AlertNotification, _ defs.AlertRule) {
	if n.Transition.Change != defs.ChangeFired && n.Transition.Change != defs.ChangeReopened {
		return
	}
	now := time.Now()
	s.mu.Lock()
	s.got[n.Alert.Subject+fmt.Sprint(n.Transition.Seq)] = now
	s.mu.Unlock()
}

// BenchmarkCrossingToNotify is the engine's part of "publish crossing a
// threshold → MQTT notification, p99 ≤ 100 ms at 20,000 readings/s":
// a running engine (Run, the in-memory store) takes 20,000 readings/s
// for 5 s over 1,000 devices and 200 rules; every 100th reading crosses
// the thresholds of 15 rules (fired at once), and the time from ObserveReading to Notify is measured.
// The MQTT leg (ingest before, the notifier's publish after) is the
// alertsnotify and bench work's; run with -benchtime 1x.
func BenchmarkCrossingToNotify(b *testing.B) {
	for b.Loop() {
		r, devs, readings := benchRigFor(b, 0) // `for` 0: a crossing fires at once
		sn := &stampNotifier{got: map[string]time.Time{}}
		e := New(Config{}, Deps{Store: r.store, Notifier: sn})
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan struct{})
		go func() { defer close(done); e.Run(ctx) }()
		for e.rules.Load() == nil {
			time.Sleep(time.Millisecond)
		}
		const rate, secs = 20000, 5
		hotFields := slices.Clone(readings[0])
		hotFields[0].Num = 5000 // over every f0 rule
		sent := map[string]time.Time{}
		start := time.Now()
		for i := 0; i < rate*secs; i++ {
			if d := time.Until(start.Add(time.Duration(i) * time.Second / rate)); d > 0 {
				time.Sleep(d)
			}
			dev := devs[i%len(devs)]
			if i%100 == 0 {
				// Crosses: a fresh device each time, so each is a new alert.
				dev.ID = defs.DeviceID(fmt.Sprintf("x-%06d", i))
				sent[string(dev.ID)] = time.Now()
				e.ObserveReading(dev, time.Now(), hotFields)
				continue
			}
			e.ObserveReading(dev, time.Now(), readings[i%len(readings)])
		}
		deadline := time.Now().Add(10 * time.Second)
		var lat []time.Duration
		for time.Now().Before(deadline) {
			sn.mu.Lock()
			n := len(sn.got)
			sn.mu.Unlock()
			if n >= len(sent) {
				break
			}
			time.Sleep(10 * time.Millisecond)
		}
		cancel()
		<-done
		sn.mu.Lock()
		for subj, at := range sent {
			if got, ok := sn.got[subj+"1"]; ok {
				lat = append(lat, got.Sub(at))
			}
		}
		sn.mu.Unlock()
		slices.Sort(lat)
		if len(lat) == 0 {
			b.Fatal("no notification")
		}
		p := func(q float64) time.Duration { return lat[int(q*float64(len(lat)-1))] }
		b.ReportMetric(float64(p(0.5).Microseconds()), "p50_µs")
		b.ReportMetric(float64(p(0.99).Microseconds()), "p99_µs")
		b.ReportMetric(float64(len(sent)-len(lat)), "missing")
	}
}
