package main

import (
	"github.com/iocd/iocd/api"
	"github.com/iocd/iocd/influx"
	"github.com/iocd/iocd/ingest"
)

// ingestBacklog answers GET /api/v1/ingest from the ingester (messages not
// yet acknowledged) and the InfluxDB writer (spool, oldest unflushed
// reading); without InfluxDB only the first is known.
type ingestBacklog struct {
	in *ingest.Ingester
	w  *influx.Writer // nil without InfluxDB
}

var _ api.IngestService = ingestBacklog{}

// Backlog implements api.IngestService.
func (b ingestBacklog) Backlog() api.IngestBacklog {
	out := api.IngestBacklog{Unacked: b.in.Unacked()}
	if b.w != nil {
		out.SpoolBytes = b.w.SpoolBytes()
		out.OldestUnflushed = b.w.OldestUnflushed()
	}
	return out
}
