package alerts

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"sort"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"gopkg.in/yaml.v3"

	"github.com/iocd/iocd/defs"
)

// Rule bounds. They keep one bad rule from costing the engine memory or
// time, and its texts from filling a wall screen.
const (
	maxRuleName     = 200
	maxMessage      = 1000
	maxLevels       = 5
	maxRuleDuration = 7 * 24 * time.Hour // for, keep_firing_for, reopen_within
	maxRateWindow   = 24 * time.Hour
	maxRateCount    = 1_000_000
	maxWebhooks     = 16
	maxSelectorTags = 16
	// DefaultReopenWithin is the reopen window of a rule that sets none.
	DefaultReopenWithin = 5 * time.Minute
)

// Rate rule events (the engine's EventViolation and EventRejected).
const (
	eventViolation = "violation"
	eventRejected  = "rejected"
)

// Rate rule per values.
const (
	PerCamera = "camera"
	PerSite   = "site"
	PerDevice = "device"
)

// Offline rules read their `condition` as the fleet health state they
// watch: stale, offline, or empty for either.
const (
	OfflineEither = ""
	OfflineStale  = "stale"
	OfflineOnly   = "offline"
)

// placeholders are the only {{name}} a message may hold.
var placeholders = map[string]bool{"device": true, "site": true, "value": true, "field": true, "for": true}

// systemConditions are the condition codes a system rule may name.
var systemConditions = []string{
	defs.ConditionDiskLow, defs.ConditionClipsRemovedSpace, defs.ConditionInfluxUnreachable,
	defs.ConditionSpoolGrowing, defs.ConditionBrokerDown, defs.ConditionBusDrops, defs.ConditionClipDiskFull,
	defs.ConditionCameraNotEvidential, defs.ConditionHostClockUnsynced,
}

var severities = []defs.Severity{defs.SeverityInfo, defs.SeverityWarning, defs.SeverityMinor, defs.SeverityMajor, defs.SeverityCritical}

var ruleKinds = []defs.RuleKind{defs.RuleThreshold, defs.RuleAbsence, defs.RuleOffline, defs.RuleCameraDown, defs.RuleRate, defs.RuleSystem}

// ValidateRule checks r, fills defaults (ID from Name, ReopenWithin 5m, Per, ...) and returns the
// normalised rule, or a defs.Invalid error naming the JSON field ("op", "selector.kind", "message.vi").
//
// Members that do not apply to the rule's kind are refused rather than
// ignored: an "op" on an absence rule is a mistake its author wants to hear
// about, not a setting that silently does nothing.
func ValidateRule(r defs.AlertRule) (defs.AlertRule, error) {
	r.Name = strings.TrimSpace(r.Name)
	if err := checkText("name", r.Name, maxRuleName, false); err != nil {
		return r, err
	}
	if r.Name == "" && r.ID == "" {
		return r, defs.Invalid("name", "is required")
	}
	if r.ID == "" {
		r.ID = RuleID(r.Name)
	} else if !validRuleID(r.ID) {
		return r, defs.Invalid("id", "%q must be 1-64 of a-z 0-9 _ -, starting with a letter or digit", r.ID)
	}
	if r.Name == "" {
		r.Name = r.ID
	}
	if !oneOf(r.Kind, ruleKinds) {
		return r, defs.Invalid("kind", "%q is not one of %s", r.Kind, join(ruleKinds))
	}
	levels := r.Kind == defs.RuleThreshold && len(r.Levels) > 0
	if r.Severity == "" && levels {
		// A rule with levels takes its severity from its least severe
		// level (checked with the levels).
		for _, l := range r.Levels {
			if l.Severity.Rank() > 0 && (r.Severity == "" || l.Severity.Rank() < r.Severity.Rank()) {
				r.Severity = l.Severity
			}
		}
	}
	if !(r.Severity == "" && levels) && !oneOf(r.Severity, severities) {
		return r, defs.Invalid("severity", "%q is not one of %s", r.Severity, join(severities))
	}
	if err := checkMessage("message.vi", r.Message.VI); err != nil {
		return r, err
	}
	if err := checkMessage("message.en", r.Message.EN); err != nil {
		return r, err
	}
	if err := checkSelector(r.Kind, r.Selector); err != nil {
		return r, err
	}
	for _, d := range []struct {
		field string
		v     defs.Duration
	}{{"for", r.For}, {"keep_firing_for", r.KeepFiringFor}, {"reopen_within", r.ReopenWithin}} {
		if d.v < 0 || d.v.D() > maxRuleDuration {
			return r, defs.Invalid(d.field, "must be between 0s and %s, got %s", maxRuleDuration, d.v)
		}
	}
	if r.ReopenWithin == 0 {
		r.ReopenWithin = defs.Duration(DefaultReopenWithin)
	}
	if len(r.Webhooks) > maxWebhooks {
		return r, defs.Invalid("webhooks", "at most %d webhooks", maxWebhooks)
	}
	seen := map[string]bool{}
	for i, w := range r.Webhooks {
		field := fmt.Sprintf("webhooks[%d]", i)
		if err := checkText(field, w, 64, true); err != nil {
			return r, err
		}
		if seen[w] {
			return r, defs.Invalid(field, "%q is named twice", w)
		}
		seen[w] = true
	}
	if err := checkKindMembers(&r); err != nil {
		return r, err
	}
	return r, nil
}

