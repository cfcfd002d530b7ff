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

// CameraSession is where a camera's RTSP session is in its life.
type CameraSession string

// Camera session states. A session is connecting until PLAY succeeds,
// streaming while video arrives, and backing off between attempts after a
// failure; stopped is only ever reported for a camera removed from the
// registry or by a stopping iocd, and raises nothing.
const (
	CameraConnecting CameraSession = "connecting"
	CameraStreaming  CameraSession = "streaming"
	CameraBackingOff CameraSession = "backing_off"
	CameraStopped    CameraSession = "stopped"
)

// Why a camera's last attempt failed, as a code operators and rules can
// match on; Detail in CameraState carries the (scrubbed) text.
const (
	CameraReasonUnauthorized = "unauthorized" // the camera refused the credentials (401/403)
	CameraReasonUnreachable  = "unreachable"  // no TCP connection, DNS failure, connection refused or reset
	CameraReasonNoVideo      = "no_video"     // connected, but no video arrived within the read timeout
	CameraReasonBadCodec     = "bad_codec"    // no H.264/H.265 track, or a codec the camera did not announce
	CameraReasonError        = "error"        // anything else (RTSP error status, malformed stream)
)

// CameraState is a camera session's state as the streams package sees it.
// It is published on every attempt (connecting, streaming, backing off),
// not only when a stream ends, and the streams manager answers it for
// every camera on demand, so a consumer can re-check it on a tick.
type CameraState struct {
	Camera DeviceID      `json:"camera"`
	Site   string        `json:"site"`
	State  CameraSession `json:"state,omitempty"`
	// Connected is State == CameraStreaming, kept for older consumers.
	Connected bool `json:"connected"`
	// Reason is the last failure's code (CameraReason*), kept while the
	// session retries; empty once it streams.
	Reason string `json:"reason,omitempty"`
	// Detail is the last failure's text, with credentials scrubbed.
	Detail string `json:"detail,omitempty"`
	// Since is when the session entered State; At is when this was said.
	Since    time.Time `json:"since,omitzero"`
	At       time.Time `json:"at"`
	Attempts int       `json:"attempts,omitempty"`

	// The camera's time and health, as the evidential gate sees them.
	// ClockReported says whether the camera has sent an RTCP sender report
	// (on this or an earlier connection); ClockOffsetMs is its clock minus
	// iocd's at the latest one. HostClockSynced and HostClockErrorMs are
	// iocd's own clock (adjtimex). Evidential and EvidenceChecks are the
	// gate over the last stats interval.
	ClockReported    bool            `json:"clock_reported"`
	ClockOffsetMs    float64         `json:"clock_offset_ms"`
	HostClockSynced  bool            `json:"host_clock_synced"`
	HostClockErrorMs float64         `json:"host_clock_error_ms"`
	Evidential       bool            `json:"evidential"`
	EvidenceChecks   []EvidenceCheck `json:"evidence_checks,omitempty"`
}

// Severity orders notices and alerts.
type Severity string

// Severities, from least to most urgent.
const (
	SeverityInfo     Severity = "info"
	SeverityWarning  Severity = "warning"
	SeverityMinor    Severity = "minor"
	SeverityMajor    Severity = "major"
	SeverityCritical Severity = "critical"
)

// Rank orders severities: 0 for an unknown one, 1 for info up to 5 for
// critical, so a larger rank is more urgent.
func (s Severity) Rank() int {
	switch s {
	case SeverityInfo:
		return 1
	case SeverityWarning:
		return 2
	case SeverityMinor:
		return 3
	case SeverityMajor:
		return 4
	case SeverityCritical:
		return 5
	}
	return 0
}

// Notice is an operational condition worth an operator's attention.
type Notice struct {
	Source   string            `json:"source"`
	Code     string            `json:"code"`
	Severity Severity          `json:"severity"`
	Message  string            `json:"message"`
	Labels   map[string]string `json:"labels,omitempty"`
	At       time.Time         `json:"at"`
}
