//go:build !linux

package main

import (
	"errors"
	"os"
)

// isTerminal cannot tell on this platform: passwords are read from
// standard input as a line.
func isTerminal(*os.File) bool { return false }

func readNoEcho(*os.File) (string, error) {
	return "", errors.New("prompting without echo is not supported here; pipe the password on standard input")
}
