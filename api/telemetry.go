package api

import (
	"context"
	"net/http"
	"strings"
	"time"

	"github.com/iocd/iocd/defs"
	"github.com/iocd/iocd/influx"
)

// TelemetryService reads telemetry history. *influx.History satisfies it.
type TelemetryService interface {
	Series(ctx context.Context, q influx.SeriesQuery) ([]defs.SeriesPoint, error)
}

var _ TelemetryService = (*influx.History)(nil)

func (s *Server) telemetryRoutes() {
	// Mounted even without InfluxDB, to say precisely why there is no
	// history rather than the generic "not available".
	s.route("GET", "/api/v1/devices/{id}/telemetry", defs.RoleViewer, s.getTelemetry, "field", "from", "to", "every")
}

// telemetryResponse is one field's history, one point per window, the time
// of each being the end of its window.
type telemetryResponse struct {
	Device defs.DeviceID      `json:"device"`
	Field  string             `json:"field"`
	From   time.Time          `json:"from"`
	To     time.Time          `json:"to"`
	Every  string             `json:"every"`
	Points []defs.SeriesPoint `json:"points"`
}

// getTelemetry answers GET /api/v1/devices/{id}/telemetry?field=temp_c
// &from=...&to=...&every=1m: the mean of field per window. from and to are
// RFC 3339 times or durations back from now ("-6h"); the defaults are the
// last hour and 1m windows.
func (s *Server) getTelemetry(w http.ResponseWriter, r *http.Request) error {
	if s.opts.Telemetry == nil {
		return defs.Errorf(defs.EUNAVAILABLE, "telemetry history is off: no InfluxDB is configured (set influx.url, IOCD_INFLUX_URL)")
	}
	id := defs.DeviceID(r.PathValue("id"))
	if s.opts.Devices != nil {
		if _, err := s.opts.Devices.Get(r.Context(), id); err != nil {
			return err
		}
	}
	q := r.URL.Query()
	now := time.Now().UTC()
	to, err := parseWhen(q.Get("to"), now, now, "to")
	if err != nil {
		return err
	}
	from, err := parseWhen(q.Get("from"), to.Add(-time.Hour), now, "from")
	if err != nil {
		return err
	}
	every := time.Minute
	if v := q.Get("every"); v != "" {
		if every, err = time.ParseDuration(v); err != nil {
			return defs.Invalid("every", "%q is not a duration such as 30s, 1m or 1h", v)
		}
	}
	sq := influx.SeriesQuery{Device: id, Field: q.Get("field"), From: from, To: to, Every: every}
	if sq.Field == "" {
		return defs.Invalid("field", "is required, e.g. field=temp_c")
	}
	points, err := s.opts.Telemetry.Series(r.Context(), sq)
	if err != nil {
		return err
	}
	if points == nil {
		points = []defs.SeriesPoint{}
	}
	writeJSON(w, http.StatusOK, telemetryResponse{Device: id, Field: sq.Field, From: from, To: to, Every: every.String(), Points: points})
	return nil
}

// parseWhen reads an RFC 3339 time or a negative duration back from now.
func parseWhen(v string, def, now time.Time, field string) (time.Time, error) {
	if v == "" {
		return def, nil
	}
	if strings.HasPrefix(v, "-") {
		d, err := time.ParseDuration(v)
		if err == nil {
			return now.Add(d), nil
		}
	}
	t, err := time.Parse(time.RFC3339Nano, v)
	if err != nil {
		return time.Time{}, defs.Invalid(field, "%q is not an RFC 3339 time (2026-11-22T08:00:00+07:00) or a duration back from now (-6h)", v)
	}
	return t.UTC(), nil
}
