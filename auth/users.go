package auth

import (
	"context"
	"fmt"
	"log/slog"
	"runtime"
	"strings"
	"sync"
	"time"

	"github.com/iocd/iocd/defs"
)

// UserStore is what Users needs from the store.
type UserStore interface {
	InsertUser(ctx context.Context, name string, role defs.Role, hash string, at time.Time) (defs.User, error)
	UserByName(ctx context.Context, name string) (defs.User, string, error)
	ListUsers(ctx context.Context) ([]defs.User, error)
	UpdateUser(ctx context.Context, name string, up defs.UserUpdate, at time.Time) (defs.User, error)
}

// AuditWriter appends to the audit log. A store that has AddAudit gets
// token and user changes audited.
type AuditWriter interface {
	AddAudit(ctx context.Context, e defs.AuditEntry) error
}

// MaxUserNameLen bounds a login name, in characters.
const MaxUserNameLen = 64

// Users manages the people who log in with a password: creating them,
// their passwords, roles and disabling. Each change is written to the
// audit log under the principal in ctx ("cli" when there is none: the
// command line, which holds the data dir, acts as admin).
type Users struct {
	store  UserStore
	audit  AuditWriter
	log    *slog.Logger
	params Argon2Params
	now    func() time.Time

	// dummy is a hash checked when the user does not exist, so a login
	// for an unknown name costs what a wrong password does.
	dummyOnce sync.Once
	dummy     string

	// hashing bounds the argon2id computations running at once: each
	// takes params.MemoryKiB, so a flood of logins from many addresses
	// (each under its rate limit) waits here instead of taking gigabytes.
	hashing chan struct{}

	mu       sync.Mutex
	onChange []func(userID int64) // told of role, password and disabled changes
}

// NewUsers returns Users over store. If store can AddAudit, changes are
// audited.
func NewUsers(store UserStore, log *slog.Logger) *Users {
	u := &Users{store: store, audit: noAudit{}, log: log, params: DefaultArgon2, now: time.Now,
		hashing: make(chan struct{}, max(2, runtime.GOMAXPROCS(0)))}
	if aw, ok := store.(AuditWriter); ok {
		u.audit = aw
	}
	return u
}

// SetArgon2 sets the cost of the hashes made from now on (tests use cheap
// ones). Hashes already stored keep theirs.
func (u *Users) SetArgon2(p Argon2Params) { u.params = p }

type noAudit struct{}

func (noAudit) AddAudit(context.Context, defs.AuditEntry) error { return nil }

// CheckUserName says what is wrong with a login name, if anything.
func CheckUserName(name string) error {
	switch {
	case name == "":
		return defs.Invalid("name", "must not be empty")
	case defs.UnsafeText(name):
		return defs.Invalid("name", "must be UTF-8 text without control characters")
	case strings.TrimSpace(name) != name:
		return defs.Invalid("name", "must not start or end with a space")
	case len([]rune(name)) > MaxUserNameLen:
		return defs.Invalid("name", "must be at most %d characters", MaxUserNameLen)
	}
	return nil
}

func checkRole(role defs.Role) error {
	if role <= defs.RoleNone || role > defs.RoleAdmin {
		return defs.Invalid("role", "must be viewer, operator, reviewer or admin")
	}
	return nil
}

// Create adds a user with a role and a password (at least MinPasswordLen
// characters); ECONFLICT if the name is taken.
func (u *Users) Create(ctx context.Context, name string, role defs.Role, password string) (defs.User, error) {
	if err := CheckUserName(name); err != nil {
		return defs.User{}, err
	}
	if err := checkRole(role); err != nil {
		return defs.User{}, err
	}
	if err := checkPassword(password); err != nil {
		return defs.User{}, err
	}
	hash, err := u.hash(ctx, password)
	if err != nil {
		return defs.User{}, err
	}
	usr, err := u.store.InsertUser(ctx, name, role, hash, u.now())
	if err != nil {
		return defs.User{}, fmt.Errorf("creating user: %w", err)
	}
	u.record(ctx, "user.create", usr.Name, "role="+role.String())
	return usr, nil
}

// SetPassword changes a user's password and ends its sessions.
func (u *Users) SetPassword(ctx context.Context, name, password string) (defs.User, error) {
	if err := checkPassword(password); err != nil {
		return defs.User{}, err
	}
	hash, err := u.hash(ctx, password)
	if err != nil {
		return defs.User{}, err
	}
	return u.update(ctx, name, defs.UserUpdate{PasswordHash: &hash}, "user.password", "")
}

// SetRole changes a user's role. Its sessions continue with the new role;
// its open feeds are ended so that they reconnect with it.
func (u *Users) SetRole(ctx context.Context, name string, role defs.Role) (defs.User, error) {
	if err := checkRole(role); err != nil {
		return defs.User{}, err
	}
	return u.update(ctx, name, defs.UserUpdate{Role: &role}, "user.role", "role="+role.String())
}

// Disable stops a user from logging in and ends its sessions at once.
func (u *Users) Disable(ctx context.Context, name string) (defs.User, error) {
	t := true
	return u.update(ctx, name, defs.UserUpdate{Disabled: &t}, "user.disable", "")
}

