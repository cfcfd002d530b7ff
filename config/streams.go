package config

import "time"

// Streams configures the camera sessions.
type Streams struct {
	// Transport is tcp (the default: survives NAT and loss) or udp.
	Transport string `yaml:"transport"`
	// ReadTimeout drops a session that receives nothing for this long.
	ReadTimeout Duration `yaml:"read_timeout" range:"100ms,5m"`
	// BackoffMin and BackoffMax bound the reconnect delay, which doubles
	// after each failure.
	BackoffMin Duration `yaml:"backoff_min" range:"10ms,10m"`
	BackoffMax Duration `yaml:"backoff_max" range:"10ms,1h"`
	// BufferMaxBytes bounds each camera's pre-event ring buffer.
	BufferMaxBytes int64 `yaml:"buffer_max_bytes" range:"4_194_304,4_294_967_296"`
	// StatsInterval is how often camera_stats is written.
	StatsInterval Duration `yaml:"stats_interval" range:"100ms,1h"`
	// BufferSlack is kept in each camera's buffer beyond the longest clip
	// window (pre + post), so an event that arrives this late still gets
	// its whole clip.
	BufferSlack Duration `yaml:"buffer_slack" range:"0s,5m"`
	// MaxAUBytes drops (and counts) any access unit larger than this, so a
	// misbehaving camera cannot take memory from the others; gortsplib's
	// depacketisers refuse access units over 8 MiB themselves.
	MaxAUBytes int64 `yaml:"max_au_bytes" range:"1024,8_388_608"`
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
	if s.BackoffMax < s.BackoffMin {
		bad("streams.backoff_max", "must not be less than streams.backoff_min")
	}
	if s.MaxAUBytes > s.BufferMaxBytes {
		bad("streams.max_au_bytes", "must not exceed streams.buffer_max_bytes")
	}
}
