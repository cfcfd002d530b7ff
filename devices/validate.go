package devices

import (
	"math"
	"net/url"
	"strings"
	"unicode/utf8"

	"github.com/iocd/iocd/defs"
)

// Field limits. Ids and sites are MQTT topic levels
// (ioc/<site>/<id>/telemetry), hence the tight character set: no '/', '+',
// '#' or '$', nothing a topic filter or a shell would read twice.
const (
	maxIDLen       = 64
	maxNameLen     = 256
	maxAddressLen  = 512
	maxTags        = 64
	maxTagKeyLen   = 64
	maxTagValueLen = 256
	maxURLLen      = 2048
	maxHeartbeatS  = 86400
)

// DefaultHeartbeatS is the report interval a device gets when none is
// given, including devices recorded by Unknown.
const DefaultHeartbeatS = 60

// validName says why s cannot be a device id or site, or "" if it can.
func validName(s string) string {
	if s == "" {
		return "is required"
	}
	if len(s) > maxIDLen {
		return "must be at most 64 characters"
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '.' || c == '_' || c == '-') {
			return "may hold only letters, digits, '.', '_' and '-' (it is an MQTT topic level)"
		}
	}
	return ""
}

// CheckID returns an EINVALID naming field if s is not a valid id or site.
func CheckID(field, s string) error {
	if why := validName(s); why != "" {
		return defs.Invalid(field, "%s", why)
	}
	return nil
}

// normalize fills defaults into d (heartbeat, status, tags) and checks
// every field, returning an EINVALID naming the first bad one. Messages
// never quote the RTSP URL: it holds a password.
func normalize(d *defs.Device, defaultStatus defs.Status) error {
	if err := CheckID("id", string(d.ID)); err != nil {
		return err
	}
	if err := CheckID("site", d.Site); err != nil {
		return err
	}
	if !d.Kind.Valid() {
		if d.Kind == "" {
			return defs.Invalid("kind", "is required: sensor, camera, controller or gateway")
		}
		return defs.Invalid("kind", "%q is not one of sensor, camera, controller, gateway", clip(string(d.Kind)))
	}
	d.Name = strings.TrimSpace(d.Name)
	if err := checkText("name", d.Name, maxNameLen); err != nil {
		return err
	}
	d.Address = strings.TrimSpace(d.Address)
	if err := checkText("address", d.Address, maxAddressLen); err != nil {
		return err
	}
	if math.IsNaN(d.Lat) || d.Lat < -90 || d.Lat > 90 {
		return defs.Invalid("lat", "must be between -90 and 90")
	}
	if math.IsNaN(d.Lon) || d.Lon < -180 || d.Lon > 180 {
		return defs.Invalid("lon", "must be between -180 and 180")
	}
	if d.Tags == nil {
		d.Tags = map[string]string{}
	}
	if err := checkTags(d.Tags); err != nil {
		return err
	}
	if d.HeartbeatS == 0 {
		d.HeartbeatS = DefaultHeartbeatS
	}
	if d.HeartbeatS < 1 || d.HeartbeatS > maxHeartbeatS {
		return defs.Invalid("heartbeat_s", "must be between 1 and 86400 seconds")
	}
	if d.RTSPURL != "" {
		if d.Kind != defs.KindCamera {
			return defs.Invalid("rtsp_url", "is only for cameras")
		}
		if err := checkRTSP(d.RTSPURL); err != nil {
			return err
		}
	}
	if d.Status == "" {
		d.Status = defaultStatus
	}
	if !d.Status.Valid() {
		return defs.Invalid("status", "%q is not one of pending, active, disabled", clip(string(d.Status)))
	}
	return nil
}

func checkRTSP(raw string) error {
	if len(raw) > maxURLLen {
		return defs.Invalid("rtsp_url", "must be at most %d characters", maxURLLen)
	}
	u, err := url.Parse(raw)
	if err != nil {
		// err quotes the URL, and the URL holds a password.
		return defs.Invalid("rtsp_url", "is not a valid URL")
	}
	if u.Scheme != "rtsp" && u.Scheme != "rtsps" {
		return defs.Invalid("rtsp_url", "must start with rtsp:// or rtsps://")
	}
	if u.Hostname() == "" {
		return defs.Invalid("rtsp_url", "has no host")
	}
	return nil
}

func checkText(field, s string, max int) error {
	if len(s) > max {
		return defs.Invalid(field, "must be at most %d bytes", max)
	}
	if !utf8.ValidString(s) {
		return defs.Invalid(field, "must be valid UTF-8")
	}
	if defs.UnsafeText(s) {
		return defs.Invalid(field, "must not hold control characters or bidirectional overrides")
	}
	return nil
}

func checkTags(tags map[string]string) error {
	if len(tags) > maxTags {
		return defs.Invalid("tags", "may hold at most %d tags", maxTags)
	}
	for k, v := range tags {
		if k == "" {
			return defs.Invalid("tags", "a tag key is empty")
		}
		if len(k) > maxTagKeyLen || strings.ContainsAny(k, "=;") {
			return defs.Invalid("tags", "key %q must be at most %d bytes without '=' or ';'", clip(k), maxTagKeyLen)
		}
		if err := checkText("tags", k, maxTagKeyLen); err != nil {
			return err
		}
		if err := checkText("tags", v, maxTagValueLen); err != nil {
			return defs.Invalid("tags", "value of %q must be at most %d bytes of text", clip(k), maxTagValueLen)
		}
		if strings.Contains(v, ";") {
			return defs.Invalid("tags", "value of %q must not hold ';'", clip(k))
		}
	}
	return nil
}

// clip keeps an echoed bad value short, so an error cannot be used to
// reflect a large body back.
func clip(s string) string {
	if len(s) > 40 {
		return s[:40] + "..."
	}
	return s
}
