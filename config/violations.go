package config

import (
	"fmt"
	"time"
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
}

func defaultViolations() Violations {
	return Violations{Pre: Duration(5 * time.Second), Post: Duration(5 * time.Second), MaxTypes: 64}
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
}
