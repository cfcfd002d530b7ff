// Package ingest owns the path from an MQTT message to a stored reading: the
// paho client with its persistent session, topic parsing, a bounded queue
// with a fixed pool of decoders behind the message handler, the payload
// decoder, and routing to the InfluxDB writer, fleet health, the bus and
// the camera event handler. Every message is either accepted or rejected
// with a counted reason.
//
// Topics, under the prefix P (default "ioc"):
//
//	P/{site}/{device}/telemetry  readings: {"temp_c": 41.2}, {"ts": ..., "values": {...}}, or an array of those
//	P/{site}/{device}/status     {"state": "online"|"offline", "fw": "...", ...}, retained, the last will
//	P/{site}/{device}/event      camera analytics events, passed to the EventHandler
//
// Messages are taken at QoS 1 under a persistent session and acknowledged
// explicitly, once finished: every point durable (the writer's done
// callback) or rejected for good, in arrival order through the ack rings
// of acks.go, which also bound the unacknowledged messages.
package ingest
