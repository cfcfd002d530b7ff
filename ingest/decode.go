package ingest

import (
	"bytes"
	"math"
	"slices"
	"time"

	"github.com/valyala/fastjson"

	"github.com/iocd/iocd/defs"
)

// Reason says why a message was rejected. It is the "reason" label of
// iocd_ingest_rejected_total, so the set is small and fixed.
type Reason string

// Rejection reasons.
const (
	ReasonBadTopic       Reason = "bad_topic"
	ReasonTooLarge       Reason = "too_large"
	ReasonBadJSON        Reason = "bad_json"
	ReasonBadShape       Reason = "bad_shape"
	ReasonBadTimestamp   Reason = "bad_timestamp"
	ReasonNoValues       Reason = "no_values"
	ReasonTooManyFields  Reason = "too_many_fields"
	ReasonUnknownDevice  Reason = "unknown_device"
	ReasonPendingDevice  Reason = "pending_device"
	ReasonInactiveDevice Reason = "inactive_device"
	ReasonSiteMismatch   Reason = "site_mismatch"
	ReasonRegistryError  Reason = "registry_error"
	ReasonBadStatus      Reason = "bad_status"
	ReasonNoHandler      Reason = "no_handler"
	// ReasonBadEvent: the event handler refused the payload as invalid.
	ReasonBadEvent Reason = "bad_event"
	// ReasonHandlerError and ReasonRegistryError count transient failures
	// that were retried for retryLimit and then given up on.
	ReasonHandlerError Reason = "handler_error"
	ReasonShutdown     Reason = "shutdown"
	// ReasonDuplicateKey: one object of the message holds a key twice
	// ({"fw_state":1,"fw_state":"ok"}); which value was meant cannot be
	// told, and two types in one batch would fail it in InfluxDB.
	ReasonDuplicateKey Reason = "duplicate_key"
	// ReasonReservedField: a field named like a tag or column of the
	// schema (device, site, kind, _field, ...), which would break every
	// query filtering on that tag.
	ReasonReservedField Reason = "reserved_field"
	// ReasonTooManyFieldNames: the message would give its device more
	// distinct field names than ingest.max_fields_per_device.
	ReasonTooManyFieldNames Reason = "too_many_field_names"
)

// reasons lists every Reason so their counters exist at zero from the start
// and a dashboard can tell "none" from "not reported".
var reasons = []Reason{
	ReasonBadTopic, ReasonTooLarge, ReasonBadJSON, ReasonBadShape, ReasonBadTimestamp,
	ReasonNoValues, ReasonTooManyFields, ReasonUnknownDevice, ReasonPendingDevice,
	ReasonInactiveDevice, ReasonSiteMismatch, ReasonRegistryError, ReasonBadStatus,
	ReasonNoHandler, ReasonBadEvent, ReasonHandlerError, ReasonShutdown,
	ReasonDuplicateKey, ReasonReservedField, ReasonTooManyFieldNames,
}

// Limits on what one telemetry payload may carry.
const (
	// maxFields bounds the fields of one payload (all samples together),
	// so one message cannot make a huge point.
	maxFields = 1024
	// maxInterned bounds the per-decoder cache of field names. Fleets use
	// a few dozen names; a device inventing names per message stops being
	// cached instead of growing memory.
	maxInterned = 4096
	// smallObject is the key count up to which duplicates are found by
	// comparing every pair; larger objects are sorted instead. Both cost
	// no allocation.
	smallObject = 16
)

// ReservedField reports whether name is refused as a telemetry field name:
// the tags of the telemetry measurement (a field "site" would make
// `WHERE "site" = ...` ambiguous in InfluxQL and shadow the tag in Flux)
// and the columns Flux gives every record. "time" is not among them: it is
// skipped, as before, because firmware that sends a flat "time" next to
// its values is common.
func ReservedField(name string) bool {
	switch name {
	case "device", "site", "kind",
		"_measurement", "_field", "_value", "_time", "_start", "_stop":
		return true
	}
	return false
}

// reservedKey is ReservedField for a key in the parser's buffer; a switch
// on string(key) does not allocate.
func reservedKey(key []byte) bool {
	switch string(key) {
	case "device", "site", "kind",
		"_measurement", "_field", "_value", "_time", "_start", "_stop":
		return true
	}
	return false
}

