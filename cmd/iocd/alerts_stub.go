package main

// Stand-ins until the parallel branches land; the integrator deletes this
// file and, in serve.go, passes s.store as the alerts Store (alertsapi's
// store/alerts.go) and s.streams as its Cameras (camfaults' CameraStates).

import (
	"github.com/iocd/iocd/alerts"
	"github.com/iocd/iocd/defs"
	"github.com/iocd/iocd/store"
	"github.com/iocd/iocd/streams"
)

// alertStore is the alerts Store: in memory until the SQLite tables land.
func alertStore(*store.SQLite) alerts.Store { return alerts.NewMemStore() }

// cameraStates derives camera states from the session stats.
type cameraStates struct{ m *streams.Manager }

func (c cameraStates) CameraStates() []defs.CameraState {
	var out []defs.CameraState
	for _, st := range c.m.Cameras() {
		cs := defs.CameraState{Camera: st.Camera, Site: st.Site, Connected: st.Connected, State: defs.CameraStreaming}
		if !st.Connected {
			cs.State, cs.Reason, cs.Detail = defs.CameraBackingOff, defs.CameraReasonError, st.Reason
		}
		out = append(out, cs)
	}
	return out
}
