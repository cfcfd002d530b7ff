package config

import "time"

// Streams configures the camera sessions.
type Streams struct {
	// Transport is tcp (the default: survives NAT and loss) or udp.
	Transport string `yaml:"transport"`
	// ReadTimeout drops a session that receives nothing for this long.
	ReadTimeout Duration `yaml:"read_timeout"`
	// BackoffMin and BackoffMax bound the reconnect delay, which doubles
	// after each failure.
	BackoffMin Duration `yaml:"backoff_min"`
	BackoffMax Duration `yaml:"backoff_max"`
	// BufferMaxBytes bounds each camera's pre-event ring buffer.
	BufferMaxBytes int64 `yaml:"buffer_max_bytes"`
	// StatsInterval is how often camera_stats is written.
	StatsInterval Duration `yaml:"stats_interval"`
	// BufferSlack is kept in each camera's buffer beyond the longest clip
	// window (pre + post), so an event that arrives this late still gets
	// its whole clip.
	BufferSlack Duration `yaml:"buffer_slack"`
	// MaxAUBytes drops (and counts) any access unit larger than this, so a
	// misbehaving camera cannot take memory from the others.
	MaxAUBytes int64 `yaml:"max_au_bytes"`
}

func defaultStreams() Streams {
	return Streams{
		Transport:      "tcp",
		ReadTimeout:    Duration(10 * time.Second),
		BackoffMin:     Duration(time.Second),
		BackoffMax:     Duration(30 * time.Second),
		BufferMaxBytes: 32 << 20,
		StatsInterval:  Duration(10 * time.Second),
		BufferSlack:    Duration(5 * time.Second),
		MaxAUBytes:     4 << 20,
	}
}

func (s Streams) validate(bad badFunc) {
	if s.Transport != "tcp" && s.Transport != "udp" {
		bad("streams.transport", "%q is not one of tcp, udp", s.Transport)
	}
	positiveDuration(bad, "streams.read_timeout", s.ReadTimeout.D())
	positiveDuration(bad, "streams.backoff_min", s.BackoffMin.D())
	if s.BackoffMax < s.BackoffMin {
		bad("streams.backoff_max", "must not be less than streams.backoff_min")
	}
	positive(bad, "streams.buffer_max_bytes", s.BufferMaxBytes)
	positiveDuration(bad, "streams.stats_interval", s.StatsInterval.D())
	if s.BufferSlack < 0 || s.BufferSlack.D() > 5*time.Minute {
		bad("streams.buffer_slack", "must be between 0s and 5m, got %s", s.BufferSlack.D())
	}
	// gortsplib's depacketisers refuse access units over 8 MiB themselves.
	if s.MaxAUBytes < 1<<10 || s.MaxAUBytes > 8<<20 {
		bad("streams.max_au_bytes", "must be between 1024 and 8388608, got %d", s.MaxAUBytes)
	} else if s.MaxAUBytes > s.BufferMaxBytes {
		bad("streams.max_au_bytes", "must not exceed streams.buffer_max_bytes")
	}
}
