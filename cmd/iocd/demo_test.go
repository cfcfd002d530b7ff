package main

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/iocd/iocd/auth"
	"github.com/iocd/iocd/defs"
	"github.com/iocd/iocd/store"
)

// TestDemoDeviceListIsOwnerOnly: the demo's device list holds its
// cameras' RTSP URLs with their passwords. It is written mode 0600, also
// over a list an earlier run left readable (os.WriteFile keeps an
// existing file's mode).
func TestDemoDeviceListIsOwnerOnly(t *testing.T) {
	path := filepath.Join(t.TempDir(), "var", "demo-devices.json")
	devs := []defs.Device{{ID: "cam-1", Kind: defs.KindCamera, RTSPURL: "rtsp://admin:secret@127.0.0.1:8554/cam-1"}}
	for _, existing := range []bool{false, true} {
		if existing {
			if err := os.Chmod(path, 0o644); err != nil {
				t.Fatal(err)
			}
		}
		if err := writeJSONFile(path, devs); err != nil {
			t.Fatal(err)
		}
		st, err := os.Stat(path)
		if err != nil {
			t.Fatal(err)
		}
		if m := st.Mode().Perm(); m != 0o600 {
			t.Errorf("device list (over an existing 0644 file: %v): mode %v, want 0600", existing, m)
		}
	}
	left, _ := filepath.Glob(filepath.Join(filepath.Dir(path), ".tmp-*"))
	if len(left) > 0 {
		t.Errorf("temporary files left behind: %v", left)
	}
}

