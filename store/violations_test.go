package store

import (
	"context"
	"fmt"
	"log/slog"
	"path/filepath"
	"testing"
	"time"

	"github.com/iocd/iocd/defs"
)

func openTest(t *testing.T) *SQLite {
	t.Helper()
	s, err := Open(context.Background(), filepath.Join(t.TempDir(), "t.db"), slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func TestListViolationsFiltersAndPages(t *testing.T) {
	s := openTest(t)
	ctx := context.Background()
	t0 := time.Date(2026, 11, 1, 8, 0, 0, 0, time.UTC)
	for i := 0; i < 25; i++ {
		v := defs.Violation{
			ID: fmt.Sprintf("v%02d", i), Camera: defs.DeviceID(fmt.Sprintf("cam%d", i%2)), Site: "hcm", EventID: fmt.Sprint(i),
			Type: []string{"red_light", "speeding"}[i%2], Time: t0.Add(time.Duration(i) * time.Minute), Plate: "62A-123.45",
			Status: defs.ReviewPending, ClipStatus: defs.ClipNoVideo, CreatedAt: t0, UpdatedAt: t0,
		}
		if i == 7 {
			v.Plate = "51F-000.01"
		}
		if _, created, err := s.InsertViolation(ctx, v); err != nil || !created {
			t.Fatalf("insert %d: %v %v", i, created, err)
		}
	}
	dup := defs.Violation{ID: "other", Camera: "cam1", EventID: "3", Time: t0, CreatedAt: t0, UpdatedAt: t0}
	if got, created, err := s.InsertViolation(ctx, dup); err != nil || created || got.ID != "v03" {
		t.Errorf("duplicate (camera, event_id): want the existing v03, got %q created=%v err=%v", got.ID, created, err)
	}
	tests := []struct {
		name string
		f    defs.ViolationFilter
		want []string // ids, across all pages
	}{
		{"camera and type", defs.ViolationFilter{Camera: "cam1", Type: "speeding", Limit: 5}, []string{"v23", "v21", "v19", "v17", "v15", "v13", "v11", "v09", "v07", "v05", "v03", "v01"}},
		{"plate", defs.ViolationFilter{Plate: "51F-000.01"}, []string{"v07"}},
		{"time range", defs.ViolationFilter{From: t0.Add(20 * time.Minute), To: t0.Add(23 * time.Minute), Limit: 2}, []string{"v22", "v21", "v20"}},
		{"status", defs.ViolationFilter{Status: defs.ReviewConfirmed}, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var got []string
			f := tc.f
			for pages := 0; ; pages++ {
				vs, next, err := s.ListViolations(ctx, f)
				if err != nil {
					t.Fatal(err)
				}
				for _, v := range vs {
					got = append(got, v.ID)
				}
				if next == "" || pages > 10 {
					break
				}
				f.Cursor = next
			}
			if fmt.Sprint(got) != fmt.Sprint(tc.want) {
				t.Errorf("want %v, got %v", tc.want, got)
			}
		})
	}
	if _, _, err := s.ListViolations(ctx, defs.ViolationFilter{Cursor: "garbage!"}); defs.ErrorCode(err) != defs.EINVALID {
		t.Errorf("bad cursor: want invalid, got %v", err)
	}
}

func TestAuditPages(t *testing.T) {
	s := openTest(t)
	ctx := context.Background()
	for i := 0; i < 5; i++ {
		if err := s.AddAudit(ctx, defs.AuditEntry{At: time.Now(), Actor: "officer", Role: defs.RoleReviewer, Action: "violation.clip", Target: fmt.Sprint(i)}); err != nil {
			t.Fatal(err)
		}
	}
	var got []string
	cursor := ""
	for {
		es, next, err := s.ListAudit(ctx, cursor, 2)
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range es {
			got = append(got, e.Target+"/"+e.Role.String())
		}
		if next == "" {
			break
		}
		cursor = next
	}
	if want := "[4/reviewer 3/reviewer 2/reviewer 1/reviewer 0/reviewer]"; fmt.Sprint(got) != want {
		t.Errorf("want %s, got %v", want, got)
	}
}

func TestAuditForTarget(t *testing.T) {
	s := openTest(t)
	ctx := context.Background()
	for i, target := range []string{"v1", "v2", "v1", "v1x", "v1"} {
		if err := s.AddAudit(ctx, defs.AuditEntry{At: time.Now(), Actor: fmt.Sprint("user:", i), Role: defs.RoleReviewer, Action: "violation.clip", Target: target}); err != nil {
			t.Fatal(err)
		}
	}
	es, err := s.AuditFor(ctx, "v1")
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, e := range es {
		got = append(got, e.Target+"/"+e.Actor)
	}
	if want := "[v1/user:0 v1/user:2 v1/user:4]"; fmt.Sprint(got) != want {
		t.Errorf("want %s, got %v", want, got)
	}
	if es, err := s.AuditFor(ctx, "none"); err != nil || len(es) != 0 {
		t.Errorf("AuditFor(none) = %v, %v; want nothing", es, err)
	}
}
