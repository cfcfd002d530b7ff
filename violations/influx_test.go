package violations_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/iocd/iocd/config"
	"github.com/iocd/iocd/influx"
	"github.com/iocd/iocd/internal/testrig"
	"github.com/iocd/iocd/violations"
)

var _ violations.PointWriter = (*influx.Writer)(nil)

// TestPointsLandInInfluxDB runs the camera sessions and the violations
// service against a real InfluxDB 1.8 through iocd's writer: camera_stats
// every stats interval, and one violations point per record.
func TestPointsLandInInfluxDB(t *testing.T) {
	ix := testrig.Influx(t, testrig.WithoutFlux())
	ix.CreateDB("iocd")
	icfg := config.Default().Influx
	icfg.URL, icfg.Bucket, icfg.FlushInterval = ix.URL(), "iocd", config.Duration(200*time.Millisecond)
	w, err := influx.New(icfg, t.TempDir(), discard(), nil)
	if err != nil {
		t.Fatal(err)
	}
	w.Start()
	defer w.Close()

	r := newRigWith(t, func(c *config.Config) { c.Streams.StatsInterval = config.Duration(500 * time.Millisecond) }, w)
	r.waitBuffered("cam264", time.Second)
	r.fire("dead", "x1", "speeding", time.Now(), `,"speed_kmh":80,"limit_kmh":50`)
	r.final("dead", "x1")

	query := func(q string) [][]any {
		series, err := ix.Query(context.Background(), "iocd", q)
		if err != nil || len(series) == 0 {
			return nil
		}
		return series[0].Values
	}
	testrig.WaitFor(t, "camera_stats of a streaming camera", 15*time.Second, func() bool {
		rows := query(`SELECT fps, kbps, connected, frames_lost FROM camera_stats WHERE camera = 'cam264' AND site = 'hcm' AND connected = 1 AND fps > 20`)
		return len(rows) > 0
	})
	testrig.WaitFor(t, "camera_stats of the dead camera", 15*time.Second, func() bool {
		return len(query(`SELECT connected FROM camera_stats WHERE camera = 'dead' AND connected = 0`)) > 0
	})
	var rows [][]any
	testrig.WaitFor(t, "the violations point", 15*time.Second, func() bool {
		rows = query(`SELECT "count", plate FROM violations WHERE camera = 'dead' AND site = 'hcm' AND "type" = 'speeding'`)
		return len(rows) > 0
	})
	if len(rows) != 1 || fmt.Sprint(rows[0][1]) != "1" || rows[0][2] != "62A-123.45" {
		t.Errorf("violations: want one point count=1 plate=62A-123.45, got %v", rows)
	}
}
