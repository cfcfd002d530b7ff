package api_test

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/iocd/iocd/alerts"
	"github.com/iocd/iocd/api"
	"github.com/iocd/iocd/defs"
	"github.com/iocd/iocd/store"
)

// storeAlerts serves api.AlertService straight from the real store, with
// the real rule validation: the thin adapter that lets the HTTP edge be
// tested end to end while the engine is written elsewhere. It does what the
// engine's persistence does and nothing of its evaluation.
type storeAlerts struct {
	st *store.SQLite
	mu sync.Mutex
	// dryRun answers the dry run; nil is "no InfluxDB", as in the engine.
	dryRun func(r defs.AlertRule, from, to time.Time) (alerts.DryRunResult, error)
	// lastBy is the principal of the last change, to check `by`.
	lastBy string
}

var _ api.AlertService = (*storeAlerts)(nil)

func (s *storeAlerts) Rules(ctx context.Context) ([]defs.AlertRule, error) {
	return s.st.ListAlertRules(ctx)
}

func (s *storeAlerts) Rule(ctx context.Context, id string) (defs.AlertRule, error) {
	rules, err := s.st.ListAlertRules(ctx)
	if err != nil {
		return defs.AlertRule{}, err
	}
	for _, r := range rules {
		if r.ID == id {
			return r, nil
		}
	}
	return defs.AlertRule{}, defs.NotFound("no alert rule %q", id)
}

func (s *storeAlerts) PutRule(ctx context.Context, r defs.AlertRule, by string) (defs.AlertRule, error) {
	v, err := alerts.ValidateRule(r)
	if err != nil {
		return v, err
	}
	s.setBy(by)
	if err := s.st.PutAlertRule(ctx, v); err != nil {
		return v, err
	}
	return s.Rule(ctx, v.ID)
}

func (s *storeAlerts) DeleteRule(ctx context.Context, id, by string) error {
	s.setBy(by)
	return s.st.DeleteAlertRule(ctx, id)
}

func (s *storeAlerts) List(ctx context.Context, f defs.AlertFilter) ([]defs.Alert, string, error) {
	return s.st.ListAlerts(ctx, f)
}

func (s *storeAlerts) Get(ctx context.Context, id string) (defs.Alert, []defs.AlertTransition, error) {
	return s.st.GetAlert(ctx, id)
}

func (s *storeAlerts) Ack(ctx context.Context, id, by, note, assignee string, expires time.Time) (defs.Alert, error) {
	a, hist, err := s.st.GetAlert(ctx, id)
	if err != nil {
		return a, err
	}
	if a.State != defs.AlertFiring && a.State != defs.AlertAcknowledged {
		return a, defs.Errorf(defs.ECONFLICT, "alert %s is %s, not firing", id, a.State)
	}
	at := time.Now().UTC()
	t := defs.AlertTransition{Alert: id, Seq: len(hist) + 1, Change: defs.ChangeAcknowledged, From: a.State,
		To: defs.AlertAcknowledged, Severity: a.Severity, Actor: by, Note: note, At: at}
	a.State, a.AckedBy, a.AckedAt, a.AckNote, a.AckAssignee, a.AckExpires, a.UpdatedAt =
		defs.AlertAcknowledged, by, at, note, assignee, expires, at
	return a, s.st.SaveAlert(ctx, a, []defs.AlertTransition{t})
}

func (s *storeAlerts) Silences(ctx context.Context) ([]defs.Silence, error) {
	return s.st.ListSilences(ctx)
}

func (s *storeAlerts) AddSilence(ctx context.Context, sl defs.Silence) (defs.Silence, error) {
	return sl, s.st.PutSilence(ctx, sl)
}

func (s *storeAlerts) DeleteSilence(ctx context.Context, id, by string) error {
	s.setBy(by)
	return s.st.DeleteSilence(ctx, id)
}

func (s *storeAlerts) DryRun(_ context.Context, r defs.AlertRule, from, to time.Time) (alerts.DryRunResult, error) {
	if s.dryRun == nil {
		return alerts.DryRunResult{}, defs.Errorf(defs.EUNAVAILABLE, "the dry run needs InfluxDB, which is not configured")
	}
	return s.dryRun(r, from, to)
}

func (s *storeAlerts) setBy(by string) { s.mu.Lock(); s.lastBy = by; s.mu.Unlock() }
func (s *storeAlerts) by() string      { s.mu.Lock(); defer s.mu.Unlock(); return s.lastBy }

// alertsRig is the API rig with the alerts domain served from its store.
func alertsRig(t *testing.T) (*rig, *storeAlerts) {
	t.Helper()
	svc := &storeAlerts{}
	r := newRig(t, func(s *rigSetup) { s.opts.Alerts = svc })
	svc.st = r.store
	return r, svc
}

