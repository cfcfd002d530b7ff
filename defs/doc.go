// Package defs holds iocd's shared vocabulary: devices, readings, health,
// violations, roles, bus events and the typed errors that carry a user-facing
// code. It imports nothing of iocd's own, so every package can speak it
// without import cycles (the role mediamtx gives internal/defs).
package defs
