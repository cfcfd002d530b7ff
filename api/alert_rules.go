package api

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"time"

	"github.com/iocd/iocd/alerts"
	"github.com/iocd/iocd/defs"
)

// maxDryRunSpan bounds the history one dry run reads.
const maxDryRunSpan = 31 * 24 * time.Hour

type ruleList struct {
	Rules []defs.AlertRule `json:"rules"`
}

type ruleResponse struct {
	Rule defs.AlertRule `json:"rule"`
}

func (s *Server) listAlertRules(w http.ResponseWriter, r *http.Request) error {
	rules, err := s.opts.Alerts.Rules(r.Context())
	if err != nil {
		return err
	}
	if rules == nil {
		rules = []defs.AlertRule{}
	}
	writeJSON(w, http.StatusOK, ruleList{Rules: rules})
	return nil
}

func (s *Server) getAlertRule(w http.ResponseWriter, r *http.Request) error {
	rule, err := s.opts.Alerts.Rule(r.Context(), r.PathValue("id"))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, ruleResponse{Rule: rule})
	return nil
}

// createAlertRule adds a rule; its id is derived from its name when not
// given, and an id in use is a conflict (PUT changes a rule).
func (s *Server) createAlertRule(w http.ResponseWriter, r *http.Request) error {
	var rule defs.AlertRule
	if err := s.decodeRuleBody(w, r, "", &rule); err != nil {
		return err
	}
	// Only shipped rules are built in; the times are the server's.
	rule.Builtin, rule.CreatedAt, rule.UpdatedAt = false, time.Time{}, time.Time{}
	v, err := alerts.ValidateRule(rule)
	if err != nil {
		return err
	}
	switch _, err := s.opts.Alerts.Rule(r.Context(), v.ID); {
	case err == nil:
		return &defs.Error{Code: defs.ECONFLICT, Field: "id", Message: "a rule " + quote(v.ID) + " exists; PUT /api/v1/alert-rules/" + v.ID + " changes it"}
	case defs.ErrorCode(err) != defs.ENOTFOUND:
		return err
	}
	out, err := s.opts.Alerts.PutRule(r.Context(), v, principalName(r))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusCreated, ruleResponse{Rule: out})
	return nil
}

// putAlertRule replaces a rule. The body may be the rule as GET answered
// it: its id must match the path, and builtin and the times are kept from
// the stored rule.
func (s *Server) putAlertRule(w http.ResponseWriter, r *http.Request) error {
	id := r.PathValue("id")
	var rule defs.AlertRule
	if err := s.decodeRuleBody(w, r, "", &rule); err != nil {
		return err
	}
	if rule.ID != "" && rule.ID != id {
		return defs.Invalid("id", "%q does not match the rule in the path %q", rule.ID, id)
	}
	old, err := s.opts.Alerts.Rule(r.Context(), id)
	if err != nil {
		return err
	}
	rule.ID, rule.Builtin, rule.CreatedAt, rule.UpdatedAt = id, old.Builtin, old.CreatedAt, time.Time{}
	v, err := alerts.ValidateRule(rule)
	if err != nil {
		return err
	}
	out, err := s.opts.Alerts.PutRule(r.Context(), v, principalName(r))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, ruleResponse{Rule: out})
	return nil
}

// deleteAlertRule deletes a rule (a built-in one is disabled instead, by
// the engine); its alerts are kept.
func (s *Server) deleteAlertRule(w http.ResponseWriter, r *http.Request) error {
	if err := s.opts.Alerts.DeleteRule(r.Context(), r.PathValue("id"), principalName(r)); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

type dryRunRequest struct {
	Rule defs.AlertRule `json:"rule"`
	// From and To are RFC 3339, epoch ms or a duration from now; default
	// the last 24 hours.
	From string `json:"from"`
	To   string `json:"to"`
}

type dryRunResponse struct {
	alerts.DryRunResult
	From time.Time `json:"from"`
	To   time.Time `json:"to"`
}

// testAlertRule evaluates a proposed rule over the stored history and
// answers what it would have raised; nothing is stored or notified.
func (s *Server) testAlertRule(w http.ResponseWriter, r *http.Request) error {
	var req dryRunRequest
	if err := s.decodeRuleBody(w, r, "rule", &req); err != nil {
		return err
	}
	if req.Rule.ID == "" && req.Rule.Name == "" {
		req.Rule.ID = "dry-run"
	}
	rule, err := alerts.ValidateRule(req.Rule)
	if err != nil {
		return underField("rule", err)
	}
	at := time.Now()
	if req.From == "" {
		req.From = "-24h"
	}
	from, err := alertTime(req.From, "from", at)
	if err != nil {
		return err
	}
	to := at
	if req.To != "" {
		if to, err = alertTime(req.To, "to", at); err != nil {
			return err
		}
	}
	if !from.Before(to) {
		return defs.Invalid("to", "must be after from")
	}
	if to.Sub(from) > maxDryRunSpan {
		return defs.Invalid("from", "the range is at most %s", maxDryRunSpan)
	}
	res, err := s.opts.Alerts.DryRun(r.Context(), rule, from, to)
	if err != nil {
		// The engine's complaints about the rule (a kind it cannot replay)
		// name members of the rule.
		if f := defs.ErrorField(err); defs.ErrorCode(err) == defs.EINVALID && f != "from" && f != "to" {
			return underField("rule", err)
		}
		return err
	}
	if res.Subjects == nil {
		res.Subjects = []alerts.DryRunSubject{}
	}
	writeJSON(w, http.StatusOK, dryRunResponse{DryRunResult: res, From: from, To: to})
	return nil
}

// underField names err's field under parent ("op" becomes "rule.op").
func underField(parent string, err error) error {
	var e *defs.Error
	if !errors.As(err, &e) {
		return err
	}
	c := *e
	if c.Field == "" {
		c.Field = parent
	} else {
		c.Field = parent + "." + c.Field
	}
	return &c
}

func quote(s string) string { return `"` + s + `"` }

// decodeRuleBody decodes a body holding a rule (at path, such as "rule",
// or the body itself when path is empty) into v. encoding/json does not say
// which member a custom decoder refused, so a refused duration ("for": 30)
// is found again here and named.
func (s *Server) decodeRuleBody(w http.ResponseWriter, r *http.Request, path string, v any) error {
	b, err := io.ReadAll(http.MaxBytesReader(w, r.Body, s.opts.MaxBodyBytes))
	if err != nil {
		return jsonError(err, s.opts.MaxBodyBytes)
	}
	r.Body = io.NopCloser(bytes.NewReader(b))
	err = s.decodeJSON(w, r, v)
	if err == nil || defs.ErrorField(err) != "body" {
		return err
	}
	var top map[string]json.RawMessage
	if json.Unmarshal(b, &top) != nil {
		return err
	}
	members, prefix := top, ""
	if path != "" {
		members, prefix = nil, path+"."
		if json.Unmarshal(top[path], &members) != nil {
			return err
		}
	}
	for _, name := range []string{"for", "keep_firing_for", "reopen_within", "window"} {
		raw, ok := members[name]
		if !ok {
			continue
		}
		var d defs.Duration
		if derr := json.Unmarshal(raw, &d); derr != nil {
			return defs.Invalid(prefix+name, "%v", derr)
		}
	}
	return err
}
