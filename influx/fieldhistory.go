package influx

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/iocd/iocd/defs"
)

// Bounds on a FieldHistory query: a dry run reads raw values, so its size
// is bounded by what InfluxDB returns, not by windows.
const (
	// MaxFieldPoints is the most values FieldHistory returns; a range
	// holding more is refused, not truncated, since a dry run over part of
	// the data would answer a wrong count.
	MaxFieldPoints = 1_000_000
	// MaxFieldDevices bounds the devices of one query (each is a term of
	// the Flux filter).
	MaxFieldDevices = 10_000
)

// fieldPointsLimit is MaxFieldPoints, lowered by a test.
var fieldPointsLimit = MaxFieldPoints

// FieldHistory returns every stored value of a telemetry field for devices
// in [from, to), ordered by device then time, for a rule's dry run.
// Numbers are returned as they are, booleans as 1 or 0; strings are left
// out. More than MaxFieldPoints values is an EINVALID error naming "from".
func (h *History) FieldHistory(ctx context.Context, field string, devices []defs.DeviceID, from, to time.Time) ([]defs.FieldPoint, error) {
	switch {
	case !fieldName.MatchString(field):
		return nil, defs.Invalid("field", "must be 1 to 128 letters, digits, '_', '.' or '-'")
	case len(devices) == 0:
		return nil, nil
	case len(devices) > MaxFieldDevices:
		return nil, defs.Invalid("selector", "picks %d devices; at most %d can be read back at once", len(devices), MaxFieldDevices)
	case !from.Before(to):
		return nil, defs.Invalid("from", "must be before to")
	}
	for _, d := range devices {
		if d == "" {
			return nil, defs.Invalid("device", "must not be empty")
		}
	}
	ctx, cancel := context.WithTimeout(ctx, h.timeout)
	defer cancel()
	res, err := h.query.Query(ctx, fluxFieldHistory(h.bucket, field, devices, from, to, fieldPointsLimit+1))
	if err != nil {
		return nil, queryError(err)
	}
	defer res.Close()
	var out []defs.FieldPoint
	for res.Next() {
		r := res.Record()
		p := defs.FieldPoint{Time: r.Time().UTC()}
		if !p.Time.Before(to) {
			// InfluxDB 1.8 reads a range's stop inclusively; the
			// contract is [from, to).
			continue
		}
		if d, ok := r.ValueByKey("device").(string); ok {
			p.Device = defs.DeviceID(d)
		}
		switch v := r.Value().(type) {
		case float64:
			p.Value = v
		case int64:
			p.Value = float64(v)
		case uint64:
			p.Value = float64(v)
		case bool:
			if v {
				p.Value = 1
			}
		default:
			continue
		}
		if len(out) == fieldPointsLimit {
			return nil, defs.Invalid("from", "the range holds more than %d stored values of %s; narrow it or select fewer devices", fieldPointsLimit, field)
		}
		out = append(out, p)
	}
	if err := res.Err(); err != nil {
		return nil, queryError(err)
	}
	return out, nil
}

// fluxFieldHistory builds the query; every string goes in as an escaped
// Flux literal, times are formatted from parsed values.
func fluxFieldHistory(bucket, field string, devices []defs.DeviceID, from, to time.Time, limit int) string {
	var devs strings.Builder
	for i, d := range devices {
		if i > 0 {
			devs.WriteString(" or ")
		}
		devs.WriteString("r.device == ")
		devs.WriteString(fluxString(string(d)))
	}
	return fmt.Sprintf(`from(bucket: %s)
  |> range(start: %s, stop: %s)
  |> filter(fn: (r) => r._measurement == %s and r._field == %s)
  |> filter(fn: (r) => %s)
  |> keep(columns: ["_time", "_value", "device"])
  |> group()
  |> sort(columns: ["device", "_time"])
  |> limit(n: %d)`,
		fluxString(bucket),
		from.UTC().Format(time.RFC3339Nano), to.UTC().Format(time.RFC3339Nano),
		fluxString(MeasurementTelemetry), fluxString(field), devs.String(), limit)
}
