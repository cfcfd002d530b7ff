package config

import "time"

// UI configures what the wall and its API show.
type UI struct {
	// Timezone is the IANA time zone whose midnight starts "today" for
	// the wall's figures (violations today).
	Timezone string `yaml:"timezone"`
}

func defaultUI() UI {
	return UI{Timezone: "Asia/Ho_Chi_Minh"}
}

func (u UI) validate(bad badFunc) {
	if u.Timezone == "" {
		bad("ui.timezone", "must not be empty (an IANA zone such as Asia/Ho_Chi_Minh)")
		return
	}
	if _, err := time.LoadLocation(u.Timezone); err != nil {
		bad("ui.timezone", "%q is not a known time zone: %v", u.Timezone, err)
	}
}

// Location returns the time zone of Timezone; call it after Validate.
func (u UI) Location() *time.Location {
	loc, err := time.LoadLocation(u.Timezone)
	if err != nil {
		return time.UTC
	}
	return loc
}
