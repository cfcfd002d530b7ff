//go:build unix && !linux

package testrig

import "syscall"

// sysProcAttr puts the child in its own process group, so cleanup can kill
// everything it started.
func sysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true}
}
