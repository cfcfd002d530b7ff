package config

import "time"

// Auth configures password logins and their sessions.
type Auth struct {
	// SessionIdle ends a login session unused this long.
	SessionIdle Duration `yaml:"session_idle" range:"1m,24h"`
	// SessionMax ends any login session this long after it began.
	SessionMax Duration `yaml:"session_max" range:"5m,720h"`
	// KioskSessionMax ends a kiosk session (a viewer's "keep this screen
	// logged in") this long after it began; its open feed keeps it from
	// the idle expiry.
	KioskSessionMax Duration `yaml:"kiosk_session_max" range:"1h,8760h"`
	// LoginFailures is how many failed logins per minute a user name, and
	// a remote address, may have before further attempts are refused
	// (429) until the minute ends.
	LoginFailures int `yaml:"login_failures" range:"1,1000"`
}

func defaultAuth() Auth {
	return Auth{
		SessionIdle:     Duration(30 * time.Minute),
		SessionMax:      Duration(12 * time.Hour),
		KioskSessionMax: Duration(30 * 24 * time.Hour),
		LoginFailures:   5,
	}
}

func (a Auth) validate(badFunc) {
	// Every key is numeric and checked by its range tag. An idle expiry
	// longer than session_max is allowed: the absolute end comes first.
}
