package devices

import (
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"

	"github.com/iocd/iocd/defs"
)

// MaxImportRows bounds one import, so that a single request cannot hold
// the write lock for long or the parser grow without end.
const MaxImportRows = 100_000

// CSVColumns are the columns a CSV import may have, in the order iocd
// writes them. id, site and kind are required; tags are "k=v;k2=v2".
var CSVColumns = []string{"id", "site", "kind", "name", "lat", "lon", "address", "tags", "heartbeat_s", "rtsp_url", "status"}

// rowError is an EINVALID for the row-th record (1-based) of an import.
func rowError(row int, field, format string, args ...any) error {
	return &defs.Error{Code: defs.EINVALID, Row: row, Field: field, Message: fmt.Sprintf(format, args...)}
}

// withRow sets the row on a coded error from validation.
func withRow(row int, err error) error {
	var e *defs.Error
	if errors.As(err, &e) {
		c := *e
		c.Row = row
		return &c
	}
	return err
}

// ParseJSON reads a JSON array of devices. Unknown fields are refused;
// errors name the row (1-based) and field. created_at and updated_at are
// accepted and ignored.
func ParseJSON(r io.Reader) ([]defs.Device, error) {
	dec := json.NewDecoder(r)
	dec.DisallowUnknownFields()
	tok, err := dec.Token()
	if err != nil {
		return nil, jsonBodyError(0, err)
	}
	if d, ok := tok.(json.Delim); !ok || d != '[' {
		return nil, defs.Invalid("body", "must be a JSON array of devices")
	}
	out := []defs.Device{}
	for dec.More() {
		row := len(out) + 1
		if row > MaxImportRows {
			return nil, defs.Invalid("body", "holds more than %d devices", MaxImportRows)
		}
		var d defs.Device
		if err := dec.Decode(&d); err != nil {
			return nil, jsonBodyError(row, err)
		}
		out = append(out, d)
	}
	if _, err := dec.Token(); err != nil { // the closing ']'
		return nil, jsonBodyError(0, err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return nil, defs.Invalid("body", "must hold one JSON array and nothing after it")
	}
	return out, nil
}

func jsonBodyError(row int, err error) error {
	var (
		syntax *json.SyntaxError
		typ    *json.UnmarshalTypeError
		coded  *defs.Error
	)
	switch {
	case errors.As(err, &coded):
		return withRow(row, err)
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return defs.Invalid("body", "ends before the JSON array does")
	case errors.As(err, &syntax):
		return defs.Invalid("body", "is not valid JSON at offset %d", syntax.Offset)
	case errors.As(err, &typ):
		field := typ.Field
		if field == "" {
			field = "body"
		}
		return rowError(row, field, "has the wrong JSON type (%s)", typ.Value)
	}
	if name, ok := strings.CutPrefix(err.Error(), "json: unknown field "); ok {
		return rowError(row, strings.Trim(name, `"`), "is not a known field")
	}
	// Other errors (a body cut off by the size limit) keep their type
	// for the caller to recognise.
	return fmt.Errorf("reading JSON: %w", err)
}

// ParseCSV reads devices from a CSV with a header row naming its columns
// (any order, a subset of CSVColumns including id, site and kind). Rows
// are numbered from 1 for the first record after the header. Empty cells
// take defaults.
func ParseCSV(r io.Reader) ([]defs.Device, error) {
	cr := csv.NewReader(r)
	cr.TrimLeadingSpace = true
	header, err := cr.Read()
	if errors.Is(err, io.EOF) {
		return nil, defs.Invalid("body", "is empty; a CSV header row is required")
	}
	if err != nil {
		return nil, csvError(0, err)
	}
	col := map[string]int{}
	for i, h := range header {
		h = strings.ToLower(strings.TrimSpace(strings.TrimPrefix(h, "\ufeff"))) // spreadsheets add a BOM
		if !known(h) {
			return nil, defs.Invalid("header", "column %q is not one of %s", clip(h), strings.Join(CSVColumns, ", "))
		}
		if _, dup := col[h]; dup {
			return nil, defs.Invalid("header", "column %q appears twice", h)
		}
		col[h] = i
	}
	for _, req := range []string{"id", "site", "kind"} {
		if _, ok := col[req]; !ok {
			return nil, defs.Invalid("header", "column %q is required", req)
		}
	}
	out := []defs.Device{}
	for {
		rec, err := cr.Read()
		if errors.Is(err, io.EOF) {
			return out, nil
		}
		row := len(out) + 1
		if err != nil {
			return nil, csvError(row, err)
		}
		if row > MaxImportRows {
			return nil, defs.Invalid("body", "holds more than %d devices", MaxImportRows)
		}
		d, err := csvDevice(row, rec, col)
		if err != nil {
			return nil, err
		}
		out = append(out, d)
	}
}

func known(c string) bool {
	for _, k := range CSVColumns {
		if c == k {
			return true
		}
	}
	return false
}

func csvError(row int, err error) error {
	var pe *csv.ParseError
	if errors.As(err, &pe) {
		return rowError(row, "body", "bad CSV on line %d: %v", pe.Line, pe.Err)
	}
	return fmt.Errorf("reading CSV: %w", err)
}

func csvDevice(row int, rec []string, col map[string]int) (defs.Device, error) {
	cell := func(name string) string {
		if i, ok := col[name]; ok {
			return strings.TrimSpace(rec[i])
		}
		return ""
	}
	d := defs.Device{
		ID:      defs.DeviceID(cell("id")),
		Site:    cell("site"),
		Kind:    defs.Kind(cell("kind")),
		Name:    cell("name"),
		Address: cell("address"),
		RTSPURL: cell("rtsp_url"),
		Status:  defs.Status(cell("status")),
	}
	var err error
	if d.Lat, err = csvFloat(cell("lat")); err != nil {
		return d, rowError(row, "lat", "%q is not a number", clip(cell("lat")))
	}
	if d.Lon, err = csvFloat(cell("lon")); err != nil {
		return d, rowError(row, "lon", "%q is not a number", clip(cell("lon")))
	}
	if v := cell("heartbeat_s"); v != "" {
		if d.HeartbeatS, err = strconv.Atoi(v); err != nil {
			return d, rowError(row, "heartbeat_s", "%q is not a whole number of seconds", clip(v))
		}
	}
	if d.Tags, err = ParseTags(cell("tags")); err != nil {
		return d, withRow(row, err)
	}
	return d, nil
}

// csvFloat parses a coordinate. ParseFloat takes "NaN" and "Inf", which
// no coordinate is and JSON cannot carry: they are refused here.
func csvFloat(s string) (float64, error) {
	if s == "" {
		return 0, nil
	}
	v, err := strconv.ParseFloat(s, 64)
	if err == nil && (math.IsNaN(v) || math.IsInf(v, 0)) {
		return 0, errors.New("not a finite number")
	}
	return v, err
}

// ParseTags reads tags written "k=v;k2=v2", the CSV form.
func ParseTags(s string) (map[string]string, error) {
	tags := map[string]string{}
	if strings.TrimSpace(s) == "" {
		return tags, nil
	}
	for _, kv := range strings.Split(s, ";") {
		kv = strings.TrimSpace(kv)
		if kv == "" {
			continue
		}
		k, v, ok := strings.Cut(kv, "=")
		k = strings.TrimSpace(k)
		if !ok || k == "" {
			return nil, defs.Invalid("tags", "%q is not key=value", clip(kv))
		}
		if _, dup := tags[k]; dup {
			return nil, defs.Invalid("tags", "key %q appears twice", clip(k))
		}
		tags[k] = strings.TrimSpace(v)
	}
	return tags, nil
}
