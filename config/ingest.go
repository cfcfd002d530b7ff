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
	// MaxUnacked bounds the telemetry and status messages received and
	// not yet acknowledged (a message is acknowledged once its points are
	// durable). Size it to the broker's in-flight window (Mosquitto's
	// max_inflight_messages): a broker that holds its window never reaches
	// it, one that does not is held back by it.
	MaxUnacked int `yaml:"max_unacked"`
	// EventWorkers and EventQueueSize are the camera event path's own
	// handlers and queue, so that a slow evidence store does not hold up
	// telemetry, nor a telemetry flood an event.
	EventWorkers   int `yaml:"event_workers"`
	EventQueueSize int `yaml:"event_queue_size"`
}

func defaultIngest() Ingest {
	return Ingest{QueueSize: 8192, Workers: 2, MaxPayloadBytes: 256 << 10,
		MaxUnacked: 1000, EventWorkers: 2, EventQueueSize: 256}
}

func (i Ingest) validate(bad badFunc) {
	positive(bad, "ingest.queue_size", i.QueueSize)
	positive(bad, "ingest.workers", i.Workers)
	positive(bad, "ingest.max_payload_bytes", i.MaxPayloadBytes)
	// An MQTT packet id is 16 bits: a broker cannot have more in flight.
	if i.MaxUnacked < 1 || i.MaxUnacked > 65535 {
		bad("ingest.max_unacked", "%d is not in 1..65535", i.MaxUnacked)
	}
	if i.EventWorkers < 1 || i.EventWorkers > 64 {
		bad("ingest.event_workers", "%d is not in 1..64", i.EventWorkers)
	}
	if i.EventQueueSize < 1 || i.EventQueueSize > 65535 {
		bad("ingest.event_queue_size", "%d is not in 1..65535", i.EventQueueSize)
	}
}