// checkKindMembers checks the members of r's kind and refuses the others.
func checkKindMembers(r *defs.AlertRule) error {
	k := r.Kind
	// Members each kind may set beyond the common ones.
	uses := map[string]bool{}
	switch k {
	case defs.RuleThreshold:
		uses = map[string]bool{"field": true, "op": true, "value": true, "clear": true, "levels": true}
	case defs.RuleAbsence:
		uses = map[string]bool{"field": true}
	case defs.RuleOffline:
		uses = map[string]bool{"condition": true}
	case defs.RuleRate:
		uses = map[string]bool{"event": true, "violation_type": true, "reason": true, "count": true, "window": true, "per": true}
	case defs.RuleSystem:
		uses = map[string]bool{"condition": true}
	}
	set := map[string]bool{
		"field": r.Field != "", "op": r.Op != "", "value": r.Value != 0, "clear": r.Clear != nil, "levels": len(r.Levels) > 0,
		"event": r.Event != "", "violation_type": r.ViolationType != "", "reason": r.Reason != "", "count": r.Count != 0,
		"window": r.Window != 0, "per": r.Per != "", "condition": r.Condition != "",
	}
	for _, m := range []string{"field", "op", "value", "clear", "levels", "event", "violation_type", "reason", "count", "window", "per", "condition"} {
		if set[m] && !uses[m] {
			return defs.Invalid(m, "does not apply to %s rules", k)
		}
	}
	switch k {
	case defs.RuleThreshold:
		return checkThreshold(r)
	case defs.RuleAbsence:
		if r.Field != "" && !validFieldName(r.Field) {
			return defs.Invalid("field", "%q is not a reading field name (1-256 bytes, no control characters or backslash, not time)", r.Field)
		}
		if r.For <= 0 {
			return defs.Invalid("for", "an absence rule needs a for greater than 0 (how long without a reading)")
		}
	case defs.RuleOffline:
		switch r.Condition {
		case OfflineEither, OfflineStale, OfflineOnly:
		default:
			return defs.Invalid("condition", "%q is not one of stale, offline (or empty for either)", r.Condition)
		}
	case defs.RuleCameraDown:
		// for ≥ 0 is checked with the other durations.
	case defs.RuleRate:
		return checkRate(r)
	case defs.RuleSystem:
		if r.Condition != "" && !oneOf(r.Condition, systemConditions) {
			return defs.Invalid("condition", "%q is not one of %s (or empty for any)", r.Condition, strings.Join(systemConditions, ", "))
		}
	}
	return nil
}

func checkThreshold(r *defs.AlertRule) error {
	if r.Field == "" {
		return defs.Invalid("field", "is required for a threshold rule")
	}
	if !validFieldName(r.Field) {
		return defs.Invalid("field", "%q is not a reading field name (1-256 bytes, no control characters or backslash, not time)", r.Field)
	}
	dir := opDirection(r.Op)
	if r.Op == "" || dir == 0 && r.Op != "==" && r.Op != "!=" {
		return defs.Invalid("op", "%q is not one of > >= < <= == !=", r.Op)
	}
	if len(r.Levels) > 0 {
		return checkLevels(r, dir)
	}
	if !finite(r.Value) {
		return defs.Invalid("value", "must be a finite number")
	}
	if r.Clear != nil {
		if dir == 0 {
			return defs.Invalid("clear", "applies only to > >= < <= (a hysteresis band needs a direction)")
		}
		if err := checkClear("clear", r.Op, dir, r.Value, *r.Clear); err != nil {
			return err
		}
	}
	return nil
}

