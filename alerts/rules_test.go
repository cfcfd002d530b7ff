package alerts

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/iocd/iocd/defs"
)

func fp(f float64) *float64 { return &f }

// waterRule is the example rule.
func exampleRule() defs.AlertRule {
	return defs.AlertRule{
		Name: "Mực nước cao", Kind: defs.RuleThreshold, Field: "water_cm", Op: ">", Value: 200, Clear: fp(190),
		For: defs.Duration(30 * time.Second), KeepFiringFor: defs.Duration(time.Minute), Severity: defs.SeverityCritical,
		Selector: defs.Selector{Site: "tanan", Kind: defs.KindSensor, Tags: map[string]string{"river": "vam-co"}},
		Message:  defs.Messages{VI: "Mực nước {{value}} cm tại {{device}}", EN: "Water at {{value}} cm at {{device}}"},
	}
}

func ruleMsgs() defs.Messages {
	return defs.Messages{VI: "Thiết bị {{device}}", EN: "Device {{device}}"}
}

func TestValidateRuleAccepts(t *testing.T) {
	cases := []struct {
		name  string
		rule  defs.AlertRule
		check func(t *testing.T, r defs.AlertRule)
	}{
		{"issue example", exampleRule(), func(t *testing.T, r defs.AlertRule) {
			if r.ID != "muc-nuoc-cao" {
				t.Errorf("id = %q, want muc-nuoc-cao derived from the name", r.ID)
			}
			if r.ReopenWithin.D() != 5*time.Minute {
				t.Errorf("reopen_within = %s, want the 5m default", r.ReopenWithin)
			}
		}},
		{"threshold < with clear above", defs.AlertRule{ID: "pin-yeu", Name: "Pin yếu", Kind: defs.RuleThreshold,
			Field: "battery_v", Op: "<", Value: 11.5, Clear: fp(11.8), Severity: defs.SeverityWarning, Message: ruleMsgs()}, nil},
		{"threshold < with levels below, severity from the first", defs.AlertRule{Name: "Pin yếu", Kind: defs.RuleThreshold,
			Field: "battery_v", Op: "<", Message: ruleMsgs(), Levels: []defs.AlertLevel{
				{Value: 11.5, Severity: defs.SeverityWarning, Clear: fp(11.8)}, {Value: 11, Severity: defs.SeverityMajor, Clear: fp(11.2)},
				{Value: 10.5, Severity: defs.SeverityCritical}}},
			func(t *testing.T, r defs.AlertRule) {
				if r.Severity != defs.SeverityWarning {
					t.Errorf("severity = %q, want the first level's warning", r.Severity)
				}
			}},
		{"levels in any order, kept least severe first", defs.AlertRule{Name: "Mực nước", Kind: defs.RuleThreshold, Field: "water_cm", Op: ">",
			Message: ruleMsgs(), Levels: []defs.AlertLevel{{Value: 250, Clear: fp(240), Severity: defs.SeverityCritical},
				{Value: 200, Clear: fp(190), Severity: defs.SeverityWarning}, {Value: 220, Severity: defs.SeverityMajor}}},
			func(t *testing.T, r defs.AlertRule) {
				if r.Severity != defs.SeverityWarning || r.Levels[0].Value != 200 || r.Levels[1].Value != 220 || r.Levels[2].Value != 250 {
					t.Errorf("rule = %+v, want levels 200 warning, 220 major, 250 critical and severity warning", r)
				}
			}},
		{"threshold > with levels and the matching severity", defs.AlertRule{Name: "Mực nước", Kind: defs.RuleThreshold,
			Field: "water_cm", Op: ">=", Severity: defs.SeverityMinor, Message: ruleMsgs(), Levels: []defs.AlertLevel{
				{Value: 180, Severity: defs.SeverityMinor}, {Value: 200, Severity: defs.SeverityCritical, Clear: fp(190)}}}, nil},
		{"threshold == without clear", defs.AlertRule{Name: "door", Kind: defs.RuleThreshold, Field: "door_open", Op: "==", Value: 1,
			Severity: defs.SeverityInfo, Message: ruleMsgs()}, nil},
		{"threshold clear equal to value", defs.AlertRule{Name: "t", Kind: defs.RuleThreshold, Field: "f", Op: ">=", Value: 5, Clear: fp(5),
			Severity: defs.SeverityInfo, Message: ruleMsgs()}, nil},
		{"absence without field", defs.AlertRule{Name: "silent", Kind: defs.RuleAbsence, For: defs.Duration(time.Minute),
			Severity: defs.SeverityMinor, Message: ruleMsgs()}, nil},
		{"threshold on a Vietnamese field name", defs.AlertRule{Name: "t", Kind: defs.RuleThreshold, Field: "nhiệt độ", Op: ">", Value: 40,
			Severity: defs.SeverityInfo, Message: ruleMsgs()}, nil},
		{"absence of one field", defs.AlertRule{Name: "no water", Kind: defs.RuleAbsence, Field: "water_cm", For: defs.Duration(time.Minute),
			Severity: defs.SeverityMinor, Message: ruleMsgs()}, nil},
		{"offline for 0", defs.AlertRule{Name: "off", Kind: defs.RuleOffline, Severity: defs.SeverityMajor, Message: ruleMsgs()}, nil},
		{"offline stale", defs.AlertRule{Name: "off", Kind: defs.RuleOffline, Condition: "stale", Severity: defs.SeverityMajor, Message: ruleMsgs()}, nil},
		{"camera_down", defs.AlertRule{Name: "cam", Kind: defs.RuleCameraDown, For: defs.Duration(30 * time.Second),
			Selector: defs.Selector{Kind: defs.KindCamera}, Severity: defs.SeverityCritical, Message: ruleMsgs()}, nil},
		{"rate violation defaults per camera", defs.AlertRule{Name: "red light burst", Kind: defs.RuleRate, Event: "violation",
			ViolationType: "red_light", Count: 20, Window: defs.Duration(10 * time.Minute), Severity: defs.SeverityMinor, Message: ruleMsgs()},
			func(t *testing.T, r defs.AlertRule) {
				if r.Per != PerCamera {
					t.Errorf("per = %q, want camera by default for violations", r.Per)
				}
			}},
		{"rate rejected defaults per device", defs.AlertRule{Name: "rejects", Kind: defs.RuleRate, Event: "rejected", Reason: "bad_json",
			Count: 5, Window: defs.Duration(time.Minute), Severity: defs.SeverityMinor, Message: ruleMsgs()},
			func(t *testing.T, r defs.AlertRule) {
				if r.Per != PerDevice {
					t.Errorf("per = %q, want device by default for rejected messages", r.Per)
				}
			}},
		{"rate per site", defs.AlertRule{Name: "r", Kind: defs.RuleRate, Event: "violation", Per: "site", Count: 1,
			Window: defs.Duration(time.Minute), Severity: defs.SeverityMinor, Message: ruleMsgs()}, nil},
		{"system any condition", defs.AlertRule{Name: "sys", Kind: defs.RuleSystem, Severity: defs.SeverityMajor, Message: ruleMsgs()}, nil},
		{"system disk low", defs.AlertRule{Name: "sys", Kind: defs.RuleSystem, Condition: defs.ConditionDiskLow,
			Severity: defs.SeverityMajor, Message: defs.Messages{VI: "Còn {{ value }} byte", EN: "{{value}} bytes {{for}} {{field}} {{site}}"}}, nil},
		{"id given, name taken from it", defs.AlertRule{ID: "my_rule-2", Kind: defs.RuleOffline, Severity: defs.SeverityMajor, Message: ruleMsgs()},
			func(t *testing.T, r defs.AlertRule) {
				if r.Name != "my_rule-2" {
					t.Errorf("name = %q, want the id", r.Name)
				}
			}},
		{"webhooks", defs.AlertRule{Name: "w", Kind: defs.RuleOffline, Severity: defs.SeverityMajor, Message: ruleMsgs(), Webhooks: []string{"oncall", "chat"}}, nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ValidateRule(tc.rule)
			if err != nil {
				t.Fatalf("ValidateRule: %v", err)
			}
			if tc.check != nil {
				tc.check(t, got)
			}
		})
	}
}

