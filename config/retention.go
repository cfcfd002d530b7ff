package config

import "time"

// Retention configures how long violation clips are kept.
type Retention struct {
	RejectedDays  int `yaml:"rejected_days"`
	ConfirmedDays int `yaml:"confirmed_days"`
	// MinFreeBytes: below this much free space on the data dir's disk, the
	// oldest rejected and then pending clips are removed, and an event is
	// raised for the alerts. Confirmed clips are never removed for space.
	MinFreeBytes int64 `yaml:"min_free_bytes"`
	// Interval is how often retention runs.
	Interval Duration `yaml:"interval"`
}

func defaultRetention() Retention {
	return Retention{RejectedDays: 30, ConfirmedDays: 365, MinFreeBytes: 1 << 30, Interval: Duration(10 * time.Minute)}
}

func (r Retention) validate(bad badFunc) {
	positive(bad, "retention.rejected_days", r.RejectedDays)
	positive(bad, "retention.confirmed_days", r.ConfirmedDays)
	if r.MinFreeBytes < 0 {
		bad("retention.min_free_bytes", "must not be negative")
	}
	positiveDuration(bad, "retention.interval", r.Interval.D())
}
