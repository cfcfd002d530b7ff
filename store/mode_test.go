package store

import (
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/iocd/iocd/defs"
)

// TestDatabaseFilesAreOwnerOnly: the database holds the cameras' RTSP
// URLs with their passwords, so it and its -wal and -shm files are mode
// 0600, for a new database and for one an older iocd left 0644.
func TestDatabaseFilesAreOwnerOnly(t *testing.T) {
	for _, pre := range []bool{false, true} {
		dir := t.TempDir()
		path := filepath.Join(dir, "iocd.db")
		if pre {
			if err := os.WriteFile(path, nil, 0o644); err != nil {
				t.Fatal(err)
			}
			if err := os.Chmod(path, 0o644); err != nil {
				t.Fatal(err)
			}
		}
		s, err := Open(context.Background(), path, slog.New(slog.DiscardHandler))
		if err != nil {
			t.Fatal(err)
		}
		d := defs.Device{ID: "cam-1", Site: "s", Kind: defs.KindCamera, RTSPURL: "rtsp://u:secret@h/p", Status: defs.StatusActive,
			Tags: map[string]string{}, HeartbeatS: 60, CreatedAt: time.Now(), UpdatedAt: time.Now()}
		if err := s.InsertDevice(context.Background(), d); err != nil {
			t.Fatal(err)
		}
		for _, name := range []string{"iocd.db", "iocd.db-wal", "iocd.db-shm"} {
			st, err := os.Stat(filepath.Join(dir, name))
			if err != nil {
				t.Errorf("%s: %v", name, err)
				continue
			}
			if m := st.Mode().Perm(); m&0o077 != 0 {
				t.Errorf("%s (existing file %v): mode %v, want 0600", name, pre, m)
			}
		}
		s.Close()
	}
}
