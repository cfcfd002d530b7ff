package influx

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	nethttp "net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/iocd/iocd/config"
	"github.com/iocd/iocd/defs"
	"github.com/iocd/iocd/internal/throttle"
)

// A field of a measurement has one type per InfluxDB shard, and a point
// that brings another is refused; in a batch, InfluxDB 1.8 then drops that
// point and 2.x the whole request. So the writer keeps the type of every
// telemetry field itself (seeded from InfluxDB at start, learned from the
// first point that brings a field) and refuses a conflicting field before
// it reaches a batch: the reading keeps its other fields, only the field
// with the wrong type is left out and counted, per device and field. One
// device's bad type can then never fail another device's readings, and a
// field keeps one type for good, not only for a shard's life.

// fieldType is an InfluxDB field type.
type fieldType uint8

const (
	typeUnknown fieldType = iota
	typeFloat
	typeInteger
	typeString
	typeBoolean
	typeUnsigned
)

var typeNames = [...]string{"unknown", "float", "integer", "string", "boolean", "unsigned"}

func (t fieldType) String() string {
	if int(t) < len(typeNames) {
		return typeNames[t]
	}
	return "unknown"
}

func parseFieldType(s string) fieldType {
	for i, n := range typeNames {
		if n == s {
			return fieldType(i)
		}
	}
	return typeUnknown
}

// typeOf is the InfluxDB type appendTelemetry writes a field as.
func typeOf(f defs.Field) fieldType {
	switch f.Type {
	case defs.FieldBool:
		return typeBoolean
	case defs.FieldString:
		return typeString
	}
	return typeFloat
}

// Bounds on what the registry keeps, so that devices inventing names or
// conflicts cannot grow memory or the metric's label set.
const (
	// maxKnownFields bounds the field types kept. Past it, new fields are
	// passed on unchecked, and InfluxDB's own refusal (reject.go) still
	// costs only the conflicting points.
	maxKnownFields = 1 << 16
	// maxConflicts bounds the (device, field) pairs reported in the API;
	// past it the pair seen longest ago makes room.
	maxConflicts = 1000
	// maxConflictLabels bounds the field label of the conflicts metric;
	// further fields are counted under otherLabel.
	maxConflictLabels = 64
	otherLabel        = "(other)"
)

// FieldConflict is one device's readings of a field that carried another
// type than the field has, in GET /api/v1/ingest/conflicts.
type FieldConflict struct {
	Device   defs.DeviceID `json:"device"`
	Field    string        `json:"field"`
	WantType string        `json:"want_type"`
	GotType  string        `json:"got_type"`
	// Count is the readings whose field was refused (before a batch, or by
	// InfluxDB itself).
	Count  int64     `json:"count"`
	LastAt time.Time `json:"last_at"`
}

type conflictKey struct {
	dev   defs.DeviceID
	field string
}

// fieldTypes is the registry of telemetry field types. check is called on
// every reading: its steady state is a read lock and one map lookup per
// field, without allocation.
type fieldTypes struct {
	log  *slog.Logger
	warn *throttle.Throttle

	mu    sync.RWMutex
	types map[string]fieldType

	cmu       sync.Mutex
	conflicts map[conflictKey]*FieldConflict
	labels    map[string]prometheus.Counter
	metric    *prometheus.CounterVec

	seedURL, seedToken, seedBucket string
	// seeded is closed once seeding has finished, either way.
	seeded chan struct{}
}

func newFieldTypes(log *slog.Logger, reg prometheus.Registerer) *fieldTypes {
	ft := &fieldTypes{
		log:       log,
		warn:      throttle.New(10 * time.Second),
		types:     make(map[string]fieldType, 64),
		conflicts: make(map[conflictKey]*FieldConflict),
		labels:    make(map[string]prometheus.Counter),
		seeded:    make(chan struct{}),
		metric: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "iocd_influx_field_type_conflicts_total",
			Help: "Telemetry fields refused because their type differs from the field's type in InfluxDB, by field (the first 64 fields; the rest as \"(other)\"). Per device: GET /api/v1/ingest/conflicts.",
		}, []string{"field"}),
	}
	ft.labels[otherLabel] = ft.metric.WithLabelValues(otherLabel)
	if reg != nil {
		reg.MustRegister(ft.metric)
	}
	return ft
}

