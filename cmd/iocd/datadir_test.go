package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/iocd/iocd/config"
	"github.com/iocd/iocd/store"
)

// makeStore creates an iocd store in dir, as a running iocd would have.
func makeStore(t *testing.T, dir string) {
	t.Helper()
	st, err := store.Open(context.Background(), filepath.Join(dir, "iocd.db"), slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	st.Close()
}

// deadPID returns the pid of a process that has exited.
func deadPID(t *testing.T) int {
	t.Helper()
	cmd := exec.Command("true")
	if err := cmd.Run(); err != nil {
		t.Fatal(err)
	}
	return cmd.Process.Pid
}

func writeMarker(t *testing.T, path string, m demoMarker) {
	t.Helper()
	if err := writeJSONFile(path, m); err != nil {
		t.Fatal(err)
	}
}

// TestResolveDataDir: a command on an existing store uses the data dir the
// user set, else a running demo's, else an existing ./data, and otherwise
// refuses without creating anything.
func TestResolveDataDir(t *testing.T) {
	root := t.TempDir()
	t.Chdir(root) // the default data_dir, ./data, is relative to the cwd

	demoData := filepath.Join(root, "var", "data")
	makeStore(t, demoData)
	otherData := filepath.Join(root, "elsewhere")
	confWith := filepath.Join(root, "with.yaml")
	confWithout := filepath.Join(root, "without.yaml")
	if err := os.WriteFile(confWith, []byte("data_dir: "+otherData+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(confWithout, []byte("log:\n  level: warn\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	live := demoMarker{PID: os.Getpid(), DataDir: demoData, HTTP: "127.0.0.1:8080", Started: time.Now()}
	dead := live
	dead.PID = deadPID(t)
	noStore := live
	noStore.DataDir = filepath.Join(root, "gone")

	cases := []struct {
		name     string
		args     []string
		env      map[string]string
		markers  []demoMarker // written to ./var/demo.json, then user.json
		defStore bool         // ./data holds a store
		want     string       // data dir; "" = refused
		wantNote string       // substring of the note, or of the refusal
	}{
		{name: "demo running", markers: []demoMarker{live}, want: demoData, wantNote: "running demo's data dir"},
		{name: "demo running, found by the user marker", markers: []demoMarker{{}, live}, want: demoData, wantNote: "user.json"},
		{name: "demo running beats an existing ./data", markers: []demoMarker{live}, defStore: true, want: demoData},
		{name: "explicit flag beats a running demo", args: []string{"-data_dir", otherData}, markers: []demoMarker{live}, want: otherData},
		{name: "IOCD_DATA_DIR beats a running demo", env: map[string]string{"IOCD_DATA_DIR": otherData}, markers: []demoMarker{live}, want: otherData},
		{name: "config file with data_dir", args: []string{"-config", confWith}, markers: []demoMarker{live}, want: otherData},
		{name: "IOCD_CONFIG with data_dir", env: map[string]string{"IOCD_CONFIG": confWith}, markers: []demoMarker{live}, want: otherData},
		{name: "config file without data_dir: the demo's", args: []string{"-config", confWithout}, markers: []demoMarker{live}, want: demoData},
		{name: "demo marker stale (pid dead)", markers: []demoMarker{dead}, wantNote: "has exited"},
		{name: "demo marker stale, ./data has a store", markers: []demoMarker{dead}, defStore: true, want: "./data", wantNote: "has exited"},
		{name: "demo marker names a data dir without a store", markers: []demoMarker{noStore}, wantNote: "holds no store"},
		{name: "existing ./data", defStore: true, want: "./data", wantNote: "default data_dir"},
		{name: "none", wantNote: "pass -data_dir DIR, set IOCD_DATA_DIR"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			markerPaths := []string{filepath.Join("var", "demo.json"), filepath.Join(root, "run", "user.json")}
			for _, p := range markerPaths {
				os.Remove(p)
			}
			for i, m := range tc.markers {
				if m.PID != 0 {
					writeMarker(t, markerPaths[i], m)
				}
			}
			os.RemoveAll("data")
			if tc.defStore {
				makeStore(t, "data")
			}

			fs := flag.NewFlagSet("test", flag.ContinueOnError)
			fs.SetOutput(io.Discard)
			ld := config.Bind(fs)
			if err := fs.Parse(tc.args); err != nil {
				t.Fatal(err)
			}
			lookup := func(k string) (string, bool) { v, ok := tc.env[k]; return v, ok }
			cfg, err := ld.Load(lookup)
			if err != nil {
				t.Fatal(err)
			}
			dir, note, err := resolveDataDir(fs, cfg, dataDirFinder{lookup: lookup, markers: markerPaths, running: processRunning})
			if tc.want == "" {
				if !errors.Is(err, errNoDataDir) {
					t.Fatalf("got data dir %q, err %v; want a refusal (errNoDataDir)", dir, err)
				}
				if !strings.Contains(err.Error(), tc.wantNote) {
					t.Errorf("refusal %q does not say %q", err, tc.wantNote)
				}
				if _, err := os.Stat("data"); err == nil && !tc.defStore {
					t.Errorf("./data was created")
				}
				return
			}
			if err != nil {
				t.Fatalf("refused: %v", err)
			}
			if dir != tc.want {
				t.Errorf("data dir %q, want %q", dir, tc.want)
			}
			if !strings.Contains(note, tc.wantNote) {
				t.Errorf("note %q does not say %q", note, tc.wantNote)
			}
			if explicit := tc.want == otherData; explicit && note != "" {
				t.Errorf("a data dir the user set got a note: %q", note)
			}
		})
	}
}

// TestTokenCreateBesideDemo: `iocd token create` run beside a demo writes
// the token into the demo's store, and with no demo and no store it
// refuses and creates no ./data.
func TestTokenCreateBesideDemo(t *testing.T) {
	root := t.TempDir()
	t.Chdir(root)
	t.Setenv("XDG_RUNTIME_DIR", filepath.Join(root, "run"))
	demoData := filepath.Join(root, "var", "data")
	makeStore(t, demoData)

	var out, errOut bytes.Buffer
	if code := run(context.Background(), []string{"token", "list"}, &out, &errOut); code != 1 {
		t.Fatalf("token list without a demo: exit %d, want 1 (stderr %q)", code, errOut.String())
	}
	if !strings.Contains(errOut.String(), "-data_dir") {
		t.Errorf("refusal does not name -data_dir: %q", errOut.String())
	}
	if _, err := os.Stat("data"); err == nil {
		t.Fatal("token list created ./data")
	}

	writeMarker(t, filepath.Join(root, "var", "demo.json"), demoMarker{PID: os.Getpid(), DataDir: demoData, Started: time.Now()})
	out.Reset()
	errOut.Reset()
	if code := run(context.Background(), []string{"token", "create", "-role", "viewer", "-name", "kiosk"}, &out, &errOut); code != 0 {
		t.Fatalf("token create beside the demo: exit %d (stderr %q)", code, errOut.String())
	}
	if !strings.HasPrefix(out.String(), "iocd_") || strings.Count(out.String(), "\n") != 1 {
		t.Errorf("stdout %q, want the token alone", out.String())
	}
	if !strings.Contains(errOut.String(), demoData) {
		t.Errorf("stderr %q does not say which data dir was used", errOut.String())
	}
	st, err := store.Open(context.Background(), filepath.Join(demoData, "iocd.db"), slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	toks, err := st.ListTokens(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if len(toks) != 1 || toks[0].Name != "kiosk" {
		t.Errorf("demo store holds tokens %+v, want the one named kiosk", toks)
	}
	if _, err := os.Stat("data"); err == nil {
		t.Error("token create created ./data")
	}
}
