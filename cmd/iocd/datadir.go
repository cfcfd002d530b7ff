package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/iocd/iocd/config"
	"github.com/iocd/iocd/store"
)

// The commands that work on an existing data dir (token, user, verify)
// must find the store the running service uses. Before this, `iocd token
// create` beside `make demo` wrote to a fresh ./data and printed a token
// the demo refused. So such a command takes the data dir from, in order:
//
//  1. what the user set: -data_dir, IOCD_DATA_DIR, or data_dir in the
//     -config file (IOCD_CONFIG);
//  2. a running demo's marker: ./var/demo.json (the demo's default -var,
//     beside `make demo`), then the user's runtime marker
//     ($XDG_RUNTIME_DIR/iocd/demo.json, else ~/.cache/iocd/demo.json: the
//     last demo this user started, wherever its -var);
//  3. the default ./data, only when it already holds a store;
//
// and otherwise refuses, naming the choices. It never creates a fresh
// ./data by accident.

// dataDirHelp ends the -help text of every command that calls cliConfig.
const dataDirHelp = `The data dir is -data_dir, IOCD_DATA_DIR or data_dir in the -config file;
else a running demo's (./var/demo.json, beside make demo); else ./data when it
holds a store. Otherwise the command refuses: it never starts a fresh store.`

// demoMarker is what a running demo leaves for the CLI beside it.
type demoMarker struct {
	PID     int       `json:"pid"`
	DataDir string    `json:"data_dir"` // absolute
	HTTP    string    `json:"http"`
	Started time.Time `json:"started"`
}

// demoMarkerPaths returns where a demo leaves its marker and the CLI looks
// for one, in the CLI's order: the demo's var dir as seen from here first
// (relative: ./var/demo.json beside `make demo`), then the user's runtime
// marker.
func demoMarkerPaths(varDir string, getenv func(string) string) []string {
	paths := []string{filepath.Join(varDir, "demo.json")}
	if p := userDemoMarker(getenv); p != "" {
		paths = append(paths, p)
	}
	return paths
}

// userDemoMarker is the per-user marker of the last demo started, in
// $XDG_RUNTIME_DIR (owner-only by the XDG rules) or else the user's cache
// dir; never a shared /tmp, where another user could plant one.
func userDemoMarker(getenv func(string) string) string {
	if d := getenv("XDG_RUNTIME_DIR"); d != "" {
		return filepath.Join(d, "iocd", "demo.json")
	}
	if d := getenv("HOME"); d != "" {
		return filepath.Join(d, ".cache", "iocd", "demo.json")
	}
	return ""
}

// dataDirFinder holds what resolveDataDir reads from outside the flags, so
// a test can give each its own.
type dataDirFinder struct {
	lookup  func(string) (string, bool) // the environment
	markers []string                    // demo markers, in order
	running func(pid int) bool          // whether a process is alive
}

// osDataDirFinder reads the real environment and processes.
func osDataDirFinder() dataDirFinder {
	return dataDirFinder{lookup: os.LookupEnv, markers: demoMarkerPaths("var", os.Getenv), running: processRunning}
}

// errNoDataDir says that no data dir was given or found.
var errNoDataDir = errors.New("no data dir")

// resolveDataDir returns the data dir a command on an existing store must
// use, given the parsed flags and the loaded cfg, and a note saying how
// it was found when the user did not set it ("" when they did).
func resolveDataDir(flags *flag.FlagSet, cfg config.Config, f dataDirFinder) (dir, note string, err error) {
	explicit, err := dataDirSet(flags, f.lookup)
	if err != nil {
		return "", "", err
	}
	if explicit {
		return cfg.DataDir, "", nil
	}
	var stale []string
	for _, path := range f.markers {
		m, err := readDemoMarker(path)
		switch {
		case errors.Is(err, fs.ErrNotExist):
			continue
		case err != nil:
			stale = append(stale, fmt.Sprintf("%s is unreadable (%v)", path, err))
			continue
		case !f.running(m.PID):
			stale = append(stale, fmt.Sprintf("%s names demo pid %d, which has exited (its data dir: %s)", path, m.PID, m.DataDir))
			continue
		case !hasStore(m.DataDir):
			stale = append(stale, fmt.Sprintf("%s names data dir %s, which holds no store", path, m.DataDir))
			continue
		}
		return m.DataDir, fmt.Sprintf("using the running demo's data dir %s (pid %d, from %s)", m.DataDir, m.PID, path), nil
	}
	if hasStore(cfg.DataDir) {
		note := fmt.Sprintf("using the store in %s (the default data_dir)", cfg.DataDir)
		if len(stale) > 0 {
			note += "; not a stopped demo's: " + strings.Join(stale, "; ")
		}
		return cfg.DataDir, note, nil
	}
	msg := fmt.Sprintf("no demo is running here (looked for %s) and %s holds no store", strings.Join(f.markers, ", "), cfg.DataDir)
	if len(stale) > 0 {
		msg += " (" + strings.Join(stale, "; ") + ")"
	}
	return "", "", fmt.Errorf("%w: %s; pass -data_dir DIR, set IOCD_DATA_DIR, or give a -config file (or IOCD_CONFIG) that sets data_dir",
		errNoDataDir, msg)
}

