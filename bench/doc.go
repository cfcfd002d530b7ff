// Package bench holds iocd's end-to-end benchmarks, run by hand (make
// bench-ingest), never as timed tests in CI. They start real Mosquitto and
// InfluxDB servers through internal/testrig and run iocd as a child process,
// so its CPU time and peak memory can be read from the kernel.
package bench
