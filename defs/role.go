package defs

// Role is what a bearer token may do. Roles are ordered: each may do all
// that the ones below it may.
type Role int

// Roles from least to most privileged. Reviewers are the traffic police who
// see violation evidence; operators acknowledge alerts; admins manage
// devices, tokens and decisions.
const (
	RoleNone Role = iota
	RoleViewer
	RoleOperator
	RoleReviewer
	RoleAdmin
)

var roleNames = [...]string{"none", "viewer", "operator", "reviewer", "admin"}

// String returns the role's lower-case name.
func (r Role) String() string {
	if r < 0 || int(r) >= len(roleNames) {
		return "none"
	}
	return roleNames[r]
}

// ParseRole maps a role name to a Role; RoleNone and false for anything else.
func ParseRole(s string) (Role, bool) {
	for i, n := range roleNames {
		if i > 0 && n == s {
			return Role(i), true
		}
	}
	return RoleNone, false
}

// Allows reports whether r is at least min.
func (r Role) Allows(min Role) bool { return r >= min }

// MarshalText lets roles appear by name in JSON.
func (r Role) MarshalText() ([]byte, error) { return []byte(r.String()), nil }

// UnmarshalText accepts a role by name.
func (r *Role) UnmarshalText(b []byte) error {
	v, ok := ParseRole(string(b))
	if !ok {
		return Invalid("role", "unknown role %q (want viewer, operator, reviewer or admin)", string(b))
	}
	*r = v
	return nil
}