// dataDirSet reports whether the user chose the data dir: the -data_dir
// flag, IOCD_DATA_DIR, or data_dir in the config file.
func dataDirSet(flags *flag.FlagSet, lookup func(string) (string, bool)) (bool, error) {
	set := false
	flags.Visit(func(f *flag.Flag) { set = set || f.Name == "data_dir" })
	if set {
		return true, nil
	}
	if _, ok := lookup(config.EnvName("data_dir")); ok {
		return true, nil
	}
	var path string
	if f := flags.Lookup("config"); f != nil {
		path = f.Value.String()
	}
	if path == "" {
		path, _ = lookup("IOCD_CONFIG")
	}
	if path == "" {
		return false, nil
	}
	// The file alone, over an empty config: does it say data_dir? (Load
	// has read it already, so an error here is unexpected.)
	var c config.Config
	if err := c.LoadFile(path); err != nil {
		return false, err
	}
	return c.DataDir != "", nil
}

// hasStore reports whether dir holds an iocd store.
func hasStore(dir string) bool {
	st, err := os.Stat(filepath.Join(dir, "iocd.db"))
	return err == nil && st.Mode().IsRegular()
}

func readDemoMarker(path string) (demoMarker, error) {
	var m demoMarker
	b, err := os.ReadFile(path)
	if err != nil {
		return m, err
	}
	if err := json.Unmarshal(b, &m); err != nil {
		return m, fmt.Errorf("not a demo marker: %w", err)
	}
	if m.PID <= 0 || !filepath.IsAbs(m.DataDir) {
		return m, fmt.Errorf("not a demo marker: pid %d, data_dir %q", m.PID, m.DataDir)
	}
	return m, nil
}

// cliConfig loads the configuration of a command that works on an existing
// store (token, user, verify) once fs is parsed, with DataDir as
// resolveDataDir finds it; how it was found goes to stderr, so stdout
// stays the command's output alone. Call it in place of ld.Load.
func cliConfig(fs *flag.FlagSet, ld *config.Loader, stderr io.Writer) (config.Config, error) {
	cfg, err := ld.Load(os.LookupEnv)
	if err != nil {
		return cfg, err
	}
	dir, note, err := resolveDataDir(fs, cfg, osDataDirFinder())
	if err != nil {
		return cfg, err
	}
	if note != "" {
		fmt.Fprintf(stderr, "iocd: %s\n", note)
	}
	cfg.DataDir = dir
	return cfg, nil
}

// openCLIStore opens the store of the data dir cliConfig finds, for a
// command that manages users or tokens, with the audit rows it writes
// sealed like iocd serve's (without it `iocd verify` reports them as
// audit_unsealed). The caller closes the store.
func openCLIStore(ctx context.Context, fs *flag.FlagSet, ld *config.Loader, stderr io.Writer) (config.Config, *store.SQLite, error) {
	cfg, err := cliConfig(fs, ld, stderr)
	if err != nil {
		return cfg, nil, err
	}
	st, err := store.Open(ctx, filepath.Join(cfg.DataDir, "iocd.db"), slog.New(slog.DiscardHandler))
	if err != nil {
		return cfg, nil, err
	}
	if err := sealAuditRows(ctx, cfg, st); err != nil {
		st.Close()
		return cfg, nil, err
	}
	return cfg, st, nil
}
