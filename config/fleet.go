package config

import "time"

// Fleet configures device health tracking.
type Fleet struct {
	// MinStale is the shortest silence that makes a device stale; a device
	// goes stale after max(3 × heartbeat_s, MinStale).
	MinStale Duration `yaml:"min_stale"`
	// CheckInterval is how often silence is checked.
	CheckInterval Duration `yaml:"check_interval"`
}

func defaultFleet() Fleet {
	return Fleet{MinStale: Duration(30 * time.Second), CheckInterval: Duration(time.Second)}
}

func (f Fleet) validate(bad badFunc) {
	positiveDuration(bad, "fleet.min_stale", f.MinStale.D())
	positiveDuration(bad, "fleet.check_interval", f.CheckInterval.D())
}