// checkLevels checks the levels of a threshold rule with several
// severities. The levels replace the rule's value and clear: each level
// has its own, and the alert's severity is that of the most severe level
// that holds. Levels may be given in any order and are kept from the least
// to the most severe; each must then be further along the op's direction
// than the one before, so the most severe level that holds is also the
// furthest. The rule's severity is the least severe level's.
func checkLevels(r *defs.AlertRule, dir int) error {
	switch {
	case dir == 0:
		return defs.Invalid("levels", "apply only to > >= < <=")
	case len(r.Levels) > maxLevels:
		return defs.Invalid("levels", "at most %d levels", maxLevels)
	case r.Value != 0:
		return defs.Invalid("value", "give each level its value instead: levels replace value and clear")
	case r.Clear != nil:
		return defs.Invalid("clear", "give each level its clear instead: levels replace value and clear")
	}
	// Errors name the levels as the author wrote them.
	order := make([]int, len(r.Levels))
	for i := range order {
		order[i] = i
		l := r.Levels[i]
		field := fmt.Sprintf("levels[%d]", i)
		if !finite(l.Value) {
			return defs.Invalid(field+".value", "must be a finite number")
		}
		if !oneOf(l.Severity, severities) {
			return defs.Invalid(field+".severity", "%q is not one of %s", l.Severity, join(severities))
		}
		if l.Clear != nil {
			if err := checkClear(field+".clear", r.Op, dir, l.Value, *l.Clear); err != nil {
				return err
			}
		}
	}
	sort.SliceStable(order, func(a, b int) bool { return r.Levels[order[a]].Severity.Rank() < r.Levels[order[b]].Severity.Rank() })
	sorted := make([]defs.AlertLevel, len(order))
	for k, i := range order {
		sorted[k] = r.Levels[i]
		if k == 0 {
			continue
		}
		l, j, prev := r.Levels[i], order[k-1], sorted[k-1]
		field := fmt.Sprintf("levels[%d]", i)
		if l.Severity == prev.Severity {
			return defs.Invalid(field+".severity", "levels[%d] is %s too: one level per severity", j, l.Severity)
		}
		if float64(dir)*(l.Value-prev.Value) <= 0 {
			return defs.Invalid(field+".value", "%g must be %s %g, the value of the less severe levels[%d], so levels are ordered",
				l.Value, map[int]string{1: "above", -1: "below"}[dir], prev.Value, j)
		}
	}
	r.Levels = sorted
	if r.Severity != sorted[0].Severity {
		return defs.Invalid("severity", "%s must be the least severe level's %s, or left out", r.Severity, sorted[0].Severity)
	}
	return nil
}

// checkClear checks that clear lies on the clearing side of value: for >
// and >= at or below it, for < and <= at or above it.
func checkClear(field, op string, dir int, value, clear float64) error {
	if !finite(clear) {
		return defs.Invalid(field, "must be a finite number")
	}
	if float64(dir)*(clear-value) > 0 {
		side := map[int]string{1: "at or below", -1: "at or above"}[dir]
		return defs.Invalid(field, "%g must be %s the value %g for op %s (it is where the alert clears)", clear, side, value, op)
	}
	return nil
}

func checkRate(r *defs.AlertRule) error {
	switch r.Event {
	case eventViolation:
		if r.Reason != "" {
			return defs.Invalid("reason", "applies only to event rejected")
		}
		if err := checkText("violation_type", r.ViolationType, 64, false); err != nil {
			return err
		}
		if r.Per == "" {
			r.Per = PerCamera
		}
	case eventRejected:
		if r.ViolationType != "" {
			return defs.Invalid("violation_type", "applies only to event violation")
		}
		if err := checkText("reason", r.Reason, 64, false); err != nil {
			return err
		}
		if r.Per == "" {
			r.Per = PerDevice
		}
		if r.Per == PerCamera {
			return defs.Invalid("per", "camera applies only to event violation; use device or site")
		}
	default:
		return defs.Invalid("event", "%q is not one of violation, rejected", r.Event)
	}
	if r.Count < 1 || r.Count > maxRateCount {
		return defs.Invalid("count", "must be from 1 to %d, got %d", maxRateCount, r.Count)
	}
	if r.Window <= 0 || r.Window.D() > maxRateWindow {
		return defs.Invalid("window", "must be greater than 0s and at most %s, got %s", maxRateWindow, r.Window)
	}
	switch r.Per {
	case PerCamera, PerSite, PerDevice:
	default:
		return defs.Invalid("per", "%q is not one of camera, site, device", r.Per)
	}
	return nil
}

