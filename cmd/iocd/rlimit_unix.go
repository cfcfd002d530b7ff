//go:build unix

package main

import (
	"log/slog"
	"syscall"
)

// warnFileLimit says so at start when http.max_conns could take most of
// the process's file descriptors, which InfluxDB, the broker, the cameras
// and the store share: the probe exhausted them and cameras
// disconnected. (Go raises the soft limit to the hard one at start.)
func warnFileLimit(log *slog.Logger, maxConns int) {
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		return
	}
	if uint64(maxConns) > lim.Cur/2 {
		log.Warn("http.max_conns is more than half the open-file limit; a flood of HTTP clients could starve the broker, InfluxDB and camera connections",
			"http.max_conns", maxConns, "open_file_limit", lim.Cur)
	}
}
