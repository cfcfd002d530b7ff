package defs

import "time"

// Condition is a state of the service itself that an operator may need to
// know about (the clip disk low, InfluxDB unreachable, the broker
// disconnected, bus events dropped). The component that owns the state
// sets the condition while it holds and clears it when it no longer does;
// the alerts engine reads the current set on every tick, so a condition
// can never be left raised by a lost message.
type Condition struct {
	// Code names the condition, such as "disk_low"; with Subject it is
	// the condition's identity.
	Code string `json:"code"`
	// Subject narrows the condition to one thing (a camera, a bus
	// subscriber); empty for the service as a whole.
	Subject  string            `json:"subject,omitempty"`
	Source   string            `json:"source"`
	Severity Severity          `json:"severity"`
	Message  string            `json:"message"`
	Labels   map[string]string `json:"labels,omitempty"`
	// Value is the measured quantity behind the condition, if any (free
	// bytes, spool bytes, drops), for {{value}} in alert messages.
	Value float64 `json:"value,omitempty"`
	// Since is when the condition was first set; Set keeps it while the
	// condition stays set.
	Since time.Time `json:"since"`
}

// Condition codes set by iocd's own components.
const (
	ConditionDiskLow           = "disk_low"               // violations: clip disk below retention.min_free_bytes after purging
	ConditionClipsRemovedSpace = "clips_removed_low_disk" // violations: unreviewed clips were removed for space
	ConditionInfluxUnreachable = "influx_unreachable"     // influx: writes failing with a retryable error
	ConditionSpoolGrowing      = "spool_growing"          // influx: points waiting in the disk spool
	ConditionBrokerDown        = "broker_disconnected"    // ingest: no MQTT connection
	ConditionBusDrops          = "bus_drops"              // bus: a subscriber dropped events
	ConditionClipDiskFull      = "clip_disk_full"         // violations: a clip or snapshot could not be written
	// streams: a camera fails the evidential health gate (frame rate,
	// keyframe interval, format changes, clock offset, host clock); its
	// violations are marked not evidential. Subject: the camera id.
	ConditionCameraNotEvidential = "camera_not_evidential"
	// streams: the kernel says iocd's clock is not synchronised while
	// evidence.require_host_sync is on; every violation is marked not
	// evidential. One condition for the host, not one per camera.
	ConditionHostClockUnsynced = "host_clock_unsynchronised"
)
