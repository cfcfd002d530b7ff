package api

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"

	"github.com/iocd/iocd/defs"
)

// writeJSON answers with v as JSON.
func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	// An encoding error here means the client went away; the status is
	// already sent and there is nobody to tell.
	_ = json.NewEncoder(w).Encode(v)
}

// decodeJSON reads one JSON value from the body into v, within the body
// limit, rejecting unknown fields and trailing data. Its errors are
// EINVALID and name the field at fault where JSON says which.
func (s *Server) decodeJSON(w http.ResponseWriter, r *http.Request, v any) error {
	return decodeLimited(w, r, s.opts.MaxBodyBytes, v)
}

func decodeLimited(w http.ResponseWriter, r *http.Request, limit int64, v any) error {
	body := http.MaxBytesReader(w, r.Body, limit)
	dec := json.NewDecoder(body)
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return jsonError(err, limit)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return defs.Invalid("body", "must hold one JSON value and nothing after it")
	}
	return nil
}

// jsonError turns a decoding error into an EINVALID naming the field.
func jsonError(err error, limit int64) error {
	var (
		syntax   *json.SyntaxError
		typ      *json.UnmarshalTypeError
		tooLarge *http.MaxBytesError
		coded    *defs.Error
	)
	switch {
	case errors.As(err, &coded):
		return err
	case errors.As(err, &tooLarge):
		return defs.Invalid("body", "is larger than %d bytes", limit)
	case errors.Is(err, io.EOF):
		return defs.Invalid("body", "is empty; a JSON value is required")
	case errors.Is(err, io.ErrUnexpectedEOF):
		return defs.Invalid("body", "ends in the middle of a JSON value")
	case errors.As(err, &syntax):
		return defs.Invalid("body", "is not valid JSON at offset %d", syntax.Offset)
	case errors.As(err, &typ):
		field := typ.Field
		if field == "" {
			field = "body"
		}
		return defs.Invalid(field, "must be a JSON %s, not %s", jsonType(typ.Type.Kind().String()), typ.Value)
	}
	// encoding/json reports unknown fields only as text.
	if name, ok := strings.CutPrefix(err.Error(), "json: unknown field "); ok {
		name = strings.Trim(name, `"`)
		if name == "" { // found by FuzzDecodeJSON: {"":1} named no field
			return defs.Invalid("body", "holds a member with an empty name, which is not a known field")
		}
		return defs.Invalid(name, "is not a known field")
	}
	return defs.Invalid("body", "%s", strings.TrimPrefix(err.Error(), "json: "))
}

func jsonType(goKind string) string {
	switch goKind {
	case "int", "int8", "int16", "int32", "int64", "uint", "uint8", "uint16", "uint32", "uint64", "float32", "float64":
		return "number"
	case "map", "struct":
		return "object"
	case "slice", "array":
		return "array"
	case "bool":
		return "boolean"
	}
	return fmt.Sprint(goKind)
}
