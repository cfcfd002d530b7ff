package api

import (
	"context"
	"net/http"

	"github.com/iocd/iocd/auth"
	"github.com/iocd/iocd/defs"
)

// UserService manages the users who log in with a password.
// *auth.Users satisfies it.
type UserService interface {
	List(ctx context.Context) ([]defs.User, error)
	Create(ctx context.Context, name string, role defs.Role, password string) (defs.User, error)
	Update(ctx context.Context, name string, role *defs.Role, password *string, disabled *bool) (defs.User, error)
}

var _ UserService = (*auth.Users)(nil)

func (s *Server) usersRoutes() {
	d := s.domain("users", s.opts.Users != nil)
	d.route("GET", "/api/v1/users", defs.RoleAdmin, s.listUsers)
	d.route("POST", "/api/v1/users", defs.RoleAdmin, s.createUser)
	d.route("PATCH", "/api/v1/users/{name}", defs.RoleAdmin, s.updateUser)
}

type userList struct {
	Users []defs.User `json:"users"`
}

func (s *Server) listUsers(w http.ResponseWriter, r *http.Request) error {
	us, err := s.opts.Users.List(r.Context())
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, userList{Users: us})
	return nil
}

// userRequest is POST /api/v1/users's body.
type userRequest struct {
	Name     string    `json:"name"`
	Role     defs.Role `json:"role"`
	Password string    `json:"password"`
}

func (s *Server) createUser(w http.ResponseWriter, r *http.Request) error {
	var req userRequest
	if err := s.decodeJSON(w, r, &req); err != nil {
		return err
	}
	if req.Role == defs.RoleNone {
		return defs.Invalid("role", "is required: viewer, operator, reviewer or admin")
	}
	u, err := s.opts.Users.Create(r.Context(), req.Name, req.Role, req.Password)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusCreated, u)
	return nil
}

// userPatch is PATCH /api/v1/users/{name}'s body: absent fields stay.
type userPatch struct {
	Role     *defs.Role `json:"role"`
	Password *string    `json:"password"`
	Disabled *bool      `json:"disabled"`
}

func (s *Server) updateUser(w http.ResponseWriter, r *http.Request) error {
	var req userPatch
	if err := s.decodeJSON(w, r, &req); err != nil {
		return err
	}
	u, err := s.opts.Users.Update(r.Context(), r.PathValue("name"), req.Role, req.Password, req.Disabled)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, u)
	return nil
}