// Enable lets a disabled user log in again.
func (u *Users) Enable(ctx context.Context, name string) (defs.User, error) {
	f := false
	return u.update(ctx, name, defs.UserUpdate{Disabled: &f}, "user.enable", "")
}

// Update applies several changes at once (the API's PATCH), validating
// all of them before changing anything.
func (u *Users) Update(ctx context.Context, name string, role *defs.Role, password *string, disabled *bool) (defs.User, error) {
	var up defs.UserUpdate
	var what []string
	if role != nil {
		if err := checkRole(*role); err != nil {
			return defs.User{}, err
		}
		up.Role = role
		what = append(what, "role="+role.String())
	}
	if password != nil {
		if err := checkPassword(*password); err != nil {
			return defs.User{}, err
		}
		hash, err := u.hash(ctx, *password)
		if err != nil {
			return defs.User{}, err
		}
		up.PasswordHash = &hash
		what = append(what, "password")
	}
	if disabled != nil {
		up.Disabled = disabled
		what = append(what, fmt.Sprintf("disabled=%t", *disabled))
	}
	if len(what) == 0 {
		return defs.User{}, defs.Invalid("body", "names nothing to change (role, password or disabled)")
	}
	return u.update(ctx, name, up, "user.update", strings.Join(what, " "))
}

func (u *Users) update(ctx context.Context, name string, up defs.UserUpdate, action, detail string) (defs.User, error) {
	usr, err := u.store.UpdateUser(ctx, name, up, u.now())
	if err != nil {
		return defs.User{}, fmt.Errorf("updating user %q: %w", name, err)
	}
	u.mu.Lock()
	hooks := append([]func(int64){}, u.onChange...)
	u.mu.Unlock()
	for _, h := range hooks {
		h(usr.ID)
	}
	u.record(ctx, action, usr.Name, detail)
	return usr, nil
}

// List returns every user, never a password hash.
func (u *Users) List(ctx context.Context) ([]defs.User, error) {
	return u.store.ListUsers(ctx)
}

// Check returns the user whose name and password these are, or an
// EUNAUTHORIZED error that does not say which was wrong, nor whether the
// user is disabled. It takes about as long for an unknown name as for a
// wrong password.
func (u *Users) Check(ctx context.Context, name, password string) (defs.User, error) {
	usr, _, err := u.check(ctx, name, password)
	return usr, err
}

// check is Check that also says, for the rate limit only, whether the
// name is a user's.
func (u *Users) check(ctx context.Context, name, password string) (defs.User, bool, error) {
	bad := defs.Errorf(defs.EUNAUTHORIZED, "wrong user name or password")
	usr, hash, err := u.store.UserByName(ctx, name)
	known := err == nil
	switch {
	case defs.ErrorCode(err) == defs.ENOTFOUND:
		hash = u.dummyHash()
	case err != nil:
		return defs.User{}, false, fmt.Errorf("checking password: %w", err)
	}
	if len(password) > 4*MaxPasswordLen {
		return defs.User{}, known, bad
	}
	if err := u.acquire(ctx); err != nil {
		return defs.User{}, known, err
	}
	ok := verifyPassword(password, hash)
	<-u.hashing
	if !ok || !known || usr.Disabled {
		return defs.User{}, known, bad
	}
	return usr, true, nil
}

// hash returns the encoded hash of a new password, within the bound on
// concurrent hashing.
func (u *Users) hash(ctx context.Context, password string) (string, error) {
	if err := u.acquire(ctx); err != nil {
		return "", err
	}
	defer func() { <-u.hashing }()
	return hashPassword(password, u.params)
}

// acquire takes a hashing slot, or gives up when ctx ends.
func (u *Users) acquire(ctx context.Context) error {
	select {
	case u.hashing <- struct{}{}:
		return nil
	case <-ctx.Done():
		return defs.Errorf(defs.EUNAVAILABLE, "too many logins at once; try again")
	}
}

func (u *Users) dummyHash() string {
	u.dummyOnce.Do(func() {
		u.dummy, _ = hashPassword("not a password of anyone", u.params)
	})
	return u.dummy
}

// notify registers a hook told of every change to a user.
func (u *Users) notify(h func(userID int64)) {
	u.mu.Lock()
	u.onChange = append(u.onChange, h)
	u.mu.Unlock()
}

// record writes an audit entry; a failed write is logged, not returned:
// the change is made.
func (u *Users) record(ctx context.Context, action, target, detail string) {
	writeAudit(ctx, u.audit, u.log, u.now(), action, target, detail)
}

// writeAudit appends an entry naming the principal in ctx as the actor.
func writeAudit(ctx context.Context, aw AuditWriter, log *slog.Logger, at time.Time, action, target, detail string) {
	actor, role := "cli", defs.RoleAdmin
	if p, ok := PrincipalFrom(ctx); ok && p.Subject() != "" {
		actor, role = p.Subject(), p.Role
	}
	e := defs.AuditEntry{At: at, Actor: actor, Role: role, Action: action, Target: target, Detail: detail}
	if err := aw.AddAudit(ctx, e); err != nil {
		log.Warn("writing audit log", "action", action, "err", err)
	}
}
