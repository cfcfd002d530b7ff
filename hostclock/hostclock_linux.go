package hostclock

import (
	"fmt"

	"golang.org/x/sys/unix"
)

// read asks adjtimex(2) in read-only mode (Modes 0). The clock is
// synchronised unless the call returns TIME_ERROR or STA_UNSYNC is set:
// ntpd, chronyd and systemd-timesyncd clear STA_UNSYNC while they
// discipline the clock.
func read() State {
	var tx unix.Timex
	state, err := unix.Adjtimex(&tx)
	if err != nil {
		return State{Err: fmt.Sprintf("adjtimex: %v", err)}
	}
	return State{
		Synced:     state != unix.TIME_ERROR && tx.Status&unix.STA_UNSYNC == 0,
		ErrorMs:    float64(tx.Esterror) / 1000,
		MaxErrorMs: float64(tx.Maxerror) / 1000,
	}
}