func waterRuleJSON() map[string]any {
	return map[string]any{
		"name": "Mực nước cao", "kind": "threshold", "field": "water_cm", "op": ">", "value": 200, "clear": 190,
		"for": "30s", "keep_firing_for": "1m", "severity": "critical",
		"selector": map[string]any{"site": "tanan", "kind": "sensor", "tags": map[string]string{"river": "vam-co"}},
		"message":  map[string]string{"vi": "Mực nước {{value}} cm tại {{device}}", "en": "Water at {{value}} cm at {{device}}"},
	}
}

func with(m map[string]any, kv ...any) map[string]any {
	out := map[string]any{}
	for k, v := range m {
		out[k] = v
	}
	for i := 0; i+1 < len(kv); i += 2 {
		if kv[i+1] == nil {
			delete(out, kv[i].(string))
			continue
		}
		out[kv[i].(string)] = kv[i+1]
	}
	return out
}

func wantInvalid(t *testing.T, got response, field string) {
	t.Helper()
	wantStatus(t, got, http.StatusBadRequest)
	if e := got.err(t); e.Error.Code != defs.EINVALID || e.Error.Field != field {
		t.Fatalf("error = %+v, want invalid naming %q", e.Error, field)
	}
}

func TestAlertRulesCRUD(t *testing.T) {
	r, svc := alertsRig(t)
	ctx := context.Background()
	got := r.admin("POST", "/api/v1/alert-rules", waterRuleJSON())
	wantStatus(t, got, http.StatusCreated)
	var created struct{ Rule defs.AlertRule }
	got.json(t, &created)
	if created.Rule.ID != "muc-nuoc-cao" || created.Rule.Clear == nil || *created.Rule.Clear != 190 ||
		created.Rule.For.D() != 30*time.Second || created.Rule.CreatedAt.IsZero() || created.Rule.Builtin {
		t.Fatalf("created rule = %+v", created.Rule)
	}
	if svc.by() != "test-admin" {
		t.Errorf("rule stored by %q, want the admin token's name", svc.by())
	}
	stored, err := r.store.ListAlertRules(ctx)
	if err != nil || len(stored) != 1 || stored[0].ID != "muc-nuoc-cao" || stored[0].Message.VI != "Mực nước {{value}} cm tại {{device}}" {
		t.Fatalf("store holds %+v, %v", stored, err)
	}

	// The same name again is the same id: a conflict, naming it.
	got = r.admin("POST", "/api/v1/alert-rules", waterRuleJSON())
	wantStatus(t, got, http.StatusConflict)
	if e := got.err(t); e.Error.Field != "id" || !strings.Contains(e.Error.Message, "muc-nuoc-cao") {
		t.Errorf("conflict = %+v", e.Error)
	}

	// A built-in rule, as the engine seeds them.
	for _, d := range alerts.DefaultRules() {
		if err := r.store.PutAlertRule(ctx, d); err != nil {
			t.Fatal(err)
		}
	}
	var list struct{ Rules []defs.AlertRule }
	got = r.do("GET", "/api/v1/alert-rules", r.tokens[defs.RoleViewer], nil)
	wantStatus(t, got, http.StatusOK)
	got.json(t, &list)
	if len(list.Rules) != len(alerts.DefaultRules())+1 {
		t.Errorf("%d rules listed", len(list.Rules))
	}

	// PUT takes back what GET gave, changed; builtin and created_at stay.
	var one struct{ Rule defs.AlertRule }
	got = r.do("GET", "/api/v1/alert-rules/device_offline", r.tokens[defs.RoleViewer], nil)
	wantStatus(t, got, http.StatusOK)
	got.json(t, &one)
	one.Rule.For = defs.Duration(2 * time.Minute)
	one.Rule.Builtin = false
	one.Rule.Message.VI = "Thiết bị {{device}} mất kết nối quá {{for}}"
	got = r.admin("PUT", "/api/v1/alert-rules/device_offline", one.Rule)
	wantStatus(t, got, http.StatusOK)
	var put struct{ Rule defs.AlertRule }
	got.json(t, &put)
	if put.Rule.For.D() != 2*time.Minute || !put.Rule.Builtin || !put.Rule.CreatedAt.Equal(one.Rule.CreatedAt) ||
		put.Rule.Message.VI != one.Rule.Message.VI {
		t.Errorf("put rule = %+v, want for 2m, still builtin, created_at kept", put.Rule)
	}

	wantInvalid(t, r.admin("PUT", "/api/v1/alert-rules/device_offline", with(waterRuleJSON(), "id", "other")), "id")
	wantStatus(t, r.admin("PUT", "/api/v1/alert-rules/nope", waterRuleJSON()), http.StatusNotFound)
	wantStatus(t, r.admin("GET", "/api/v1/alert-rules/nope", nil), http.StatusNotFound)
	wantStatus(t, r.admin("DELETE", "/api/v1/alert-rules/muc-nuoc-cao", nil), http.StatusNoContent)
	wantStatus(t, r.admin("DELETE", "/api/v1/alert-rules/muc-nuoc-cao", nil), http.StatusNotFound)
	wantStatus(t, r.admin("GET", "/api/v1/alert-rules/muc-nuoc-cao", nil), http.StatusNotFound)
}

