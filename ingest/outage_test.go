package ingest

import (
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/iocd/iocd/defs"
	"github.com/iocd/iocd/internal/testrig"
)

// TestInfluxOutageLosesNothing stops InfluxDB for 60 s while devices keep
// reporting, and checks that every reading lands once it is back. It runs
// for about 80 s by design: the issue asks for a 60 s outage.
func TestInfluxOutageLosesNothing(t *testing.T) {
	mq := testrig.Mosquitto(t)
	ix := testrig.Influx(t, testrig.WithoutFlux())
	ix.CreateDB("iocd")
	devs := []defs.Device{device("wl-01", "ben-luc", defs.KindSensor), device("wl-02", "ben-luc", defs.KindSensor)}
	p := startPipeline(t, mq.URL(), ix.URL(), "iocd", pipelineOpts{devices: devs})
	pub := publisher(t, mq.URL(), "dev-pub", nil)

	// The publisher runs in its own goroutine and reports through these;
	// it never fails the test itself.
	var sent, failed atomic.Int64
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		tick := time.NewTicker(2 * time.Millisecond) // about 500 msg/s
		defer tick.Stop()
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			case <-tick.C:
			}
			dev := devs[i%2]
			tok := pub.Publish(fmt.Sprintf("ioc/ben-luc/%s/telemetry", dev.ID), 1, false,
				fmt.Sprintf(`{"ts": %d, "values": {"level_m": %d}}`, 1732233600000+i, i))
			if !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
				failed.Add(1)
				continue
			}
			sent.Add(1)
		}
	}()

	time.Sleep(5 * time.Second)
	ix.Stop()
	time.Sleep(60 * time.Second)
	ix.Start()
	time.Sleep(5 * time.Second)
	close(stop)
	<-done
	if failed.Load() != 0 {
		t.Fatalf("%d publishes failed", failed.Load())
	}
	n := int(sent.Load())
	if got := ix.WaitCount("iocd", "telemetry", n, 120*time.Second); got != n {
		t.Errorf("points after the outage: want %d, got %d", n, got)
	}
	// 60 s at this rate is far more than the in-memory retry buffer
	// holds, so the spool must have carried points.
	if got := p.counter(t, "iocd_influx_spooled_points_total"); got == 0 {
		t.Errorf("spooled points: want some, got 0")
	}
}