func TestValidateRuleRefuses(t *testing.T) {
	th := func(mod func(r *defs.AlertRule)) defs.AlertRule { r := exampleRule(); mod(&r); return r }
	rate := func(mod func(r *defs.AlertRule)) defs.AlertRule {
		r := defs.AlertRule{Name: "r", Kind: defs.RuleRate, Event: "violation", Count: 3, Window: defs.Duration(time.Minute),
			Severity: defs.SeverityMinor, Message: ruleMsgs()}
		mod(&r)
		return r
	}
	levels := func(op string, ls ...defs.AlertLevel) defs.AlertRule {
		r := exampleRule()
		r.Op, r.Value, r.Clear, r.Severity, r.Levels = op, 0, nil, "", ls
		return r
	}
	other := func(k defs.RuleKind, mod func(r *defs.AlertRule)) defs.AlertRule {
		r := defs.AlertRule{Name: "x", Kind: k, Severity: defs.SeverityMinor, Message: ruleMsgs(), For: defs.Duration(time.Minute)}
		mod(&r)
		return r
	}
	cases := []struct {
		name  string
		rule  defs.AlertRule
		field string
	}{
		{"no name nor id", th(func(r *defs.AlertRule) { r.Name = "" }), "name"},
		{"control char in name", th(func(r *defs.AlertRule) { r.Name = "bad\x07name" }), "name"},
		{"newline in name", th(func(r *defs.AlertRule) { r.Name = "two\nlines" }), "name"},
		{"long name", th(func(r *defs.AlertRule) { r.Name = strings.Repeat("a", 201) }), "name"},
		{"bad utf-8 name", th(func(r *defs.AlertRule) { r.Name = "\xff" }), "name"},
		{"bad id", th(func(r *defs.AlertRule) { r.ID = "Has Spaces" }), "id"},
		{"id leading dash", th(func(r *defs.AlertRule) { r.ID = "-x" }), "id"},
		{"long id", th(func(r *defs.AlertRule) { r.ID = strings.Repeat("a", 65) }), "id"},
		{"unknown kind", th(func(r *defs.AlertRule) { r.Kind = "lamp" }), "kind"},
		{"empty kind", th(func(r *defs.AlertRule) { r.Kind = "" }), "kind"},
		{"unknown severity", th(func(r *defs.AlertRule) { r.Severity = "urgent" }), "severity"},
		{"empty severity", th(func(r *defs.AlertRule) { r.Severity = "" }), "severity"},
		{"no vi message", th(func(r *defs.AlertRule) { r.Message.VI = " " }), "message.vi"},
		{"no en message", th(func(r *defs.AlertRule) { r.Message.EN = "" }), "message.en"},
		{"unknown placeholder", th(func(r *defs.AlertRule) { r.Message.VI = "Mực nước {{level}}" }), "message.vi"},
		{"unclosed placeholder", th(func(r *defs.AlertRule) { r.Message.EN = "Water {{value" }), "message.en"},
		{"stray close", th(func(r *defs.AlertRule) { r.Message.EN = "Water value}}" }), "message.en"},
		{"stray close before open", th(func(r *defs.AlertRule) { r.Message.EN = "a}} {{value}}" }), "message.en"},
		{"long message", th(func(r *defs.AlertRule) { r.Message.EN = strings.Repeat("x", 1001) }), "message.en"},
		{"control in message", th(func(r *defs.AlertRule) { r.Message.VI = "a\x00b" }), "message.vi"},
		{"selector kind", th(func(r *defs.AlertRule) { r.Selector.Kind = "lamp" }), "selector.kind"},
		{"selector id", th(func(r *defs.AlertRule) { r.Selector.ID = "a/b" }), "selector.id"},
		{"selector site", th(func(r *defs.AlertRule) { r.Selector.Site = "tân an" }), "selector.site"},
		{"selector empty tag name", th(func(r *defs.AlertRule) { r.Selector.Tags = map[string]string{"": "x"} }), "selector.tags"},
		{"selector tag value control", th(func(r *defs.AlertRule) { r.Selector.Tags = map[string]string{"river": "a\nb"} }), "selector.tags.river"},
		{"negative for", th(func(r *defs.AlertRule) { r.For = -1 }), "for"},
		{"huge for", th(func(r *defs.AlertRule) { r.For = defs.Duration(8 * 24 * time.Hour) }), "for"},
		{"negative keep_firing_for", th(func(r *defs.AlertRule) { r.KeepFiringFor = -1 }), "keep_firing_for"},
		{"huge reopen_within", th(func(r *defs.AlertRule) { r.ReopenWithin = defs.Duration(30 * 24 * time.Hour) }), "reopen_within"},
		{"empty webhook", th(func(r *defs.AlertRule) { r.Webhooks = []string{""} }), "webhooks[0]"},
		{"duplicate webhook", th(func(r *defs.AlertRule) { r.Webhooks = []string{"a", "a"} }), "webhooks[1]"},
		{"too many webhooks", th(func(r *defs.AlertRule) { r.Webhooks = make([]string, 17) }), "webhooks"},

		{"threshold no field", th(func(r *defs.AlertRule) { r.Field = "" }), "field"},
		{"threshold field time", th(func(r *defs.AlertRule) { r.Field = "time" }), "field"},
		{"threshold field with backslash", th(func(r *defs.AlertRule) { r.Field = `water\cm` }), "field"},
		{"threshold field with newline", th(func(r *defs.AlertRule) { r.Field = "water\ncm" }), "field"},
		{"threshold field too long", th(func(r *defs.AlertRule) { r.Field = strings.Repeat("f", 257) }), "field"},
		{"threshold no op", th(func(r *defs.AlertRule) { r.Op = "" }), "op"},
		{"threshold bad op", th(func(r *defs.AlertRule) { r.Op = "=>" }), "op"},
		{"threshold clear above for >", th(func(r *defs.AlertRule) { r.Clear = fp(210) }), "clear"},
		{"threshold clear below for <", th(func(r *defs.AlertRule) { r.Op = "<"; r.Clear = fp(150) }), "clear"},
		{"threshold clear for ==", th(func(r *defs.AlertRule) { r.Op = "==" }), "clear"},
		{"threshold levels for !=", th(func(r *defs.AlertRule) {
			r.Op, r.Clear, r.Value, r.Levels = "!=", nil, 0, []defs.AlertLevel{{Value: 3, Severity: defs.SeverityCritical}}
		}), "levels"},
		{"levels with value", th(func(r *defs.AlertRule) {
			r.Clear, r.Levels = nil, []defs.AlertLevel{{Value: 250, Severity: defs.SeverityCritical}}
		}), "value"},
		{"levels with clear", th(func(r *defs.AlertRule) {
			r.Value, r.Levels = 0, []defs.AlertLevel{{Value: 250, Severity: defs.SeverityCritical}}
		}), "clear"},
		{"levels not ordered by value", levels(">", defs.AlertLevel{Value: 250, Severity: defs.SeverityMajor}, defs.AlertLevel{Value: 240, Severity: defs.SeverityCritical}), "levels[1].value"},
		{"levels equal values", levels(">", defs.AlertLevel{Value: 250, Severity: defs.SeverityMajor}, defs.AlertLevel{Value: 250, Severity: defs.SeverityCritical}), "levels[1].value"},
		{"levels for < not descending", levels("<", defs.AlertLevel{Value: 10, Severity: defs.SeverityMajor}, defs.AlertLevel{Value: 12, Severity: defs.SeverityCritical}), "levels[1].value"},
		{"levels with values against their severities", levels(">", defs.AlertLevel{Value: 250, Severity: defs.SeverityCritical}, defs.AlertLevel{Value: 300, Severity: defs.SeverityMajor}), "levels[0].value"},
		{"two levels of one severity", levels(">", defs.AlertLevel{Value: 250, Severity: defs.SeverityMajor}, defs.AlertLevel{Value: 300, Severity: defs.SeverityMajor}), "levels[1].severity"},
		{"level bad severity", levels(">", defs.AlertLevel{Value: 250, Severity: "x"}), "levels[0].severity"},
		{"level no severity", levels(">", defs.AlertLevel{Value: 250, Severity: defs.SeverityMajor}, defs.AlertLevel{Value: 300}), "levels[1].severity"},
		{"level clear wrong side", levels(">", defs.AlertLevel{Value: 250, Severity: defs.SeverityMajor, Clear: fp(260)}), "levels[0].clear"},
		{"level clear wrong side for <", levels("<", defs.AlertLevel{Value: 10, Severity: defs.SeverityMajor, Clear: fp(9)}), "levels[0].clear"},
		{"rule severity not the first level's", func() defs.AlertRule {
			r := levels(">", defs.AlertLevel{Value: 250, Severity: defs.SeverityMajor})
			r.Severity = defs.SeverityCritical
			return r
		}(), "severity"},
		{"too many levels", func() defs.AlertRule {
			var ls []defs.AlertLevel
			for i, sev := range []defs.Severity{"info", "warning", "minor", "major", "critical", "critical"} {
				ls = append(ls, defs.AlertLevel{Value: float64(300 + i), Severity: sev})
			}
			return levels(">", ls...)
		}(), "levels"},
		{"threshold with event", th(func(r *defs.AlertRule) { r.Event = "violation" }), "event"},
		{"threshold with condition", th(func(r *defs.AlertRule) { r.Condition = "disk_low" }), "condition"},

		{"absence for 0", other(defs.RuleAbsence, func(r *defs.AlertRule) { r.For = 0 }), "for"},
		{"absence bad field", other(defs.RuleAbsence, func(r *defs.AlertRule) { r.Field = "a\tb" }), "field"},
		{"absence with op", other(defs.RuleAbsence, func(r *defs.AlertRule) { r.Op = ">" }), "op"},
		{"absence with value", other(defs.RuleAbsence, func(r *defs.AlertRule) { r.Value = 3 }), "value"},
		{"offline with field", other(defs.RuleOffline, func(r *defs.AlertRule) { r.Field = "x" }), "field"},
		{"offline bad condition", other(defs.RuleOffline, func(r *defs.AlertRule) { r.Condition = "gone" }), "condition"},
		{"offline negative for", other(defs.RuleOffline, func(r *defs.AlertRule) { r.For = -defs.Duration(time.Second) }), "for"},
		{"camera_down with clear", other(defs.RuleCameraDown, func(r *defs.AlertRule) { r.Clear = fp(1) }), "clear"},
		{"camera_down with count", other(defs.RuleCameraDown, func(r *defs.AlertRule) { r.Count = 2 }), "count"},

		{"rate bad event", rate(func(r *defs.AlertRule) { r.Event = "reading" }), "event"},
		{"rate no event", rate(func(r *defs.AlertRule) { r.Event = "" }), "event"},
		{"rate count 0", rate(func(r *defs.AlertRule) { r.Count = 0 }), "count"},
		{"rate count negative", rate(func(r *defs.AlertRule) { r.Count = -1 }), "count"},
		{"rate window 0", rate(func(r *defs.AlertRule) { r.Window = 0 }), "window"},
		{"rate window huge", rate(func(r *defs.AlertRule) { r.Window = defs.Duration(48 * time.Hour) }), "window"},
		{"rate bad per", rate(func(r *defs.AlertRule) { r.Per = "lane" }), "per"},
		{"rate rejected per camera", rate(func(r *defs.AlertRule) { r.Event = "rejected"; r.Per = "camera" }), "per"},
		{"rate violation with reason", rate(func(r *defs.AlertRule) { r.Reason = "bad_json" }), "reason"},
		{"rate rejected with violation_type", rate(func(r *defs.AlertRule) { r.Event = "rejected"; r.ViolationType = "speeding" }), "violation_type"},
		{"rate bad violation_type", rate(func(r *defs.AlertRule) { r.ViolationType = "red\x00light" }), "violation_type"},
		{"rate long violation_type", rate(func(r *defs.AlertRule) { r.ViolationType = strings.Repeat("v", 65) }), "violation_type"},
		{"rate rejected bad reason", rate(func(r *defs.AlertRule) { r.Event = "rejected"; r.Reason = "a\tb" }), "reason"},
		{"rate with field", rate(func(r *defs.AlertRule) { r.Field = "x" }), "field"},

		{"system unknown condition", other(defs.RuleSystem, func(r *defs.AlertRule) { r.Condition = "cpu_hot" }), "condition"},
		{"system with selector", other(defs.RuleSystem, func(r *defs.AlertRule) { r.Selector.Site = "tanan" }), "selector"},
		{"system with levels", other(defs.RuleSystem, func(r *defs.AlertRule) { r.Levels = []defs.AlertLevel{{Value: 1}} }), "levels"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ValidateRule(tc.rule)
			if err == nil {
				t.Fatalf("ValidateRule accepted %+v, want an error naming %q", tc.rule, tc.field)
			}
			if defs.ErrorCode(err) != defs.EINVALID || defs.ErrorField(err) != tc.field {
				t.Fatalf("error = %v (code %s, field %q), want invalid naming %q", err, defs.ErrorCode(err), defs.ErrorField(err), tc.field)
			}
		})
	}
}

