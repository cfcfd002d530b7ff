package testrig

import "syscall"

// sysProcAttr puts the child in its own process group, so cleanup can kill
// everything it started, and asks the kernel to kill it if the test binary
// dies first (for example on a -timeout panic), so no server is left behind.
func sysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
}
