package config

import (
	"fmt"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
)

// Window is how much video a clip keeps before and after a violation.
type Window struct {
	Pre  Duration `yaml:"pre"`
	Post Duration `yaml:"post"`
}

// Violations configures violation clips.
type Violations struct {
	// Pre and Post are the default clip window around the event time.
	Pre  Duration `yaml:"pre" range:"0s,2m"`
	Post Duration `yaml:"post" range:"0s,2m"`
	// Windows overrides the window per violation type, e.g. speeding.
	// Maps are set in the YAML file only.
	Windows map[string]Window `yaml:"windows"`
	// MaxTypes bounds the distinct violation types (beyond the known ones)
	// that get their own label in metrics and InfluxDB; later types are
	// labelled "other" there, and keep their type in the record.
	MaxTypes int `yaml:"max_types" range:"1,10_000"`
	// Codes maps a violation type, or "type/vehicle" for one vehicle
	// class (e.g. "red_light/motorbike"), to the provision of Decree
	// 168/2024/NĐ-CP it breaches, as written in a case's record.json and
	// report. The defaults are a starting point that the operator must
	// confirm against the decree (see the README). Maps are set in the
	// YAML file only; a key set there replaces that key's default.
	Codes map[string]string `yaml:"codes"`
	// DetectingUnit names the unit that detected the violations (the
	// "đơn vị phát hiện vi phạm" of a published record), e.g. "Phòng
	// Cảnh sát giao thông Công an tỉnh Long An".
	DetectingUnit string `yaml:"detecting_unit"`
}

// DefaultViolationCodes is the type → Decree 168/2024 provision table for
// the types the detectors and the simulator send. Where the provision
// depends on facts the event does not settle (how far over the limit, where
// the car stood), only the article is given, with what decides it.
func DefaultViolationCodes() map[string]string {
	const d = " Nghị định 168/2024/NĐ-CP"
	return map[string]string{
		"red_light":                 "Điểm b khoản 9 Điều 6" + d,
		"red_light/motorbike":       "Điểm c khoản 7 Điều 7" + d,
		"wrong_way":                 "Điểm d khoản 9 Điều 6" + d,
		"no_helmet":                 "Điểm h khoản 2 Điều 7" + d,
		"speeding":                  "Điều 6" + d + " (điểm, khoản theo mức vượt tốc độ)",
		"speeding/motorbike":        "Điều 7" + d + " (điểm, khoản theo mức vượt tốc độ)",
		"illegal_parking":           "Điều 6" + d + " (điểm, khoản theo vị trí dừng, đỗ)",
		"illegal_parking/motorbike": "Điều 7" + d + " (điểm, khoản theo vị trí dừng, đỗ)",
		"wrong_lane":                "Điều 6" + d + " (đi không đúng phần đường, làn đường)",
		"wrong_lane/motorbike":      "Điều 7" + d + " (đi không đúng phần đường, làn đường)",
		"blocking_box":              "Điều 6" + d + " (dừng xe trong phạm vi nút giao)",
	}
}

// CodeFor returns the provision for a violation type and vehicle: the
// "type/vehicle" entry, else the type's, else "".
func (v Violations) CodeFor(typ, vehicle string) string {
	if c, ok := v.Codes[typ+"/"+vehicle]; ok && vehicle != "" {
		return c
	}
	return v.Codes[typ]
}

func defaultViolations() Violations {
	return Violations{Pre: Duration(5 * time.Second), Post: Duration(5 * time.Second), MaxTypes: 64, Codes: DefaultViolationCodes()}
}

// WindowFor returns the clip window for a violation type.
func (v Violations) WindowFor(typ string) Window {
	if w, ok := v.Windows[typ]; ok {
		return w
	}
	return Window{Pre: v.Pre, Post: v.Post}
}

func (v Violations) validate(bad badFunc) {
	check := func(key string, w Window) {
		if w.Pre < 0 || w.Pre.D() > 2*time.Minute {
			bad(key+".pre", "must be between 0s and 2m, got %s", w.Pre.D())
		}
		if w.Post < 0 || w.Post.D() > 2*time.Minute {
			bad(key+".post", "must be between 0s and 2m, got %s", w.Post.D())
		}
	}
	// violations.pre and .post are checked by their range tags.
	for typ, w := range v.Windows {
		check(fmt.Sprintf("violations.windows.%s", typ), w)
	}
	for key, code := range v.Codes {
		if key == "" || len(code) > 300 || strings.ContainsFunc(code+key, unicode.IsControl) || !utf8.ValidString(code+key) {
			bad("violations.codes."+key, "must be a non-empty type and one line of at most 300 bytes")
		}
	}
	if len(v.DetectingUnit) > 300 || strings.ContainsFunc(v.DetectingUnit, unicode.IsControl) || !utf8.ValidString(v.DetectingUnit) {
		bad("violations.detecting_unit", "must be one line of at most 300 bytes")
	}
}
