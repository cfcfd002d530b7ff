package api_test

import (
	"net/http"
	"testing"
	"time"

	"github.com/iocd/iocd/defs"
	"github.com/iocd/iocd/influx"
)

type fakeConflicts []influx.FieldConflict

func (f fakeConflicts) Conflicts() []influx.FieldConflict { return f }

func TestListConflicts(t *testing.T) {
	at := time.Date(2026, 11, 22, 1, 0, 0, 0, time.UTC)
	want := fakeConflicts{{Device: "aq-02", Field: "mode", WantType: "float", GotType: "string", Count: 3, LastAt: at}}
	r := newRig(t, func(s *rigSetup) { s.opts.Conflicts = want })
	wantStatus(t, r.do("GET", "/api/v1/ingest/conflicts", "", nil), http.StatusUnauthorized)
	got := r.do("GET", "/api/v1/ingest/conflicts", r.tokens[defs.RoleViewer], nil)
	wantStatus(t, got, http.StatusOK)
	var body struct {
		Conflicts []influx.FieldConflict `json:"conflicts"`
	}
	got.json(t, &body)
	if len(body.Conflicts) != 1 || body.Conflicts[0] != want[0] {
		t.Errorf("conflicts: want %+v, got %+v", want, body.Conflicts)
	}

	off := newRig(t)
	wantStatus(t, off.do("GET", "/api/v1/ingest/conflicts", off.tokens[defs.RoleViewer], nil), http.StatusServiceUnavailable)
}
