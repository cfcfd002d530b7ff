//go:build !unix

package main

import "log/slog"

// warnFileLimit has no limit to compare with on this platform.
func warnFileLimit(*slog.Logger, int) {}
