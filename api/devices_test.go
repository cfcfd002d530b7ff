package api_test

import (
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/iocd/iocd/defs"
)

const (
	camPassword = "s3cr3t-Pa55"
	camURL      = "rtsp://admin:" + camPassword + "@10.0.0.7:554/Streaming/Channels/101"
)

type deviceBody struct {
	Device defs.Device `json:"device"`
}

type listBody struct {
	Devices []defs.Device `json:"devices"`
}

func camera(id string) map[string]any {
	return map[string]any{
		"id": id, "site": "hanoi-1", "kind": "camera", "name": "Cầu Giấy junction",
		"lat": 21.03, "lon": 105.79, "address": "Cầu Giấy, Hà Nội",
		"tags": map[string]string{"zone": "north"}, "heartbeat_s": 30, "rtsp_url": camURL,
	}
}

// noSecret fails if the camera password is anywhere in an answer.
func noSecret(t *testing.T, got response) {
	t.Helper()
	if strings.Contains(string(got.body), camPassword) {
		t.Errorf("response holds the RTSP password: %s", got.body)
	}
}

func TestDeviceCRUD(t *testing.T) {
	r := newRig(t)

	got := r.admin("POST", "/api/v1/devices", camera("cam-1"))
	wantStatus(t, got, http.StatusCreated)
	noSecret(t, got)
	var created deviceBody
	got.json(t, &created)
	d := created.Device
	if d.ID != "cam-1" || d.Kind != defs.KindCamera || d.Status != defs.StatusActive || d.HeartbeatS != 30 ||
		d.Tags["zone"] != "north" || d.Name != "Cầu Giấy junction" || d.CreatedAt.IsZero() {
		t.Errorf("created: want cam-1 active camera with its fields, got %+v", d)
	}
	if want := "rtsp://admin:xxxxx@10.0.0.7:554/Streaming/Channels/101"; d.RTSPURL != want {
		t.Errorf("rtsp_url: want %q, got %q", want, d.RTSPURL)
	}
	// The secret is stored and used, only not shown.
	if stored, _ := r.reg.Lookup("cam-1"); stored.RTSPURL != camURL {
		t.Errorf("stored rtsp_url: want the full URL, got %q", stored.RTSPURL)
	}

	got = r.do("GET", "/api/v1/devices/cam-1", r.tokens[defs.RoleViewer], nil)
	wantStatus(t, got, http.StatusOK)
	noSecret(t, got)
	var fetched deviceBody
	got.json(t, &fetched)
	if fetched.Device.ID != "cam-1" || fetched.Device.RTSPURL != d.RTSPURL {
		t.Errorf("get: want the created device, got %+v", fetched.Device)
	}

	got = r.admin("PATCH", "/api/v1/devices/cam-1", map[string]any{"name": "renamed", "heartbeat_s": 45})
	wantStatus(t, got, http.StatusOK)
	noSecret(t, got)
	var updated deviceBody
	got.json(t, &updated)
	if u := updated.Device; u.Name != "renamed" || u.HeartbeatS != 45 || u.Site != "hanoi-1" || u.Tags["zone"] != "north" {
		t.Errorf("patch: want name and heartbeat changed and the rest kept, got %+v", u)
	}
	if !updated.Device.UpdatedAt.After(d.UpdatedAt) && !updated.Device.UpdatedAt.Equal(d.UpdatedAt) {
		t.Errorf("updated_at went back: %v then %v", d.UpdatedAt, updated.Device.UpdatedAt)
	}

	wantStatus(t, r.admin("DELETE", "/api/v1/devices/cam-1", nil), http.StatusNoContent)
	wantStatus(t, r.admin("GET", "/api/v1/devices/cam-1", nil), http.StatusNotFound)
	wantStatus(t, r.admin("DELETE", "/api/v1/devices/cam-1", nil), http.StatusNotFound)
	wantStatus(t, r.admin("PATCH", "/api/v1/devices/cam-1", map[string]any{"name": "x"}), http.StatusNotFound)
	if _, ok := r.reg.Lookup("cam-1"); ok {
		t.Errorf("Lookup after delete: want gone, still there")
	}
}