func checkSelector(k defs.RuleKind, s defs.Selector) error {
	if k == defs.RuleSystem && (s.ID != "" || s.Site != "" || s.Kind != "" || len(s.Tags) > 0) {
		return defs.Invalid("selector", "does not apply to a system rule (it watches iocd itself)")
	}
	return CheckSelector("selector", s)
}

// CheckSelector checks a selector (of a rule or a silence), naming its
// members under prefix ("selector.kind").
func CheckSelector(prefix string, s defs.Selector) error {
	if s.ID != "" && !validName(string(s.ID)) {
		return defs.Invalid(prefix+".id", "%q is not a device id (1-64 of A-Z a-z 0-9 . _ -)", s.ID)
	}
	if s.Site != "" && !validName(s.Site) {
		return defs.Invalid(prefix+".site", "%q is not a site (1-64 of A-Z a-z 0-9 . _ -)", s.Site)
	}
	if s.Kind != "" && !s.Kind.Valid() {
		return defs.Invalid(prefix+".kind", "%q is not one of %s", s.Kind, join(defs.Kinds))
	}
	if len(s.Tags) > maxSelectorTags {
		return defs.Invalid(prefix+".tags", "at most %d tags", maxSelectorTags)
	}
	for k, v := range s.Tags {
		if k == "" || len(k) > 64 || !utf8.ValidString(k) || hasControl(k) {
			return defs.Invalid(prefix+".tags", "tag name %q must be 1-64 printable characters", k)
		}
		if len(v) > 256 || !utf8.ValidString(v) || hasControl(v) {
			return defs.Invalid(prefix+".tags."+k, "must be at most 256 printable characters")
		}
	}
	return nil
}

// checkMessage checks a message text: present, bounded, printable, and
// with only known placeholders, each closed.
func checkMessage(field, s string) error {
	if strings.TrimSpace(s) == "" {
		return defs.Invalid(field, "is required (rules carry a Vietnamese and an English message)")
	}
	if err := checkText(field, s, maxMessage, false); err != nil {
		return err
	}
	rest := s
	for {
		i := strings.Index(rest, "{{")
		if i < 0 {
			if strings.Contains(rest, "}}") {
				return defs.Invalid(field, "has a }} without its {{")
			}
			return nil
		}
		if strings.Contains(rest[:i], "}}") {
			return defs.Invalid(field, "has a }} without its {{")
		}
		rest = rest[i+2:]
		j := strings.Index(rest, "}}")
		if j < 0 {
			return defs.Invalid(field, "has a {{ without its }}")
		}
		name := strings.TrimSpace(rest[:j])
		if !placeholders[name] {
			return defs.Invalid(field, "{{%s}} is not a placeholder; use {{device}} {{site}} {{value}} {{field}} {{for}}", name)
		}
		rest = rest[j+2:]
	}
}

// checkText checks a free text: valid UTF-8, no control characters, at
// most max bytes, and present if required.
func checkText(field, s string, max int, required bool) error {
	switch {
	case required && s == "":
		return defs.Invalid(field, "is required")
	case !utf8.ValidString(s):
		return defs.Invalid(field, "is not valid UTF-8")
	case len(s) > max:
		return defs.Invalid(field, "is longer than %d bytes", max)
	case hasControl(s):
		return defs.Invalid(field, "must not hold control characters")
	}
	return nil
}

func hasControl(s string) bool {
	return strings.IndexFunc(s, unicode.IsControl) >= 0
}

