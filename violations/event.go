package violations

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"math"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/valyala/fastjson"

	"github.com/iocd/iocd/defs"
)

// Event is a violation event as published by a camera's edge analytics or
// a roadside ANPR unit on P/{site}/{camera}/event.
type Event struct {
	EventID         string
	Type            string
	Time            time.Time
	Plate           string
	PlateConfidence float64
	Vehicle         string
	SpeedKmh        float64
	LimitKmh        float64
	Lane            int
	Snapshot        []byte // JPEG, optional
}

// wireEvent is the JSON form. ts is raw: epoch milliseconds or RFC 3339.
type wireEvent struct {
	EventID         json.RawMessage `json:"event_id"`
	Type            string          `json:"type"`
	TS              json.RawMessage `json:"ts"`
	Plate           string          `json:"plate"`
	PlateConfidence *float64        `json:"plate_confidence"`
	Vehicle         string          `json:"vehicle"`
	SpeedKmh        *float64        `json:"speed_kmh"`
	LimitKmh        *float64        `json:"limit_kmh"`
	Lane            *float64        `json:"lane"`
	SnapshotJPEG    string          `json:"snapshot_jpeg"`
}

// Limits on fields from outside, so a bad or hostile payload cannot bloat
// the store.
const (
	maxIDLen    = 128
	maxTypeLen  = 64
	maxPlateLen = 32
	maxSnapshot = 2 << 20
	maxEventAge = 24 * time.Hour // ts further back than this is refused
	// maxEventAhead bounds how far ahead of our clock a ts may be. Edge
	// clocks are NTP-synchronised, so a minute covers honest skew; a ts
	// further ahead names video that does not exist yet, and its clip
	// could only wait for it.
	maxEventAhead  = time.Minute
	minEventTimeMs = 946684800000 // 2000-01-01: smaller numbers are not epoch ms
)

// DecodeEvent parses and checks an event payload. Errors are defs.Invalid
// naming the field. now bounds the accepted ts.
func DecodeEvent(payload []byte, now time.Time) (Event, error) {
	if duplicateKey(payload) {
		return Event{}, defs.Invalid("payload", "holds a key twice; which value is meant cannot be told")
	}
	var w wireEvent
	dec := json.NewDecoder(bytes.NewReader(payload))
	if err := dec.Decode(&w); err != nil {
		return Event{}, defs.Invalid("payload", "not a JSON event object")
	}
	var ev Event
	// event_id may be a string or a number.
	id := strings.TrimSpace(string(w.EventID))
	if s, err := strconv.Unquote(id); err == nil {
		id = s
	} else if _, err := strconv.ParseFloat(id, 64); err != nil {
		id = ""
	}
	id = strings.TrimSpace(id)
	if id == "" || len(id) > maxIDLen || !utf8.ValidString(id) {
		return ev, defs.Invalid("event_id", "must be a non-empty string of at most %d bytes", maxIDLen)
	}
	ev.EventID = id
	ev.Type = canonicalType(strings.TrimSpace(w.Type))
	if ev.Type == "" || len(ev.Type) > maxTypeLen || !printable(ev.Type) {
		return ev, defs.Invalid("type", "must be a non-empty name of at most %d bytes", maxTypeLen)
	}
	ts, err := parseTS(w.TS)
	if err != nil {
		return ev, err
	}
	if d := ts.Sub(now); d > maxEventAhead {
		return ev, defs.Invalid("ts", "%s is more than %s ahead of the server clock", ts.Format(time.RFC3339), maxEventAhead)
	} else if d < -maxEventAge {
		return ev, defs.Invalid("ts", "%s is more than %s in the past", ts.Format(time.RFC3339), maxEventAge)
	}
	ev.Time = ts
	if len(w.Plate) > maxPlateLen || !utf8.ValidString(w.Plate) {
		return ev, defs.Invalid("plate", "must be at most %d bytes of text", maxPlateLen)
	}
	ev.Plate = w.Plate
	if w.PlateConfidence != nil {
		c := *w.PlateConfidence
		if c < 0 || c > 1 || math.IsNaN(c) {
			return ev, defs.Invalid("plate_confidence", "must be between 0 and 1")
		}
		ev.PlateConfidence = c
	}
	ev.Vehicle = strings.ToLower(strings.TrimSpace(w.Vehicle))
	if len(ev.Vehicle) > maxTypeLen || !printable(ev.Vehicle) {
		return ev, defs.Invalid("vehicle", "must be a name of at most %d bytes", maxTypeLen)
	}
	for _, f := range []struct {
		name string
		in   *float64
		out  *float64
	}{{"speed_kmh", w.SpeedKmh, &ev.SpeedKmh}, {"limit_kmh", w.LimitKmh, &ev.LimitKmh}} {
		if f.in == nil {
			continue
		}
		if *f.in < 0 || *f.in > 500 {
			return ev, defs.Invalid(f.name, "must be between 0 and 500")
		}
		*f.out = *f.in
	}
	if w.Lane != nil {
		l := *w.Lane
		if l < 0 || l > 64 || l != math.Trunc(l) {
			return ev, defs.Invalid("lane", "must be a whole number between 0 and 64")
		}
		ev.Lane = int(l)
	}
	if w.SnapshotJPEG != "" {
		if base64.StdEncoding.DecodedLen(len(w.SnapshotJPEG)) > maxSnapshot {
			return ev, defs.Invalid("snapshot_jpeg", "larger than %d bytes", maxSnapshot)
		}
		img, err := base64.StdEncoding.DecodeString(w.SnapshotJPEG)
		if err != nil {
			return ev, defs.Invalid("snapshot_jpeg", "not base64")
		}
		if len(img) < 4 || img[0] != 0xff || img[1] != 0xd8 {
			return ev, defs.Invalid("snapshot_jpeg", "not a JPEG image")
		}
		ev.Snapshot = img
	}
	return ev, nil
}

