package api

import (
	"math"
	"net/http"
	"time"

	"github.com/iocd/iocd/defs"
)

// IngestService reports how far behind the telemetry path is; cmd/iocd
// combines the ingester (unacknowledged messages) and the InfluxDB writer
// (spool, oldest unflushed reading) into one.
type IngestService interface {
	Backlog() IngestBacklog
}

// IngestBacklog is what the telemetry path holds that is not yet in
// InfluxDB.
type IngestBacklog struct {
	// Unacked is the MQTT messages received and not yet acknowledged.
	Unacked int
	// SpoolBytes is the size of the on-disk spool waiting for InfluxDB.
	SpoolBytes int64
	// OldestUnflushed is when the oldest reading not yet accepted by
	// InfluxDB was taken in; zero when none is waiting.
	OldestUnflushed time.Time
}

func (s *Server) ingestRoutes() {
	d := s.domain("ingest", s.opts.Ingest != nil)
	d.route("GET", "/api/v1/ingest", defs.RoleViewer, s.getIngest)
}

// ingestResponse is GET /api/v1/ingest.
type ingestResponse struct {
	Unacked         int        `json:"unacked"`
	SpoolBytes      int64      `json:"spool_bytes"`
	OldestUnflushed *time.Time `json:"oldest_unflushed"`
	BehindSeconds   float64    `json:"behind_seconds"`
}

func (s *Server) getIngest(w http.ResponseWriter, r *http.Request) error {
	b := s.opts.Ingest.Backlog()
	resp := ingestResponse{Unacked: b.Unacked, SpoolBytes: b.SpoolBytes}
	if !b.OldestUnflushed.IsZero() {
		t := b.OldestUnflushed.UTC().Truncate(time.Millisecond)
		resp.OldestUnflushed = &t
		resp.BehindSeconds = math.Round(max(time.Since(b.OldestUnflushed).Seconds(), 0)*1000) / 1000
	}
	writeJSON(w, http.StatusOK, resp)
	return nil
}