// check returns the fields of dev's reading that may be written: fields
// whose type is the field's, and new fields, whose type it learns. A
// conflicting field is left out and counted. The result is fields itself
// unless something was left out.
func (ft *fieldTypes) check(dev defs.DeviceID, fields []defs.Field) []defs.Field {
	ft.mu.RLock()
	clean := true
	for _, f := range fields {
		if ft.types[f.Key] != typeOf(f) {
			clean = false
			break
		}
	}
	ft.mu.RUnlock()
	if clean {
		return fields
	}
	ft.mu.Lock()
	var out []defs.Field
	for i, f := range fields {
		got := typeOf(f)
		want, known := ft.types[f.Key]
		switch {
		case !known:
			if len(ft.types) < maxKnownFields {
				ft.types[f.Key] = got
			}
		case want != got:
			if out == nil {
				out = make([]defs.Field, i, len(fields))
				copy(out, fields[:i])
			}
			ft.conflict(dev, f.Key, want, got, 1) // takes cmu, never mu
			continue
		}
		if out != nil {
			out = append(out, f)
		}
	}
	ft.mu.Unlock()
	if out == nil {
		return fields
	}
	return out
}

// conflict counts n readings of dev whose field had type got instead of
// want.
func (ft *fieldTypes) conflict(dev defs.DeviceID, field string, want, got fieldType, n int) {
	now := time.Now().UTC()
	ft.cmu.Lock()
	c, ok := ft.labels[field]
	if !ok {
		if len(ft.labels) <= maxConflictLabels {
			c = ft.metric.WithLabelValues(field)
			ft.labels[field] = c
		} else {
			c = ft.labels[otherLabel]
		}
	}
	c.Add(float64(n))
	k := conflictKey{dev, field}
	e, ok := ft.conflicts[k]
	if !ok {
		if len(ft.conflicts) >= maxConflicts {
			ft.evictOldest()
		}
		e = &FieldConflict{Device: dev, Field: field}
		ft.conflicts[k] = e
	}
	e.WantType, e.GotType = want.String(), got.String()
	e.Count += int64(n)
	e.LastAt = now
	ft.cmu.Unlock()
	ft.warn.Do(func() {
		ft.log.Warn("refusing a telemetry field whose type conflicts with its type in InfluxDB (more in GET /api/v1/ingest/conflicts)",
			"device", dev, "field", field, "want_type", want.String(), "got_type", got.String())
	})
}

func (ft *fieldTypes) evictOldest() {
	var oldest conflictKey
	var at time.Time
	for k, e := range ft.conflicts {
		if at.IsZero() || e.LastAt.Before(at) {
			oldest, at = k, e.LastAt
		}
	}
	delete(ft.conflicts, oldest)
}

// learn sets field's type as InfluxDB reported it, overriding what was
// learned from points: InfluxDB is the judge.
func (ft *fieldTypes) learn(field string, t fieldType) {
	if t == typeUnknown {
		return
	}
	ft.mu.Lock()
	if _, ok := ft.types[field]; ok || len(ft.types) < maxKnownFields {
		ft.types[field] = t
	}
	ft.mu.Unlock()
}

// list returns the conflicts, the most recent first.
func (ft *fieldTypes) list() []FieldConflict {
	ft.cmu.Lock()
	out := make([]FieldConflict, 0, len(ft.conflicts))
	for _, e := range ft.conflicts {
		out = append(out, *e)
	}
	ft.cmu.Unlock()
	slices.SortFunc(out, func(a, b FieldConflict) int {
		if c := b.LastAt.Compare(a.LastAt); c != 0 {
			return c
		}
		if c := strings.Compare(string(a.Device), string(b.Device)); c != 0 {
			return c
		}
		return strings.Compare(a.Field, b.Field)
	})
	return out
}