func TestDeviceCreateConflict(t *testing.T) {
	r := newRig(t)
	wantStatus(t, r.admin("POST", "/api/v1/devices", camera("cam-1")), http.StatusCreated)
	got := r.admin("POST", "/api/v1/devices", camera("cam-1"))
	wantStatus(t, got, http.StatusConflict)
	if e := got.err(t); e.Error.Code != defs.ECONFLICT || e.Error.Field != "id" {
		t.Errorf("want conflict on id, got %+v", e)
	}
}

func TestDeviceValidationNamesField(t *testing.T) {
	r := newRig(t)
	with := func(k string, v any) map[string]any {
		d := camera("cam-v")
		if v == nil {
			delete(d, k)
		} else {
			d[k] = v
		}
		return d
	}
	sensor := func(k string, v any) map[string]any {
		d := with(k, v)
		d["kind"] = "sensor"
		delete(d, "rtsp_url")
		if k == "rtsp_url" {
			d[k] = v
		}
		return d
	}
	cases := []struct {
		name  string
		body  any
		field string
	}{
		{"missing id", with("id", nil), "id"},
		{"id with slash", with("id", "a/b"), "id"},
		{"id with wildcard", with("id", "cam+1"), "id"},
		{"id with hash", with("id", "cam#"), "id"},
		{"id too long", with("id", strings.Repeat("a", 65)), "id"},
		{"missing site", with("site", nil), "site"},
		{"site with space", with("site", "ha noi"), "site"},
		{"bad kind", with("kind", "lamp"), "kind"},
		{"missing kind", with("kind", nil), "kind"},
		{"lat out of range", with("lat", 91), "lat"},
		{"lon out of range", with("lon", -181), "lon"},
		{"heartbeat too large", with("heartbeat_s", 86401), "heartbeat_s"},
		{"heartbeat negative", with("heartbeat_s", -1), "heartbeat_s"},
		{"http url", with("rtsp_url", "http://10.0.0.7/stream"), "rtsp_url"},
		{"url without host", with("rtsp_url", "rtsp:///x"), "rtsp_url"},
		{"rtsp url on a sensor", sensor("rtsp_url", camURL), "rtsp_url"},
		{"bad status", with("status", "deleted"), "status"},
		{"tag key with =", with("tags", map[string]string{"a=b": "c"}), "tags"},
		{"name with control char", with("name", "a\x00b"), "name"},
		{"unknown field", with("colour", "red"), "colour"},
		{"wrong type", with("lat", "north"), "lat"},
		{"tags wrong type", with("tags", []string{"a"}), "tags"},
		{"not JSON", "{", "body"},
		{"empty", "", "body"},
		{"two values", `{"id":"a"} {"id":"b"}`, "body"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got := r.admin("POST", "/api/v1/devices", c.body)
			wantStatus(t, got, http.StatusBadRequest)
			noSecret(t, got)
			e := got.err(t)
			if e.Error.Code != defs.EINVALID || e.Error.Field != c.field || !strings.Contains(e.Error.Message, c.field) {
				t.Errorf("want invalid naming %q, got %+v", c.field, e.Error)
			}
		})
	}
	if got := r.admin("GET", "/api/v1/devices", nil); strings.Contains(string(got.body), "cam-v") {
		t.Errorf("a rejected device was registered: %s", got.body)
	}
}

func TestDeviceBodyLimit(t *testing.T) {
	r := newRig(t, func(s *rigSetup) { s.opts.MaxBodyBytes = 512 })
	d := camera("cam-big")
	d["address"] = strings.Repeat("x", 1024)
	got := r.admin("POST", "/api/v1/devices", d)
	wantStatus(t, got, http.StatusBadRequest)
	if e := got.err(t); e.Error.Field != "body" || !strings.Contains(e.Error.Message, "512") {
		t.Errorf("want body-too-large naming the limit, got %+v", e.Error)
	}
}