// Timestamps outside [minTS, maxTS] are rejected as bad_timestamp. The lower
// bound catches firmware that sends epoch seconds where milliseconds are
// due (1732233600 s read as ms is January 1970).
var (
	minTS = time.Date(2001, 1, 1, 0, 0, 0, 0, time.UTC)
	maxTS = time.Date(2100, 1, 1, 0, 0, 0, 0, time.UTC)
)

// Sample is one timestamped set of values from a telemetry payload.
type Sample struct {
	// Time is the device's timestamp, or the receipt time when it sent
	// none, truncated to the millisecond (the storage precision).
	Time   time.Time
	Fields []defs.Field
}

// Decoder turns telemetry payloads into samples. It reuses its parser and
// buffers between calls, so the steady state allocates only for string
// values; it is not safe for concurrent use: each decoder worker owns one.
type Decoder struct {
	maxBytes int
	p        fastjson.Parser
	keys     map[string]string
	seen     [][]byte // keys of the object being decoded, for duplicates
	fields   []defs.Field
	samples  []Sample
}

// NewDecoder returns a Decoder that rejects payloads over maxBytes.
func NewDecoder(maxBytes int) *Decoder {
	return &Decoder{maxBytes: maxBytes, keys: make(map[string]string, 64)}
}

// Decode parses a telemetry payload in any of the accepted forms: a flat
// object of values, {"ts": ..., "values": {...}}, or an array of those.
// It returns the samples, valid until the next call, or a rejection reason.
// A payload is accepted or rejected whole, so a device never has half a
// message stored.
func (d *Decoder) Decode(payload []byte, received time.Time) ([]Sample, Reason) {
	if len(payload) > d.maxBytes {
		return nil, ReasonTooLarge
	}
	v, err := d.p.ParseBytes(payload)
	if err != nil {
		return nil, ReasonBadJSON
	}
	d.fields = d.fields[:0]
	d.samples = d.samples[:0]
	recv := received.Truncate(time.Millisecond)
	switch v.Type() {
	case fastjson.TypeObject:
		if r := d.decodeObject(v, recv); r != "" {
			return nil, r
		}
	case fastjson.TypeArray:
		arr, _ := v.Array()
		for _, e := range arr {
			if e.Type() != fastjson.TypeObject {
				return nil, ReasonBadShape
			}
			if r := d.decodeObject(e, recv); r != "" {
				return nil, r
			}
		}
	default:
		return nil, ReasonBadShape
	}
	if len(d.samples) == 0 {
		return nil, ReasonNoValues
	}
	// Slice the shared field buffer only now: appends above may have
	// moved it.
	start := 0
	for i := range d.samples {
		n := len(d.samples[i].Fields)
		d.samples[i].Fields = d.fields[start : start+n : start+n]
		start += n
	}
	return d.samples, ""
}

// decodeObject decodes one object, flat or {"ts","values"}, and appends a
// sample unless it holds no values. Its Fields hold only a count until
// Decode slices them.
func (d *Decoder) decodeObject(v *fastjson.Value, recv time.Time) Reason {
	obj, _ := v.Object()
	values := obj.Get("values")
	ts := recv
	if values != nil && values.Type() == fastjson.TypeObject {
		// The envelope: a second ts or values would be ignored silently.
		if d.duplicateKey(obj) {
			return ReasonDuplicateKey
		}
		if tv := obj.Get("ts"); tv != nil {
			t, ok := parseTS(tv)
			if !ok {
				return ReasonBadTimestamp
			}
			ts = t
		}
		obj, _ = values.Object()
	}
	before := len(d.fields)
	var reason Reason
	// The keys are collected in the same pass, for the duplicate check:
	// every key counts, also those of members that are skipped.
	d.seen = d.seen[:0]
	obj.Visit(func(key []byte, fv *fastjson.Value) {
		if reason != "" {
			return
		}
		d.seen = append(d.seen, key)
		if len(d.fields) >= maxFields {
			reason = ReasonTooManyFields
			return
		}
		if reservedKey(key) {
			reason = ReasonReservedField
			return
		}
		f, ok := d.field(key, fv)
		if ok {
			d.fields = append(d.fields, f)
		}
	})
	if reason != "" {
		return reason
	}
	if hasDuplicate(d.seen) {
		return ReasonDuplicateKey
	}
	if n := len(d.fields) - before; n > 0 {
		d.samples = append(d.samples, Sample{Time: ts, Fields: d.fields[before:]})
	}
	return ""
}

