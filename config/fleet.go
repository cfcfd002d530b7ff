package config

import "time"

// Fleet configures device health tracking.
type Fleet struct {
	// MinStale is the shortest silence that makes a device stale; a device
	// goes stale after max(3 × heartbeat_s, MinStale).
	MinStale Duration `yaml:"min_stale" range:"10ms,24h"`
	// CheckInterval is how often silence is checked.
	CheckInterval Duration `yaml:"check_interval" range:"10ms,1h"`
}

func defaultFleet() Fleet {
	return Fleet{MinStale: Duration(30 * time.Second), CheckInterval: Duration(time.Second)}
}

func (f Fleet) validate(bad badFunc) {
}
