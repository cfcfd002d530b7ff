package influx

import (
	"math"
	"slices"
	"strconv"
	"time"

	"github.com/iocd/iocd/defs"
)

// MeasurementTelemetry holds one field per device value; see the package
// doc for the schema.
const MeasurementTelemetry = "telemetry"

// appendTelemetry appends one line of the telemetry measurement. Tags are in
// key order (device, kind, site), as InfluxDB prefers. Fields that cannot be
// stored (NaN, ±Inf) are skipped; it returns false if none was left, and
// then b is unchanged.
func appendTelemetry(b []byte, dev defs.DeviceID, site string, kind defs.Kind, ts time.Time, fields []defs.Field) ([]byte, bool) {
	start := len(b)
	b = append(b, MeasurementTelemetry...)
	b = append(b, ",device="...)
	b = appendTag(b, string(dev))
	if kind != "" {
		b = append(b, ",kind="...)
		b = appendTag(b, string(kind))
	}
	if site != "" {
		b = append(b, ",site="...)
		b = appendTag(b, site)
	}
	n := 0
	for _, f := range fields {
		if f.Type == defs.FieldFloat && (math.IsNaN(f.Num) || math.IsInf(f.Num, 0)) {
			continue
		}
		if n == 0 {
			b = append(b, ' ')
		} else {
			b = append(b, ',')
		}
		n++
		b = appendTag(b, f.Key)
		b = append(b, '=')
		switch f.Type {
		case defs.FieldBool:
			b = strconv.AppendBool(b, f.Bool)
		case defs.FieldString:
			b = appendString(b, f.Str)
		default:
			b = appendFloat(b, f.Num)
		}
	}
	if n == 0 {
		return b[:start], false
	}
	b = append(b, ' ')
	b = strconv.AppendInt(b, ts.UnixMilli(), 10)
	b = append(b, '\n')
	return b, true
}

// appendPoint appends a line for any measurement, for WritePoint. Tags are
// sorted; empty tag values are left out (InfluxDB rejects them). Integer Go
// types become InfluxDB integers, floats floats.
func appendPoint(b []byte, measurement string, tags map[string]string, fields map[string]any, ts time.Time) ([]byte, bool) {
	start := len(b)
	b = appendMeasurement(b, measurement)
	keys := make([]string, 0, max(len(tags), len(fields)))
	for k, v := range tags {
		if k != "" && v != "" {
			keys = append(keys, k)
		}
	}
	slices.Sort(keys)
	for _, k := range keys {
		b = append(b, ',')
		b = appendTag(b, k)
		b = append(b, '=')
		b = appendTag(b, tags[k])
	}
	keys = keys[:0]
	for k := range fields {
		if k != "" {
			keys = append(keys, k)
		}
	}
	slices.Sort(keys)
	n := 0
	for _, k := range keys {
		mark := len(b)
		if n == 0 {
			b = append(b, ' ')
		} else {
			b = append(b, ',')
		}
		b = appendTag(b, k)
		b = append(b, '=')
		ok := true
		switch v := fields[k].(type) {
		case float64:
			ok = !math.IsNaN(v) && !math.IsInf(v, 0)
			b = appendFloat(b, v)
		case float32:
			ok = !math.IsNaN(float64(v)) && !math.IsInf(float64(v), 0)
			b = appendFloat(b, float64(v))
		case int:
			b = append(strconv.AppendInt(b, int64(v), 10), 'i')
		case int32:
			b = append(strconv.AppendInt(b, int64(v), 10), 'i')
		case int64:
			b = append(strconv.AppendInt(b, v, 10), 'i')
		case uint32:
			b = append(strconv.AppendInt(b, int64(v), 10), 'i')
		case uint64:
			ok = v <= math.MaxInt64
			b = append(strconv.AppendInt(b, int64(v), 10), 'i')
		case bool:
			b = strconv.AppendBool(b, v)
		case string:
			b = appendString(b, v)
		case time.Duration:
			b = appendFloat(b, v.Seconds())
		default:
			ok = false
		}
		if !ok {
			b = b[:mark]
			continue
		}
		n++
	}
	if n == 0 {
		return b[:start], false
	}
	b = append(b, ' ')
	b = strconv.AppendInt(b, ts.UnixMilli(), 10)
	b = append(b, '\n')
	return b, true
}

// appendFloat writes a float so that InfluxDB reads it back as a float even
// when it is whole ("41" would be fine, but an integer-looking value is
// still a float field in line protocol, so no suffix is needed).
func appendFloat(b []byte, f float64) []byte {
	return strconv.AppendFloat(b, f, 'g', -1, 64)
}

// appendTag escapes a tag key, tag value or field key: commas, spaces and
// equals signs get a backslash; newlines, which line protocol cannot carry,
// become spaces; a backslash becomes a slash, because line protocol's
// backslash rules differ between InfluxDB versions and a trailing one would
// escape the separator after it.
func appendTag(b []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch c {
		case ',', ' ', '=':
			b = append(b, '\\', c)
		case '\\':
			b = append(b, '/')
		case '\n', '\r':
			b = append(b, '\\', ' ')
		default:
			b = append(b, c)
		}
	}
	return b
}

func appendMeasurement(b []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch c {
		case ',', ' ':
			b = append(b, '\\', c)
		case '\n', '\r':
			b = append(b, '\\', ' ')
		default:
			b = append(b, c)
		}
	}
	return b
}

// appendString writes a quoted string field value. Newlines are kept
// escaped as \n text because a raw newline ends the line.
func appendString(b []byte, s string) []byte {
	b = append(b, '"')
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch c {
		case '"', '\\':
			b = append(b, '\\', c)
		case '\n':
			b = append(b, '\\', 'n')
		case '\r':
			b = append(b, '\\', 'r')
		default:
			b = append(b, c)
		}
	}
	return append(b, '"')
}
