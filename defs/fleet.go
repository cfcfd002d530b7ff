package defs

import "time"

// DeviceHealth is what fleet tracking knows of one device right now.
type DeviceHealth struct {
	Health   Health    `json:"health"`
	LastSeen time.Time `json:"last_seen,omitzero"`
	// Values holds the latest value of each telemetry field.
	Values map[string]any `json:"values,omitempty"`
	// Meta holds the extra keys of the device's last status message,
	// such as its firmware version ("fw").
	Meta map[string]string `json:"meta,omitempty"`
}

// FleetCount is the number of devices of one site and kind in one health.
type FleetCount struct {
	Site   string `json:"site"`
	Kind   Kind   `json:"kind"`
	Health Health `json:"health"`
	Count  int    `json:"count"`
}

// SeriesPoint is one aggregated value of a telemetry history.
type SeriesPoint struct {
	Time  time.Time `json:"t"`
	Value *float64  `json:"v"` // nil where the window held no data
}
