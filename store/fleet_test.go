package store

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/iocd/iocd/defs"
)

func TestHealthHistoryBoundedNewestFirst(t *testing.T) {
	s := openTest(t)
	ctx := context.Background()
	t0 := time.Date(2026, 12, 1, 8, 0, 0, 0, time.UTC)
	healths := []defs.Health{defs.HealthOnline, defs.HealthStale, defs.HealthOffline}
	var chs []defs.HealthChange
	for i := range HealthHistoryPerDevice + 50 {
		chs = append(chs, defs.HealthChange{Device: "cam-01", Site: "tan-an", Kind: defs.KindCamera,
			From: healths[(i+2)%3], To: healths[i%3], At: t0.Add(time.Duration(i) * time.Second), Reason: fmt.Sprint(i)})
		if len(chs) == 100 {
			if err := s.AddHealthChanges(ctx, chs); err != nil {
				t.Fatal(err)
			}
			chs = chs[:0]
		}
	}
	chs = append(chs, defs.HealthChange{Device: "aq-01", Site: "tan-an", Kind: defs.KindSensor, From: defs.HealthUnknown,
		To: defs.HealthOnline, At: t0, LastSeen: t0})
	if err := s.AddHealthChanges(ctx, chs); err != nil {
		t.Fatal(err)
	}
	all, err := s.HealthHistory(ctx, "cam-01", time.Time{}, time.Time{}, 0)
	if err != nil {
		t.Fatal(err)
	}
	last := HealthHistoryPerDevice + 49
	if len(all) != HealthHistoryPerDevice || all[0].Reason != fmt.Sprint(last) || all[len(all)-1].Reason != "50" {
		t.Fatalf("want the latest %d changes newest first (%d down to 50), got %d from %q to %q",
			HealthHistoryPerDevice, last, len(all), all[0].Reason, all[len(all)-1].Reason)
	}
	if all[0].Kind != defs.KindCamera || all[0].Site != "tan-an" || !all[0].At.Equal(t0.Add(time.Duration(last)*time.Second)) {
		t.Errorf("round trip: got %+v", all[0])
	}
	for _, tc := range []struct {
		name     string
		from, to time.Time
		limit    int
		want     []string
	}{
		{"window", t0.Add(100 * time.Second), t0.Add(103 * time.Second), 0, []string{"102", "101", "100"}},
		{"limit", time.Time{}, time.Time{}, 2, []string{fmt.Sprint(last), fmt.Sprint(last - 1)}},
		{"before the kept ones", t0, t0.Add(10 * time.Second), 0, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := s.HealthHistory(ctx, "cam-01", tc.from, tc.to, tc.limit)
			if err != nil {
				t.Fatal(err)
			}
			var reasons []string
			for _, c := range got {
				reasons = append(reasons, c.Reason)
			}
			if fmt.Sprint(reasons) != fmt.Sprint(tc.want) {
				t.Errorf("want %v, got %v", tc.want, reasons)
			}
		})
	}
	other, err := s.HealthHistory(ctx, "aq-01", time.Time{}, time.Time{}, 0)
	if err != nil || len(other) != 1 || !other[0].LastSeen.Equal(t0) {
		t.Errorf("another device's history is its own: got %+v %v", other, err)
	}
	if none, err := s.HealthHistory(ctx, "nope", time.Time{}, time.Time{}, 0); err != nil || none == nil || len(none) != 0 {
		t.Errorf("unknown device: want an empty list, got %v %v", none, err)
	}
}

func TestCountViolationsByTypeSince(t *testing.T) {
	s := openTest(t)
	ctx := context.Background()
	midnight := time.Date(2026, 12, 2, 0, 0, 0, 0, time.FixedZone("ICT", 7*3600))
	for i, c := range []struct {
		typ string
		at  time.Time
	}{
		{"red_light", midnight.Add(-time.Nanosecond)}, // yesterday, local time
		{"red_light", midnight},
		{"red_light", midnight.Add(3 * time.Hour)},
		{"speeding", midnight.Add(5 * time.Hour)},
	} {
		v := defs.Violation{ID: fmt.Sprintf("v%d", i), Camera: "cam1", Site: "hcm", EventID: fmt.Sprint(i), Type: c.typ,
			Time: c.at, Status: defs.ReviewPending, ClipStatus: defs.ClipNoVideo, CreatedAt: c.at, UpdatedAt: c.at}
		if _, _, err := s.InsertViolation(ctx, v); err != nil {
			t.Fatal(err)
		}
	}
	got, err := s.CountViolationsByType(ctx, midnight)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || got["red_light"] != 2 || got["speeding"] != 1 {
		t.Errorf("since local midnight: want red_light 2, speeding 1, got %v", got)
	}
	if got, err := s.CountViolationsByType(ctx, midnight.Add(24*time.Hour)); err != nil || len(got) != 0 {
		t.Errorf("tomorrow: want none, got %v %v", got, err)
	}
}