func TestRuleID(t *testing.T) {
	cases := map[string]string{
		"Mực nước cao":              "muc-nuoc-cao",
		"Đèn đỏ: vượt quá 20 lần!":  "den-do-vuot-qua-20-lan",
		"  Pin  yếu  ":              "pin-yeu",
		"CAMERA Ngã Tư Sở":          "camera-nga-tu-so",
		"水位":                        "rule-" + RuleID("水位")[5:],
		strings.Repeat("ab ", 40):   strings.TrimRight(strings.Repeat("ab-", 22)[:64], "-"),
		"Ổ đĩa lưu clip sắp đầy":    "o-dia-luu-clip-sap-day",
		"Ưu tiên ỹ ự ỡ ẫ ễ ộ ị ụ ỳ": "uu-tien-y-u-o-a-e-o-i-u-y",
	}
	for name, want := range cases {
		if got := RuleID(name); got != want || !validRuleID(got) {
			t.Errorf("RuleID(%q) = %q, want %q (a valid id)", name, got, want)
		}
	}
	if RuleID("水位") != RuleID("水位") || RuleID("水位") == RuleID("火") {
		t.Errorf("ids of names without latin letters must be stable and distinct")
	}
}

func TestDefaultRules(t *testing.T) {
	rules := DefaultRules()
	want := map[string]defs.RuleKind{
		RuleIDDeviceOffline: defs.RuleOffline, RuleIDDeviceStale: defs.RuleOffline, RuleIDCameraDown: defs.RuleCameraDown,
		defs.ConditionDiskLow: defs.RuleSystem, defs.ConditionClipsRemovedSpace: defs.RuleSystem,
		defs.ConditionInfluxUnreachable: defs.RuleSystem, defs.ConditionSpoolGrowing: defs.RuleSystem,
		defs.ConditionBrokerDown: defs.RuleSystem, defs.ConditionBusDrops: defs.RuleSystem, defs.ConditionClipDiskFull: defs.RuleSystem,
		defs.ConditionCameraNotEvidential: defs.RuleSystem, defs.ConditionHostClockUnsynced: defs.RuleSystem,
	}
	if len(rules) != len(want) {
		t.Errorf("%d default rules, want %d", len(rules), len(want))
	}
	for _, r := range rules {
		v, err := ValidateRule(r)
		if err != nil {
			t.Errorf("default rule %s is invalid: %v", r.ID, err)
			continue
		}
		if v.ID != r.ID || !r.Builtin || want[r.ID] != r.Kind {
			t.Errorf("default rule %+v: want id kept, builtin, kind %s", r, want[r.ID])
		}
		// Vietnamese first, and written as Vietnamese: with its marks.
		if !strings.ContainsAny(r.Message.VI, "ấầảạăđêếệểôơớờưứừửữựịọóòỏ") || r.Message.VI == r.Message.EN {
			t.Errorf("rule %s: vi message %q does not read as Vietnamese", r.ID, r.Message.VI)
		}
	}
	byID := map[string]defs.AlertRule{}
	for _, r := range rules {
		byID[r.ID] = r
	}
	// A device reconnecting within a minute, or a camera recovering
	// within 30 s, must raise nothing.
	if byID[RuleIDDeviceOffline].For.D() < time.Minute || byID[RuleIDCameraDown].For.D() < 30*time.Second {
		t.Errorf("offline for = %s, camera_down for = %s; want at least 1m and 30s",
			byID[RuleIDDeviceOffline].For, byID[RuleIDCameraDown].For)
	}
	if byID[RuleIDCameraDown].Severity != defs.SeverityCritical {
		t.Errorf("camera_down severity = %s, want critical", byID[RuleIDCameraDown].Severity)
	}
	// One enabled rule watches device health, over both offline and
	// stale, so no device is told twice and a storm groups as one.
	var health []string
	for _, r := range rules {
		if r.Kind == defs.RuleOffline && !r.Disabled {
			health = append(health, r.ID)
		}
	}
	if len(health) != 1 || byID[RuleIDDeviceOffline].Condition != OfflineEither || !byID[RuleIDDeviceStale].Disabled {
		t.Errorf("enabled health rules %v, device_offline condition %q, device_stale disabled %v; want only device_offline, over either state",
			health, byID[RuleIDDeviceOffline].Condition, byID[RuleIDDeviceStale].Disabled)
	}
	if byID[defs.ConditionDiskLow].Condition != defs.ConditionDiskLow {
		t.Errorf("disk_low rule watches %q", byID[defs.ConditionDiskLow].Condition)
	}
}

