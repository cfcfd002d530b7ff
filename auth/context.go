package auth

import (
	"context"
	"net/http"
	"strings"
)

type principalKey struct{}

// WithPrincipal returns ctx carrying p.
func WithPrincipal(ctx context.Context, p Principal) context.Context {
	return context.WithValue(ctx, principalKey{}, p)
}

// PrincipalFrom returns the principal a request runs as, if it was
// authenticated.
func PrincipalFrom(ctx context.Context) (Principal, bool) {
	p, ok := ctx.Value(principalKey{}).(Principal)
	return p, ok
}

// BearerToken returns the token of an "Authorization: Bearer <token>"
// header; the scheme is case-insensitive as RFC 7235 says.
func BearerToken(r *http.Request) string {
	h := r.Header.Get("Authorization")
	scheme, tok, ok := strings.Cut(h, " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return ""
	}
	return strings.TrimSpace(tok)
}

// WebSocketProtocol is the subprotocol a browser offers next to its token,
// and that the server selects, on a websocket upgrade.
const WebSocketProtocol = "iocd.v1"

// wsTokenPrefix marks the subprotocol entry that carries the token.
const wsTokenPrefix = "bearer."

// WebSocketToken returns the token of a websocket upgrade request. Browsers
// cannot set an Authorization header on a websocket, so besides that header
// it accepts the token as a subprotocol: the client offers
// ["iocd.v1", "bearer.<token>"] in Sec-WebSocket-Protocol and the server
// must answer with WebSocketProtocol (never echoing the token). A query
// parameter is deliberately not accepted: URLs end up in proxy and access
// logs and browser history.
func WebSocketToken(r *http.Request) string {
	if tok := BearerToken(r); tok != "" {
		return tok
	}
	for _, h := range r.Header.Values("Sec-WebSocket-Protocol") {
		for _, p := range strings.Split(h, ",") {
			p = strings.TrimSpace(p)
			if strings.HasPrefix(p, wsTokenPrefix) {
				return p[len(wsTokenPrefix):]
			}
		}
	}
	return ""
}
