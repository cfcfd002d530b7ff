package defs

import "time"

// FieldType says which member of a Field holds its value.
type FieldType uint8

// Field value types, as decoded from JSON.
const (
	FieldFloat FieldType = iota + 1
	FieldBool
	FieldString
)

// Field is one named value of a reading. It is a tagged union rather than an
// interface so that the ingest hot path does not box every number.
type Field struct {
	Key  string
	Type FieldType
	Num  float64
	Bool bool
	Str  string
}

// Value returns the field's value as the JSON encoder should show it.
func (f Field) Value() any {
	switch f.Type {
	case FieldBool:
		return f.Bool
	case FieldString:
		return f.Str
	default:
		return f.Num
	}
}

// Reading is one timestamped set of values from one device.
type Reading struct {
	Device DeviceID
	Site   string
	Kind   Kind
	// Time is when the device says it measured, or the receipt time when
	// the payload carried none.
	Time     time.Time
	Received time.Time
	Fields   []Field
}

// Health is what iocd believes about a device's liveness.
type Health string

// Health values. Unknown until the first message; Online and Offline come
// from the status topic (offline usually from the MQTT last will); Stale when
// a device has been silent longer than its heartbeat allows.
const (
	HealthUnknown Health = "unknown"
	HealthOnline  Health = "online"
	HealthOffline Health = "offline"
	HealthStale   Health = "stale"
)

// HealthChange records a device moving from one Health to another.
type HealthChange struct {
	Device   DeviceID  `json:"device"`
	Site     string    `json:"site"`
	Kind     Kind      `json:"kind"`
	From     Health    `json:"from"`
	To       Health    `json:"to"`
	At       time.Time `json:"at"`
	LastSeen time.Time `json:"last_seen"`
	Reason   string    `json:"reason,omitempty"`
}
