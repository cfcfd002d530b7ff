package alerts

// This file is a stand-in for alerts/rules.go, which the alertsapi branch
// writes. The integrator deletes it when that file lands; it keeps the
// exact signatures of CONTRACT.md so the engine builds and tests meanwhile.

import (
	"fmt"
	"os"
	"regexp"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/iocd/iocd/defs"
)

var slugBad = regexp.MustCompile(`[^a-z0-9_-]+`)

// ValidateRule checks r and fills its defaults (stand-in).
func ValidateRule(r defs.AlertRule) (defs.AlertRule, error) {
	if r.ID == "" {
		r.ID = strings.Trim(slugBad.ReplaceAllString(strings.ToLower(r.Name), "-"), "-")
	}
	if r.ID == "" {
		return r, defs.Invalid("name", "a rule needs a name or an id")
	}
	switch r.Kind {
	case defs.RuleThreshold, defs.RuleAbsence, defs.RuleOffline, defs.RuleCameraDown, defs.RuleRate, defs.RuleSystem:
	default:
		return r, defs.Invalid("kind", "%q is not a rule kind", r.Kind)
	}
	if r.Kind == defs.RuleThreshold {
		switch r.Op {
		case ">", ">=", "<", "<=", "==", "!=":
		default:
			return r, defs.Invalid("op", "%q is not one of > >= < <= == !=", r.Op)
		}
	}
	if r.Severity == "" {
		r.Severity = defs.SeverityWarning
	}
	if r.ReopenWithin == 0 {
		r.ReopenWithin = defs.Duration(5 * time.Minute)
	}
	if r.Kind == defs.RuleRate && r.Per == "" {
		r.Per = "device"
	}
	return r, nil
}

// DefaultRules returns the shipped rules (stand-in).
func DefaultRules() []defs.AlertRule {
	return []defs.AlertRule{
		{ID: "device_offline", Name: "Thiết bị mất kết nối", Kind: defs.RuleOffline, Severity: defs.SeverityWarning,
			For: defs.Duration(time.Minute), ReopenWithin: defs.Duration(5 * time.Minute), Builtin: true,
			Message: defs.Messages{VI: "Thiết bị {{device}} mất kết nối", EN: "Device {{device}} is offline"}},
		{ID: "camera_down", Name: "Camera mất tín hiệu", Kind: defs.RuleCameraDown, Severity: defs.SeverityCritical,
			For: defs.Duration(time.Minute), ReopenWithin: defs.Duration(5 * time.Minute), Builtin: true,
			Message: defs.Messages{VI: "Camera {{device}} mất tín hiệu", EN: "Camera {{device}} is down"}},
		{ID: "system", Name: "Sự cố hệ thống", Kind: defs.RuleSystem, Severity: defs.SeverityMajor,
			ReopenWithin: defs.Duration(5 * time.Minute), Builtin: true},
	}
}

// LoadRulesFile reads a YAML list of rules (stand-in).
func LoadRulesFile(path string) ([]defs.AlertRule, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("alerts rules file: %w", err)
	}
	defer f.Close()
	var rules []defs.AlertRule
	dec := yaml.NewDecoder(f)
	dec.KnownFields(true)
	if err := dec.Decode(&rules); err != nil {
		return nil, fmt.Errorf("alerts rules file %s: %w", path, err)
	}
	for i := range rules {
		r, err := ValidateRule(rules[i])
		if err != nil {
			return nil, fmt.Errorf("alerts rules file %s: rule %d: %w", path, i, err)
		}
		rules[i] = r
	}
	return rules, nil
}
