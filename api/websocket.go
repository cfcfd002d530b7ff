package api

import (
	"net/http"

	"github.com/iocd/iocd/auth"
	"github.com/iocd/iocd/defs"
)

// websocketRoutes mounts Options.WebSocket at /ws for viewers and up. The
// token may come in the Authorization header or, for browsers, as a
// "bearer.<token>" subprotocol (auth.WebSocketToken); the handler must
// then select auth.WebSocketProtocol as the answering subprotocol.
func (s *Server) websocketRoutes() {
	ws := s.opts.WebSocket
	s.handle(http.MethodGet, "/ws", defs.RoleViewer, auth.WebSocketToken, func(w http.ResponseWriter, r *http.Request) error {
		if ws == nil {
			return defs.Errorf(defs.EUNAVAILABLE, "the live feed is not available on this server")
		}
		ws.ServeHTTP(w, r)
		return nil
	})
}
