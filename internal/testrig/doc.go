// Package testrig owns the real external servers that iocd's integration
// tests run against: a Mosquitto broker and an InfluxDB 1.8 server, each
// started as a child process on free loopback ports with all of its state in
// t.TempDir(), and stopped (with its whole process group) in t.Cleanup.
//
// Tests talk to the same software production talks to, so a mismatch in
// MQTT session handling or InfluxDB write semantics shows up in CI rather
// than on site.
//
// Binaries come from PATH, $IOCD_TOOLS/bin, $HOME/.cache/iocd-tools/bin or
// /usr/sbin; scripts/setup.sh installs them. When one is missing or a server
// will not start, the test is skipped on a developer machine but fails when
// CI=true or IOCD_REQUIRE_SERVERS=1, so CI can never go green by skipping.
//
// Helpers that can fail call t.Fatal, so call them from the test goroutine
// only, never from a goroutine the test spawned.
package testrig
