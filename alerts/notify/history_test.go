package notify

import (
	"context"
	"log/slog"
	"strconv"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/iocd/iocd/config"
	"github.com/iocd/iocd/defs"
	"github.com/iocd/iocd/influx"
	"github.com/iocd/iocd/internal/testrig"
)

var _ Points = (*influx.Writer)(nil)

// TestHistoryInInflux: every transition, silenced ones included, lands in
// the `alerts` measurement of a real InfluxDB with its tags and fields;
// a storm of transitions of one series in one millisecond keeps every one
// (they would overwrite each other at one timestamp); and a notifier
// started again on the same store writes the recent points again without
// adding any.
func TestHistoryInInflux(t *testing.T) {
	ix := testrig.Influx(t, testrig.WithoutFlux())
	ix.CreateDB("iocd")
	icfg := config.Default().Influx
	icfg.URL, icfg.Bucket, icfg.FlushInterval = ix.URL(), "iocd", config.Duration(50*time.Millisecond)
	w, err := influx.New(icfg, t.TempDir(), slog.New(slog.DiscardHandler), nil)
	if err != nil {
		t.Fatal(err)
	}
	w.Start()
	t.Cleanup(func() { w.Close() })
	dir := t.TempDir()
	st := openStore(t, dir)
	n := New(Config{}, Deps{Outbox: st, History: w})
	n.Start()

	at := time.Date(2026, 12, 1, 8, 0, 0, 0, time.UTC)
	const storm = 20
	for i := range storm {
		note := transition("storm-"+strconv.Itoa(i), 1, defs.ChangeFired, defs.SeverityMajor, at)
		note.Alert.Subject = "dev-" + strconv.Itoa(i)
		n.Notify(note, defs.AlertRule{})
	}
	silenced := transition("quiet", 1, defs.ChangeFired, defs.SeverityMajor, at)
	silenced.Alert.Silenced = "sil-1"
	n.Notify(silenced, defs.AlertRule{})
	n.Notify(transition("quiet", 2, defs.ChangeResolved, defs.SeverityMajor, at.Add(time.Minute)), defs.AlertRule{})
	want := storm + 2
	ix.WaitCount("iocd", MeasurementAlerts, want, wait)

	series, err := ix.Query(context.Background(), "iocd",
		`SELECT "subject", "alert_id", "seq", "value", "message" FROM "alerts" WHERE "change" = 'resolved' GROUP BY "rule", "severity", "site", "state", "change"`)
	if err != nil {
		t.Fatal(err)
	}
	if len(series) != 1 || len(series[0].Values) != 1 {
		t.Fatalf("resolved points: %+v", series)
	}
	tags := series[0].Tags
	wantTags := map[string]string{"rule": "water-high", "severity": "major", "site": "tan-an", "state": "resolved", "change": "resolved"}
	for k, v := range wantTags {
		if tags[k] != v {
			t.Errorf("tag %s = %q, want %q (all %v)", k, tags[k], v, tags)
		}
	}
	row := map[string]any{}
	for i, c := range series[0].Columns {
		row[c] = series[0].Values[0][i]
	}
	if row["subject"] != "tan-an-wl-01" || row["alert_id"] != "quiet" || row["message"] != "Mực nước 212.5 cm tại tan-an-wl-01" {
		t.Errorf("fields = %v", row)
	}
	n.Close()

	// Again on the same store: the recent points are written again, to
	// the same series and timestamps, so the count does not move.
	w2 := New(Config{}, Deps{Outbox: st, History: w})
	w2.Start()
	t.Cleanup(func() { w2.Close() })
	testrig.WaitFor(t, "the replayed points written", wait, func() bool {
		return int(testutil.ToFloat64(w2.m.historyWritten)) == want
	})
	// A barrier point: once it is in, the replayed ones went before it.
	w2.Notify(transition("after", 1, defs.ChangeFired, defs.SeverityInfo, at.Add(2*time.Minute)), defs.AlertRule{})
	ix.WaitCount("iocd", MeasurementAlerts, want+1, wait)
	if got := ix.Count("iocd", MeasurementAlerts); got != want+1 {
		t.Errorf("alerts points after the replay = %d, want %d", got, want+1)
	}
}
