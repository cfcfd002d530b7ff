package testrig

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
)

// Binary returns the path of the named executable, looking on PATH and then
// in the tool directories scripts/setup.sh installs into. A missing binary
// skips the test, or fails it when servers are required (see RequireServers).
func Binary(t testing.TB, name string) string {
	t.Helper()
	if p, err := exec.LookPath(name); err == nil {
		return p
	}
	dirs := toolDirs()
	for _, dir := range dirs {
		p := filepath.Join(dir, name)
		if fi, err := os.Stat(p); err == nil && !fi.IsDir() && fi.Mode()&0o111 != 0 {
			return p
		}
	}
	unavailable(t, "%s not found on PATH or in %v; run scripts/setup.sh", name, dirs)
	return ""
}

// toolDirs lists where setup.sh and Debian put the binaries; /usr/sbin is
// included because mosquitto lives there and it is not on every user's PATH.
func toolDirs() []string {
	var dirs []string
	if d := os.Getenv("IOCD_TOOLS"); d != "" {
		dirs = append(dirs, filepath.Join(d, "bin"))
	}
	if home, err := os.UserHomeDir(); err == nil {
		dirs = append(dirs, filepath.Join(home, ".cache", "iocd-tools", "bin"))
	}
	return append(dirs, "/usr/sbin", "/usr/local/sbin")
}

// RequireServers reports whether missing servers must fail tests rather than
// skip them: true when CI or IOCD_REQUIRE_SERVERS is set to a true value.
func RequireServers() bool {
	for _, key := range []string{"CI", "IOCD_REQUIRE_SERVERS"} {
		if v, err := strconv.ParseBool(os.Getenv(key)); err == nil && v {
			return true
		}
	}
	return false
}

// unavailable ends the test because an external server or tool cannot be
// used: a skip locally, a failure where servers are required.
func unavailable(t testing.TB, format string, args ...any) {
	t.Helper()
	msg := fmt.Sprintf(format, args...)
	if RequireServers() {
		t.Fatalf("%s (required because CI or IOCD_REQUIRE_SERVERS is set)", msg)
	}
	t.Skipf("%s (skipping; set IOCD_REQUIRE_SERVERS=1 to make this a failure)", msg)
}