func TestDeviceUpdateKeepsRTSPSecret(t *testing.T) {
	r := newRig(t)
	got := r.admin("POST", "/api/v1/devices", camera("cam-1"))
	wantStatus(t, got, http.StatusCreated)
	var shown deviceBody
	got.json(t, &shown)

	newURL := "rtsp://admin:other-pass@10.0.0.8/live"
	cases := []struct {
		name string
		body any
		want string // stored URL afterwards
	}{
		{"omitted", map[string]any{"name": "a"}, camURL},
		{"redacted form sent back", map[string]any{"rtsp_url": shown.Device.RTSPURL}, camURL},
		{"whole GET answer sent back", shown.Device, camURL},
		{"new url", map[string]any{"rtsp_url": newURL}, newURL},
		{"cleared", map[string]any{"rtsp_url": ""}, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got := r.admin("PATCH", "/api/v1/devices/cam-1", c.body)
			wantStatus(t, got, http.StatusOK)
			noSecret(t, got)
			if strings.Contains(string(got.body), "other-pass") {
				t.Errorf("response holds the new password: %s", got.body)
			}
			if d, _ := r.reg.Lookup("cam-1"); d.RTSPURL != c.want {
				t.Errorf("stored rtsp_url: want %q, got %q", c.want, d.RTSPURL)
			}
		})
	}
}

func TestDeviceUpdateRules(t *testing.T) {
	r := newRig(t)
	wantStatus(t, r.admin("POST", "/api/v1/devices", camera("cam-1")), http.StatusCreated)
	cases := []struct {
		name  string
		body  any
		field string
	}{
		{"id changed", map[string]any{"id": "cam-2"}, "id"},
		{"kind to sensor keeps the camera url", map[string]any{"kind": "sensor"}, "rtsp_url"},
		{"bad status", map[string]any{"status": "gone"}, "status"},
		{"unknown field", map[string]any{"health": "online"}, "health"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got := r.admin("PATCH", "/api/v1/devices/cam-1", c.body)
			wantStatus(t, got, http.StatusBadRequest)
			if e := got.err(t); e.Error.Field != c.field {
				t.Errorf("want field %q, got %+v", c.field, e.Error)
			}
		})
	}
	// Tags, when sent, replace the map; disabling works.
	got := r.admin("PATCH", "/api/v1/devices/cam-1", map[string]any{"tags": map[string]string{"lane": "2"}, "status": "disabled"})
	wantStatus(t, got, http.StatusOK)
	var b deviceBody
	got.json(t, &b)
	if len(b.Device.Tags) != 1 || b.Device.Tags["lane"] != "2" || b.Device.Status != defs.StatusDisabled {
		t.Errorf("want tags {lane:2} and disabled, got %+v", b.Device)
	}
}

func TestDeviceListFilters(t *testing.T) {
	r := newRig(t)
	for _, d := range []map[string]any{
		{"id": "s1", "site": "hanoi-1", "kind": "sensor"},
		{"id": "s2", "site": "hue-1", "kind": "sensor", "status": "pending"},
		{"id": "c1", "site": "hanoi-1", "kind": "camera", "rtsp_url": camURL},
		{"id": "g1", "site": "hue-1", "kind": "gateway", "status": "disabled"},
	} {
		wantStatus(t, r.admin("POST", "/api/v1/devices", d), http.StatusCreated)
	}
	cases := []struct {
		query string
		want  string
	}{
		{"", "c1,g1,s1,s2"},
		{"?site=hanoi-1", "c1,s1"},
		{"?kind=sensor", "s1,s2"},
		{"?status=pending", "s2"},
		{"?site=hue-1&kind=gateway", "g1"},
		{"?site=hue-1&status=active", ""},
		{"?site=nowhere", ""},
	}
	for _, c := range cases {
		t.Run(c.query, func(t *testing.T) {
			got := r.do("GET", "/api/v1/devices"+c.query, r.tokens[defs.RoleViewer], nil)
			wantStatus(t, got, http.StatusOK)
			noSecret(t, got)
			var b listBody
			got.json(t, &b)
			var ids []string
			for _, d := range b.Devices {
				ids = append(ids, string(d.ID))
			}
			if g := strings.Join(ids, ","); g != c.want {
				t.Errorf("want %q, got %q", c.want, g)
			}
			if b.Devices == nil {
				t.Errorf("want devices as [], got null")
			}
		})
	}
	for _, q := range []string{"?kind=lamp", "?status=gone"} {
		t.Run(q, func(t *testing.T) {
			wantStatus(t, r.admin("GET", "/api/v1/devices"+q, nil), http.StatusBadRequest)
		})
	}
}

