package influx

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"time"

	influxdb2 "github.com/influxdata/influxdb-client-go/v2"
	"github.com/influxdata/influxdb-client-go/v2/api"
	influxhttp "github.com/influxdata/influxdb-client-go/v2/api/http"

	"github.com/iocd/iocd/config"
	"github.com/iocd/iocd/defs"
)

// Bounds on a history query, so one dashboard request cannot ask InfluxDB
// for millions of windows.
const (
	maxWindows = 5000
	minEvery   = time.Second
)

var fieldName = regexp.MustCompile(`^[A-Za-z0-9_.\-]{1,128}$`)

// SeriesQuery asks for one field of one device, averaged per window.
type SeriesQuery struct {
	Device defs.DeviceID
	Field  string
	From   time.Time
	To     time.Time
	Every  time.Duration
}

// Validate checks the query against the bounds a dashboard may ask for.
func (q SeriesQuery) Validate() error {
	switch {
	case q.Device == "":
		return defs.Invalid("device", "is required")
	case !fieldName.MatchString(q.Field):
		return defs.Invalid("field", "must be 1 to 128 letters, digits, '_', '.' or '-'")
	case !q.From.Before(q.To):
		return defs.Invalid("from", "must be before to")
	case q.Every < minEvery || q.Every%time.Millisecond != 0:
		return defs.Invalid("every", "must be a whole number of milliseconds, at least %s", minEvery)
	case q.To.Sub(q.From)/q.Every > maxWindows:
		return defs.Invalid("every", "gives more than %d windows between from and to; widen it", maxWindows)
	}
	return nil
}

// History reads telemetry history from InfluxDB with Flux.
type History struct {
	client  influxdb2.Client
	query   api.QueryAPI
	bucket  string
	timeout time.Duration
}

// NewHistory returns a History reading cfg's bucket.
func NewHistory(cfg config.Influx) *History {
	opts := influxdb2.DefaultOptions().
		SetHTTPRequestTimeout(uint(cfg.Timeout.D().Seconds() + 1)).
		SetApplicationName("iocd").
		SetLogLevel(0)
	c := influxdb2.NewClientWithOptions(cfg.URL, cfg.Token, opts)
	return &History{client: c, query: c.QueryAPI(cfg.Org), bucket: cfg.Bucket, timeout: cfg.Timeout.D()}
}

// Close releases the client's idle connections.
func (h *History) Close() { h.client.Close() }

// Series returns the mean of q.Field per window of q.Every, oldest first,
// with a nil value where a window has no data. The time of a point is the
// end of its window (Flux's aggregateWindow convention).
func (h *History) Series(ctx context.Context, q SeriesQuery) ([]defs.SeriesPoint, error) {
	if err := q.Validate(); err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(ctx, h.timeout)
	defer cancel()
	res, err := h.query.Query(ctx, fluxSeries(h.bucket, q))
	if err != nil {
		return nil, queryError(err)
	}
	defer res.Close()
	var out []defs.SeriesPoint
	for res.Next() {
		r := res.Record()
		p := defs.SeriesPoint{Time: r.Time().UTC()}
		switch v := r.Value().(type) {
		case float64:
			p.Value = &v
		case int64:
			f := float64(v)
			p.Value = &f
		}
		out = append(out, p)
	}
	if err := res.Err(); err != nil {
		return nil, queryError(err)
	}
	slices.SortFunc(out, func(a, b defs.SeriesPoint) int { return a.Time.Compare(b.Time) })
	return out, nil
}

// fluxSeries builds the Flux query. Every user-supplied string goes in as
// an escaped Flux string literal; times and durations are formatted from
// parsed values, never pasted. (InfluxDB 1.8 does not support query
// parameters, so escaping is the way for both versions.)
func fluxSeries(bucket string, q SeriesQuery) string {
	return fmt.Sprintf(`from(bucket: %s)
  |> range(start: %s, stop: %s)
  |> filter(fn: (r) => r._measurement == %s and r.device == %s and r._field == %s)
  |> group()
  |> aggregateWindow(every: %dms, fn: mean, createEmpty: true)
  |> keep(columns: ["_time", "_value"])`,
		fluxString(bucket),
		q.From.UTC().Format(time.RFC3339Nano), q.To.UTC().Format(time.RFC3339Nano),
		fluxString(MeasurementTelemetry), fluxString(string(q.Device)), fluxString(q.Field),
		q.Every.Milliseconds())
}

// fluxString quotes s as a Flux string literal: backslash and double quote
// are escaped, and so is "${", which would otherwise start interpolation.
func fluxString(s string) string {
	var b strings.Builder
	b.Grow(len(s) + 2)
	b.WriteByte('"')
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '\\' || c == '"':
			b.WriteByte('\\')
			b.WriteByte(c)
		case c == '$' && i+1 < len(s) && s[i+1] == '{':
			b.WriteString(`\$`)
		default:
			b.WriteByte(c)
		}
	}
	b.WriteByte('"')
	return b.String()
}

// queryError maps a query failure to a coded error: a query InfluxDB
// refused (such as a mean over a string field) is the caller's to fix;
// anything else means history is unavailable.
func queryError(err error) error {
	var he *influxhttp.Error
	if errors.As(err, &he) && he.StatusCode >= 400 && he.StatusCode < 500 && he.StatusCode != 401 && he.StatusCode != 403 {
		return &defs.Error{Code: defs.EINVALID, Field: "field", Message: "influxdb could not chart it: " + trim(he.Message, 200)}
	}
	return fmt.Errorf("querying history: %v: %w", err, &defs.Error{Code: defs.EUNAVAILABLE, Message: "metrics history is unavailable: influxdb did not answer"})
}
