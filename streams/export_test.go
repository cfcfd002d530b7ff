package streams

import "github.com/iocd/iocd/defs"

// ClipWaiters returns how many clip cuts wait on the camera's ring, or -1
// if the camera has no session, so the external tests can check that a
// Clip call leaves no waiter behind.
func (m *Manager) ClipWaiters(id defs.DeviceID) int {
	s := m.session(id)
	if s == nil {
		return -1
	}
	return s.ring.waiting()
}