func TestDeviceApprove(t *testing.T) {
	r := newRig(t)
	wantStatus(t, r.admin("POST", "/api/v1/devices", map[string]any{"id": "s1", "site": "hue-1", "kind": "sensor", "status": "pending"}), http.StatusCreated)
	got := r.admin("POST", "/api/v1/devices/s1/approve", nil)
	wantStatus(t, got, http.StatusOK)
	var b deviceBody
	got.json(t, &b)
	if b.Device.Status != defs.StatusActive {
		t.Errorf("approve: want active, got %q", b.Device.Status)
	}
	if d, _ := r.reg.Lookup("s1"); d.Status != defs.StatusActive {
		t.Errorf("Lookup after approve: want active, got %q", d.Status)
	}
	wantStatus(t, r.admin("POST", "/api/v1/devices/s1/approve", nil), http.StatusOK)
	wantStatus(t, r.admin("POST", "/api/v1/devices/nope/approve", nil), http.StatusNotFound)
}

const goodCSV = "id,site,kind,name,lat,lon,address,tags,heartbeat_s,rtsp_url,status\n" +
	"cam-1,hanoi-1,camera,Gate,21.0,105.8,\"1 Tràng Tiền, Hà Nội\",zone=north;lane=2,30," + camURL + ",\n" +
	"wl-1,hue-1,sensor,Water level,16.46,107.59,,,600,,pending\n"

func TestDeviceImport(t *testing.T) {
	jsonRows := []map[string]any{camera("cam-1"), {"id": "wl-1", "site": "hue-1", "kind": "sensor", "status": "pending", "heartbeat_s": 600}}
	cases := []struct {
		name        string
		contentType string
		body        any
	}{
		{"json", "application/json", jsonRows},
		{"json without content type", "", jsonRows},
		{"csv", "text/csv; charset=utf-8", goodCSV},
		{"csv with BOM", "text/csv", "\ufeff" + goodCSV},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := newRig(t)
			got := r.admin("POST", "/api/v1/devices/import", c.body, "Content-Type", c.contentType)
			wantStatus(t, got, http.StatusCreated)
			noSecret(t, got)
			var b listBody
			got.json(t, &b)
			if len(b.Devices) != 2 {
				t.Fatalf("want 2 devices back, got %d", len(b.Devices))
			}
			cam, _ := r.reg.Lookup("cam-1")
			wl, _ := r.reg.Lookup("wl-1")
			if cam.RTSPURL != camURL || cam.Status != defs.StatusActive || cam.Tags["zone"] != "north" {
				t.Errorf("cam-1: want active camera with its URL and tags, got %+v", cam.Redacted())
			}
			if wl.Status != defs.StatusPending || wl.HeartbeatS != 600 || wl.Site != "hue-1" {
				t.Errorf("wl-1: want pending sensor at hue-1 reporting every 600s, got %+v", wl)
			}
		})
	}
}