func TestAlertRuleRefusedNamingTheField(t *testing.T) {
	r, _ := alertsRig(t)
	msg := func(vi string) map[string]string { return map[string]string{"vi": vi, "en": "x"} }
	cases := []struct {
		name  string
		body  any
		field string
	}{
		{"unknown member", with(waterRuleJSON(), "treshold", 3), "treshold"},
		{"bad op", with(waterRuleJSON(), "op", "=>"), "op"},
		{"bad kind", with(waterRuleJSON(), "kind", "lamp"), "kind"},
		{"bad severity", with(waterRuleJSON(), "severity", "urgent"), "severity"},
		{"clear on the wrong side", with(waterRuleJSON(), "clear", 250), "clear"},
		{"unknown placeholder", with(waterRuleJSON(), "message", msg("Mực nước {{muc}}")), "message.vi"},
		{"no english", with(waterRuleJSON(), "message", map[string]string{"vi": "a"}), "message.en"},
		{"selector kind", with(waterRuleJSON(), "selector", map[string]any{"kind": "lamp"}), "selector.kind"},
		{"levels unordered", with(waterRuleJSON(), "value", nil, "clear", nil, "severity", nil,
			"levels", []map[string]any{{"value": 200, "severity": "major"}, {"value": 190, "severity": "critical"}}), "levels[1].value"},
		{"levels and value", with(waterRuleJSON(), "clear", nil, "levels", []map[string]any{{"value": 250, "severity": "critical"}}), "value"},
		{"duration as a number", with(waterRuleJSON(), "for", 30), "for"},
		{"duration garbage", with(waterRuleJSON(), "keep_firing_for", "soon"), "keep_firing_for"},
		{"value as text", with(waterRuleJSON(), "value", "high"), "value"},
		{"control in name", with(waterRuleJSON(), "name", "a\u0007b"), "name"},
		{"absence with op", map[string]any{"name": "n", "kind": "absence", "for": "1m", "op": ">", "severity": "minor", "message": msg("a")}, "op"},
		{"rate without window", map[string]any{"name": "n", "kind": "rate", "event": "violation", "count": 3, "severity": "minor", "message": msg("a")}, "window"},
		{"not an object", "[1,2]", "body"},
		{"empty", "", "body"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			wantInvalid(t, r.admin("POST", "/api/v1/alert-rules", tc.body), tc.field)
		})
	}
	// PUT validates the same way.
	if err := r.store.PutAlertRule(context.Background(), alerts.DefaultRules()[0]); err != nil {
		t.Fatal(err)
	}
	wantInvalid(t, r.admin("PUT", "/api/v1/alert-rules/"+alerts.DefaultRules()[0].ID, with(waterRuleJSON(), "for", 30)), "for")
}

// seedAlerts stores alerts as the engine would, with their history.
func seedAlerts(t *testing.T, st *store.SQLite, t0 time.Time) []defs.Alert {
	t.Helper()
	var out []defs.Alert
	states := []defs.AlertState{defs.AlertPending, defs.AlertFiring, defs.AlertAcknowledged, defs.AlertResolved}
	for i := 0; i < 12; i++ {
		dev := fmt.Sprintf("wl-%02d", i%4)
		a := defs.Alert{ID: fmt.Sprintf("al_%02d", i), Rule: []string{"device_offline", "muc-nuoc-cao"}[i%2], Subject: dev,
			Device: defs.DeviceID(dev), Site: []string{"tanan", "benluc"}[i%2], State: states[i%4],
			Severity: []defs.Severity{defs.SeverityMajor, defs.SeverityCritical, defs.SeverityWarning}[i%3],
			Message:  "Thiết bị " + dev + " mất kết nối", PendingSince: t0.Add(time.Duration(i) * time.Minute), UpdatedAt: t0}
		hist := []defs.AlertTransition{{Alert: a.ID, Seq: 1, Change: defs.ChangePending, To: defs.AlertPending, Severity: a.Severity, At: a.PendingSince}}
		if a.State != defs.AlertPending {
			a.RaisedAt = a.PendingSince.Add(30 * time.Second)
			hist = append(hist, defs.AlertTransition{Alert: a.ID, Seq: 2, Change: defs.ChangeFired, From: defs.AlertPending,
				To: defs.AlertFiring, Severity: a.Severity, At: a.RaisedAt})
		}
		if a.State == defs.AlertResolved {
			a.ResolvedAt = a.RaisedAt.Add(time.Minute)
		}
		if err := st.SaveAlert(context.Background(), a, hist); err != nil {
			t.Fatal(err)
		}
		out = append(out, a)
	}
	return out
}