func TestLoadRulesFile(t *testing.T) {
	dir := t.TempDir()
	write := func(name, body string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	good := write("good.yaml", `
- name: Mực nước cao
  kind: threshold
  field: water_cm
  op: ">"
  value: 200
  clear: 190
  for: 30s
  keep_firing_for: 1m
  severity: critical
  selector: {site: tanan, kind: sensor, tags: {river: vam-co}}
  message:
    vi: "Mực nước {{value}} cm tại {{device}}"
    en: "Water at {{value}} cm at {{device}}"
- id: red-light-burst
  name: Vượt đèn đỏ dồn dập
  kind: rate
  event: violation
  violation_type: red_light
  count: 20
  window: 10m
  per: camera
  severity: minor
  message: {vi: "Nhiều vi phạm tại {{device}}", en: "Many violations at {{device}}"}
`)
	rules, err := LoadRulesFile(good)
	if err != nil {
		t.Fatal(err)
	}
	want := exampleRule()
	want.ID, want.ReopenWithin = "muc-nuoc-cao", defs.Duration(DefaultReopenWithin)
	if len(rules) != 2 || rules[0].ID != want.ID || *rules[0].Clear != 190 || rules[0].For != want.For ||
		rules[0].KeepFiringFor != want.KeepFiringFor || rules[0].Selector.Tags["river"] != "vam-co" || rules[0].Message != want.Message {
		t.Fatalf("rules = %+v, want the example rule first", rules)
	}
	if rules[1].ID != "red-light-burst" || rules[1].Window.D() != 10*time.Minute || rules[1].Count != 20 {
		t.Errorf("rate rule = %+v", rules[1])
	}

	empty := write("empty.yaml", "")
	if rules, err := LoadRulesFile(empty); err != nil || len(rules) != 0 {
		t.Errorf("empty file: rules %v, err %v; want none and no error", rules, err)
	}

	bad := []struct{ name, body, want string }{
		{"unknown key", "- name: a\n  kind: offline\n  severity: major\n  sevrity: x\n  message: {vi: a, en: b}\n", "sevrity"},
		{"builtin is not settable", "- name: a\n  kind: offline\n  severity: major\n  builtin: true\n  message: {vi: a, en: b}\n", "builtin"},
		{"invalid second rule", "- name: a\n  kind: offline\n  severity: major\n  message: {vi: a, en: b}\n- name: b\n  kind: threshold\n  field: x\n  op: '=>'\n  severity: major\n  message: {vi: a, en: b}\n", "rule [1] \"b\": op:"},
		{"bad duration", "- name: a\n  kind: offline\n  for: soon\n  severity: major\n  message: {vi: a, en: b}\n", "soon"},
		{"duplicate id", "- name: a\n  kind: offline\n  severity: major\n  message: {vi: a, en: b}\n- name: A\n  kind: offline\n  severity: major\n  message: {vi: a, en: b}\n", "rule [1] \"A\": id: \"a\" is also the id of rule [0]"},
		{"not a list", "name: a\n", "rules file"},
	}
	for _, tc := range bad {
		t.Run(tc.name, func(t *testing.T) {
			_, err := LoadRulesFile(write(strings.ReplaceAll(tc.name, " ", "_")+".yaml", tc.body))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error = %v, want one containing %q", err, tc.want)
			}
		})
	}
	if _, err := LoadRulesFile(filepath.Join(dir, "missing.yaml")); err == nil {
		t.Error("a missing rules file must be an error")
	}
}
