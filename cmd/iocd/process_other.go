//go:build !unix

package main

import "os"

// processRunning reports whether a process with this pid exists.
func processRunning(pid int) bool {
	if pid <= 0 {
		return false
	}
	_, err := os.FindProcess(pid)
	return err == nil
}