func TestAlertsListFiltersOverHTTP(t *testing.T) {
	r, _ := alertsRig(t)
	t0 := time.Now().UTC().Add(-time.Hour).Truncate(time.Second)
	all := seedAlerts(t, r.store, t0)
	ids := func(q string) []string {
		t.Helper()
		got := r.do("GET", "/api/v1/alerts"+q, r.tokens[defs.RoleViewer], nil)
		wantStatus(t, got, http.StatusOK)
		var list struct {
			Alerts     []defs.Alert
			NextCursor string `json:"next_cursor"`
		}
		got.json(t, &list)
		var out []string
		for _, a := range list.Alerts {
			out = append(out, a.ID)
		}
		return out
	}
	want := func(keep func(a defs.Alert) bool) []string {
		var out []string
		for i := len(all) - 1; i >= 0; i-- {
			if keep(all[i]) {
				out = append(out, all[i].ID)
			}
		}
		return out
	}
	open := func(a defs.Alert) bool { return a.State.Open() }
	q := url.QueryEscape
	cases := []struct {
		query string
		keep  func(defs.Alert) bool
	}{
		{"", open},
		{"?state=open", open},
		{"?state=all", func(defs.Alert) bool { return true }},
		{"?state=resolved", func(a defs.Alert) bool { return a.State == defs.AlertResolved }},
		{"?state=pending,acknowledged", func(a defs.Alert) bool { return a.State == defs.AlertPending || a.State == defs.AlertAcknowledged }},
		{"?state=firing&severity=critical,major", func(a defs.Alert) bool {
			return a.State == defs.AlertFiring && a.Severity != defs.SeverityWarning
		}},
		{"?state=all&site=benluc", func(a defs.Alert) bool { return a.Site == "benluc" }},
		{"?state=all&device=wl-02", func(a defs.Alert) bool { return a.Device == "wl-02" }},
		{"?rule=muc-nuoc-cao", func(a defs.Alert) bool { return open(a) && a.Rule == "muc-nuoc-cao" }},
		{"?state=all&from=" + q(t0.Add(3*time.Minute).Format(time.RFC3339)) + "&to=" + q(t0.Add(7*time.Minute).Format(time.RFC3339)),
			func(a defs.Alert) bool {
				return !a.PendingSince.Before(t0.Add(3*time.Minute)) && a.PendingSince.Before(t0.Add(7*time.Minute))
			}},
		{"?state=all&from=" + fmt.Sprint(t0.Add(10*time.Minute).UnixMilli()), func(a defs.Alert) bool { return !a.PendingSince.Before(t0.Add(10 * time.Minute)) }},
		{"?state=all&from=-3h&to=-2h", func(defs.Alert) bool { return false }},
		{"?state=all&from=-54m30s", func(a defs.Alert) bool { return a.PendingSince.After(t0.Add(5 * time.Minute)) }},
	}
	for _, tc := range cases {
		t.Run(tc.query, func(t *testing.T) {
			got, w := ids(tc.query), want(tc.keep)
			if strings.Join(got, ",") != strings.Join(w, ",") {
				t.Errorf("got %v, want %v", got, w)
			}
		})
	}

	// Pages of 5 through everything, following next_cursor.
	var paged []string
	cursor := ""
	for pages := 0; pages < 10; pages++ {
		got := r.do("GET", "/api/v1/alerts?state=all&limit=5&cursor="+q(cursor), r.tokens[defs.RoleViewer], nil)
		wantStatus(t, got, http.StatusOK)
		var list struct {
			Alerts     []defs.Alert
			NextCursor string `json:"next_cursor"`
		}
		got.json(t, &list)
		if len(list.Alerts) > 5 {
			t.Fatalf("page of %d", len(list.Alerts))
		}
		for _, a := range list.Alerts {
			paged = append(paged, a.ID)
		}
		if cursor = list.NextCursor; cursor == "" {
			break
		}
	}
	if w := want(func(defs.Alert) bool { return true }); strings.Join(paged, ",") != strings.Join(w, ",") {
		t.Errorf("paged %v, want %v", paged, w)
	}

	bad := []struct{ query, field string }{
		{"?state=burning", "state"},
		{"?state=open,nope", "state"},
		{"?severity=high", "severity"},
		{"?limit=0", "limit"},
		{"?limit=1001", "limit"},
		{"?limit=ten", "limit"},
		{"?from=yesterday", "from"},
		{"?to=2026-13-01", "to"},
		{"?from=-1h&to=-2h", "to"},
		{"?cursor=garbage", "cursor"},
		{"?site=" + q(strings.Repeat("s", 65)), "site"},
		{"?device=" + q("a\x01"), "device"},
	}
	for _, tc := range bad {
		t.Run("refuses "+tc.query, func(t *testing.T) {
			wantInvalid(t, r.do("GET", "/api/v1/alerts"+tc.query, r.tokens[defs.RoleViewer], nil), tc.field)
		})
	}
}