// RuleID derives a rule id from its name: lower case, Vietnamese letters
// without their marks, runs of anything else as one dash, at most 64
// characters. A name with no letter or digit left gets "rule-" and a hash
// of the name, so that the id is still stable.
func RuleID(name string) string {
	var b strings.Builder
	dash := false
	for _, c := range strings.ToLower(name) {
		c = foldVietnamese(c)
		if c >= 'a' && c <= 'z' || c >= '0' && c <= '9' {
			if dash && b.Len() > 0 {
				b.WriteByte('-')
			}
			dash = false
			b.WriteRune(c)
			continue
		}
		dash = true
	}
	id := b.String()
	if len(id) > 64 {
		id = strings.TrimRight(id[:64], "-")
	}
	if id == "" {
		sum := sha256.Sum256([]byte(name))
		id = "rule-" + hex.EncodeToString(sum[:4])
	}
	return id
}

// vietnamese maps each lower-case Vietnamese letter with marks to its base.
var vietnamese = func() map[rune]rune {
	m := map[rune]rune{'đ': 'd'}
	for base, letters := range map[rune]string{
		'a': "àáảãạăằắẳẵặâầấẩẫậ",
		'e': "èéẻẽẹêềếểễệ",
		'i': "ìíỉĩị",
		'o': "òóỏõọôồốổỗộơờớởỡợ",
		'u': "ùúủũụưừứửữự",
		'y': "ỳýỷỹỵ",
	} {
		for _, c := range letters {
			m[c] = base
		}
	}
	return m
}()

func foldVietnamese(c rune) rune {
	if b, ok := vietnamese[c]; ok {
		return b
	}
	return c
}

func validRuleID(id string) bool {
	if id == "" || len(id) > 64 {
		return false
	}
	for i, c := range id {
		ok := c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || i > 0 && (c == '_' || c == '-')
		if !ok {
			return false
		}
	}
	return true
}

// validName is the rule for device ids and sites: 1-64 of A-Z a-z 0-9 . _ -.
func validName(s string) bool {
	if s == "" || len(s) > 64 {
		return false
	}
	for _, c := range s {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '.' || c == '_' || c == '-') {
			return false
		}
	}
	return true
}

// validFieldName is ingest's rule for the keys it stores as fields: 1-256
// bytes of UTF-8 without control characters or backslashes, and not
// "time".
func validFieldName(s string) bool {
	return s != "" && len(s) <= 256 && s != "time" && utf8.ValidString(s) && !hasControl(s) && !strings.Contains(s, `\`)
}

// opDirection is 1 for > and >=, -1 for < and <=, 0 otherwise.
func opDirection(op string) int {
	switch op {
	case ">", ">=":
		return 1
	case "<", "<=":
		return -1
	}
	return 0
}

func finite(f float64) bool { return !math.IsNaN(f) && !math.IsInf(f, 0) }

func oneOf[T comparable](v T, set []T) bool {
	for _, s := range set {
		if v == s {
			return true
		}
	}
	return false
}

func join[T ~string](vs []T) string {
	s := make([]string, len(vs))
	for i, v := range vs {
		s[i] = string(v)
	}
	return strings.Join(s, ", ")
}

// LoadRulesFile reads a YAML list of rules (unknown keys are errors) and validates each, naming the index.
func LoadRulesFile(path string) ([]defs.AlertRule, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("reading rules file: %w", err)
	}
	return parseRules(path, b)
}

func parseRules(path string, b []byte) ([]defs.AlertRule, error) {
	dec := yaml.NewDecoder(bytes.NewReader(b))
	dec.KnownFields(true)
	var raw []defs.AlertRule
	if err := dec.Decode(&raw); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, nil // an empty file holds no rules
		}
		return nil, fmt.Errorf("rules file %s: %w", path, err)
	}
	out := make([]defs.AlertRule, 0, len(raw))
	ids := map[string]int{}
	for i, r := range raw {
		v, err := ValidateRule(r)
		if err != nil {
			return nil, fmt.Errorf("rules file %s: rule [%d] %q: %w", path, i, r.Name, err)
		}
		if j, dup := ids[v.ID]; dup {
			return nil, fmt.Errorf("rules file %s: rule [%d] %q: %w", path, i, r.Name,
				defs.Invalid("id", "%q is also the id of rule [%d]", v.ID, j))
		}
		ids[v.ID] = i
		out = append(out, v)
	}
	return out, nil
}
