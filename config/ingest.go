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
	// MaxEventBytes rejects larger event payloads as too_large. Events
	// carry a base64 JPEG snapshot of up to 2 MiB, so they get their own,
	// larger bound.
	MaxEventBytes int `yaml:"max_event_bytes" range:"1024,67_108_864"`
	// MaxFieldsPerDevice bounds the distinct telemetry field names one
	// device may introduce; a message past it is refused as
	// too_many_field_names.
	MaxFieldsPerDevice int `yaml:"max_fields_per_device" range:"1,65_536"`
	// MaxUnacked bounds the telemetry and status messages received and
	// not yet acknowledged (a message is acknowledged once its points are
	// durable). Size it to the broker's in-flight window (Mosquitto's
	// max_inflight_messages): a broker that holds its window never reaches
	// it, one that does not is held back by it.
	MaxUnacked int `yaml:"max_unacked" range:"1,65_535"`
	// EventWorkers and EventQueueSize are the camera event path's own
	// handlers and queue, so that a slow evidence store does not hold up
	// telemetry, nor a telemetry flood an event.
	EventWorkers   int `yaml:"event_workers" range:"1,64"`
	EventQueueSize int `yaml:"event_queue_size" range:"1,65_535"`
}

func defaultIngest() Ingest {
	return Ingest{QueueSize: 8192, Workers: 2, MaxPayloadBytes: 256 << 10,
		MaxEventBytes: 3 << 20, MaxFieldsPerDevice: 256,
		MaxUnacked: 1000, EventWorkers: 2, EventQueueSize: 256}
}

func (i Ingest) validate(bad badFunc) {
}