func TestAlertDetailAndAck(t *testing.T) {
	r, _ := alertsRig(t)
	t0 := time.Now().UTC().Add(-time.Hour).Truncate(time.Second)
	seedAlerts(t, r.store, t0)
	// al_01 is firing.
	var detail struct {
		Alert   defs.Alert
		History []defs.AlertTransition
	}
	got := r.do("GET", "/api/v1/alerts/al_01", r.tokens[defs.RoleViewer], nil)
	wantStatus(t, got, http.StatusOK)
	got.json(t, &detail)
	if detail.Alert.ID != "al_01" || detail.Alert.State != defs.AlertFiring || len(detail.History) != 2 {
		t.Fatalf("detail = %+v", detail)
	}
	wantStatus(t, r.do("GET", "/api/v1/alerts/al_missing", r.tokens[defs.RoleViewer], nil), http.StatusNotFound)

	bad := []struct {
		name  string
		body  any
		field string
	}{
		{"expires in the past", map[string]string{"expires": "-5m"}, "expires"},
		{"expires too far", map[string]string{"expires": "200h"}, "expires"},
		{"expires garbage", map[string]string{"expires": "later"}, "expires"},
		{"note with control", map[string]string{"note": "a\x00b"}, "note"},
		{"note too long", map[string]string{"note": strings.Repeat("n", 2001)}, "note"},
		{"assignee with newline", map[string]string{"assignee": "lan\nhoa"}, "assignee"},
		{"unknown member", map[string]string{"comment": "x"}, "comment"},
	}
	for _, tc := range bad {
		t.Run(tc.name, func(t *testing.T) {
			wantInvalid(t, r.do("POST", "/api/v1/alerts/al_01/ack", r.tokens[defs.RoleOperator], tc.body), tc.field)
		})
	}

	note := "Đã cử kỹ thuật viên ra trạm.\nDự kiến 30 phút."
	got = r.do("POST", "/api/v1/alerts/al_01/ack", r.tokens[defs.RoleOperator],
		map[string]string{"note": note, "assignee": "lan", "expires": "30m"})
	wantStatus(t, got, http.StatusOK)
	var acked struct{ Alert defs.Alert }
	got.json(t, &acked)
	a := acked.Alert
	if a.State != defs.AlertAcknowledged || a.AckNote != note || a.AckAssignee != "lan" || a.AckedBy != "test-operator" {
		t.Errorf("acked alert = %+v", a)
	}
	if d := time.Until(a.AckExpires); d < 25*time.Minute || d > 31*time.Minute {
		t.Errorf("ack expires in %s, want about 30m", d)
	}
	// The note is kept: the detail shows it on the alert and in its history.
	r.do("GET", "/api/v1/alerts/al_01", r.tokens[defs.RoleViewer], nil).json(t, &detail)
	last := detail.History[len(detail.History)-1]
	if detail.Alert.AckNote != note || last.Change != defs.ChangeAcknowledged || last.Note != note || last.Actor != "test-operator" {
		t.Errorf("after ack: alert note %q, last transition %+v", detail.Alert.AckNote, last)
	}
	// No body at all is fine; an RFC 3339 expiry too.
	wantStatus(t, r.do("POST", "/api/v1/alerts/al_05/ack", r.tokens[defs.RoleOperator], nil), http.StatusOK)
	wantStatus(t, r.do("POST", "/api/v1/alerts/al_09/ack", r.tokens[defs.RoleOperator],
		map[string]string{"expires": time.Now().Add(time.Hour).Format(time.RFC3339)}), http.StatusOK)
	wantStatus(t, r.do("POST", "/api/v1/alerts/al_missing/ack", r.tokens[defs.RoleOperator], nil), http.StatusNotFound)
	// The service's conflict (a resolved alert) reaches the client as 409.
	wantStatus(t, r.do("POST", "/api/v1/alerts/al_03/ack", r.tokens[defs.RoleOperator], nil), http.StatusConflict)
}

