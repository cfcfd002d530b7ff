// Package hostclock reads iocd's own clock synchronisation state from the
// kernel: whether the system clock is disciplined by a time source (NTP,
// chrony, PTP) and its estimated error. Evidence records carry it, so a
// violation timed by an unsynchronised host can be told apart.
package hostclock

import "time"

// State is the host clock's synchronisation state at one moment.
type State struct {
	// Synced is true when the kernel says the clock is synchronised to a
	// time source (adjtimex does not report TIME_ERROR / STA_UNSYNC).
	Synced bool
	// ErrorMs is the kernel's estimated error (adjtimex esterror), in
	// milliseconds; MaxErrorMs its maximum error (maxerror).
	ErrorMs    float64
	MaxErrorMs float64
	// Err is why the state could not be read (not Linux, a failed
	// syscall); Synced is false then.
	Err string
	// At is when the state was read.
	At time.Time
}

// Source reads the host clock's state; Kernel is the real one, and tests
// pass their own.
type Source func() State

// Kernel reads the state from the kernel.
func Kernel() State {
	s := read()
	s.At = time.Now().UTC()
	return s
}

// Fixed returns a Source that always answers s, for tests and for hosts
// whose time is vouched for otherwise.
func Fixed(s State) Source { return func() State { return s } }
