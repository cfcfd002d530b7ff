package config

import "strings"

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
	// ConnectTimeout bounds each connection attempt.
	ConnectTimeout Duration `yaml:"connect_timeout"`
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
	if m.ClientID == "" || len(m.ClientID) > 128 {
		bad("mqtt.client_id", "must be 1 to 128 characters")
	}
	if m.TopicPrefix == "" || strings.ContainsAny(m.TopicPrefix, "#+") || strings.HasPrefix(m.TopicPrefix, "/") || strings.HasSuffix(m.TopicPrefix, "/") {
		bad("mqtt.topic_prefix", "%q must be non-empty, without wildcards or leading/trailing /", m.TopicPrefix)
	}
	if strings.ContainsAny(m.ShareGroup, "/#+") {
		bad("mqtt.share_group", "%q must not contain /, # or +", m.ShareGroup)
	}
	positiveDuration(bad, "mqtt.connect_timeout", m.ConnectTimeout.D())
}