func TestSilencesOverHTTP(t *testing.T) {
	r, svc := alertsRig(t)
	ctx := context.Background()
	if err := r.store.PutAlertRule(ctx, alerts.DefaultRules()[0]); err != nil {
		t.Fatal(err)
	}
	body := map[string]any{"selector": map[string]any{"id": "wl-01"}, "rule": "device_offline", "until": "2h", "reason": "Bảo trì trạm bơm"}
	got := r.do("POST", "/api/v1/silences", r.tokens[defs.RoleOperator], body)
	wantStatus(t, got, http.StatusCreated)
	var created struct{ Silence defs.Silence }
	got.json(t, &created)
	sl := created.Silence
	if !strings.HasPrefix(sl.ID, "sil_") || sl.By != "test-operator" || sl.Reason != "Bảo trì trạm bơm" || sl.Selector.ID != "wl-01" ||
		time.Until(sl.Until) < 119*time.Minute || time.Until(sl.Until) > 121*time.Minute {
		t.Fatalf("silence = %+v", sl)
	}
	stored, err := r.store.ListSilences(ctx)
	if err != nil || len(stored) != 1 || stored[0].ID != sl.ID {
		t.Fatalf("store holds %+v, %v", stored, err)
	}
	var list struct{ Silences []defs.Silence }
	got = r.do("GET", "/api/v1/silences", r.tokens[defs.RoleViewer], nil)
	wantStatus(t, got, http.StatusOK)
	got.json(t, &list)
	if len(list.Silences) != 1 || list.Silences[0].ID != sl.ID {
		t.Errorf("listed %+v", list.Silences)
	}
	// A site selector alone, until an RFC 3339 time.
	wantStatus(t, r.do("POST", "/api/v1/silences", r.tokens[defs.RoleOperator], map[string]any{
		"selector": map[string]any{"site": "tanan"}, "until": time.Now().Add(24 * time.Hour).Format(time.RFC3339), "reason": "maintenance"}),
		http.StatusCreated)

	bad := []struct {
		name  string
		body  map[string]any
		field string
	}{
		{"nothing to silence", with(body, "selector", nil, "rule", nil), "selector"},
		{"empty selector no rule", with(body, "selector", map[string]any{}, "rule", nil), "selector"},
		{"bad selector kind", with(body, "selector", map[string]any{"kind": "lamp"}), "selector.kind"},
		{"bad selector id", with(body, "selector", map[string]any{"id": "a/b"}), "selector.id"},
		{"unknown rule", with(body, "rule", "no-such-rule"), "rule"},
		{"no reason", with(body, "reason", "  "), "reason"},
		{"reason with control", with(body, "reason", "a\x1bb"), "reason"},
		{"no until", with(body, "until", nil), "until"},
		{"until in the past", with(body, "until", "-1m"), "until"},
		{"until too far", with(body, "until", "721h"), "until"},
		{"until garbage", with(body, "until", "friday"), "until"},
		{"unknown member", with(body, "comment", "x"), "comment"},
	}
	for _, tc := range bad {
		t.Run(tc.name, func(t *testing.T) {
			wantInvalid(t, r.do("POST", "/api/v1/silences", r.tokens[defs.RoleOperator], tc.body), tc.field)
		})
	}

	wantStatus(t, r.do("DELETE", "/api/v1/silences/"+sl.ID, r.tokens[defs.RoleOperator], nil), http.StatusNoContent)
	if svc.by() != "test-operator" {
		t.Errorf("silence deleted by %q, want test-operator", svc.by())
	}
	wantStatus(t, r.do("DELETE", "/api/v1/silences/"+sl.ID, r.tokens[defs.RoleOperator], nil), http.StatusNotFound)
}

