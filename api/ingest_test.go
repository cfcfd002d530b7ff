package api_test

import (
	"net/http"
	"testing"
	"time"

	"github.com/iocd/iocd/api"
	"github.com/iocd/iocd/defs"
)

type fixedBacklog api.IngestBacklog

func (b fixedBacklog) Backlog() api.IngestBacklog { return api.IngestBacklog(b) }

// TestIngestBacklog checks GET /api/v1/ingest: viewers see how far behind
// the telemetry path is, null and 0 when nothing waits, and no token gets
// nothing.
func TestIngestBacklog(t *testing.T) {
	oldest := time.Now().Add(-90 * time.Second)
	cases := []struct {
		name       string
		backlog    fixedBacklog
		wantOldest bool
	}{
		{"behind", fixedBacklog{Unacked: 12, SpoolBytes: 4096, OldestUnflushed: oldest}, true},
		{"caught up", fixedBacklog{}, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := newRig(t, func(s *rigSetup) { s.opts.Ingest = tc.backlog })
			got := r.do("GET", "/api/v1/ingest", r.tokens[defs.RoleViewer], nil)
			wantStatus(t, got, http.StatusOK)
			var b struct {
				Unacked         int        `json:"unacked"`
				SpoolBytes      int64      `json:"spool_bytes"`
				OldestUnflushed *time.Time `json:"oldest_unflushed"`
				BehindSeconds   float64    `json:"behind_seconds"`
			}
			got.json(t, &b)
			if b.Unacked != tc.backlog.Unacked || b.SpoolBytes != tc.backlog.SpoolBytes {
				t.Errorf("unacked, spool_bytes = %d, %d; want %d, %d", b.Unacked, b.SpoolBytes, tc.backlog.Unacked, tc.backlog.SpoolBytes)
			}
			switch {
			case tc.wantOldest && (b.OldestUnflushed == nil || !b.OldestUnflushed.Equal(oldest.UTC().Truncate(time.Millisecond)) || b.BehindSeconds < 90):
				t.Errorf("oldest_unflushed %v, behind_seconds %v; want %v and at least 90", b.OldestUnflushed, b.BehindSeconds, oldest)
			case !tc.wantOldest && (b.OldestUnflushed != nil || b.BehindSeconds != 0):
				t.Errorf("oldest_unflushed %v, behind_seconds %v; want null and 0", b.OldestUnflushed, b.BehindSeconds)
			}
			wantStatus(t, r.do("GET", "/api/v1/ingest", "", nil), http.StatusUnauthorized)
		})
	}
}
