package store

import (
	"context"
	"fmt"
	"log/slog"
	"math/rand"
	"path/filepath"
	"reflect"
	"testing"
	"time"

	"github.com/iocd/iocd/alerts"
	"github.com/iocd/iocd/defs"
)

func TestAlertRulesRoundTrip(t *testing.T) {
	s := openTest(t)
	ctx := context.Background()
	if rules, err := s.ListAlertRules(ctx); err != nil || len(rules) != 0 {
		t.Fatalf("new store rules = %v, %v; want none", rules, err)
	}
	for _, r := range alerts.DefaultRules() {
		if err := s.PutAlertRule(ctx, r); err != nil {
			t.Fatal(err)
		}
	}
	clear := 190.0
	water := defs.AlertRule{ID: "muc-nuoc-cao", Name: "Mực nước cao", Kind: defs.RuleThreshold, Field: "water_cm", Op: ">",
		Value: 200, Clear: &clear, For: defs.Duration(30 * time.Second), Severity: defs.SeverityCritical,
		Selector: defs.Selector{Site: "tanan", Tags: map[string]string{"river": "vam-co"}},
		Message:  defs.Messages{VI: "Mực nước {{value}} cm tại {{device}}", EN: "Water at {{value}} cm at {{device}}"},
		Levels:   []defs.AlertLevel{{Value: 250, Severity: defs.SeverityCritical}}}
	if err := s.PutAlertRule(ctx, water); err != nil {
		t.Fatal(err)
	}
	rules, err := s.ListAlertRules(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(rules) != len(alerts.DefaultRules())+1 {
		t.Fatalf("%d rules stored", len(rules))
	}
	var got defs.AlertRule
	for i, r := range rules {
		if i > 0 && rules[i-1].ID >= r.ID {
			t.Errorf("rules not ordered by id: %s before %s", rules[i-1].ID, r.ID)
		}
		if r.ID == water.ID {
			got = r
		}
	}
	if got.CreatedAt.IsZero() || got.UpdatedAt.IsZero() {
		t.Errorf("stored rule has no created/updated times: %+v", got)
	}
	created := got.CreatedAt
	want := water
	want.CreatedAt, want.UpdatedAt = got.CreatedAt, got.UpdatedAt
	if !reflect.DeepEqual(got, want) {
		t.Errorf("round trip:\n got %+v\nwant %+v", got, want)
	}

	// An update keeps the creation time and replaces the rest.
	water.Disabled, water.Value = true, 210
	if err := s.PutAlertRule(ctx, water); err != nil {
		t.Fatal(err)
	}
	rules, _ = s.ListAlertRules(ctx)
	for _, r := range rules {
		if r.ID == water.ID && (!r.Disabled || r.Value != 210 || !r.CreatedAt.Equal(created)) {
			t.Errorf("updated rule = %+v, want disabled, value 210, created %s", r, created)
		}
	}

	if err := s.DeleteAlertRule(ctx, water.ID); err != nil {
		t.Fatal(err)
	}
	if err := s.DeleteAlertRule(ctx, water.ID); defs.ErrorCode(err) != defs.ENOTFOUND {
		t.Errorf("deleting twice: %v, want not_found", err)
	}
	if err := s.PutAlertRule(ctx, defs.AlertRule{}); defs.ErrorCode(err) != defs.EINVALID {
		t.Errorf("rule without id: %v, want invalid", err)
	}
}

func testAlert(id, rule, subject string, state defs.AlertState, at time.Time) defs.Alert {
	return defs.Alert{ID: id, Rule: rule, Subject: subject, Device: defs.DeviceID(subject), Site: "tanan",
		Severity: defs.SeverityMajor, State: state, Message: "Thiết bị " + subject + " mất kết nối",
		PendingSince: at, RaisedAt: at.Add(time.Minute), UpdatedAt: at.Add(time.Minute)}
}

func TestSaveAndGetAlertWithHistory(t *testing.T) {
	dir := t.TempDir()
	ctx := context.Background()
	log := slog.New(slog.DiscardHandler)
	s, err := Open(ctx, filepath.Join(dir, "t.db"), log)
	if err != nil {
		t.Fatal(err)
	}
	t0 := time.Date(2026, 12, 1, 8, 0, 0, 0, time.UTC)
	a := testAlert("al_1", "device_offline", "wl-01", defs.AlertPending, t0)
	a.RaisedAt, a.UpdatedAt = time.Time{}, t0
	tr := func(seq int, ch defs.AlertChange, from, to defs.AlertState, at time.Time) defs.AlertTransition {
		return defs.AlertTransition{Alert: a.ID, Seq: seq, Change: ch, From: from, To: to, Severity: a.Severity, At: at}
	}
	if err := s.SaveAlert(ctx, a, []defs.AlertTransition{tr(1, defs.ChangePending, "", defs.AlertPending, t0)}); err != nil {
		t.Fatal(err)
	}
	a.State, a.RaisedAt, a.UpdatedAt = defs.AlertFiring, t0.Add(time.Minute), t0.Add(time.Minute)
	if err := s.SaveAlert(ctx, a, []defs.AlertTransition{tr(2, defs.ChangeFired, defs.AlertPending, defs.AlertFiring, a.RaisedAt)}); err != nil {
		t.Fatal(err)
	}
	a.State, a.AckedBy, a.AckNote, a.AckAssignee = defs.AlertAcknowledged, "test-operator", "đang cử người kiểm tra", "lan"
	a.AckedAt, a.AckExpires = t0.Add(2*time.Minute), t0.Add(32*time.Minute)
	ack := tr(3, defs.ChangeAcknowledged, defs.AlertFiring, defs.AlertAcknowledged, a.AckedAt)
	ack.Actor, ack.Note = a.AckedBy, a.AckNote
	if err := s.SaveAlert(ctx, a, []defs.AlertTransition{ack}); err != nil {
		t.Fatal(err)
	}
	// Saving the same transition again (a retry) changes nothing.
	if err := s.SaveAlert(ctx, a, []defs.AlertTransition{ack}); err != nil {
		t.Fatal(err)
	}
	// Reopen the store, as after a restart.
	s.Close()
	s, err = Open(ctx, filepath.Join(dir, "t.db"), log)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	got, hist, err := s.GetAlert(ctx, a.ID)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, a) {
		t.Errorf("alert:\n got %+v\nwant %+v", got, a)
	}
	if len(hist) != 3 || hist[0].Change != defs.ChangePending || hist[1].Change != defs.ChangeFired || !reflect.DeepEqual(hist[2], ack) {
		t.Errorf("history = %+v, want pending, fired, acknowledged with the note", hist)
	}
	if _, _, err := s.GetAlert(ctx, "al_missing"); defs.ErrorCode(err) != defs.ENOTFOUND {
		t.Errorf("missing alert: %v, want not_found", err)
	}
	other := tr(1, defs.ChangePending, "", defs.AlertPending, t0)
	other.Alert = "al_2"
	if err := s.SaveAlert(ctx, a, []defs.AlertTransition{other}); err == nil {
		t.Error("saving another alert's transition must fail")
	}
	if err := s.SaveAlert(ctx, defs.Alert{}, nil); defs.ErrorCode(err) != defs.EINVALID {
		t.Errorf("alert without id: %v, want invalid", err)
	}
}

