package api_test

import (
	"encoding/csv"
	"net/http"
	"strings"
	"testing"

	"github.com/iocd/iocd/defs"
)

type deviceListAnswer struct {
	Devices []struct {
		defs.Device
		Health   defs.Health    `json:"health"`
		Reason   string         `json:"reason"`
		Firmware string         `json:"firmware"`
		Values   map[string]any `json:"values"`
	} `json:"devices"`
}

// TestDeviceListByHealth is the probe: the stale or offline
// devices in one call, with their health, reason, firmware and values.
func TestDeviceListByHealth(t *testing.T) {
	w := newWallRig(t)
	viewer := w.tokens[defs.RoleViewer]
	for _, tc := range []struct {
		query string
		want  []string
	}{
		{"", []string{"ben-luc-wl-01", "ben-luc-wl-02", "tan-an-aq-01", "tan-an-cam-01"}},
		{"?health=offline", []string{"ben-luc-wl-01"}},
		{"?health=online", []string{"tan-an-aq-01", "tan-an-cam-01"}},
		{"?health=unknown", []string{"ben-luc-wl-02"}},
		{"?health=stale", nil},
		{"?health=online&kind=camera", []string{"tan-an-cam-01"}},
		{"?site=ben-luc&status=pending", []string{"ben-luc-wl-02"}},
		{"?q=WATER", []string{"ben-luc-wl-01", "ben-luc-wl-02"}},
		{"?q=cam-0", []string{"tan-an-cam-01"}},
		{"?q=ngã tư", []string{"tan-an-cam-01"}},
	} {
		t.Run(tc.query, func(t *testing.T) {
			got := w.do("GET", "/api/v1/devices"+strings.ReplaceAll(tc.query, " ", "%20"), viewer, nil)
			wantStatus(t, got, http.StatusOK)
			noSecret(t, got)
			var list deviceListAnswer
			got.json(t, &list)
			var ids []string
			for _, d := range list.Devices {
				ids = append(ids, string(d.ID))
			}
			if strings.Join(ids, ",") != strings.Join(tc.want, ",") {
				t.Errorf("want %v, got %v", tc.want, ids)
			}
		})
	}
	var list deviceListAnswer
	w.do("GET", "/api/v1/devices?kind=camera", viewer, nil).json(t, &list)
	if d := list.Devices[0]; d.Health != defs.HealthOnline || d.Firmware != "cam-2.4.1" {
		t.Errorf("camera: want online with firmware cam-2.4.1, got %+v", d)
	}
	w.do("GET", "/api/v1/devices?health=offline", viewer, nil).json(t, &list)
	if d := list.Devices[0]; d.Reason != "status: offline" || d.Values["level_m"] != 1.2 {
		t.Errorf("offline sensor: want its reason and latest value, got %+v", d)
	}
	var one struct {
		Health struct {
			Health defs.Health       `json:"health"`
			Reason string            `json:"reason"`
			Meta   map[string]string `json:"meta"`
		} `json:"health"`
	}
	w.do("GET", "/api/v1/devices/ben-luc-wl-01", viewer, nil).json(t, &one)
	if one.Health.Health != defs.HealthOffline || one.Health.Reason != "status: offline" {
		t.Errorf("GET one device: want offline with its reason, got %+v", one.Health)
	}
	for _, bad := range []string{"health=down", "kind=robot", "status=gone"} {
		got := w.do("GET", "/api/v1/devices?"+bad, viewer, nil)
		wantStatus(t, got, http.StatusBadRequest)
		if e := got.err(t); e.Error.Field != strings.Split(bad, "=")[0] {
			t.Errorf("?%s: want the error to name its field, got %+v", bad, e.Error)
		}
	}
}

