package config

import (
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
	cases := []struct {
		name string
		ui   UI
		want string // substring of the error; empty: valid
	}{
		{"empty", UI{}, ""},
		{"map file", UI{MapGeoJSON: geo}, ""},
		{"missing map", UI{MapGeoJSON: filepath.Join(dir, "nope.geojson")}, "ui.map_geojson"},
		{"map is a directory", UI{MapGeoJSON: dir}, "ui.map_geojson"},
		{"missing pmtiles", UI{PMTiles: filepath.Join(dir, "nope.pmtiles")}, "ui.pmtiles"},
		{"chart", UI{Charts: []UIChart{{Site: "tan-an", Field: "level_m"}}}, ""},
		{"chart without field", UI{Charts: []UIChart{{Site: "tan-an"}}}, "ui.charts"},
		{"too many charts", UI{Charts: make([]UIChart, 33)}, "at most 32"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var errs []string
			c.ui.validate(func(key, format string, args ...any) { errs = append(errs, key+": "+format) })
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
