// Package sim owns iocd's simulators, which stand in for a province's edge
// fleet in demos, manual tests and benchmarks: devices that report
// telemetry and status over MQTT like real firmware (this file set's
// devices.go), and cameras (camera*.go).
//
// Simulators only ever talk to the broker they are given; demos point them
// at loopback.
package sim