// duplicateKey reports whether obj holds a key twice. fastjson keeps every
// member, and Get answers with the first, so without this check
// {"fw_state":1,"fw_state":"ok"} would become two fields of one name and
// two types in one point. The keys point into the parser's buffer, so
// collecting them costs nothing.
func (d *Decoder) duplicateKey(obj *fastjson.Object) bool {
	return duplicateKey(obj, &d.seen)
}

// duplicateKey reports whether obj holds a key twice, collecting its keys
// in *scratch (reused between calls).
func duplicateKey(obj *fastjson.Object, scratch *[][]byte) bool {
	if obj.Len() < 2 {
		return false
	}
	seen := (*scratch)[:0]
	obj.Visit(func(key []byte, _ *fastjson.Value) { seen = append(seen, key) })
	*scratch = seen
	return hasDuplicate(seen)
}

// hasDuplicate reports whether keys holds one key twice, without
// allocating: up to smallObject keys by comparing every pair, beyond that
// by sorting keys (in place).
func hasDuplicate(keys [][]byte) bool {
	if len(keys) <= smallObject {
		for i := 1; i < len(keys); i++ {
			for j := 0; j < i; j++ {
				if bytes.Equal(keys[i], keys[j]) {
					return true
				}
			}
		}
		return false
	}
	slices.SortFunc(keys, bytes.Compare)
	for i := 1; i < len(keys); i++ {
		if bytes.Equal(keys[i], keys[i-1]) {
			return true
		}
	}
	return false
}

// field converts one JSON member to a Field. Nulls, objects and arrays are
// skipped rather than rejected: ThingsBoard firmware often nests extra
// data that is not a time series. Keys InfluxDB cannot store (empty, "time",
// containing a newline) are skipped too, since they would fail the batch.
func (d *Decoder) field(key []byte, v *fastjson.Value) (defs.Field, bool) {
	if !validKey(key) {
		return defs.Field{}, false
	}
	switch v.Type() {
	case fastjson.TypeNumber:
		n := v.GetFloat64()
		if math.IsNaN(n) || math.IsInf(n, 0) {
			return defs.Field{}, false
		}
		return defs.Field{Key: d.intern(key), Type: defs.FieldFloat, Num: n}, true
	case fastjson.TypeTrue:
		return defs.Field{Key: d.intern(key), Type: defs.FieldBool, Bool: true}, true
	case fastjson.TypeFalse:
		return defs.Field{Key: d.intern(key), Type: defs.FieldBool, Bool: false}, true
	case fastjson.TypeString:
		return defs.Field{Key: d.intern(key), Type: defs.FieldString, Str: string(v.GetStringBytes())}, true
	}
	return defs.Field{}, false
}

func validKey(key []byte) bool {
	if len(key) == 0 || len(key) > 256 || string(key) == "time" {
		return false
	}
	for _, c := range key {
		if c == '\n' || c == '\r' || c == '\\' {
			return false
		}
	}
	return true
}

// intern returns key as a string, shared between messages, so that field
// names cost no allocation after their first sighting.
func (d *Decoder) intern(key []byte) string {
	if s, ok := d.keys[string(key)]; ok {
		return s
	}
	s := string(key)
	if len(d.keys) < maxInterned {
		d.keys[s] = s
	}
	return s
}

// parseTS reads a timestamp: an integer of epoch milliseconds or an RFC 3339
// string. Sub-millisecond precision is dropped: storage is in milliseconds.
func parseTS(v *fastjson.Value) (time.Time, bool) {
	var t time.Time
	switch v.Type() {
	case fastjson.TypeNumber:
		f := v.GetFloat64()
		if f != math.Trunc(f) || f < 0 || f > 1e15 {
			return time.Time{}, false
		}
		t = time.UnixMilli(int64(f)).UTC()
	case fastjson.TypeString:
		var err error
		t, err = time.Parse(time.RFC3339Nano, string(v.GetStringBytes()))
		if err != nil {
			return time.Time{}, false
		}
		t = t.UTC().Truncate(time.Millisecond)
	default:
		return time.Time{}, false
	}
	if t.Before(minTS) || t.After(maxTS) {
		return time.Time{}, false
	}
	return t, true
}
