package config

import (
	"net/url"
	"time"
)

// UI configures what the wall's browsers may do.
type UI struct {
	// AllowedOrigins lists the browser origins (scheme://host[:port])
	// allowed to open the feed besides iocd's own host, e.g. a wall page
	// served by a reverse proxy under another name. YAML only.
	AllowedOrigins []string `yaml:"allowed_origins"`
	// TelemetryFlush is how often the feed hands new telemetry to its
	// clients: the most it adds to a reading's delay, and the shortest
	// time between two telemetry frames of one topic to one client.
	TelemetryFlush Duration `yaml:"telemetry_flush" range:"10ms,5s"`
}

func defaultUI() UI { return UI{TelemetryFlush: Duration(50 * time.Millisecond)} }

func (u UI) validate(bad badFunc) {
	for _, o := range u.AllowedOrigins {
		p, err := url.Parse(o)
		if err != nil || (p.Scheme != "http" && p.Scheme != "https") || p.Host == "" ||
			p.Path != "" || p.RawQuery != "" || p.Fragment != "" || p.User != nil || p.String() != o {
			bad("ui.allowed_origins", "%q is not an origin: want scheme://host[:port], http or https, nothing after", o)
		}
	}
}
