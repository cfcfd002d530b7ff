package sim

import (
	"context"
	"fmt"
	"log/slog"
)

// FleetOptions describes a fleet of identical simulated cameras, for the
// demo and the streams benchmark.
type FleetOptions struct {
	// Addr is the RTSP listen address, e.g. 127.0.0.1:8554.
	Addr string
	// Cameras is how many; they are served at /cam001, /cam002, ...
	Cameras int
	// Codec is H264 or H265.
	Codec Codec
	// Kbps pads the recording with filler data up to this bitrate; 0
	// streams it as recorded (about 250 kbit/s).
	Kbps int
}

// FleetPath returns the RTSP path of camera i (from 1) of a fleet.
func FleetPath(i int) string { return fmt.Sprintf("cam%03d", i) }

// StartFleet serves a fleet of cameras until Close is called on the
// returned server.
func StartFleet(o FleetOptions, log *slog.Logger) (*CameraServer, error) {
	rec, err := LoadRecording(o.Codec)
	if err != nil {
		return nil, err
	}
	if o.Kbps > 0 {
		rec = rec.Padded(o.Kbps)
	}
	srv, err := NewCameraServer(o.Addr, log)
	if err != nil {
		return nil, err
	}
	for i := 1; i <= o.Cameras; i++ {
		if _, err := srv.AddCamera(CameraSpec{Path: FleetPath(i), Recording: rec}); err != nil {
			srv.Close()
			return nil, err
		}
	}
	return srv, nil
}

// RunFleet serves a fleet of cameras until ctx ends; `iocd sim cameras`
// and the streams benchmark's child process run it.
func RunFleet(ctx context.Context, o FleetOptions, log *slog.Logger) error {
	srv, err := StartFleet(o, log)
	if err != nil {
		return err
	}
	defer srv.Close()
	<-ctx.Done()
	return nil
}
