package api

import (
	"context"
	"net/http"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/iocd/iocd/alerts"
	"github.com/iocd/iocd/auth"
	"github.com/iocd/iocd/defs"
)

// AlertService is the alerts engine as the API uses it: its rules, its
// alerts with their history, acknowledgement, silences and the dry run.
// *alerts.Engine satisfies it (checked in cmd/iocd). Each call that
// changes something takes the principal's name as `by`.
type AlertService interface {
	Rules(ctx context.Context) ([]defs.AlertRule, error)
	Rule(ctx context.Context, id string) (defs.AlertRule, error)
	PutRule(ctx context.Context, r defs.AlertRule, by string) (defs.AlertRule, error)
	DeleteRule(ctx context.Context, id, by string) error
	List(ctx context.Context, f defs.AlertFilter) ([]defs.Alert, string, error)
	Get(ctx context.Context, id string) (defs.Alert, []defs.AlertTransition, error)
	Ack(ctx context.Context, id, by, note, assignee string, expires time.Time) (defs.Alert, error)
	Silences(ctx context.Context) ([]defs.Silence, error)
	AddSilence(ctx context.Context, s defs.Silence) (defs.Silence, error)
	DeleteSilence(ctx context.Context, id, by string) error
	DryRun(ctx context.Context, r defs.AlertRule, from, to time.Time) (alerts.DryRunResult, error)
}

// Bounds of what people type into acknowledgements and silences.
const (
	maxNoteBytes     = 2000
	maxAssigneeBytes = 64
	maxReasonBytes   = 500
	maxAckExpiry     = 7 * 24 * time.Hour
	maxSilence       = 30 * 24 * time.Hour
)

func (s *Server) alertsRoutes() {
	d := s.domain("alerts", s.opts.Alerts != nil)
	// The wall reads; acknowledging and silencing is what the operator
	// role is for; rules are the admin's, but operators tune them with the
	// dry run before they wake anyone up.
	d.route("GET", "/api/v1/alerts", defs.RoleViewer, s.listAlerts,
		"state", "severity", "site", "device", "rule", "from", "to", "limit", "cursor")
	d.route("GET", "/api/v1/alerts/{id}", defs.RoleViewer, s.getAlert)
	d.route("POST", "/api/v1/alerts/{id}/ack", defs.RoleOperator, s.ackAlert)

	d.route("GET", "/api/v1/alert-rules", defs.RoleViewer, s.listAlertRules)
	d.route("POST", "/api/v1/alert-rules", defs.RoleAdmin, s.createAlertRule)
	d.route("POST", "/api/v1/alert-rules/test", defs.RoleOperator, s.testAlertRule)
	d.route("GET", "/api/v1/alert-rules/{id}", defs.RoleViewer, s.getAlertRule)
	d.route("PUT", "/api/v1/alert-rules/{id}", defs.RoleAdmin, s.putAlertRule)
	d.route("DELETE", "/api/v1/alert-rules/{id}", defs.RoleAdmin, s.deleteAlertRule)

	d.route("GET", "/api/v1/silences", defs.RoleViewer, s.listSilences)
	d.route("POST", "/api/v1/silences", defs.RoleOperator, s.addSilence)
	d.route("DELETE", "/api/v1/silences/{id}", defs.RoleOperator, s.deleteSilence)
}

func principalName(r *http.Request) string {
	p, _ := auth.PrincipalFrom(r.Context())
	return p.Name
}

type alertList struct {
	Alerts     []defs.Alert `json:"alerts"`
	NextCursor string       `json:"next_cursor,omitempty"`
}

type alertResponse struct {
	Alert defs.Alert `json:"alert"`
}

type alertDetail struct {
	Alert   defs.Alert             `json:"alert"`
	History []defs.AlertTransition `json:"history"`
}

var allStates = []defs.AlertState{defs.AlertPending, defs.AlertFiring, defs.AlertAcknowledged, defs.AlertResolved}

// listAlerts answers alerts newest first: by default the open ones
// (pending, firing, acknowledged); state takes a comma list of states,
// open and all. Also severity (a comma list), site, device, rule, from and
// to (when first seen; RFC 3339, epoch ms or -24h), limit (1-1000, default
// 100) and cursor.
func (s *Server) listAlerts(w http.ResponseWriter, r *http.Request) error {
	q := r.URL.Query()
	f, err := alertFilter(q.Get, time.Now())
	if err != nil {
		return err
	}
	as, next, err := s.opts.Alerts.List(r.Context(), f)
	if err != nil {
		return err
	}
	if as == nil {
		as = []defs.Alert{}
	}
	writeJSON(w, http.StatusOK, alertList{Alerts: as, NextCursor: next})
	return nil
}

