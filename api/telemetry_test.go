package api_test

import (
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/iocd/iocd/config"
	"github.com/iocd/iocd/defs"
	"github.com/iocd/iocd/influx"
	"github.com/iocd/iocd/internal/testrig"
)

func TestTelemetryHistory(t *testing.T) {
	ix := testrig.Influx(t) // with Flux
	ix.CreateDB("iocd")
	cfg := config.Default().Influx
	cfg.URL, cfg.Bucket = ix.URL(), "iocd"
	h := influx.NewHistory(cfg)
	t.Cleanup(h.Close)
	r := newRig(t, func(s *rigSetup) { s.opts.Telemetry = h })
	dev := defs.Device{ID: "ben-luc-wl-01", Site: "ben-luc", Kind: defs.KindSensor, Name: "WL 1", Status: defs.StatusActive}
	wantStatus(t, r.admin("POST", "/api/v1/devices", dev), http.StatusCreated)

	// Two readings in the first minute, none in the second, one in the third.
	t0 := time.Date(2026, 11, 22, 0, 0, 0, 0, time.UTC)
	line := func(dev string, at time.Duration, v float64) string {
		return fmt.Sprintf("telemetry,device=%s,kind=sensor,site=ben-luc level_m=%v %d", dev, v, t0.Add(at).UnixNano())
	}
	ix.Write("iocd",
		line("ben-luc-wl-01", 10*time.Second, 1.0), line("ben-luc-wl-01", 40*time.Second, 2.0),
		line("ben-luc-wl-01", 150*time.Second, 4.0), line("other", 20*time.Second, 100))

	viewer := r.tokens[defs.RoleViewer]
	q := url.Values{"field": {"level_m"}, "from": {t0.Format(time.RFC3339)}, "to": {t0.Add(3 * time.Minute).Format(time.RFC3339)}, "every": {"1m"}}
	got := r.do("GET", "/api/v1/devices/ben-luc-wl-01/telemetry?"+q.Encode(), viewer, nil)
	wantStatus(t, got, http.StatusOK)
	var body struct {
		Points []defs.SeriesPoint `json:"points"`
	}
	got.json(t, &body)
	var shown []string
	for _, p := range body.Points {
		v := "null"
		if p.Value != nil {
			v = fmt.Sprint(*p.Value)
		}
		shown = append(shown, p.Time.Sub(t0).String()+"="+v)
	}
	if want := "1m0s=1.5 2m0s=null 3m0s=4"; strings.Join(shown, " ") != want {
		t.Errorf("points: want %s, got %s", want, strings.Join(shown, " "))
	}

	tests := []struct {
		name  string
		path  string
		want  int
		field string
	}{
		{"field required", "/api/v1/devices/ben-luc-wl-01/telemetry", http.StatusBadRequest, "field"},
		{"flux injection refused", "/api/v1/devices/ben-luc-wl-01/telemetry?field=" + url.QueryEscape(`x") |> drop(columns: ["_value"]) //`), http.StatusBadRequest, "field"},
		{"bad time", "/api/v1/devices/ben-luc-wl-01/telemetry?field=level_m&from=yesterday", http.StatusBadRequest, "from"},
		{"bad every", "/api/v1/devices/ben-luc-wl-01/telemetry?field=level_m&every=often", http.StatusBadRequest, "every"},
		{"unknown device", "/api/v1/devices/nobody/telemetry?field=level_m", http.StatusNotFound, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := r.do("GET", tc.path, viewer, nil)
			wantStatus(t, got, tc.want)
			if e := got.err(t); e.Error.Field != tc.field {
				t.Errorf("error field: want %q, got %q (%s)", tc.field, e.Error.Field, e.Error.Message)
			}
		})
	}
}

func TestTelemetryWithoutInflux(t *testing.T) {
	r := newRig(t)
	got := r.do("GET", "/api/v1/devices/x/telemetry?field=temp_c", r.tokens[defs.RoleViewer], nil)
	wantStatus(t, got, http.StatusServiceUnavailable)
	if msg := got.err(t).Error.Message; !strings.Contains(msg, "no InfluxDB is configured") {
		t.Errorf("message: want it to say InfluxDB is not configured, got %q", msg)
	}
}
