package defs

import "time"

// EventKind says what an Event is about and which of its members is set.
type EventKind uint8

// Event kinds carried on the in-process bus.
const (
	// EventReading carries a decoded telemetry Reading.
	EventReading EventKind = iota + 1
	// EventHealth carries a device's HealthChange.
	EventHealth
	// EventDevice carries a registry change: a device created, updated,
	// approved or deleted (Deleted set).
	EventDevice
	// EventViolation carries a violation record, on creation and whenever
	// its clip or review changes.
	EventViolation
	// EventCamera carries a camera session's state change.
	EventCamera
	// EventNotice carries an operational notice for the alerts engine,
	// such as low disk space or clips removed to free it.
	EventNotice
	// EventAlert carries an alert raised, resolved or acknowledged.
	EventAlert
)

var eventKindNames = [...]string{"", "reading", "health", "device", "violation", "camera", "notice", "alert"}

// String returns the kind's lower-case name, used in metrics and the feed.
func (k EventKind) String() string {
	if int(k) < len(eventKindNames) {
		return eventKindNames[k]
	}
	return "unknown"
}

// KindMask selects event kinds for a subscription.
type KindMask uint32

// Mask returns the KindMask selecting exactly the given kinds.
func Mask(kinds ...EventKind) KindMask {
	var m KindMask
	for _, k := range kinds {
		m |= 1 << k
	}
	return m
}

// Has reports whether m selects k.
func (m KindMask) Has(k EventKind) bool { return m&(1<<k) != 0 }

// Event is one thing that happened in iocd, as published on the bus. Exactly
// the member named by Kind is set. Events are values shared between
// subscribers: subscribers must not modify what the pointers refer to.
type Event struct {
	Kind EventKind
	Time time.Time

	Reading   *Reading
	Health    *HealthChange
	Device    *DeviceChange
	Violation *Violation
	Camera    *CameraState
	Notice    *Notice
	Alert     *Alert
}

// DeviceChange is a registry change. Device is redacted: events leave the
// process through the dashboard feed.
type DeviceChange struct {
	Device  Device `json:"device"`
	Deleted bool   `json:"deleted,omitempty"`
}

// CameraState is a camera session's state as the streams package sees it.
type CameraState struct {
	Camera    DeviceID  `json:"camera"`
	Site      string    `json:"site"`
	Connected bool      `json:"connected"`
	Reason    string    `json:"reason,omitempty"`
	At        time.Time `json:"at"`
}

// Severity orders notices and alerts.
type Severity string

// Severities, from least to most urgent.
const (
	SeverityInfo     Severity = "info"
	SeverityWarning  Severity = "warning"
	SeverityCritical Severity = "critical"
)

// Notice is an operational condition worth an operator's attention.
type Notice struct {
	Source   string            `json:"source"`
	Code     string            `json:"code"`
	Severity Severity          `json:"severity"`
	Message  string            `json:"message"`
	Labels   map[string]string `json:"labels,omitempty"`
	At       time.Time         `json:"at"`
}