func TestDeviceImportAllOrNothing(t *testing.T) {
	badJSON := []map[string]any{
		{"id": "a1", "site": "s", "kind": "sensor"},
		{"id": "a2", "site": "s", "kind": "sensor"},
		{"id": "a3", "site": "s", "kind": "lamp"},
	}
	cases := []struct {
		name        string
		contentType string
		body        any
		status      int
		row         int
		field       string
	}{
		{"json bad kind", "application/json", badJSON, 400, 3, "kind"},
		{"json unknown field", "application/json", `[{"id":"a1","site":"s","kind":"sensor"},{"id":"a2","colour":"red"}]`, 400, 2, "colour"},
		{"json wrong type", "application/json", `[{"id":"a1","site":"s","kind":"sensor","lat":"x"}]`, 400, 1, "lat"},
		{"json repeated id", "application/json", `[{"id":"a1","site":"s","kind":"sensor"},{"id":"a1","site":"s","kind":"sensor"}]`, 400, 2, "id"},
		{"json existing id", "application/json", `[{"id":"a1","site":"s","kind":"sensor"},{"id":"old","site":"s","kind":"sensor"}]`, 409, 2, "id"},
		{"json not an array", "application/json", `{"id":"a1"}`, 400, 0, "body"},
		{"csv bad lat", "text/csv", "id,site,kind,lat\na1,s,sensor,1\na2,s,sensor,north\n", 400, 2, "lat"},
		{"csv bad tags", "text/csv", "id,site,kind,tags\na1,s,sensor,zone\n", 400, 1, "tags"},
		{"csv url on sensor", "text/csv", "id,site,kind,rtsp_url\na1,s,camera," + camURL + "\na2,s,sensor," + camURL + "\n", 400, 2, "rtsp_url"},
		{"csv missing column", "text/csv", "id,site\na1,s\n", 400, 0, "header"},
		{"csv unknown column", "text/csv", "id,site,kind,colour\na1,s,sensor,red\n", 400, 0, "header"},
		{"csv ragged row", "text/csv", "id,site,kind\na1,s,sensor\na2,s\n", 400, 2, "body"},
		{"unsupported type", "application/xml", "<devices/>", 400, 0, "Content-Type"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := newRig(t)
			wantStatus(t, r.admin("POST", "/api/v1/devices", map[string]any{"id": "old", "site": "s", "kind": "sensor"}), http.StatusCreated)
			got := r.admin("POST", "/api/v1/devices/import", c.body, "Content-Type", c.contentType)
			wantStatus(t, got, c.status)
			noSecret(t, got)
			e := got.err(t)
			if e.Error.Row != c.row || e.Error.Field != c.field {
				t.Errorf("want row %d field %q, got %+v", c.row, c.field, e.Error)
			}
			if c.row > 0 && !strings.HasPrefix(e.Error.Message, "row ") {
				t.Errorf("message: want it to start with the row, got %q", e.Error.Message)
			}
			var b listBody
			r.admin("GET", "/api/v1/devices", nil).json(t, &b)
			if len(b.Devices) != 1 {
				t.Errorf("want only the device from before (all or nothing), got %d devices", len(b.Devices))
			}
		})
	}
}

func TestDeviceSeedFile(t *testing.T) {
	cases := []struct {
		name, file, content string
	}{
		{"csv", "devices.csv", goodCSV},
		{"json", "devices.json", `[{"id":"cam-1","site":"hanoi-1","kind":"camera","rtsp_url":"` + camURL + `"},{"id":"wl-1","site":"hue-1","kind":"sensor","status":"pending"}]`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), c.file)
			if err := os.WriteFile(path, []byte(c.content), 0o600); err != nil {
				t.Fatal(err)
			}
			r := newRig(t, func(s *rigSetup) { s.cfg.Devices.SeedFile = path })
			got := r.do("GET", "/api/v1/devices", r.tokens[defs.RoleViewer], nil)
			noSecret(t, got)
			var b listBody
			got.json(t, &b)
			if len(b.Devices) != 2 || b.Devices[0].ID != "cam-1" || b.Devices[1].ID != "wl-1" {
				t.Fatalf("want cam-1 and wl-1 seeded, got %+v", b.Devices)
			}
			// A second seed leaves registered devices as they are.
			wantStatus(t, r.admin("PATCH", "/api/v1/devices/wl-1", map[string]any{"name": "edited"}), http.StatusOK)
			n, err := r.reg.Seed(t.Context(), path)
			if err != nil || n != 0 {
				t.Errorf("second seed: want 0 added and no error, got %d, %v", n, err)
			}
			if d, _ := r.reg.Lookup("wl-1"); d.Name != "edited" {
				t.Errorf("second seed overwrote wl-1: name %q", d.Name)
			}
		})
	}
}

func TestDeviceImportBodyLimit(t *testing.T) {
	r := newRig(t, func(s *rigSetup) { s.opts.MaxImportBytes = 1024 })
	var rows []map[string]any
	for i := 0; i < 40; i++ {
		rows = append(rows, map[string]any{"id": "s" + strings.Repeat("x", i), "site": "s", "kind": "sensor"})
	}
	csv := "id,site,kind\n" + strings.Repeat("abcdefgh,s,sensor\n", 100)
	for name, c := range map[string]struct {
		ct   string
		body any
	}{"json": {"application/json", rows}, "csv": {"text/csv", csv}} {
		t.Run(name, func(t *testing.T) {
			got := r.admin("POST", "/api/v1/devices/import", c.body, "Content-Type", c.ct)
			wantStatus(t, got, http.StatusBadRequest)
			if e := got.err(t); e.Error.Field != "body" || !strings.Contains(e.Error.Message, "1024") {
				t.Errorf("want body-too-large naming the limit, got %+v", e.Error)
			}
		})
	}
}