// seed loads the telemetry field types InfluxDB already has, with InfluxQL
// SHOW FIELD KEYS through the /query endpoint (InfluxDB 1.8, or 2.x with a
// DBRP mapping for the bucket). A failure is returned for a log line only:
// without the seed, types are learned from points, and a conflict with a
// type InfluxDB already has is then caught by its refusal (reject.go).
func (ft *fieldTypes) seed(ctx context.Context, client *nethttp.Client, baseURL, token, bucket string) (int, error) {
	db, rp, _ := strings.Cut(bucket, "/")
	from := quoteIdent(MeasurementTelemetry)
	if rp != "" {
		from = quoteIdent(rp) + "." + from
	}
	q := url.Values{"db": {db}, "q": {"SHOW FIELD KEYS FROM " + from}}
	req, err := nethttp.NewRequestWithContext(ctx, nethttp.MethodGet, strings.TrimSuffix(baseURL, "/")+"/query?"+q.Encode(), nil)
	if err != nil {
		return 0, fmt.Errorf("building field keys query: %w", err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Token "+token)
	}
	resp, err := client.Do(req)
	if err != nil {
		return 0, fmt.Errorf("querying field keys: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != nethttp.StatusOK {
		return 0, fmt.Errorf("querying field keys: status %d", resp.StatusCode)
	}
	var r struct {
		Results []struct {
			Series []struct {
				Values [][]string `json:"values"`
			} `json:"series"`
			Error string `json:"error"`
		} `json:"results"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&r); err != nil {
		return 0, fmt.Errorf("decoding field keys: %w", err)
	}
	n := 0
	for _, res := range r.Results {
		if res.Error != "" {
			return 0, fmt.Errorf("querying field keys: %s", trim(res.Error, 200))
		}
		for _, s := range res.Series {
			for _, row := range s.Values {
				if len(row) == 2 {
					ft.learn(row[0], parseFieldType(row[1]))
					n++
				}
			}
		}
	}
	return n, nil
}

// quoteIdent quotes an InfluxQL identifier.
func quoteIdent(s string) string {
	return `"` + strings.NewReplacer(`\`, `\\`, `"`, `\"`).Replace(s) + `"`
}

// initFieldTypes makes the registry, for New.
func (w *Writer) initFieldTypes(cfg config.Influx, reg prometheus.Registerer) {
	w.types = newFieldTypes(w.log, reg)
	w.types.seedURL, w.types.seedToken, w.types.seedBucket = cfg.URL, cfg.Token, cfg.Bucket
	for _, r := range []string{dropTypeConflict, dropBadPoint} {
		w.m.pointsDropped.WithLabelValues(r)
	}
}

// seedFieldTypes loads the field types InfluxDB has, once, at Start; it
// gives up after the write timeout or at Close.
func (w *Writer) seedFieldTypes() {
	defer w.bgWG.Done()
	defer close(w.types.seeded)
	ctx, cancel := context.WithTimeout(context.Background(), w.timeout)
	defer cancel()
	go func() {
		select {
		case <-w.quit:
			cancel()
		case <-ctx.Done():
		}
	}()
	n, err := w.types.seed(ctx, nethttp.DefaultClient, w.types.seedURL, w.types.seedToken, w.types.seedBucket)
	if err != nil {
		w.log.Info("could not read the telemetry field types from influxdb; learning them from readings", "err", err)
		return
	}
	w.log.Debug("telemetry field types read from influxdb", "fields", n)
}

// Conflicts returns the telemetry fields refused for their type, per
// device and field, the most recent first (at most 1,000 pairs).
func (w *Writer) Conflicts() []FieldConflict { return w.types.list() }
