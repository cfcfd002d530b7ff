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

// DeviceStatus is one device as the wall and the fleet page show it: its
// registry entry's public part, its position, and its health. For a camera
// the health includes its stream's state (fleet decides how), and Reason
// says why it is not online ("stream: unauthorized", "status: offline").
type DeviceStatus struct {
	ID       DeviceID  `json:"id"`
	Name     string    `json:"name"`
	Site     string    `json:"site"`
	Kind     Kind      `json:"kind"`
	Status   Status    `json:"status"`
	Lat      float64   `json:"lat"`
	Lon      float64   `json:"lon"`
	Health   Health    `json:"health"`
	Reason   string    `json:"reason,omitempty"`
	LastSeen time.Time `json:"last_seen,omitzero"`
	// Firmware is the "fw" key of the device's last status message.
	Firmware string `json:"firmware,omitempty"`
	// Values holds the latest value of each telemetry field.
	Values map[string]any `json:"values,omitempty"`
}
