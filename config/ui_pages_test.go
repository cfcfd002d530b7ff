package config

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestUIPagesValidate(t *testing.T) {
	dir := t.TempDir()
	geo := filepath.Join(dir, "map.geojson")
	if err := os.WriteFile(geo, []byte(`{"type":"FeatureCollection","features":[]}`), 0o600); err != nil {
		t.Fatal(err)
	}
	many := make([]UIChart, 33)
	for i := range many {
		many[i] = UIChart{Site: "tan-an", Field: "level_m"}
	}
	// Each case changes the defaults, so other ui.* keys stay valid.
	cases := []struct {
		name string
		set  func(*UI)
		want string // substring of the error; empty: valid
	}{
		{"defaults", func(*UI) {}, ""},
		{"map file", func(u *UI) { u.MapGeoJSON = geo }, ""},
		{"missing map", func(u *UI) { u.MapGeoJSON = filepath.Join(dir, "nope.geojson") }, "ui.map_geojson"},
		{"map is a directory", func(u *UI) { u.MapGeoJSON = dir }, "ui.map_geojson"},
		{"missing pmtiles", func(u *UI) { u.PMTiles = filepath.Join(dir, "nope.pmtiles") }, "ui.pmtiles"},
		{"chart", func(u *UI) { u.Charts = []UIChart{{Site: "tan-an", Field: "level_m"}} }, ""},
		{"chart without field", func(u *UI) { u.Charts = []UIChart{{Site: "tan-an"}} }, "ui.charts"},
		{"too many charts", func(u *UI) { u.Charts = many }, "at most 32"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			u := Default().UI
			c.set(&u)
			var errs []string
			u.validate(func(key, format string, args ...any) { errs = append(errs, key+": "+fmt.Sprintf(format, args...)) })
			got := strings.Join(errs, "; ")
			if c.want == "" && got != "" {
				t.Fatalf("want valid, got %s", got)
			}
			if c.want != "" && !strings.Contains(got, c.want) {
				t.Fatalf("want an error with %q, got %q", c.want, got)
			}
		})
	}
}
