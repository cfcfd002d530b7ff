package ingest

import (
	"fmt"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/iocd/iocd/defs"
	"github.com/iocd/iocd/internal/testrig"
)

func TestShareGroupWritesOnce(t *testing.T) {
	mq := testrig.Mosquitto(t)
	ix := testrig.Influx(t, testrig.WithoutFlux())
	ix.CreateDB("iocd")
	devs := []defs.Device{device("tl-01", "tan-an", defs.KindController), device("tl-02", "tan-an", defs.KindController)}
	a := startPipeline(t, mq.URL(), ix.URL(), "iocd", pipelineOpts{clientID: "iocd-a", shareGroup: "iocd", devices: devs})
	b := startPipeline(t, mq.URL(), ix.URL(), "iocd", pipelineOpts{clientID: "iocd-b", shareGroup: "iocd", devices: devs})
	pub := publisher(t, mq.URL(), "dev-pub", nil)

	const n = 2000
	for i := range n {
		dev := devs[i%2]
		tok := pub.Publish(fmt.Sprintf("ioc/tan-an/%s/telemetry", dev.ID), 1, false,
			fmt.Sprintf(`{"ts": %d, "values": {"cycle": %d}}`, 1732233600000+i, i))
		if i%100 == 99 {
			tok.Wait()
		}
	}
	decoded := func(p *pipeline) float64 { return testutil.ToFloat64(p.in.m.decoded[topicTelemetry]) }
	waitFor(t, "both replicas to decode every message", func() bool { return decoded(a)+decoded(b) >= n })
	if got := decoded(a) + decoded(b); got != n {
		t.Errorf("messages decoded by the two replicas: want %d, got %v", n, got)
	}
	if decoded(a) == 0 || decoded(b) == 0 {
		t.Errorf("load not split: replica a decoded %v, b %v", decoded(a), decoded(b))
	}
	if got := ix.WaitCount("iocd", "telemetry", n, 20*time.Second); got != n {
		t.Errorf("points: want %d, got %d", n, got)
	}
}