// KnownTypes are the violation types of the national ANPR and analytics
// vendors' common vocabulary. Others are kept exactly as given.
var KnownTypes = []string{"red_light", "speeding", "wrong_way", "no_helmet", "illegal_parking", "wrong_lane"}

// canonicalType lower-cases a known type sent in another case ("Speeding"),
// so that its clip window and filters apply; unknown types are kept as
// given.
func canonicalType(t string) string {
	for _, k := range KnownTypes {
		if strings.EqualFold(t, k) {
			return k
		}
	}
	return t
}

// parseTS accepts epoch milliseconds (a number or a numeric string) or an
// RFC 3339 string.
func parseTS(raw json.RawMessage) (time.Time, error) {
	s := strings.TrimSpace(string(raw))
	if u, err := strconv.Unquote(s); err == nil {
		if t, err := time.Parse(time.RFC3339Nano, u); err == nil {
			return t.UTC(), nil
		}
		s = u
	}
	ms, err := strconv.ParseFloat(s, 64)
	if err != nil || ms < minEventTimeMs || ms > 1e15 || math.IsNaN(ms) {
		return time.Time{}, defs.Invalid("ts", "must be epoch milliseconds or RFC 3339")
	}
	return time.UnixMilli(int64(ms)).UTC(), nil
}

// wireKeys are the keys of wireEvent, the ones encoding/json reads.
var wireKeys = []string{"event_id", "type", "ts", "plate", "plate_confidence", "vehicle", "speed_kmh", "limit_kmh", "lane", "snapshot_jpeg"}

// duplicateKey reports whether the payload's top-level object holds one of
// the keys an event is read from twice ({"type":"speeding","type":"red_light"}):
// encoding/json would take the last silently. Keys are compared ignoring
// case, as encoding/json matches them; other keys are ignored anyway. The
// cost is linear in the keys: one pass, each against the ten wire keys.
func duplicateKey(payload []byte) bool {
	var p fastjson.Parser
	v, err := p.ParseBytes(payload)
	if err != nil {
		return false // json.Decode says what is wrong
	}
	obj, err := v.Object()
	if err != nil || obj.Len() < 2 {
		return false
	}
	seen := make([]bool, len(wireKeys))
	dup := false
	obj.Visit(func(k []byte, _ *fastjson.Value) {
		for i, w := range wireKeys {
			if len(k) == len(w) && strings.EqualFold(string(k), w) {
				dup = dup || seen[i]
				seen[i] = true
			}
		}
	})
	return dup
}

func printable(s string) bool {
	for _, r := range s {
		if r < 0x20 || r == 0x7f || r == utf8.RuneError {
			return false
		}
	}
	return true
}