// TestDeviceListCSV: the same filters as CSV, RFC 4180 (CRLF, quoted where
// needed), no stream URL or password, and no cell a spreadsheet would run.
func TestDeviceListCSV(t *testing.T) {
	w := newWallRig(t)
	got := w.do("GET", "/api/v1/devices.csv?site=tan-an", w.tokens[defs.RoleViewer], nil)
	wantStatus(t, got, http.StatusOK)
	if ct := got.header.Get("Content-Type"); ct != "text/csv; charset=utf-8" {
		t.Errorf("content type: got %q", ct)
	}
	body := string(got.body)
	if strings.Contains(body, "rtsp") || strings.Contains(body, "cam-secret-pw") || strings.Contains(body, "10.0.0.9") {
		t.Errorf("the CSV holds the stream URL: %s", body)
	}
	if !strings.HasSuffix(body, "\r\n") || strings.Count(body, "\r\n") != 3 {
		t.Errorf("want a header and 2 rows, each ending CRLF, got %q", body)
	}
	rows, err := csv.NewReader(strings.NewReader(body)).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(rows[0], ",") != "id,name,site,kind,status,health,reason,last_seen,firmware,lat,lon,address" {
		t.Errorf("header: got %v", rows[0])
	}
	if r := rows[2]; r[0] != "tan-an-cam-01" || r[1] != "Ngã tư Quốc lộ 1" || r[5] != "online" || r[8] != "cam-2.4.1" || r[9] != "10.53" || r[7] == "" {
		t.Errorf("camera row: got %v", r)
	}
	got = w.do("GET", "/api/v1/devices.csv?health=offline", w.tokens[defs.RoleViewer], nil)
	rows, err = csv.NewReader(strings.NewReader(string(got.body))).ReadAll()
	if err != nil || len(rows) != 2 || rows[1][1] != "'=Water level" || rows[1][6] != "status: offline" {
		t.Errorf("offline rows: want one, its formula-like name defused, got %v %v", rows, err)
	}
	wantStatus(t, w.do("GET", "/api/v1/devices.csv?helth=offline", w.tokens[defs.RoleViewer], nil), http.StatusBadRequest)
}

// TestDeviceHealthHistoryOverHTTP reads a device's health history from the
// store, newest first; an unregistered device is a 404.
func TestDeviceHealthHistoryOverHTTP(t *testing.T) {
	w := newWallRig(t)
	viewer := w.tokens[defs.RoleViewer]
	got := w.do("GET", "/api/v1/devices/ben-luc-wl-01/health", viewer, nil)
	wantStatus(t, got, http.StatusOK)
	var h struct {
		Device  defs.DeviceID       `json:"device"`
		Changes []defs.HealthChange `json:"changes"`
	}
	got.json(t, &h)
	if h.Device != "ben-luc-wl-01" || len(h.Changes) != 2 || h.Changes[0].To != defs.HealthOffline || h.Changes[1].To != defs.HealthOnline {
		t.Errorf("want offline then online (newest first), got %s", got.body)
	}
	w.do("GET", "/api/v1/devices/ben-luc-wl-01/health?limit=1", viewer, nil).json(t, &h)
	if len(h.Changes) != 1 {
		t.Errorf("limit=1: got %d changes", len(h.Changes))
	}
	wantStatus(t, w.do("GET", "/api/v1/devices/nope/health", viewer, nil), http.StatusNotFound)
	wantStatus(t, w.do("GET", "/api/v1/devices/ben-luc-wl-01/health?limit=0", viewer, nil), http.StatusBadRequest)
	wantStatus(t, w.do("GET", "/api/v1/devices/ben-luc-wl-01/health?from=yesterday", viewer, nil), http.StatusBadRequest)
}

// TestOverviewAndChangesOverHTTP: the wall's figures and what changed.
func TestOverviewAndChangesOverHTTP(t *testing.T) {
	w := newWallRig(t)
	viewer := w.tokens[defs.RoleViewer]
	got := w.do("GET", "/api/v1/overview", viewer, nil)
	wantStatus(t, got, http.StatusOK)
	var o defs.Overview
	got.json(t, &o)
	if want := (defs.HealthCounts{Online: 2, Offline: 1}); o.Devices != want {
		t.Errorf("devices: want %+v (the pending one left out), got %+v", want, o.Devices)
	}
	if o.ViolationsToday["red_light"]+o.ViolationsToday["speeding"] == 0 || len(o.AlertsOpen) == 0 || len(o.Sites) != 2 {
		t.Errorf("want violations today, open alerts and two sites, got %s", got.body)
	}

	got = w.do("GET", "/api/v1/changes?since=15m", viewer, nil)
	wantStatus(t, got, http.StatusOK)
	var ch struct {
		Changes []struct {
			Kind    string `json:"kind"`
			Subject string `json:"subject"`
			To      string `json:"to"`
		} `json:"changes"`
	}
	got.json(t, &ch)
	kinds := map[string]int{}
	for _, c := range ch.Changes {
		kinds[c.Kind]++
	}
	if kinds["health"] != 4 || kinds["alert"] == 0 {
		t.Errorf("want the 4 health changes (3 online, 1 offline) and alert transitions, got %v: %s", kinds, got.body)
	}
	for _, bad := range []string{"since=forever", "since=48h", "since=0s", "window=15m"} {
		wantStatus(t, w.do("GET", "/api/v1/changes?"+bad, viewer, nil), http.StatusBadRequest)
	}
}
