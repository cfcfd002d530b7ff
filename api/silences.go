package api

import (
	"crypto/rand"
	"net/http"
	"strings"
	"time"

	"github.com/iocd/iocd/alerts"
	"github.com/iocd/iocd/defs"
)

type silenceList struct {
	Silences []defs.Silence `json:"silences"`
}

type silenceResponse struct {
	Silence defs.Silence `json:"silence"`
}

type silenceRequest struct {
	Selector defs.Selector `json:"selector"`
	Rule     string        `json:"rule"`
	// Until is RFC 3339 or a duration from now ("2h").
	Until  string `json:"until"`
	Reason string `json:"reason"`
}

func (s *Server) listSilences(w http.ResponseWriter, r *http.Request) error {
	ss, err := s.opts.Alerts.Silences(r.Context())
	if err != nil {
		return err
	}
	if ss == nil {
		ss = []defs.Silence{}
	}
	writeJSON(w, http.StatusOK, silenceList{Silences: ss})
	return nil
}

// addSilence holds back the notifications of the alerts a selector (and
// rule, if given) picks until a time, for a reason; the alerts are still
// recorded and shown as silenced.
func (s *Server) addSilence(w http.ResponseWriter, r *http.Request) error {
	var req silenceRequest
	if err := s.decodeJSON(w, r, &req); err != nil {
		return err
	}
	sel := req.Selector
	if sel.ID == "" && sel.Site == "" && sel.Kind == "" && len(sel.Tags) == 0 && req.Rule == "" {
		return defs.Invalid("selector", "a silence needs a selector or a rule (silencing everything is not allowed)")
	}
	if err := alerts.CheckSelector("selector", sel); err != nil {
		return err
	}
	if req.Rule != "" {
		if err := checkUserText("rule", req.Rule, 64, false); err != nil {
			return err
		}
		if _, err := s.opts.Alerts.Rule(r.Context(), req.Rule); err != nil {
			if defs.ErrorCode(err) == defs.ENOTFOUND {
				return defs.Invalid("rule", "there is no rule %q", req.Rule)
			}
			return err
		}
	}
	req.Reason = strings.TrimSpace(req.Reason)
	if req.Reason == "" {
		return defs.Invalid("reason", "is required (say why, e.g. maintenance)")
	}
	if err := checkUserText("reason", req.Reason, maxReasonBytes, false); err != nil {
		return err
	}
	if req.Until == "" {
		return defs.Invalid("until", "is required (RFC 3339 or a duration from now such as 2h)")
	}
	at := time.Now()
	until, err := alertTime(req.Until, "until", at)
	if err != nil {
		return err
	}
	if !until.After(at) || until.Sub(at) > maxSilence {
		return defs.Invalid("until", "must be in the future and at most %s ahead", maxSilence)
	}
	out, err := s.opts.Alerts.AddSilence(r.Context(), defs.Silence{
		ID: "sil_" + strings.ToLower(rand.Text()[:16]), Selector: sel, Rule: req.Rule, Until: until.UTC(),
		Reason: req.Reason, By: principalName(r), CreatedAt: at.UTC(),
	})
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusCreated, silenceResponse{Silence: out})
	return nil
}

func (s *Server) deleteSilence(w http.ResponseWriter, r *http.Request) error {
	if err := s.opts.Alerts.DeleteSilence(r.Context(), r.PathValue("id"), principalName(r)); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}
