package config

import "strings"

// Influx configures the metrics history in InfluxDB, 2.x or 1.8 with its
// compatibility API (bucket "db/rp", token "user:password" or empty).
type Influx struct {
	// URL of InfluxDB. Empty: metrics history is off.
	URL    string `yaml:"url" secret:"url"`
	Token  string `yaml:"token" secret:"true"`
	Org    string `yaml:"org"`
	Bucket string `yaml:"bucket"`
	// BatchSize and FlushInterval bound a write batch.
	BatchSize     int      `yaml:"batch_size" range:"1,100_000"`
	FlushInterval Duration `yaml:"flush_interval" range:"10ms,1m"`
	// Timeout bounds each write and query.
	Timeout Duration `yaml:"timeout" range:"100ms,5m"`
	// SpoolMaxBytes bounds the on-disk spool that holds points while
	// InfluxDB is unreachable.
	SpoolMaxBytes int64 `yaml:"spool_max_bytes" range:"1_048_576,1_099_511_627_776"`
}

func defaultInflux() Influx {
	return Influx{
		Bucket:        "iocd",
		BatchSize:     5000,
		FlushInterval: Duration(1e9),
		Timeout:       Duration(10e9),
		SpoolMaxBytes: 2 << 30,
	}
}

// Enabled reports whether metrics history is on.
func (i Influx) Enabled() bool { return i.URL != "" }

func (i Influx) validate(bad badFunc) {
	if i.URL == "" {
		return
	}
	if err := checkURL(i.URL, "http", "https"); err != nil {
		bad("influx.url", "%v", err)
	}
	if i.Bucket == "" || strings.Count(i.Bucket, "/") > 1 {
		bad("influx.bucket", "%q must be a bucket name or db/rp", i.Bucket)
	}
}
