package defs

import "time"

// DeviceID names a device uniquely across all sites.
type DeviceID string

// Kind is what a device is.
type Kind string

// The device kinds iocd knows.
const (
	KindSensor     Kind = "sensor"
	KindCamera     Kind = "camera"
	KindController Kind = "controller"
	KindGateway    Kind = "gateway"
)

// Kinds lists every valid Kind, in a stable order for validation messages.
var Kinds = []Kind{KindSensor, KindCamera, KindController, KindGateway}

// Valid reports whether k is one of Kinds.
func (k Kind) Valid() bool {
	for _, v := range Kinds {
		if k == v {
			return true
		}
	}
	return false
}

// Status is a device's place in the registry's approval workflow.
type Status string

// Registry statuses: an unknown device that reports is listed as pending
// until an admin approves it; a disabled device's data is dropped.
const (
	StatusPending  Status = "pending"
	StatusActive   Status = "active"
	StatusDisabled Status = "disabled"
)

// Statuses lists every valid Status.
var Statuses = []Status{StatusPending, StatusActive, StatusDisabled}

// Valid reports whether s is one of Statuses.
func (s Status) Valid() bool {
	for _, v := range Statuses {
		if s == v {
			return true
		}
	}
	return false
}

// Device is one registered edge device or camera.
type Device struct {
	ID         DeviceID          `json:"id"`
	Site       string            `json:"site"`
	Kind       Kind              `json:"kind"`
	Name       string            `json:"name"`
	Lat        float64           `json:"lat"`
	Lon        float64           `json:"lon"`
	Address    string            `json:"address"`
	Tags       map[string]string `json:"tags"`
	HeartbeatS int               `json:"heartbeat_s"`
	// RTSPURL holds the camera's stream URL including its credentials. It is
	// a secret: use Redacted before it leaves the process.
	RTSPURL   string    `json:"rtsp_url,omitempty"`
	Status    Status    `json:"status"`
	CreatedAt time.Time `json:"created_at"`
	UpdatedAt time.Time `json:"updated_at"`
}

// Redacted returns a copy of d whose RTSP URL has its password masked, so it
// can be returned by the API or logged.
func (d Device) Redacted() Device {
	d.RTSPURL = RedactURL(d.RTSPURL)
	if d.Tags != nil {
		tags := make(map[string]string, len(d.Tags))
		for k, v := range d.Tags {
			tags[k] = v
		}
		d.Tags = tags
	}
	return d
}