func alertFilter(get func(string) string, at time.Time) (defs.AlertFilter, error) {
	f := defs.AlertFilter{Site: get("site"), Device: defs.DeviceID(get("device")), Rule: get("rule"), Cursor: get("cursor")}
	seen := map[defs.AlertState]bool{}
	addState := func(st defs.AlertState) {
		if !seen[st] {
			seen[st] = true
			f.States = append(f.States, st)
		}
	}
	if v := get("state"); v != "" {
		for _, part := range strings.Split(v, ",") {
			switch st := defs.AlertState(strings.TrimSpace(part)); st {
			case defs.AlertPending, defs.AlertFiring, defs.AlertAcknowledged, defs.AlertResolved:
				addState(st)
			case "open":
				addState(defs.AlertPending)
				addState(defs.AlertFiring)
				addState(defs.AlertAcknowledged)
			case "all":
				for _, a := range allStates {
					addState(a)
				}
			default:
				return f, defs.Invalid("state", "%q is not one of pending, firing, acknowledged, resolved, open, all", st)
			}
		}
	}
	if v := get("severity"); v != "" {
		for _, part := range strings.Split(v, ",") {
			sev := defs.Severity(strings.TrimSpace(part))
			if sev.Rank() == 0 {
				return f, defs.Invalid("severity", "%q is not one of info, warning, minor, major, critical", sev)
			}
			f.Severity = append(f.Severity, sev)
		}
	}
	for _, p := range []struct{ name, v string }{{"site", f.Site}, {"device", string(f.Device)}, {"rule", f.Rule}} {
		if len(p.v) > 64 || strings.IndexFunc(p.v, unicode.IsControl) >= 0 {
			return f, defs.Invalid(p.name, "must be at most 64 printable characters")
		}
	}
	var err error
	if f.From, err = alertTime(get("from"), "from", at); err != nil {
		return f, err
	}
	if f.To, err = alertTime(get("to"), "to", at); err != nil {
		return f, err
	}
	if !f.From.IsZero() && !f.To.IsZero() && !f.From.Before(f.To) {
		return f, defs.Invalid("to", "must be after from")
	}
	if l := get("limit"); l != "" {
		n, err := strconv.Atoi(l)
		if err != nil || n < 1 || n > 1000 {
			return f, defs.Invalid("limit", "must be a number from 1 to 1000")
		}
		f.Limit = n
	}
	return f, nil
}

// alertTime reads a time as RFC 3339, epoch milliseconds, or a duration
// relative to at ("-24h" a day ago, "30m" or "+30m" half an hour ahead).
// Empty is the zero time.
func alertTime(v, field string, at time.Time) (time.Time, error) {
	if v == "" {
		return time.Time{}, nil
	}
	if t, err := time.Parse(time.RFC3339Nano, v); err == nil {
		return t, nil
	}
	if ms, err := strconv.ParseInt(v, 10, 64); err == nil {
		return time.UnixMilli(ms), nil
	}
	if d, err := time.ParseDuration(v); err == nil {
		return at.Add(d), nil
	}
	return time.Time{}, defs.Invalid(field, "must be RFC 3339, epoch milliseconds or a duration from now such as -24h")
}

func (s *Server) getAlert(w http.ResponseWriter, r *http.Request) error {
	a, hist, err := s.opts.Alerts.Get(r.Context(), r.PathValue("id"))
	if err != nil {
		return err
	}
	if hist == nil {
		hist = []defs.AlertTransition{}
	}
	writeJSON(w, http.StatusOK, alertDetail{Alert: a, History: hist})
	return nil
}

type ackRequest struct {
	Note     string `json:"note"`
	Assignee string `json:"assignee"`
	// Expires is RFC 3339 or a duration from now ("30m"): when the
	// acknowledgement lapses, an alert still firing is notified again.
	Expires string `json:"expires"`
}

// ackAlert acknowledges an alert; the body is optional.
func (s *Server) ackAlert(w http.ResponseWriter, r *http.Request) error {
	var req ackRequest
	if r.ContentLength != 0 {
		if err := s.decodeJSON(w, r, &req); err != nil {
			return err
		}
	}
	if err := checkUserText("note", req.Note, maxNoteBytes, true); err != nil {
		return err
	}
	req.Assignee = strings.TrimSpace(req.Assignee)
	if err := checkUserText("assignee", req.Assignee, maxAssigneeBytes, false); err != nil {
		return err
	}
	at := time.Now()
	expires, err := alertTime(req.Expires, "expires", at)
	if err != nil {
		return err
	}
	if !expires.IsZero() && (!expires.After(at) || expires.Sub(at) > maxAckExpiry) {
		return defs.Invalid("expires", "must be in the future and at most %s ahead", maxAckExpiry)
	}
	a, err := s.opts.Alerts.Ack(r.Context(), r.PathValue("id"), principalName(r), req.Note, req.Assignee, expires)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, alertResponse{Alert: a})
	return nil
}

// checkUserText checks a text a person typed: valid UTF-8, at most max
// bytes, no control characters but, if multiline, newlines and tabs.
func checkUserText(field, v string, max int, multiline bool) error {
	switch {
	case !utf8.ValidString(v):
		return defs.Invalid(field, "is not valid UTF-8")
	case len(v) > max:
		return defs.Invalid(field, "is longer than %d bytes", max)
	}
	bad := strings.IndexFunc(v, func(c rune) bool {
		return unicode.IsControl(c) && !(multiline && (c == '\n' || c == '\t' || c == '\r'))
	})
	if bad >= 0 {
		return defs.Invalid(field, "must not hold control characters")
	}
	return nil
}
