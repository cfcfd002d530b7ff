// Package config owns iocd's configuration: one typed struct, filled from
// defaults, then a YAML file, then IOCD_* environment variables, then
// command-line flags, and checked by Validate, whose errors name the bad key.
//
// Every leaf key has one name in each layer, derived from its YAML path:
// mqtt.share_group is IOCD_MQTT_SHARE_GROUP and -mqtt.share_group.
package config

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"strings"
	"time"
)

// Config is the whole of iocd's configuration.
type Config struct {
	// HTTPAddr is where the API, /metrics and the dashboard listen.
	HTTPAddr string `yaml:"http_addr"`
	// DataDir holds the SQLite store, the spool and the clips.
	DataDir string `yaml:"data_dir"`
	// AdminToken is a bootstrap admin bearer token, accepted besides the
	// tokens in the store. Empty: none.
	AdminToken string `yaml:"admin_token" secret:"true"`
	// UnknownDevices says what happens to data from a device that is not in
	// the registry: pending, register or reject.
	UnknownDevices string `yaml:"unknown_devices"`

	Log        Log        `yaml:"log"`
	MQTT       MQTT       `yaml:"mqtt"`
	Ingest     Ingest     `yaml:"ingest"`
	Influx     Influx     `yaml:"influx"`
	Fleet      Fleet      `yaml:"fleet"`
	Devices    Devices    `yaml:"devices"`
	Streams    Streams    `yaml:"streams"`
	Violations Violations `yaml:"violations"`
	Retention  Retention  `yaml:"retention"`
	Evidence   Evidence   `yaml:"evidence"`
	HTTP       HTTP       `yaml:"http"`
	Alerts     Alerts     `yaml:"alerts"`
	Auth       Auth       `yaml:"auth"`
	UI         UI         `yaml:"ui"`
	Review     Review     `yaml:"review"`
	Media      Media      `yaml:"media"`
}

// Log configures the process logger.
type Log struct {
	// Level is debug, info, warn or error.
	Level string `yaml:"level"`
	// Format is text or json.
	Format string `yaml:"format"`
}

// Devices configures the device registry.
type Devices struct {
	// SeedFile, if set, is a JSON or CSV device list imported at start.
	// Devices already registered are left as they are.
	SeedFile string `yaml:"seed_file"`
}

// Unknown-device policies.
const (
	UnknownPending  = "pending"
	UnknownRegister = "register"
	UnknownReject   = "reject"
)

// Default returns the configuration used when nothing is set: a single host
// with an embedded MQTT broker, data under ./data and no InfluxDB.
func Default() Config {
	host, _ := os.Hostname()
	if host == "" {
		host = "local"
	}
	return Config{
		HTTPAddr:       "127.0.0.1:8080",
		DataDir:        "./data",
		UnknownDevices: UnknownPending,
		Log:            Log{Level: "info", Format: "text"},
		MQTT:           defaultMQTT(host),
		Ingest:         defaultIngest(),
		Influx:         defaultInflux(),
		Fleet:          defaultFleet(),
		Streams:        defaultStreams(),
		Violations:     defaultViolations(),
		Retention:      defaultRetention(),
		HTTP:           defaultHTTP(),
		Alerts:         defaultAlerts(),
		Auth:           defaultAuth(),
		UI:             defaultUI(),
		Evidence:       defaultEvidence(),
		Review:         defaultReview(),
		Media:          defaultMedia(),
	}
}

// Validate checks every key and returns all problems at once, each naming
// its key and environment variable.
func (c *Config) Validate() error {
	var errs []error
	bad := func(key, format string, args ...any) {
		errs = append(errs, fmt.Errorf("%s (%s): %s", key, EnvName(key), fmt.Sprintf(format, args...)))
	}
	if err := checkHostPort(c.HTTPAddr); err != nil {
		bad("http_addr", "%v", err)
	}
	if strings.TrimSpace(c.DataDir) == "" {
		bad("data_dir", "must not be empty")
	}
	switch c.UnknownDevices {
	case UnknownPending, UnknownRegister, UnknownReject:
	default:
		bad("unknown_devices", "%q is not one of pending, register, reject", c.UnknownDevices)
	}
	if c.AdminToken != "" && len(c.AdminToken) < 16 {
		bad("admin_token", "must be at least 16 characters")
	}
	switch c.Log.Level {
	case "debug", "info", "warn", "error":
	default:
		bad("log.level", "%q is not one of debug, info, warn, error", c.Log.Level)
	}
	switch c.Log.Format {
	case "text", "json":
	default:
		bad("log.format", "%q is not one of text, json", c.Log.Format)
	}
	c.MQTT.validate(bad)
	c.Ingest.validate(bad)
	c.Influx.validate(bad)
	c.Fleet.validate(bad)
	c.Streams.validate(bad)
	c.Violations.validate(bad)
	c.Retention.validate(bad)
	c.Evidence.validate(bad)
	c.Review.validate(bad)
	c.Media.validate(bad)
	c.HTTP.validate(bad)
	checkRanges(c, bad)
	c.Alerts.validate(bad)
	c.Auth.validate(bad)
	c.UI.validate(bad)
	return errors.Join(errs...)
}

// badFunc reports one invalid key.
type badFunc func(key, format string, args ...any)

func checkHostPort(addr string) error {
	if _, _, err := net.SplitHostPort(addr); err != nil {
		return fmt.Errorf("%q is not host:port", addr)
	}
	return nil
}

func checkURL(raw string, schemes ...string) error {
	u, err := url.Parse(raw)
	if err != nil {
		return fmt.Errorf("does not parse as a URL")
	}
	for _, s := range schemes {
		if u.Scheme == s {
			if u.Host == "" {
				return fmt.Errorf("has no host")
			}
			return nil
		}
	}
	return fmt.Errorf("scheme %q is not one of %s", u.Scheme, strings.Join(schemes, ", "))
}

func positive[T int | int64 | float64](bad badFunc, key string, v T) {
	if v <= 0 {
		bad(key, "must be greater than 0, got %v", v)
	}
}

func positiveDuration(bad badFunc, key string, d time.Duration) {
	if d <= 0 {
		bad(key, "must be a positive duration such as 5s, got %s", d)
	}
}
