package store

import (
	"context"
	"log/slog"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/iocd/iocd/defs"
)

// TestReadSnapshotIsConsistent: a violation stored and sealed while a
// snapshot is open is not seen by it, and does not wait for it.
func TestReadSnapshotIsConsistent(t *testing.T) {
	s := openTest(t)
	ctx := context.Background()
	t0 := time.Date(2026, 11, 1, 8, 0, 0, 0, time.UTC)
	insert := func(id string) {
		t.Helper()
		v := defs.Violation{ID: id, Camera: "cam", Site: "hcm", EventID: id, Type: "red_light", Time: t0,
			Status: defs.ReviewPending, ClipStatus: defs.ClipNoVideo, CreatedAt: t0, UpdatedAt: t0}
		if _, _, err := s.InsertViolation(ctx, v); err != nil {
			t.Fatal(err)
		}
		seal := func(v defs.Violation, prev string) defs.LedgerEntry {
			return defs.LedgerEntry{ViolationID: v.ID, Kind: defs.LedgerEvidence, ContentHash: "c", PrevHash: prev, Hash: prev + "x"}
		}
		if _, err := s.SealEvidence(ctx, v, seal, nil); err != nil {
			t.Fatal(err)
		}
	}
	insert("v1")
	err := s.ReadSnapshot(ctx, func(r *Snapshot) error {
		count := func() (int, int) {
			l, err := r.Ledger(ctx, "")
			if err != nil {
				t.Fatal(err)
			}
			vs, _, err := r.ListViolations(ctx, defs.ViolationFilter{})
			if err != nil {
				t.Fatal(err)
			}
			return len(l), len(vs)
		}
		if l, v := count(); l != 1 || v != 1 {
			t.Fatalf("snapshot: want 1 entry and 1 violation, got %d and %d", l, v)
		}
		insert("v2") // another connection, while the snapshot is open
		if l, v := count(); l != 1 || v != 1 {
			t.Errorf("snapshot after a concurrent write: want still 1 entry and 1 violation, got %d and %d", l, v)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if l, err := s.Ledger(ctx, ""); err != nil || len(l) != 2 {
		t.Errorf("after the snapshot: want 2 entries, got %d %v", len(l), err)
	}
}

func TestOpenExistingAppliesNoMigrations(t *testing.T) {
	ctx := context.Background()
	log := slog.New(slog.DiscardHandler)
	path := filepath.Join(t.TempDir(), "t.db")
	if _, err := OpenExisting(ctx, path, log); err == nil {
		t.Fatalf("OpenExisting on no database: want an error, got none")
	}
	s, err := Open(ctx, path, log)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.DB().Exec(`DELETE FROM schema_migrations WHERE version = 101`); err != nil {
		t.Fatal(err)
	}
	s.Close()
	_, err = OpenExisting(ctx, path, log)
	if err == nil || !strings.Contains(err.Error(), "lacks migration 101") {
		t.Errorf("OpenExisting on an older schema: want an error naming migration 101, got %v", err)
	}
}