func TestLoadAlerts(t *testing.T) {
	s := openTest(t)
	ctx := context.Background()
	t0 := time.Date(2026, 12, 1, 8, 0, 0, 0, time.UTC)
	save := func(a defs.Alert) {
		t.Helper()
		if err := s.SaveAlert(ctx, a, nil); err != nil {
			t.Fatal(err)
		}
	}
	save(testAlert("p", "r", "a", defs.AlertPending, t0))
	save(testAlert("f", "r", "b", defs.AlertFiring, t0.Add(time.Second)))
	save(testAlert("k", "r", "c", defs.AlertAcknowledged, t0.Add(2*time.Second)))
	old := testAlert("old", "r", "d", defs.AlertResolved, t0.Add(-time.Hour))
	old.ResolvedAt = t0.Add(-30 * time.Minute)
	save(old)
	recent := testAlert("recent", "r", "e", defs.AlertResolved, t0.Add(-time.Hour))
	recent.ResolvedAt = t0.Add(-time.Minute)
	save(recent)
	got, err := s.LoadAlerts(ctx, t0.Add(-5*time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, a := range got {
		ids = append(ids, a.ID)
	}
	if want := []string{"recent", "p", "f", "k"}; !reflect.DeepEqual(ids, want) {
		t.Errorf("loaded %v, want %v (open ones and recently resolved, oldest first)", ids, want)
	}
}

func TestListAlertsFiltersAndPages(t *testing.T) {
	s := openTest(t)
	ctx := context.Background()
	t0 := time.Date(2026, 12, 1, 8, 0, 0, 0, time.UTC)
	rng := rand.New(rand.NewSource(7))
	states := []defs.AlertState{defs.AlertPending, defs.AlertFiring, defs.AlertAcknowledged, defs.AlertResolved}
	sevs := []defs.Severity{defs.SeverityWarning, defs.SeverityMajor, defs.SeverityCritical}
	var all []defs.Alert
	for i := 0; i < 60; i++ {
		// Groups of three share a start time, so the order must break ties.
		a := testAlert(fmt.Sprintf("al_%02d", i), []string{"device_offline", "camera_down"}[i%2],
			fmt.Sprintf("dev-%d", i%5), states[rng.Intn(4)], t0.Add(time.Duration(i/3)*time.Minute))
		a.Severity = sevs[rng.Intn(3)]
		a.Site = []string{"tanan", "benluc", "hcm"}[i%3]
		if a.State == defs.AlertResolved {
			a.ResolvedAt = a.RaisedAt.Add(time.Minute)
		}
		if err := s.SaveAlert(ctx, a, nil); err != nil {
			t.Fatal(err)
		}
		all = append(all, a)
	}
	// The expected answers, computed over the same alerts in Go.
	newestFirst := func(keep func(a defs.Alert) bool) []string {
		var ids []string
		for i := len(all) - 1; i >= 0; i-- {
			if keep(all[i]) {
				ids = append(ids, all[i].ID)
			}
		}
		return ids
	}
	open := func(a defs.Alert) bool { return a.State.Open() }
	cases := []struct {
		name string
		f    defs.AlertFilter
		keep func(a defs.Alert) bool
	}{
		{"default is open", defs.AlertFilter{}, open},
		{"all states", defs.AlertFilter{States: states}, func(defs.Alert) bool { return true }},
		{"resolved", defs.AlertFilter{States: []defs.AlertState{defs.AlertResolved}}, func(a defs.Alert) bool { return a.State == defs.AlertResolved }},
		{"firing or acked", defs.AlertFilter{States: []defs.AlertState{defs.AlertFiring, defs.AlertAcknowledged}},
			func(a defs.Alert) bool { return a.State == defs.AlertFiring || a.State == defs.AlertAcknowledged }},
		{"severity", defs.AlertFilter{Severity: []defs.Severity{defs.SeverityCritical, defs.SeverityWarning}},
			func(a defs.Alert) bool { return open(a) && a.Severity != defs.SeverityMajor }},
		{"site", defs.AlertFilter{Site: "benluc"}, func(a defs.Alert) bool { return open(a) && a.Site == "benluc" }},
		{"device", defs.AlertFilter{Device: "dev-3"}, func(a defs.Alert) bool { return open(a) && a.Device == "dev-3" }},
		{"rule", defs.AlertFilter{Rule: "camera_down"}, func(a defs.Alert) bool { return open(a) && a.Rule == "camera_down" }},
		{"from to", defs.AlertFilter{States: states, From: t0.Add(5 * time.Minute), To: t0.Add(10 * time.Minute)},
			func(a defs.Alert) bool {
				return !a.PendingSince.Before(t0.Add(5*time.Minute)) && a.PendingSince.Before(t0.Add(10*time.Minute))
			}},
		{"everything at once", defs.AlertFilter{States: states, Site: "tanan", Rule: "device_offline", Severity: []defs.Severity{defs.SeverityMajor}},
			func(a defs.Alert) bool {
				return a.Site == "tanan" && a.Rule == "device_offline" && a.Severity == defs.SeverityMajor
			}},
	}
	for _, tc := range cases {
		for _, limit := range []int{0, 1, 4, 7} {
			t.Run(fmt.Sprintf("%s limit %d", tc.name, limit), func(t *testing.T) {
				want := newestFirst(tc.keep)
				var got []string
				f := tc.f
				f.Limit = limit
				for pages := 0; ; pages++ {
					if pages > len(all)+1 {
						t.Fatal("pagination does not end")
					}
					page, next, err := s.ListAlerts(ctx, f)
					if err != nil {
						t.Fatal(err)
					}
					if limit > 0 && len(page) > limit {
						t.Fatalf("page of %d, limit %d", len(page), limit)
					}
					for _, a := range page {
						got = append(got, a.ID)
					}
					if next == "" {
						break
					}
					f.Cursor = next
				}
				if !reflect.DeepEqual(got, want) {
					t.Errorf("got %v\nwant %v", got, want)
				}
			})
		}
	}
	if _, _, err := s.ListAlerts(ctx, defs.AlertFilter{Cursor: "not-a-cursor"}); defs.ErrorField(err) != "cursor" {
		t.Errorf("bad cursor: %v, want invalid naming cursor", err)
	}
}

func TestSilencesRoundTrip(t *testing.T) {
	s := openTest(t)
	ctx := context.Background()
	t0 := time.Date(2026, 12, 1, 8, 0, 0, 0, time.UTC)
	a := defs.Silence{ID: "sil_1", Selector: defs.Selector{ID: "wl-01"}, Until: t0.Add(time.Hour), Reason: "bảo trì", By: "test-operator", CreatedAt: t0}
	b := defs.Silence{ID: "sil_2", Selector: defs.Selector{Site: "tanan", Tags: map[string]string{"river": "vam-co"}}, Rule: "device_offline",
		Until: t0.Add(2 * time.Hour), Reason: "maintenance", By: "test-admin", CreatedAt: t0.Add(time.Minute)}
	for _, sl := range []defs.Silence{b, a} {
		if err := s.PutSilence(ctx, sl); err != nil {
			t.Fatal(err)
		}
	}
	got, err := s.ListSilences(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, []defs.Silence{a, b}) {
		t.Errorf("silences = %+v, want %+v", got, []defs.Silence{a, b})
	}
	a.Until = t0.Add(3 * time.Hour)
	if err := s.PutSilence(ctx, a); err != nil {
		t.Fatal(err)
	}
	if err := s.DeleteSilence(ctx, b.ID); err != nil {
		t.Fatal(err)
	}
	got, _ = s.ListSilences(ctx)
	if len(got) != 1 || !got[0].Until.Equal(a.Until) {
		t.Errorf("after update and delete: %+v", got)
	}
	if err := s.DeleteSilence(ctx, b.ID); defs.ErrorCode(err) != defs.ENOTFOUND {
		t.Errorf("deleting twice: %v, want not_found", err)
	}
	if err := s.PutSilence(ctx, defs.Silence{}); defs.ErrorCode(err) != defs.EINVALID {
		t.Errorf("silence without id: %v, want invalid", err)
	}
}

func TestPruneAlerts(t *testing.T) {
	s := openTest(t)
	ctx := context.Background()
	t0 := time.Date(2026, 12, 1, 8, 0, 0, 0, time.UTC)
	old := testAlert("old", "r", "a", defs.AlertResolved, t0.Add(-48*time.Hour))
	old.ResolvedAt = t0.Add(-47 * time.Hour)
	recent := testAlert("recent", "r", "b", defs.AlertResolved, t0.Add(-time.Hour))
	recent.ResolvedAt = t0.Add(-time.Minute)
	firing := testAlert("firing", "r", "c", defs.AlertFiring, t0.Add(-72*time.Hour))
	for _, a := range []defs.Alert{old, recent, firing} {
		tr := defs.AlertTransition{Alert: a.ID, Seq: 1, Change: defs.ChangeFired, To: defs.AlertFiring, At: a.RaisedAt}
		if err := s.SaveAlert(ctx, a, []defs.AlertTransition{tr}); err != nil {
			t.Fatal(err)
		}
	}
	n, err := s.PruneAlerts(ctx, t0.Add(-24*time.Hour))
	if err != nil || n != 1 {
		t.Fatalf("pruned %d, %v; want 1", n, err)
	}
	if _, _, err := s.GetAlert(ctx, "old"); defs.ErrorCode(err) != defs.ENOTFOUND {
		t.Errorf("old alert still there: %v", err)
	}
	var orphans int
	if err := s.DB().QueryRowContext(ctx, `SELECT COUNT(*) FROM alert_transitions WHERE alert = 'old'`).Scan(&orphans); err != nil || orphans != 0 {
		t.Errorf("%d transitions of the pruned alert left (%v)", orphans, err)
	}
	for _, id := range []string{"recent", "firing"} {
		if _, hist, err := s.GetAlert(ctx, id); err != nil || len(hist) != 1 {
			t.Errorf("%s: %v, %d transitions", id, err, len(hist))
		}
	}
}
