package config

// Ingest configures the path from MQTT message to decoded reading.
type Ingest struct {
	// QueueSize bounds the messages waiting for a decoder. When it is full
	// the MQTT handler blocks, which slows the broker's delivery instead of
	// growing memory.
	QueueSize int `yaml:"queue_size"`
	// Workers is the number of decoders.
	Workers int `yaml:"workers"`
	// MaxPayloadBytes rejects larger payloads as too_large.
	MaxPayloadBytes int `yaml:"max_payload_bytes"`
}

func defaultIngest() Ingest {
	return Ingest{QueueSize: 8192, Workers: 2, MaxPayloadBytes: 256 << 10}
}

func (i Ingest) validate(bad badFunc) {
	positive(bad, "ingest.queue_size", i.QueueSize)
	positive(bad, "ingest.workers", i.Workers)
	positive(bad, "ingest.max_payload_bytes", i.MaxPayloadBytes)
}
