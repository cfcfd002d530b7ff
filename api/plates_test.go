package api_test

import (
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/iocd/iocd/defs"
)

// pathFor fills a route pattern's {id} with the wall rig's fixture of that
// route, so that the request answers data rather than a 404.
func (w *wallRig) pathFor(pattern string) string {
	var id string
	switch {
	case strings.HasPrefix(pattern, "/api/v1/devices/"):
		id = "ben-luc-wl-01"
	case strings.HasPrefix(pattern, "/api/v1/violations/"):
		id = w.violation[0].ID
	case strings.HasPrefix(pattern, "/api/v1/alerts/"):
		id = w.alertIDs[1]
	case strings.HasPrefix(pattern, "/api/v1/alert-rules/"):
		id = w.ruleID
	case strings.HasPrefix(pattern, "/api/v1/silences/"):
		id = "sil-1"
	case strings.HasPrefix(pattern, "/api/v1/tokens/"):
		id = "1"
	case strings.HasPrefix(pattern, "/api/v1/cases/"):
		id = "c-fixture" // reviewer routes: a viewer and an operator are refused first
	}
	return strings.Replace(pattern, "{id}", id, 1)
}

// query is what a GET needs to answer data (telemetry needs a field).
func routeQuery(pattern string) string {
	if strings.HasSuffix(pattern, "/telemetry") {
		return "?" + url.Values{"field": {"level_m"}}.Encode()
	}
	return ""
}

// hasPlate reports whether an answer holds the fixture plate in any form.
func hasPlate(body []byte) bool {
	b := strings.ToUpper(string(body))
	return strings.Contains(b, fixturePlate) || strings.Contains(b, fixturePlateRaw) || strings.Contains(b, "123.45")
}

// TestNoPlateForViewerOrOperatorOnAnyRoute enumerates every route of the
// route table with every domain wired and fixtures in each: a viewer and
// an operator never receive a plate from any REST route, while every GET
// open to them answers 200 with data. A reviewer and an admin do get the
// plate from the violation list and record, so the fixtures carry one and
// the test can fail. /ws is the feed, not REST: its plate test is the
// feed's.
func TestNoPlateForViewerOrOperatorOnAnyRoute(t *testing.T) {
	w := newWallRig(t)
	for _, rt := range routeTable(t) {
		if rt.Pattern == "/ws" {
			continue
		}
		path := w.pathFor(rt.Pattern)
		for _, role := range []defs.Role{defs.RoleViewer, defs.RoleOperator} {
			t.Run(fmt.Sprintf("%s %s as %s", rt.Method, rt.Pattern, role), func(t *testing.T) {
				if !role.Allows(rt.Role) {
					got := w.do(rt.Method, path, w.tokens[role], nil)
					wantStatus(t, got, http.StatusForbidden)
					return
				}
				var body any
				if rt.Method != "GET" && rt.Method != "DELETE" {
					body = map[string]any{}
				}
				if rt.Method == "DELETE" {
					return // deleting fixtures proves nothing about plates
				}
				got := w.do(rt.Method, path+routeQuery(rt.Pattern), w.tokens[role], body)
				if rt.Method == "GET" && got.status != http.StatusOK {
					t.Fatalf("want 200 with data, got %d: %s", got.status, got.body)
				}
				if rt.Method == "GET" && len(got.body) < 20 {
					t.Errorf("want data, got %s", got.body)
				}
				if hasPlate(got.body) {
					t.Errorf("a %s received a plate: %s", role, got.body)
				}
			})
		}
	}
	for _, role := range []defs.Role{defs.RoleReviewer, defs.RoleAdmin} {
		for _, path := range []string{"/api/v1/violations", "/api/v1/violations/" + w.violation[0].ID} {
			got := w.do("GET", path, w.tokens[role], nil)
			wantStatus(t, got, http.StatusOK)
			if !hasPlate(got.body) {
				t.Errorf("GET %s as %s: want the plate, got %s", path, role, got.body)
			}
		}
	}
}

// TestPlateSearchByRole: ?plate= is for reviewers and admins; a viewer or
// an operator is told so, and never learns whether the plate is there.
func TestPlateSearchByRole(t *testing.T) {
	w := newWallRig(t)
	for _, tc := range []struct {
		role defs.Role
		want int
	}{
		{defs.RoleViewer, http.StatusForbidden},
		{defs.RoleOperator, http.StatusForbidden},
		{defs.RoleReviewer, http.StatusOK},
		{defs.RoleAdmin, http.StatusOK},
	} {
		for _, plate := range []string{"51f12345", "no-such", ""} {
			t.Run(fmt.Sprintf("%s plate=%q", tc.role, plate), func(t *testing.T) {
				got := w.do("GET", "/api/v1/violations?plate="+url.QueryEscape(plate), w.tokens[tc.role], nil)
				wantStatus(t, got, tc.want)
				if tc.want == http.StatusForbidden {
					if e := got.err(t); e.Error.Code != defs.EFORBIDDEN || !strings.Contains(e.Error.Message, "reviewers and admins") {
						t.Errorf("want a forbidden error saying who may, got %+v", e.Error)
					}
					return
				}
				var list violationsAnswer
				got.json(t, &list)
				if want := map[string]int{"51f12345": 5, "no-such": 0, "": 5}[plate]; len(list.Violations) != want {
					t.Errorf("want %d violations, got %d", want, len(list.Violations))
				}
			})
		}
	}
}

type violationsAnswer struct {
	Violations []defs.Violation `json:"violations"`
	NextCursor string           `json:"next_cursor"`
}

// TestViolationListOnceNewestFirst: the list answers each record once
// (one of them updated after its clip completed), newest first, across
// pages, for every role.
func TestViolationListOnceNewestFirst(t *testing.T) {
	w := newWallRig(t)
	for _, role := range []defs.Role{defs.RoleViewer, defs.RoleReviewer} {
		var got []defs.Violation
		cursor := ""
		for range 10 {
			q := "?limit=2"
			if cursor != "" {
				q += "&cursor=" + url.QueryEscape(cursor)
			}
			res := w.do("GET", "/api/v1/violations"+q, w.tokens[role], nil)
			wantStatus(t, res, http.StatusOK)
			var page violationsAnswer
			res.json(t, &page)
			got = append(got, page.Violations...)
			if cursor = page.NextCursor; cursor == "" {
				break
			}
		}
		var ids []string
		for _, v := range got {
			ids = append(ids, v.ID)
		}
		if len(got) != len(w.violation) {
			t.Fatalf("%s: want %d records, got %v", role, len(w.violation), ids)
		}
		sorted := slices.IsSortedFunc(got, func(a, b defs.Violation) int { return b.Time.Compare(a.Time) })
		slices.Sort(ids)
		if !sorted || len(slices.Compact(ids)) != len(w.violation) {
			t.Errorf("%s: want each record once, newest first; got %+v", role, got)
		}
		if got[0].Time.Before(time.Now().Add(-2 * time.Minute)) {
			t.Errorf("%s: the newest (a minute ago) should come first, got %s", role, got[0].Time)
		}
	}
}
