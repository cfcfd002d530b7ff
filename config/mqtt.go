package config

import (
	"net/url"
	"os"
	"strings"

	"github.com/iocd/iocd/defs"
)

// MQTT configures the connection to the broker that edge devices report to.
type MQTT struct {
	// URL is the broker, tcp://host:1883 or ssl://host:8883. Empty: iocd
	// starts its embedded broker on EmbeddedAddr and connects to that.
	URL string `yaml:"url" secret:"url"`
	// EmbeddedAddr is where the embedded broker listens when URL is empty.
	EmbeddedAddr string `yaml:"embedded_addr"`
	// ClientID must be stable across restarts: the broker keeps the
	// persistent session, and the messages queued in it, under this id.
	ClientID string `yaml:"client_id"`
	Username string `yaml:"username"`
	Password string `yaml:"password" secret:"true"`
	// TopicPrefix is the first topic level, P in P/{site}/{device}/....
	TopicPrefix string `yaml:"topic_prefix"`
	// ShareGroup, when set, subscribes as $share/<group>/... so that
	// several replicas split the messages between them.
	ShareGroup string `yaml:"share_group"`
	// TLSCAFile, TLSCertFile and TLSKeyFile configure TLS for ssl://,
	// mqtts:// and wss:// URLs: the CA bundle (PEM) that signed the
	// broker's certificate (empty: the system roots), and a client
	// certificate and its key (PEM) for brokers that require one
	// (Mosquitto's require_certificate true). Cert and key go together.
	TLSCAFile   string `yaml:"tls_ca_file"`
	TLSCertFile string `yaml:"tls_cert_file"`
	TLSKeyFile  string `yaml:"tls_key_file"`
	// ConnectTimeout bounds each connection attempt.
	ConnectTimeout Duration `yaml:"connect_timeout" range:"100ms,5m"`
}

func defaultMQTT(host string) MQTT {
	return MQTT{
		EmbeddedAddr:   "127.0.0.1:1883",
		ClientID:       "iocd-" + host,
		TopicPrefix:    "ioc",
		ConnectTimeout: Duration(10e9),
	}
}

// Embedded reports whether iocd should run its own broker.
func (m MQTT) Embedded() bool { return m.URL == "" }

func (m MQTT) validate(bad badFunc) {
	if m.URL != "" {
		if err := checkURL(m.URL, "tcp", "ssl", "mqtt", "mqtts", "ws", "wss"); err != nil {
			bad("mqtt.url", "%v", err)
		}
	} else if err := checkHostPort(m.EmbeddedAddr); err != nil {
		bad("mqtt.embedded_addr", "%v", err)
	}
	m.validateTLS(bad)
	for _, f := range []struct{ key, v string }{
		{"mqtt.client_id", m.ClientID}, {"mqtt.username", m.Username}, {"mqtt.topic_prefix", m.TopicPrefix}, {"mqtt.share_group", m.ShareGroup},
	} {
		if defs.UnsafeText(f.v) {
			bad(f.key, "must be UTF-8 text without control characters")
		}
	}
	if m.ClientID == "" || len(m.ClientID) > 128 {
		bad("mqtt.client_id", "must be 1 to 128 characters")
	}
	if m.TopicPrefix == "" || strings.ContainsAny(m.TopicPrefix, "#+") || strings.HasPrefix(m.TopicPrefix, "/") || strings.HasSuffix(m.TopicPrefix, "/") {
		bad("mqtt.topic_prefix", "%q must be non-empty, without wildcards or leading/trailing /", m.TopicPrefix)
	}
	if strings.ContainsAny(m.ShareGroup, "/#+") {
		bad("mqtt.share_group", "%q must not contain /, # or +", m.ShareGroup)
	}
}

// TLS reports whether the URL's scheme is one that paho and iocd dial
// with TLS.
func (m MQTT) TLS() bool {
	u, err := url.Parse(m.URL)
	if err != nil {
		return false
	}
	switch u.Scheme {
	case "ssl", "tls", "mqtts", "wss":
		return true
	}
	return false
}

func (m MQTT) validateTLS(bad badFunc) {
	files := []struct{ key, path string }{
		{"mqtt.tls_ca_file", m.TLSCAFile}, {"mqtt.tls_cert_file", m.TLSCertFile}, {"mqtt.tls_key_file", m.TLSKeyFile},
	}
	for _, f := range files {
		if f.path == "" {
			continue
		}
		if !m.TLS() {
			bad(f.key, "is set, but mqtt.url %q is not ssl://, mqtts:// or wss://", defs.RedactURL(m.URL))
			continue
		}
		if _, err := os.Stat(f.path); err != nil {
			bad(f.key, "cannot be read: %v", err)
		}
	}
	if (m.TLSCertFile == "") != (m.TLSKeyFile == "") {
		bad("mqtt.tls_cert_file", "and mqtt.tls_key_file must be set together")
	}
}
