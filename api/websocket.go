package api

import (
	"net/http"

	"github.com/iocd/iocd/defs"
)

// websocketRoutes mounts Options.WebSocket at /ws for viewers and up. The
// token may come in the Authorization header or, for browsers, as a
// "bearer.<token>" subprotocol (auth.WebSocketToken); the handler must
// then select auth.WebSocketProtocol as the answering subprotocol. A
// browser logged in with a password is authenticated by its session
// cookie instead; the upgrade is a GET, so no CSRF token is asked: the
// feed checks the Origin.
func (s *Server) websocketRoutes() {
	ws := s.opts.WebSocket
	spec := s.handle(http.MethodGet, "/ws", defs.RoleViewer, func(w http.ResponseWriter, r *http.Request) error {
		if ws == nil {
			return defs.Errorf(defs.EUNAVAILABLE, "the live feed is not available on this server")
		}
		ws.ServeHTTP(w, r)
		return nil
	})
	spec.websocket = true
}
