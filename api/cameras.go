package api

import (
	"net/http"

	"github.com/iocd/iocd/defs"
	"github.com/iocd/iocd/streams"
)

// CameraService is the streams manager as the API uses it.
// *streams.Manager satisfies it.
type CameraService interface {
	Cameras() []streams.CameraStats
}

var _ CameraService = (*streams.Manager)(nil)

func (s *Server) camerasRoutes() {
	d := s.domain("cameras", s.opts.Cameras != nil)
	d.route("GET", "/api/v1/cameras", defs.RoleViewer, s.listCameras)
}

type cameraList struct {
	Cameras []streams.CameraStats `json:"cameras"`
}

// listCameras answers every camera session's state (connecting,
// streaming, backing_off, with the last failure's reason code and scrubbed
// detail, never-connected cameras included); RTSP URLs come redacted from
// the manager.
func (s *Server) listCameras(w http.ResponseWriter, r *http.Request) error {
	writeJSON(w, http.StatusOK, cameraList{Cameras: s.opts.Cameras.Cameras()})
	return nil
}
