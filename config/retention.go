package config

import "time"

// Retention configures how long violation clips are kept.
type Retention struct {
	RejectedDays int `yaml:"rejected_days" range:"1,36_500"`
	// ConfirmedDays is how long after the decision a confirmed
	// violation's clip is kept; 0, the default, keeps it forever:
	// confirmed evidence is what a fine rests on, and is never removed by
	// retention unless the operator sets a period. A violation on legal
	// hold (or in a held case) is never removed, whatever the period.
	ConfirmedDays int `yaml:"confirmed_days" range:"0,36_500"`
	// MinFreeBytes: below this much free space on the data dir's disk, the
	// oldest rejected and then pending clips are removed, and an event is
	// raised for the alerts. Confirmed clips are never removed for space.
	MinFreeBytes int64 `yaml:"min_free_bytes" range:"0,1_125_899_906_842_624"`
	// Interval is how often retention runs.
	Interval Duration `yaml:"interval" range:"1s,24h"`
}

func defaultRetention() Retention {
	return Retention{RejectedDays: 30, ConfirmedDays: 0, MinFreeBytes: 1 << 30, Interval: Duration(10 * time.Minute)}
}

func (r Retention) validate(bad badFunc) {
}
