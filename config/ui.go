package config

import (
	"net/url"
	"os"
	"strings"
	"time"
)

// UI configures the pages iocd serves (package web: the wall, the fleet
// page and the login page) and what the wall's API figures mean.
type UI struct {
	// Timezone is the IANA time zone whose midnight starts "today" for
	// the wall's figures (violations today).
	Timezone string `yaml:"timezone"`
	// MapGeoJSON is an operator's GeoJSON file (a province's outline and
	// districts, say) drawn as the wall's map instead of the shipped
	// outline of Vietnam. Empty: the shipped outline.
	MapGeoJSON string `yaml:"map_geojson"`
	// PMTiles is an operator's raster PMTiles file (PNG, JPEG or WebP
	// tiles) drawn under the outline as the map's basemap. Empty: none.
	PMTiles string `yaml:"pmtiles"`
	// Charts lists the wall's small live charts, one per site and field
	// (YAML only). Empty: the wall picks up to four from the telemetry it
	// sees (water level and PM2.5 first).
	Charts []UIChart `yaml:"charts"`
	// AllowedOrigins lists the browser origins (scheme://host[:port])
	// allowed to open the feed besides iocd's own host, e.g. a wall page
	// served by a reverse proxy under another name. YAML only.
	AllowedOrigins []string `yaml:"allowed_origins"`
	// TelemetryFlush is how often the feed hands new telemetry to its
	// clients: the most it adds to a reading's delay, and the shortest
	// time between two telemetry frames of one topic to one client.
	TelemetryFlush Duration `yaml:"telemetry_flush" range:"10ms,5s"`
}

// UIChart is one chart of the wall: a telemetry field of the devices of a
// site, one line per device.
type UIChart struct {
	Site  string `yaml:"site" json:"site"`
	Field string `yaml:"field" json:"field"`
	// Label is the chart's title; empty: "<field> · <site>".
	Label string `yaml:"label" json:"label,omitempty"`
}

func defaultUI() UI {
	return UI{Timezone: "Asia/Ho_Chi_Minh", TelemetryFlush: Duration(50 * time.Millisecond)}
}

func (u UI) validate(bad badFunc) {
	if u.Timezone == "" {
		bad("ui.timezone", "must not be empty (an IANA zone such as Asia/Ho_Chi_Minh)")
	} else if _, err := time.LoadLocation(u.Timezone); err != nil {
		bad("ui.timezone", "%q is not a known time zone: %v", u.Timezone, err)
	}
	for _, f := range []struct{ key, path string }{{"ui.map_geojson", u.MapGeoJSON}, {"ui.pmtiles", u.PMTiles}} {
		if f.path == "" {
			continue
		}
		if st, err := os.Stat(f.path); err != nil {
			bad(f.key, "%v", err)
		} else if st.IsDir() {
			bad(f.key, "%s is a directory, not a file", f.path)
		}
	}
	if len(u.Charts) > 32 {
		bad("ui.charts", "%d charts; at most 32 fit on a wall", len(u.Charts))
	}
	for i, c := range u.Charts {
		if strings.TrimSpace(c.Site) == "" || strings.TrimSpace(c.Field) == "" {
			bad("ui.charts", "chart %d needs both site and field", i+1)
		}
	}
	for _, o := range u.AllowedOrigins {
		p, err := url.Parse(o)
		if err != nil || (p.Scheme != "http" && p.Scheme != "https") || p.Host == "" ||
			p.Path != "" || p.RawQuery != "" || p.Fragment != "" || p.User != nil || p.String() != o {
			bad("ui.allowed_origins", "%q is not an origin: want scheme://host[:port], http or https, nothing after", o)
		}
	}
}

// Location returns the time zone of Timezone; call it after Validate.
func (u UI) Location() *time.Location {
	loc, err := time.LoadLocation(u.Timezone)
	if err != nil {
		return time.UTC
	}
	return loc
}
