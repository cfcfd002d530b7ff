package store

import (
	"context"
	"log/slog"
	"path/filepath"
	"testing"
	"time"

	"github.com/iocd/iocd/defs"
)

func TestSessionsAndUsers(t *testing.T) {
	ctx := context.Background()
	s, err := Open(ctx, filepath.Join(t.TempDir(), "iocd.db"), slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	now := time.Date(2026, 12, 2, 8, 0, 0, 0, time.UTC)
	u, err := s.InsertUser(ctx, "anna", defs.RoleViewer, "$argon2id$...", now)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		id         string
		seen, ends time.Time
	}{
		{"live", now, now.Add(time.Hour)},
		{"past-absolute", now, now.Add(-time.Second)},
		{"idle", now.Add(-time.Hour), now.Add(time.Hour)},
	} {
		if err := s.InsertSession(ctx, defs.Session{ID: c.id, UserID: u.ID, CSRF: "c", CreatedAt: now, LastSeenAt: c.seen, ExpiresAt: c.ends}, "hash-"+c.id); err != nil {
			t.Fatal(err)
		}
	}
	n, err := s.DeleteExpiredSessions(ctx, now, now.Add(-30*time.Minute))
	if err != nil || n != 2 {
		t.Fatalf("delete expired: want 2, got %d, %v", n, err)
	}
	sess, su, err := s.SessionByHash(ctx, "hash-live")
	if err != nil || sess.ID != "live" || su.Name != "anna" || !sess.ExpiresAt.Equal(now.Add(time.Hour)) {
		t.Fatalf("live session: %+v %+v %v", sess, su, err)
	}
	// Disabling the user ends its sessions in the same transaction.
	yes := true
	if _, err := s.UpdateUser(ctx, "anna", defs.UserUpdate{Disabled: &yes}, now); err != nil {
		t.Fatal(err)
	}
	if _, _, err := s.SessionByID(ctx, "live"); defs.ErrorCode(err) != defs.ENOTFOUND {
		t.Errorf("after disable: want no session, got %v", err)
	}
	if _, err := s.UpdateUser(ctx, "nobody", defs.UserUpdate{Disabled: &yes}, now); defs.ErrorCode(err) != defs.ENOTFOUND {
		t.Errorf("update of nobody: want not found, got %v", err)
	}
}
