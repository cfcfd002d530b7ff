package api

import (
	"bytes"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/iocd/iocd/defs"
	"github.com/iocd/iocd/devices"
)

// FuzzDecodeJSON feeds request bodies to the API's one JSON decoder, into
// each request type a route decodes: it must never panic, and every
// failure must be an EINVALID naming a field, so that it maps to a 400
// and never a 500.
func FuzzDecodeJSON(f *testing.F) {
	for _, s := range []string{
		`{"id":"aq-01","site":"tan-an","kind":"sensor","name":"AQ 1"}`,
		`{"name":"x","role":"viewer"}`,
		`{"decision":"confirmed","note":"ok"}`,
		`{"status":"disabled","tags":{"a":"b"}}`,
		`{"id":1}`, `{"unknown":1}`, `{} {}`, `[`, `"x"`, `{"heartbeat_s":1e400}`, `{"id":"\ud800"}`,
	} {
		f.Add([]byte(s))
	}
	targets := []func() any{
		func() any { return new(defs.Device) },
		func() any { return new(devices.Patch) },
		func() any { return new(tokenRequest) },
		func() any { return new(reviewRequest) },
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		for _, target := range targets {
			r := httptest.NewRequest(http.MethodPost, "/", bytes.NewReader(body))
			err := decodeLimited(httptest.NewRecorder(), r, 4096, target())
			if err == nil {
				continue
			}
			if defs.ErrorCode(err) != defs.EINVALID {
				t.Fatalf("body %q into %T: error %v is not EINVALID", body, target(), err)
			}
			var coded *defs.Error
			if e, ok := err.(*defs.Error); ok {
				coded = e
			}
			if coded == nil || coded.Field == "" {
				t.Fatalf("body %q into %T: error %v names no field", body, target(), err)
			}
		}
	})
}
