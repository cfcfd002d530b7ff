package config

// Ingest configures the path from MQTT message to decoded reading.
type Ingest struct {
	// QueueSize bounds the messages waiting for a decoder. When it is full
	// the MQTT handler blocks, which slows the broker's delivery instead of
	// growing memory.
	QueueSize int `yaml:"queue_size" range:"1,1_000_000"`
	// Workers is the number of decoders.
	Workers int `yaml:"workers" range:"1,256"`
	// MaxPayloadBytes rejects larger payloads as too_large.
	MaxPayloadBytes int `yaml:"max_payload_bytes" range:"64,16_777_216"`
}

func defaultIngest() Ingest {
	return Ingest{QueueSize: 8192, Workers: 2, MaxPayloadBytes: 256 << 10}
}

func (i Ingest) validate(bad badFunc) {
}