func TestAlertRuleDryRun(t *testing.T) {
	r, svc := alertsRig(t)
	body := map[string]any{"rule": waterRuleJSON(), "from": "-2h"}
	// No InfluxDB: the engine says unavailable, the client gets 503.
	got := r.do("POST", "/api/v1/alert-rules/test", r.tokens[defs.RoleOperator], body)
	wantStatus(t, got, http.StatusServiceUnavailable)
	if e := got.err(t); e.Error.Code != defs.EUNAVAILABLE {
		t.Errorf("error = %+v", e.Error)
	}

	fired := time.Now().Add(-time.Hour).UTC().Truncate(time.Second)
	var gotRule defs.AlertRule
	var gotFrom, gotTo time.Time
	svc.dryRun = func(rule defs.AlertRule, from, to time.Time) (alerts.DryRunResult, error) {
		gotRule, gotFrom, gotTo = rule, from, to
		return alerts.DryRunResult{Alerts: 1, Subjects: []alerts.DryRunSubject{{Subject: "wl-01", Fired: []time.Time{fired}}}}, nil
	}
	got = r.do("POST", "/api/v1/alert-rules/test", r.tokens[defs.RoleOperator], body)
	wantStatus(t, got, http.StatusOK)
	var res struct {
		alerts.DryRunResult
		From, To time.Time
	}
	got.json(t, &res)
	if res.Alerts != 1 || len(res.Subjects) != 1 || res.Subjects[0].Subject != "wl-01" || !res.Subjects[0].Fired[0].Equal(fired) {
		t.Errorf("result = %s", got.body)
	}
	if gotRule.ID != "muc-nuoc-cao" || gotRule.Op != ">" {
		t.Errorf("engine got rule %+v, want the validated one", gotRule)
	}
	if d := gotTo.Sub(gotFrom); d < 2*time.Hour-time.Minute || d > 2*time.Hour+time.Minute || time.Since(gotTo) > time.Minute {
		t.Errorf("range %s..%s, want the last 2h", gotFrom, gotTo)
	}
	if !res.From.Equal(gotFrom) || !res.To.Equal(gotTo) {
		t.Errorf("answered range %s..%s, engine got %s..%s", res.From, res.To, gotFrom, gotTo)
	}
	// The engine's refusal of the rule names it under rule.
	svc.dryRun = func(defs.AlertRule, time.Time, time.Time) (alerts.DryRunResult, error) {
		return alerts.DryRunResult{}, defs.Invalid("kind", "dry run supports threshold and absence rules of a field")
	}
	wantInvalid(t, r.do("POST", "/api/v1/alert-rules/test", r.tokens[defs.RoleOperator], body), "rule.kind")
	// Nothing was stored.
	if rules, _ := r.store.ListAlertRules(context.Background()); len(rules) != 0 {
		t.Errorf("a dry run stored %v", rules)
	}

	bad := []struct {
		name  string
		body  any
		field string
	}{
		{"bad op", map[string]any{"rule": with(waterRuleJSON(), "op", "=>")}, "rule.op"},
		{"bad placeholder", map[string]any{"rule": with(waterRuleJSON(), "message", map[string]string{"vi": "{{x}}", "en": "y"})}, "rule.message.vi"},
		{"duration as number", map[string]any{"rule": with(waterRuleJSON(), "for", 30)}, "rule.for"},
		{"from after to", map[string]any{"rule": waterRuleJSON(), "from": "-1h", "to": "-2h"}, "to"},
		{"range too long", map[string]any{"rule": waterRuleJSON(), "from": "-800h"}, "from"},
		{"from garbage", map[string]any{"rule": waterRuleJSON(), "from": "last week"}, "from"},
		{"unknown member", map[string]any{"rule": waterRuleJSON(), "span": "1h"}, "span"},
	}
	for _, tc := range bad {
		t.Run(tc.name, func(t *testing.T) {
			wantInvalid(t, r.do("POST", "/api/v1/alert-rules/test", r.tokens[defs.RoleOperator], tc.body), tc.field)
		})
	}
}

