package main

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/iocd/iocd/defs"
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
