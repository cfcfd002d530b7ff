package api

import (
	"context"
	"net/http"
	"strconv"

	"github.com/iocd/iocd/auth"
	"github.com/iocd/iocd/defs"
)

// TokenService issues, lists and revokes API tokens.
// *auth.Authenticator satisfies it.
type TokenService interface {
	CreateToken(ctx context.Context, role defs.Role, name string) (string, defs.Token, error)
	ListTokens(ctx context.Context) ([]defs.Token, error)
	RevokeToken(ctx context.Context, id int64) error
}

var _ TokenService = (*auth.Authenticator)(nil)

func (s *Server) tokensRoutes() {
	d := s.domain("tokens", s.opts.Tokens != nil)
	d.route("GET", "/api/v1/tokens", defs.RoleAdmin, s.listTokens)
	d.route("POST", "/api/v1/tokens", defs.RoleAdmin, s.createToken)
	d.route("DELETE", "/api/v1/tokens/{id}", defs.RoleAdmin, s.revokeToken)
}

// tokenList is GET /api/v1/tokens's answer.
type tokenList struct {
	Tokens []defs.Token `json:"tokens"`
}

func (s *Server) listTokens(w http.ResponseWriter, r *http.Request) error {
	ts, err := s.opts.Tokens.ListTokens(r.Context())
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, tokenList{Tokens: ts})
	return nil
}

// tokenRequest is POST /api/v1/tokens's body.
type tokenRequest struct {
	Name string    `json:"name"`
	Role defs.Role `json:"role"`
}

// tokenCreated is POST /api/v1/tokens's answer: the only time the
// plaintext token is ever shown.
type tokenCreated struct {
	defs.Token
	Secret string `json:"token"`
}

func (s *Server) createToken(w http.ResponseWriter, r *http.Request) error {
	var req tokenRequest
	if err := s.decodeJSON(w, r, &req); err != nil {
		return err
	}
	if req.Role == defs.RoleNone {
		return defs.Invalid("role", "is required: viewer, operator, reviewer or admin")
	}
	plain, t, err := s.opts.Tokens.CreateToken(r.Context(), req.Role, req.Name)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusCreated, tokenCreated{Token: t, Secret: plain})
	return nil
}

func (s *Server) revokeToken(w http.ResponseWriter, r *http.Request) error {
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil || id <= 0 {
		return defs.Invalid("id", "must be a positive integer token id")
	}
	if err := s.opts.Tokens.RevokeToken(r.Context(), id); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}