// TestAlertRoutesRoles sends each alerts route with no token and with each
// role: 401, 403 below the route's role, success at or above it.
func TestAlertRoutesRoles(t *testing.T) {
	r, svc := alertsRig(t)
	svc.dryRun = func(defs.AlertRule, time.Time, time.Time) (alerts.DryRunResult, error) {
		return alerts.DryRunResult{}, nil
	}
	ctx := context.Background()
	t0 := time.Now().UTC().Add(-time.Hour)
	roles := []defs.Role{defs.RoleNone, defs.RoleViewer, defs.RoleOperator, defs.RoleReviewer, defs.RoleAdmin}
	n := 0
	fresh := func() int { n++; return n }
	prepRule := func(t *testing.T, id string) {
		rule := alerts.DefaultRules()[0]
		rule.ID = id
		if err := r.store.PutAlertRule(ctx, rule); err != nil {
			t.Fatal(err)
		}
	}
	prepAlert := func(t *testing.T, id string) {
		a := defs.Alert{ID: id, Rule: "device_offline", Subject: "wl-01", State: defs.AlertFiring, Severity: defs.SeverityMajor, RaisedAt: t0}
		if err := r.store.SaveAlert(ctx, a, nil); err != nil {
			t.Fatal(err)
		}
	}
	prepSilence := func(t *testing.T, id string) {
		if err := r.store.PutSilence(ctx, defs.Silence{ID: id, Selector: defs.Selector{ID: "wl-01"}, Until: t0.Add(3 * time.Hour), Reason: "x"}); err != nil {
			t.Fatal(err)
		}
	}
	type ep struct {
		method string
		path   func(n int) string
		min    defs.Role
		prep   func(t *testing.T, n int)
		body   func(n int) any
	}
	static := func(p string) func(int) string { return func(int) string { return p } }
	eps := []ep{
		{"GET", static("/api/v1/alerts"), defs.RoleViewer, nil, nil},
		{"GET", func(n int) string { return fmt.Sprintf("/api/v1/alerts/al_%d", n) }, defs.RoleViewer,
			func(t *testing.T, n int) { prepAlert(t, fmt.Sprintf("al_%d", n)) }, nil},
		{"POST", func(n int) string { return fmt.Sprintf("/api/v1/alerts/al_%d/ack", n) }, defs.RoleOperator,
			func(t *testing.T, n int) { prepAlert(t, fmt.Sprintf("al_%d", n)) }, func(int) any { return map[string]string{"note": "ok"} }},
		{"GET", static("/api/v1/alert-rules"), defs.RoleViewer, nil, nil},
		{"POST", static("/api/v1/alert-rules"), defs.RoleAdmin, nil,
			func(n int) any { return with(waterRuleJSON(), "name", fmt.Sprintf("rule %d", n)) }},
		{"POST", static("/api/v1/alert-rules/test"), defs.RoleOperator, nil, func(int) any { return map[string]any{"rule": waterRuleJSON()} }},
		{"GET", func(n int) string { return fmt.Sprintf("/api/v1/alert-rules/r%d", n) }, defs.RoleViewer,
			func(t *testing.T, n int) { prepRule(t, fmt.Sprintf("r%d", n)) }, nil},
		{"PUT", func(n int) string { return fmt.Sprintf("/api/v1/alert-rules/r%d", n) }, defs.RoleAdmin,
			func(t *testing.T, n int) { prepRule(t, fmt.Sprintf("r%d", n)) }, func(int) any { return waterRuleJSON() }},
		{"DELETE", func(n int) string { return fmt.Sprintf("/api/v1/alert-rules/r%d", n) }, defs.RoleAdmin,
			func(t *testing.T, n int) { prepRule(t, fmt.Sprintf("r%d", n)) }, nil},
		{"GET", static("/api/v1/silences"), defs.RoleViewer, nil, nil},
		{"POST", static("/api/v1/silences"), defs.RoleOperator, nil,
			func(int) any {
				return map[string]any{"selector": map[string]string{"site": "tanan"}, "until": "1h", "reason": "bảo trì"}
			}},
		{"DELETE", func(n int) string { return fmt.Sprintf("/api/v1/silences/sil_%d", n) }, defs.RoleOperator,
			func(t *testing.T, n int) { prepSilence(t, fmt.Sprintf("sil_%d", n)) }, nil},
	}
	for _, e := range eps {
		for _, role := range roles {
			i := fresh()
			path := e.path(i)
			t.Run(fmt.Sprintf("%s %s as %s", e.method, strings.TrimPrefix(path, "/api/v1"), role), func(t *testing.T) {
				if e.prep != nil {
					e.prep(t, i)
				}
				var body any
				if e.body != nil {
					body = e.body(i)
				}
				got := r.do(e.method, path, r.tokens[role], body)
				switch {
				case role == defs.RoleNone:
					wantStatus(t, got, http.StatusUnauthorized)
				case !role.Allows(e.min):
					wantStatus(t, got, http.StatusForbidden)
				default:
					if got.status < 200 || got.status > 299 {
						t.Errorf("want 2xx for %s, got %d: %s", role, got.status, got.body)
					}
				}
			})
		}
	}
}

// TestAlertRoutesUnwired: without an alerts service every route answers
// 503 after authentication, naming the domain.
func TestAlertRoutesUnwired(t *testing.T) {
	r := newRig(t)
	for _, p := range []struct{ method, path string }{
		{"GET", "/api/v1/alerts"}, {"GET", "/api/v1/alerts/x"}, {"POST", "/api/v1/alerts/x/ack"},
		{"GET", "/api/v1/alert-rules"}, {"POST", "/api/v1/alert-rules/test"}, {"PUT", "/api/v1/alert-rules/x"},
		{"GET", "/api/v1/silences"}, {"DELETE", "/api/v1/silences/x"},
	} {
		got := r.admin(p.method, p.path, map[string]any{})
		wantStatus(t, got, http.StatusServiceUnavailable)
		if e := got.err(t); !strings.Contains(e.Error.Message, "alerts") {
			t.Errorf("%s %s: %+v", p.method, p.path, e.Error)
		}
	}
	wantStatus(t, r.do("GET", "/api/v1/alerts", "", nil), http.StatusUnauthorized)
}
