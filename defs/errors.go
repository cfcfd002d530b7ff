package defs

import (
	"errors"
	"fmt"
)

// Error codes, mapped to HTTP statuses and messages only at the API edge.
const (
	ECONFLICT     = "conflict"
	EINTERNAL     = "internal"
	EINVALID      = "invalid"
	ENOTFOUND     = "not_found"
	EUNAUTHORIZED = "unauthorized"
	EFORBIDDEN    = "forbidden"
	EUNAVAILABLE  = "unavailable"
)

// Error is an error a user can act on: a code, the field at fault if any,
// and a message safe to show. Anything else is internal and shown as such.
type Error struct {
	Code    string
	Field   string
	Message string
	// Row, if not 0, is the 1-based record of a bulk input (an import) at
	// fault.
	Row int
}

// Error implements error.
func (e *Error) Error() string {
	msg := e.Message
	if e.Field != "" {
		msg = e.Field + ": " + msg
	}
	if e.Row != 0 {
		msg = fmt.Sprintf("row %d: %s", e.Row, msg)
	}
	return msg
}

// ErrorCode returns the code of the first *Error in err's chain, or EINTERNAL.
func ErrorCode(err error) string {
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	return EINTERNAL
}

// ErrorMessage returns the user-facing message of err: the *Error's text, or
// a generic one for internal errors, which may hold details not for users.
func ErrorMessage(err error) string {
	var e *Error
	if errors.As(err, &e) {
		return e.Error()
	}
	return "internal error"
}

// ErrorField returns the field named by err's *Error, if any.
func ErrorField(err error) string {
	var e *Error
	if errors.As(err, &e) {
		return e.Field
	}
	return ""
}

// ErrorRow returns the bulk-input row named by err's *Error, or 0.
func ErrorRow(err error) int {
	var e *Error
	if errors.As(err, &e) {
		return e.Row
	}
	return 0
}

// Errorf builds an *Error with a code and no field.
func Errorf(code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// Invalid builds an EINVALID *Error naming the bad field.
func Invalid(field, format string, args ...any) *Error {
	return &Error{Code: EINVALID, Field: field, Message: fmt.Sprintf(format, args...)}
}

// NotFound builds an ENOTFOUND *Error.
func NotFound(format string, args ...any) *Error {
	return &Error{Code: ENOTFOUND, Message: fmt.Sprintf(format, args...)}
}