func TestAlertCountsAndTransitionsSince(t *testing.T) {
	s := openTest(t)
	ctx := context.Background()
	t0 := time.Date(2026, 12, 2, 8, 0, 0, 0, time.UTC)
	save := func(a defs.Alert, ts ...defs.AlertTransition) {
		t.Helper()
		if err := s.SaveAlert(ctx, a, ts); err != nil {
			t.Fatal(err)
		}
	}
	tr := func(seq int, c defs.AlertChange, from, to defs.AlertState, sev defs.Severity, at time.Time) defs.AlertTransition {
		return defs.AlertTransition{Seq: seq, Change: c, From: from, To: to, Severity: sev, At: at}
	}
	save(defs.Alert{ID: "a1", Rule: "r", Subject: "wl-01", Severity: defs.SeverityCritical, State: defs.AlertFiring, PendingSince: t0},
		tr(1, defs.ChangePending, "", defs.AlertPending, defs.SeverityCritical, t0),
		tr(2, defs.ChangeFired, defs.AlertPending, defs.AlertFiring, defs.SeverityCritical, t0.Add(time.Minute)))
	save(defs.Alert{ID: "a2", Rule: "r", Subject: "wl-02", Severity: defs.SeverityMajor, State: defs.AlertAcknowledged, PendingSince: t0},
		tr(1, defs.ChangeFired, "", defs.AlertFiring, defs.SeverityMajor, t0.Add(2*time.Minute)),
		tr(2, defs.ChangeAcknowledged, defs.AlertFiring, defs.AlertAcknowledged, defs.SeverityMajor, t0.Add(3*time.Minute)))
	save(defs.Alert{ID: "a3", Rule: "r", Subject: "wl-03", Severity: defs.SeverityCritical, State: defs.AlertResolved, PendingSince: t0},
		tr(1, defs.ChangeFired, "", defs.AlertFiring, defs.SeverityCritical, t0.Add(-time.Hour)),
		tr(2, defs.ChangeResolved, defs.AlertFiring, defs.AlertResolved, defs.SeverityCritical, t0.Add(4*time.Minute)))
	save(defs.Alert{ID: "a4", Rule: "r", Subject: "wl-04", Severity: defs.SeverityWarning, State: defs.AlertPending, PendingSince: t0},
		tr(1, defs.ChangePending, "", defs.AlertPending, defs.SeverityWarning, t0))

	counts, err := s.CountOpenAlerts(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(counts) != 2 || counts[defs.SeverityCritical] != 1 || counts[defs.SeverityMajor] != 1 {
		t.Errorf("open alerts: want critical 1 (firing) and major 1 (acknowledged), not pending or resolved; got %v", counts)
	}

	got, err := s.AlertTransitionsSince(ctx, t0, []defs.AlertChange{defs.ChangeFired, defs.ChangeResolved}, 0)
	if err != nil {
		t.Fatal(err)
	}
	var seen []string
	for _, n := range got {
		seen = append(seen, fmt.Sprintf("%s:%s", n.Alert.ID, n.Transition.Change))
		if n.Alert.Subject == "" {
			t.Errorf("transition %+v: want its alert alongside", n.Transition)
		}
	}
	want := []string{"a3:resolved", "a2:fired", "a1:fired"}
	if fmt.Sprint(seen) != fmt.Sprint(want) {
		t.Errorf("fired and resolved since t0: want %v newest first (not a3's fire an hour before, nor pending or acknowledged), got %v", want, seen)
	}
	if got, err := s.AlertTransitionsSince(ctx, t0, nil, 2); err != nil || len(got) != 2 {
		t.Errorf("every change, limit 2: want 2, got %d %v", len(got), err)
	}
}
