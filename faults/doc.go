// Package faults holds iocd's fault tests: each builds and runs
// `iocd serve` as a child process against real Mosquitto (persistence on)
// and InfluxDB 1.8 servers from internal/testrig, injects a fault (kill -9
// of iocd, a broker restart, an InfluxDB outage) in the middle of a load,
// and checks that nothing the broker accepted is missing from InfluxDB.
//
// The package holds tests only. They are run by `make test-faults` (part of
// `make test`), which sets IOCD_FAULTS=1; without it they skip, so that the
// race-enabled `go test ./...` run does not also run minutes of load.
// IOCD_FAULTS_BIN runs a prebuilt iocd instead of building ./cmd/iocd, and
// IOCD_FAULTS_OUTAGE shortens the InfluxDB outage for local runs (CI runs
// the full 5 minutes the issue asks for).
package faults
