package api

import (
	"errors"
	"net/http"
	"strconv"

	"github.com/iocd/iocd/defs"
)

// errorBody is the one error shape every endpoint answers with:
//
//	{"error": {"code": "invalid", "field": "kind", "message": "kind: ..."}}
type errorBody struct {
	Error errorDetail `json:"error"`
}

type errorDetail struct {
	Code    string `json:"code"`
	Field   string `json:"field,omitempty"`
	Message string `json:"message"`
	Row     int    `json:"row,omitempty"`
}

// statusOf maps error codes to HTTP statuses. It is the only such mapping.
var statusOf = map[string]int{
	defs.EINVALID:      http.StatusBadRequest,
	defs.ENOTFOUND:     http.StatusNotFound,
	defs.ECONFLICT:     http.StatusConflict,
	defs.EUNAUTHORIZED: http.StatusUnauthorized,
	defs.EFORBIDDEN:    http.StatusForbidden,
	defs.EUNAVAILABLE:  http.StatusServiceUnavailable,
	defs.EINTERNAL:     http.StatusInternalServerError,
	defs.ECSRF:         http.StatusForbidden,
	defs.ERATELIMITED:  http.StatusTooManyRequests,
}

// writeError answers with err mapped to a status and the error shape.
// Internal errors are logged with their detail and shown as "internal
// error", since their text may name files, SQL or worse.
func (s *Server) writeError(w http.ResponseWriter, r *http.Request, err error) {
	code := defs.ErrorCode(err)
	status, ok := statusOf[code]
	if !ok {
		status = http.StatusInternalServerError
	}
	if status == http.StatusInternalServerError {
		s.log.Error("http request failed", "method", r.Method, "path", r.URL.Path, "err", err)
	}
	if status == http.StatusUnauthorized {
		w.Header().Set("WWW-Authenticate", `Bearer realm="iocd"`)
	}
	var retry interface{ RetryAfterSeconds() int }
	if errors.As(err, &retry) {
		w.Header().Set("Retry-After", strconv.Itoa(retry.RetryAfterSeconds()))
	}
	writeJSON(w, status, errorBody{Error: errorDetail{
		Code:    code,
		Field:   defs.ErrorField(err),
		Message: defs.ErrorMessage(err),
		Row:     defs.ErrorRow(err),
	}})
}
