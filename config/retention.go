package config

import "time"

// Retention configures how long violation clips are kept.
type Retention struct {
	RejectedDays  int `yaml:"rejected_days" range:"1,36_500"`
	ConfirmedDays int `yaml:"confirmed_days" range:"1,36_500"`
	// MinFreeBytes: below this much free space on the data dir's disk, the
	// oldest rejected and then pending clips are removed, and an event is
	// raised for the alerts. Confirmed clips are never removed for space.
	MinFreeBytes int64 `yaml:"min_free_bytes" range:"0,1_125_899_906_842_624"`
	// Interval is how often retention runs.
	Interval Duration `yaml:"interval" range:"1s,24h"`
}

func defaultRetention() Retention {
	return Retention{RejectedDays: 30, ConfirmedDays: 365, MinFreeBytes: 1 << 30, Interval: Duration(10 * time.Minute)}
}

func (r Retention) validate(bad badFunc) {
}
