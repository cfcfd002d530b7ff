package devices

import (
	"time"

	"github.com/iocd/iocd/defs"
)

// Filter selects devices for List; an empty member matches all.
type Filter struct {
	Site   string
	Kind   defs.Kind
	Status defs.Status
}

// Match reports whether d passes f.
func (f Filter) Match(d defs.Device) bool {
	return (f.Site == "" || d.Site == f.Site) &&
		(f.Kind == "" || d.Kind == f.Kind) &&
		(f.Status == "" || d.Status == f.Status)
}

// Patch is a partial update: a nil member leaves the field as it is, so a
// client may send only what it changes. Tags, when sent, replace the whole
// map. ID, CreatedAt and UpdatedAt are accepted so that a client can send
// back a device as it got it: ID must then match, the times are ignored.
//
// RTSPURL is a secret the API never shows: omitting it, or sending back the
// redacted form the API showed, keeps the stored URL, so a round trip
// through a UI never destroys the password. Sending "" clears it.
type Patch struct {
	ID         *defs.DeviceID     `json:"id,omitempty"`
	Site       *string            `json:"site,omitempty"`
	Kind       *defs.Kind         `json:"kind,omitempty"`
	Name       *string            `json:"name,omitempty"`
	Lat        *float64           `json:"lat,omitempty"`
	Lon        *float64           `json:"lon,omitempty"`
	Address    *string            `json:"address,omitempty"`
	Tags       *map[string]string `json:"tags,omitempty"`
	HeartbeatS *int               `json:"heartbeat_s,omitempty"`
	RTSPURL    *string            `json:"rtsp_url,omitempty"`
	Status     *defs.Status       `json:"status,omitempty"`
	CreatedAt  *time.Time         `json:"created_at,omitempty"`
	UpdatedAt  *time.Time         `json:"updated_at,omitempty"`
}

// apply returns d with p's members set. The caller validates the result.
func (p Patch) apply(d defs.Device) defs.Device {
	set := func(dst *string, src *string) {
		if src != nil {
			*dst = *src
		}
	}
	set(&d.Site, p.Site)
	set(&d.Name, p.Name)
	set(&d.Address, p.Address)
	if p.Kind != nil {
		d.Kind = *p.Kind
	}
	if p.Lat != nil {
		d.Lat = *p.Lat
	}
	if p.Lon != nil {
		d.Lon = *p.Lon
	}
	if p.Tags != nil {
		d.Tags = *p.Tags
	}
	if p.HeartbeatS != nil {
		d.HeartbeatS = *p.HeartbeatS
	}
	if p.Status != nil {
		d.Status = *p.Status
	}
	if p.RTSPURL != nil && !isRedactedForm(*p.RTSPURL, d.RTSPURL) {
		d.RTSPURL = *p.RTSPURL
	}
	return d
}

// isRedactedForm reports whether sent is what the API shows for stored,
// which means the client sent back what it was given and wants no change.
func isRedactedForm(sent, stored string) bool {
	return stored != "" && sent != stored && sent == defs.RedactURL(stored)
}
