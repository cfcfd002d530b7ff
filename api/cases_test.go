package api_test

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/iocd/iocd/defs"
	"github.com/iocd/iocd/internal/testrig"
	"github.com/iocd/iocd/streams"
	"github.com/iocd/iocd/violations"
)

// withCases wires the violations rig's service as the cases service too,
// as serve does.
func withCases(vr *violationsRig) rigOption {
	return func(s *rigSetup) { s.opts.Cases = vr.svc }
}

// TestCasesAPI makes a case over HTTP, lists and reads it, downloads its
// package (which verifies), and places and releases holds.
func TestCasesAPI(t *testing.T) {
	var vr violationsRig
	r := newRig(t, withViolations(t, &vr), withCases(&vr))
	viewer, reviewer := r.tokens[defs.RoleViewer], r.tokens[defs.RoleReviewer]
	var cams struct{ Cameras []streams.CameraStats }
	testrig.WaitFor(t, "the camera to buffer 2 s", 20*time.Second, func() bool {
		r.do("GET", "/api/v1/cameras", viewer, nil).json(t, &cams)
		return len(cams.Cameras) == 1 && cams.Cameras[0].BufferSeconds >= 2
	})
	payload := fmt.Sprintf(`{"event_id":"case-1","type":"red_light","ts":%q,"plate":"51F12345","vehicle":"car"}`,
		time.Now().Add(-200*time.Millisecond).Format(time.RFC3339Nano))
	if err := vr.svc.HandleEvent(context.Background(), vr.cam, []byte(payload), time.Now()); err != nil {
		t.Fatal(err)
	}
	var list struct{ Violations []defs.Violation }
	testrig.WaitFor(t, "the clip sealed", 20*time.Second, func() bool {
		r.do("GET", "/api/v1/violations", reviewer, nil).json(t, &list)
		return len(list.Violations) == 1 && list.Violations[0].ClipStatus == defs.ClipComplete
	})
	vid := list.Violations[0].ID

	for _, c := range []struct {
		name string
		body any
		code int
	}{
		{"no title", map[string]any{"violations": []string{vid}}, http.StatusBadRequest},
		{"unknown violation", map[string]any{"violations": []string{"nope"}, "title": "x"}, http.StatusBadRequest},
		{"unknown field", map[string]any{"violations": []string{vid}, "title": "x", "owner": "y"}, http.StatusBadRequest},
	} {
		wantStatus(t, r.do("POST", "/api/v1/cases", reviewer, c.body), c.code)
	}
	wantStatus(t, r.do("POST", "/api/v1/cases", viewer, map[string]any{"violations": []string{vid}, "title": "x"}), http.StatusForbidden)
	got := r.do("POST", "/api/v1/cases", reviewer, map[string]any{"violations": []string{vid}, "title": "Hồ sơ số 1"})
	wantStatus(t, got, http.StatusCreated)
	var created struct{ ID string }
	got.json(t, &created)

	var cases struct{ Cases []defs.Case }
	r.do("GET", "/api/v1/cases", reviewer, nil).json(t, &cases)
	if len(cases.Cases) != 1 || cases.Cases[0].ID != created.ID || cases.Cases[0].Title != "Hồ sơ số 1" {
		t.Errorf("list: want the case, got %+v", cases)
	}
	var one struct{ Case defs.Case }
	r.do("GET", "/api/v1/cases/"+created.ID, reviewer, nil).json(t, &one)
	if len(one.Case.Violations) != 1 || one.Case.Violations[0] != vid || one.Case.ManifestSHA256 == "" {
		t.Errorf("get: want the case with its violation, got %+v", one.Case)
	}
	wantStatus(t, r.do("GET", "/api/v1/cases/nope", reviewer, nil), http.StatusNotFound)

	pkg := r.do("GET", "/api/v1/cases/"+created.ID+"/package", reviewer, nil)
	wantStatus(t, pkg, http.StatusOK)
	if ct := pkg.header.Get("Content-Type"); ct != "application/zip" {
		t.Errorf("package content type: want application/zip, got %q", ct)
	}
	rep, err := violations.VerifyCasePackage(bytes.NewReader(pkg.body), int64(len(pkg.body)), "")
	if err != nil || !rep.OK() {
		t.Errorf("downloaded package: want it to verify, got %+v %v", rep.Problems, err)
	}

	// Holds on the violation and on the case.
	for _, base := range []string{"/api/v1/violations/" + vid, "/api/v1/cases/" + created.ID} {
		wantStatus(t, r.do("POST", base+"/hold", reviewer, map[string]string{}), http.StatusBadRequest)
		wantStatus(t, r.do("POST", base+"/hold", viewer, map[string]string{"reason": "x"}), http.StatusForbidden)
		wantStatus(t, r.do("POST", base+"/hold", reviewer, map[string]string{"reason": "tòa án yêu cầu"}), http.StatusCreated)
		wantStatus(t, r.do("POST", base+"/hold", reviewer, map[string]string{"reason": "again"}), http.StatusConflict)
	}
	var v struct{ Violation defs.Violation }
	r.do("GET", "/api/v1/violations/"+vid, reviewer, nil).json(t, &v)
	if !v.Violation.Held {
		t.Errorf("violation on hold: want held true, got %+v", v.Violation)
	}
	wantStatus(t, r.do("DELETE", "/api/v1/violations/"+vid+"/hold", reviewer, map[string]string{"reason": "đã xử lý"}), http.StatusOK)
	r.do("GET", "/api/v1/violations/"+vid, reviewer, nil).json(t, &v)
	if !v.Violation.Held {
		t.Errorf("violation in a held case: want held true after its own hold is released")
	}
	wantStatus(t, r.do("DELETE", "/api/v1/cases/"+created.ID+"/hold", reviewer, map[string]string{"reason": "đã xử lý"}), http.StatusOK)
	r.do("GET", "/api/v1/violations/"+vid, reviewer, nil).json(t, &v)
	if v.Violation.Held {
		t.Errorf("both holds released: want held false")
	}
	wantStatus(t, r.do("DELETE", "/api/v1/cases/"+created.ID+"/hold", reviewer, map[string]string{"reason": "x"}), http.StatusNotFound)
}
