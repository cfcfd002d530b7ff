package main

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/iocd/iocd/auth"
	"github.com/iocd/iocd/defs"
)

// demoCredentialsFile is where the demo keeps its accounts' passwords and
// its API token, in the demo's data dir beside the store the accounts live
// in: a restarted demo prints the same ones, and deleting the data dir
// forgets both together. Mode 0600.
const demoCredentialsFile = "demo-credentials.json"

// demoAccount is one login the demo creates and prints.
type demoAccount struct {
	Name     string    `json:"name"`
	Role     defs.Role `json:"role"`
	Password string    `json:"password"`
	// For says what the account is for, in the box.
	For string `json:"-"`
}

// demoCredentials is the content of demoCredentialsFile.
type demoCredentials struct {
	Accounts []demoAccount `json:"accounts"`
	// APIToken is the demo's bootstrap admin bearer token (admin_token),
	// for curl and scripts; the browser logs in with a password instead.
	APIToken string `json:"api_token"`
}

// demoAccounts are the logins the demo makes, one per kind of user: the
// wall screen (a viewer kept logged in as a kiosk), the operator at the
// desk, the traffic police reviewing clips, the engineer running it all.
var demoAccounts = []demoAccount{
	{Name: "wall", Role: defs.RoleViewer, For: "the wall screen, as a kiosk"},
	{Name: "operator", Role: defs.RoleOperator, For: "acknowledges alerts"},
	{Name: "reviewer", Role: defs.RoleReviewer, For: "traffic police: plates, clips"},
	{Name: "admin", Role: defs.RoleAdmin, For: "devices, users, tokens, rules"},
}

// loadDemoCredentials reads the demo's credentials from dataDir, makes
// those missing (the first run, or an account added since) and writes the
// file back, mode 0600 also over a file an earlier run left wider.
func loadDemoCredentials(dataDir string) (demoCredentials, error) {
	path := filepath.Join(dataDir, demoCredentialsFile)
	var old demoCredentials
	b, err := os.ReadFile(path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
	case err != nil:
		return old, fmt.Errorf("reading demo credentials: %w", err)
	default:
		if err := json.Unmarshal(b, &old); err != nil {
			return old, fmt.Errorf("reading demo credentials %s: %w (delete it to make new ones)", path, err)
		}
	}
	byName := map[string]demoAccount{}
	for _, a := range old.Accounts {
		byName[a.Name] = a
	}
	creds := demoCredentials{APIToken: old.APIToken}
	if creds.APIToken == "" {
		creds.APIToken = randomToken()
	}
	for _, a := range demoAccounts {
		if prev, ok := byName[a.Name]; ok && prev.Password != "" && prev.Role == a.Role {
			a.Password = prev.Password
		} else {
			a.Password = randomPassword()
		}
		creds.Accounts = append(creds.Accounts, a)
	}
	if err := writeJSONFile(path, creds); err != nil {
		return creds, err
	}
	return creds, nil
}

// demoUserCreate creates one login account, or makes an existing one's
// password and role the given ones (a restarted demo). It is the logins
// branch's (*auth.Users).Create, adapted at the call in runDemo.
type demoUserCreate func(ctx context.Context, name string, role defs.Role, password string) error

// ensureDemoUsers makes every demo account exist with its printed password.
func ensureDemoUsers(ctx context.Context, creds demoCredentials, create demoUserCreate) error {
	for _, a := range creds.Accounts {
		if err := create(ctx, a.Name, a.Role, a.Password); err != nil {
			return fmt.Errorf("creating demo user %s: %w", a.Name, err)
		}
	}
	return nil
}

// errNoUserStore is what the demo's user creation says when the service
// has no user store, so the box says the accounts do not exist.
var errNoUserStore = errors.New("no user store in this build")

// noDemoUsers stands in for a missing user store.
func noDemoUsers(context.Context, string, defs.Role, string) error { return errNoUserStore }

// demoUserStore creates the demo's accounts in users, or, when one exists
// (a restarted demo), sets its role and password back to the printed ones
// and enables it.
func demoUserStore(users *auth.Users) demoUserCreate {
	if users == nil {
		return noDemoUsers
	}
	return func(ctx context.Context, name string, role defs.Role, pw string) error {
		_, err := users.Create(ctx, name, role, pw)
		if defs.ErrorCode(err) != defs.ECONFLICT {
			return err
		}
		disabled := false
		_, err = users.Update(ctx, name, &role, &pw, &disabled)
		return err
	}
}

// randomToken returns a bootstrap admin token for the demo.
func randomToken() string {
	var b [24]byte
	rand.Read(b[:])
	return "iocd_demo_" + base64.RawURLEncoding.EncodeToString(b[:])
}

// passwordAlphabet has no look-alikes (0/o, 1/l/i), so a password read off
// the terminal can be typed on a kiosk's keyboard.
const passwordAlphabet = "abcdefghjkmnpqrstuvwxyz23456789"

// randomPassword returns 4 groups of 4 characters of passwordAlphabet
// (31^16, about 79 bits), like "k7mp-x3qa-9f2d-hh4t".
func randomPassword() string {
	// Bytes from 248 up are dropped so that every letter is as likely.
	const limit = 256 - 256%len(passwordAlphabet)
	out := make([]byte, 0, 19)
	var buf [32]byte
	for n := 0; n < 16; {
		rand.Read(buf[:])
		for _, c := range buf {
			if int(c) >= limit || n == 16 {
				continue
			}
			if n > 0 && n%4 == 0 {
				out = append(out, '-')
			}
			out = append(out, passwordAlphabet[int(c)%len(passwordAlphabet)])
			n++
		}
	}
	return string(out)
}