// TestDemoCredentials: the demo's passwords and API token are made once
// per data dir, kept mode 0600 (also over a file left wider), and the same
// on the next run; an account missing from the file gets a new password
// while the others keep theirs.
func TestDemoCredentials(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	path := filepath.Join(dir, demoCredentialsFile)
	pw := regexp.MustCompile(`^[a-hj-km-np-z2-9]{4}(-[a-hj-km-np-z2-9]{4}){3}$`)

	first, err := loadDemoCredentials(dir)
	if err != nil {
		t.Fatal(err)
	}
	wantRoles := map[string]defs.Role{"wall": defs.RoleViewer, "operator": defs.RoleOperator, "reviewer": defs.RoleReviewer, "admin": defs.RoleAdmin}
	seen := map[string]bool{}
	for _, a := range first.Accounts {
		if want, ok := wantRoles[a.Name]; !ok || a.Role != want {
			t.Errorf("account %s has role %v, want %v", a.Name, a.Role, want)
		}
		if !pw.MatchString(a.Password) {
			t.Errorf("account %s: password %q is not 4 groups of 4 unambiguous characters", a.Name, a.Password)
		}
		if seen[a.Password] {
			t.Errorf("password %q given twice", a.Password)
		}
		seen[a.Password] = true
	}
	if len(first.Accounts) != len(wantRoles) {
		t.Errorf("%d accounts, want %d", len(first.Accounts), len(wantRoles))
	}
	if len(first.APIToken) < 16 {
		t.Errorf("API token %q shorter than admin_token allows", first.APIToken)
	}

	// What is on disk: mode 0600 and the same content.
	checkFile := func(when string, want demoCredentials) {
		t.Helper()
		st, err := os.Stat(path)
		if err != nil {
			t.Fatal(err)
		}
		if m := st.Mode().Perm(); m != 0o600 {
			t.Errorf("%s: %s has mode %v, want 0600", when, path, m)
		}
		b, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		var got demoCredentials
		if err := json.Unmarshal(b, &got); err != nil {
			t.Fatalf("%s: %v", when, err)
		}
		if got.APIToken != want.APIToken || len(got.Accounts) != len(want.Accounts) {
			t.Fatalf("%s: file holds %+v, want %+v", when, got, want)
		}
		for i := range got.Accounts {
			g, w := got.Accounts[i], want.Accounts[i]
			if g.Name != w.Name || g.Role != w.Role || g.Password != w.Password {
				t.Errorf("%s: file account %d = %+v, want %+v", when, i, g, w)
			}
		}
	}
	checkFile("first run", first)

	// A restart over a file left readable by others: same values, 0600.
	if err := os.Chmod(path, 0o644); err != nil {
		t.Fatal(err)
	}
	second, err := loadDemoCredentials(dir)
	if err != nil {
		t.Fatal(err)
	}
	checkFile("restart over a 0644 file", first)
	if second.APIToken != first.APIToken {
		t.Errorf("restart changed the API token")
	}

	// An account missing from the file: made anew, the others kept.
	edited := first
	edited.Accounts = slices.DeleteFunc(slices.Clone(first.Accounts), func(a demoAccount) bool { return a.Name == "reviewer" })
	if err := writeJSONFile(path, edited); err != nil {
		t.Fatal(err)
	}
	third, err := loadDemoCredentials(dir)
	if err != nil {
		t.Fatal(err)
	}
	for i, a := range third.Accounts {
		switch {
		case a.Name == "reviewer" && (a.Password == first.Accounts[i].Password || !pw.MatchString(a.Password)):
			t.Errorf("the missing reviewer got password %q", a.Password)
		case a.Name != "reviewer" && a.Password != first.Accounts[i].Password:
			t.Errorf("%s's password changed from %q to %q", a.Name, first.Accounts[i].Password, a.Password)
		}
	}
	checkFile("after filling in an account", third)

	// A file that is not JSON is an error naming it, not a silent reset.
	if err := os.WriteFile(path, []byte("{"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := loadDemoCredentials(dir); err == nil || !strings.Contains(err.Error(), path) {
		t.Errorf("broken file: err %v, want one naming %s", err, path)
	}
}

// TestEnsureDemoUsers: every account is created with its role and the
// printed password, and a failure names the account.
func TestEnsureDemoUsers(t *testing.T) {
	creds, err := loadDemoCredentials(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	var got []demoAccount
	record := func(_ context.Context, name string, role defs.Role, password string) error {
		got = append(got, demoAccount{Name: name, Role: role, Password: password})
		return nil
	}
	if err := ensureDemoUsers(context.Background(), creds, record); err != nil {
		t.Fatal(err)
	}
	if len(got) != len(creds.Accounts) {
		t.Fatalf("created %d users, want %d", len(got), len(creds.Accounts))
	}
	for i, a := range creds.Accounts {
		if got[i].Name != a.Name || got[i].Role != a.Role || got[i].Password != a.Password {
			t.Errorf("created %+v, want %+v", got[i], a)
		}
	}
	err = ensureDemoUsers(context.Background(), creds, noDemoUsers)
	if !errors.Is(err, errNoUserStore) || !strings.Contains(err.Error(), "wall") {
		t.Errorf("err %v, want errNoUserStore naming the wall account", err)
	}
}

// TestDemoBanner: the box gives the wall's address without a token and
// every account's name, role and password on one line; the API token is
// printed only as a curl header.
func TestDemoBanner(t *testing.T) {
	creds, err := loadDemoCredentials(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	for _, usersErr := range []error{nil, errNoUserStore} {
		var out strings.Builder
		demoBanner{HTTPAddr: "127.0.0.1:8080", Creds: creds, CredsPath: "var/data/" + demoCredentialsFile, UsersError: usersErr, LogPath: "var/demo.log"}.write(&out)
		text := out.String()
		if !strings.Contains(text, "http://127.0.0.1:8080/ ") {
			t.Errorf("no bare wall address in:\n%s", text)
		}
		if strings.Contains(text, "token=") || strings.Contains(text, "#") {
			t.Errorf("a token in a URL:\n%s", text)
		}
		lines := strings.Split(text, "\n")
		for _, a := range creds.Accounts {
			found := false
			for _, l := range lines {
				f := strings.Fields(strings.Trim(l, "│ "))
				found = found || len(f) >= 3 && f[0] == a.Name && f[1] == a.Role.String() && f[2] == a.Password
			}
			if !found {
				t.Errorf("no line with %s %s %s in:\n%s", a.Name, a.Role, a.Password, text)
			}
		}
		for _, l := range lines {
			if strings.Contains(l, creds.APIToken) && !strings.HasPrefix(strings.TrimSpace(l), "curl -H 'Authorization: Bearer "+creds.APIToken+"' http://127.0.0.1:8080/api/") {
				t.Errorf("API token outside a curl header: %q", l)
			}
		}
		// Every line of the box is as wide as the others.
		width := -1
		for _, l := range lines {
			if strings.HasPrefix(l, "│") || strings.HasPrefix(l, "┌") || strings.HasPrefix(l, "└") {
				if n := utf8.RuneCountInString(l); width == -1 {
					width = n
				} else if n != width {
					t.Errorf("box line %q is %d wide, want %d", l, n, width)
				}
			}
		}
		if usersErr != nil && !strings.Contains(text, "NOT CREATED") {
			t.Errorf("accounts not created, and the box does not say so:\n%s", text)
		}
	}
}

// TestDemoMarkers: the demo's marker names its pid and absolute data dir,
// and on exit it removes only markers that still name it.
func TestDemoMarkers(t *testing.T) {
	root := t.TempDir()
	t.Chdir(root)
	paths := []string{filepath.Join("var", "demo.json"), filepath.Join(root, "run", "iocd", "demo.json")}
	if err := writeDemoMarkers(paths, filepath.Join("var", "data"), "127.0.0.1:8080", slog.New(slog.DiscardHandler)); err != nil {
		t.Fatal(err)
	}
	for _, p := range paths {
		m, err := readDemoMarker(p)
		if err != nil {
			t.Fatal(err)
		}
		if m.PID != os.Getpid() || m.DataDir != filepath.Join(root, "var", "data") || m.HTTP != "127.0.0.1:8080" {
			t.Errorf("%s: %+v, want pid %d, data dir %s", p, m, os.Getpid(), filepath.Join(root, "var", "data"))
		}
	}
	// A later demo took over the user's marker.
	writeMarker(t, paths[1], demoMarker{PID: os.Getpid() + 1, DataDir: filepath.Join(root, "other")})
	removeDemoMarkers(paths, slog.New(slog.DiscardHandler))
	if _, err := os.Stat(paths[0]); err == nil {
		t.Errorf("%s left behind", paths[0])
	}
	if m, err := readDemoMarker(paths[1]); err != nil || m.PID != os.Getpid()+1 {
		t.Errorf("the other demo's marker was touched: %+v, %v", m, err)
	}
}

// TestWarnCounter: warnings and errors are counted, also through loggers
// derived with With, and still reach the log.
func TestWarnCounter(t *testing.T) {
	var n atomic.Int64
	var out strings.Builder
	log := slog.New(warnCounter{slog.NewTextHandler(&out, nil), &n})
	sub := log.With("component", "sim").WithGroup("g")
	log.Info("a")
	sub.Warn("b")
	log.Error("c")
	sub.Debug("d")
	if n.Load() != 2 {
		t.Errorf("counted %d, want 2", n.Load())
	}
	if !strings.Contains(out.String(), "component=sim") || strings.Count(out.String(), "\n") != 3 {
		t.Errorf("log:\n%s", out.String())
	}
}

// TestDemoStatusLine: the status line adds up the fleet by health across
// sites and kinds, counts streaming cameras and warnings, and fits an
// 80-column terminal even with large figures.
func TestDemoStatusLine(t *testing.T) {
	var warnings atomic.Int64
	warnings.Store(12345)
	s := demoStatus{
		counts: func() []defs.FleetCount {
			return []defs.FleetCount{
				{Site: "tan-an", Kind: defs.KindCamera, Health: defs.HealthOnline, Count: 3},
				{Site: "ben-luc", Kind: "sensor", Health: defs.HealthOnline, Count: 1200},
				{Site: "ben-luc", Kind: "sensor", Health: defs.HealthStale, Count: 2},
				{Site: "duc-hoa", Kind: "sensor", Health: defs.HealthOffline, Count: 1},
			}
		},
		cameras: func() []defs.CameraState {
			return []defs.CameraState{{State: defs.CameraStreaming}, {State: defs.CameraStreaming}, {State: "backing_off"}}
		},
		warnings: &warnings,
	}
	line := s.line(time.Date(2026, 12, 2, 1, 31, 2, 0, time.UTC))
	want := "01:31:02  devices 1203 online, 2 stale, 1 offline  cameras 2/3  warnings 12345"
	if line != want {
		t.Errorf("status line\n%q, want\n%q", line, want)
	}
	if n := utf8.RuneCountInString(line); n > 80 {
		t.Errorf("status line is %d wide, more than 80", n)
	}

	// Stopped at once: on a terminal the line is ended, in a file nothing
	// is written before the first period.
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	for _, tty := range []bool{true, false} {
		var out strings.Builder
		if err := s.run(ctx, &out, tty, time.Hour); err != nil {
			t.Fatal(err)
		}
		switch got := out.String(); {
		case tty && (!strings.HasPrefix(got, "\r\033[K") || !strings.Contains(got, "devices ") || !strings.HasSuffix(got, "\n")):
			t.Errorf("on a terminal: %q", got)
		case !tty && got != "":
			t.Errorf("in a file, before the first period: %q", got)
		}
	}
}

// TestDemoUserStore: the demo's accounts become real users who can log in,
// and a restarted demo puts back the printed password and role of an
// account someone changed or disabled meanwhile.
func TestDemoUserStore(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	st, err := store.Open(ctx, filepath.Join(dir, "iocd.db"), slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	users := auth.NewUsers(st, slog.New(slog.DiscardHandler))
	users.SetArgon2(auth.Argon2Params{MemoryKiB: 64, Time: 1, Threads: 1})
	creds, err := loadDemoCredentials(dir)
	if err != nil {
		t.Fatal(err)
	}
	if err := ensureDemoUsers(ctx, creds, demoUserStore(users)); err != nil {
		t.Fatal(err)
	}
	wall := creds.Accounts[0]
	if _, err := users.Disable(ctx, wall.Name); err != nil {
		t.Fatal(err)
	}
	if _, err := users.SetPassword(ctx, wall.Name, "someone-else-changed-it"); err != nil {
		t.Fatal(err)
	}
	if err := ensureDemoUsers(ctx, creds, demoUserStore(users)); err != nil {
		t.Fatalf("second start: %v", err)
	}
	for _, a := range creds.Accounts {
		u, err := users.Check(ctx, a.Name, a.Password)
		if err != nil {
			t.Errorf("%s cannot log in with the printed password: %v", a.Name, err)
			continue
		}
		if u.Role != a.Role || u.Disabled {
			t.Errorf("%s: role %s disabled %v, want %s enabled", a.Name, u.Role, u.Disabled, a.Role)
		}
	}
}
