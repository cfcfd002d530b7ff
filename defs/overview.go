package defs

import "time"

// Overview is the wall's key figures at one instant: what the KPI tiles
// show and what the feed's "fleet" topic sends as its summary. It is
// composed by package overview from the domains that own each figure
// (fleet health, camera sessions, violations, alerts, ingest), so every
// screen and the API agree on one definition of each number.
type Overview struct {
	At time.Time `json:"at"`
	// Devices counts every registered, active device by health; a
	// camera's health includes its stream's state (see fleet).
	Devices HealthCounts `json:"devices"`
	// Cameras counts the camera sessions and those streaming.
	Cameras CameraCounts `json:"cameras"`
	// Sites holds the same counts per site, sorted by site.
	Sites []SiteOverview `json:"sites"`
	// ViolationsToday counts violations by type since Since, the last
	// local midnight in the configured time zone (ui.timezone).
	ViolationsToday map[string]int `json:"violations_today"`
	Since           time.Time      `json:"since"`
	// AlertsOpen counts firing and acknowledged alerts by severity.
	AlertsOpen map[Severity]int `json:"alerts_open"`
	// ReadingsPerSecond is the telemetry points accepted per second,
	// averaged over the last few seconds.
	ReadingsPerSecond float64 `json:"readings_per_second"`
	// ViolationsDueTomorrow counts the violations not rejected whose
	// owner-notification deadline (notify_by) falls tomorrow, a local day
	// in ui.timezone.
	ViolationsDueTomorrow int `json:"violations_due_tomorrow"`
}

// HealthCounts counts devices by Health.
type HealthCounts struct {
	Online  int `json:"online"`
	Stale   int `json:"stale"`
	Offline int `json:"offline"`
	Unknown int `json:"unknown"`
}

// Add counts one device of health h.
func (c *HealthCounts) Add(h Health) {
	switch h {
	case HealthOnline:
		c.Online++
	case HealthStale:
		c.Stale++
	case HealthOffline:
		c.Offline++
	default:
		c.Unknown++
	}
}

// CameraCounts counts camera sessions.
type CameraCounts struct {
	Streaming int `json:"streaming"`
	Total     int `json:"total"`
}

// SiteOverview is one site's share of an Overview.
type SiteOverview struct {
	Site    string       `json:"site"`
	Devices HealthCounts `json:"devices"`
	Cameras CameraCounts `json:"cameras"`
}
