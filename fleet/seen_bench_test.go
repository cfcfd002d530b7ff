package fleet

import (
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/iocd/iocd/bus"
	"github.com/iocd/iocd/config"
	"github.com/iocd/iocd/defs"
)

// BenchmarkSeen is the tracker's share of every accepted reading, the
// ingest hot path: one online device reporting three fields.
func BenchmarkSeen(b *testing.B) {
	d := dev("aq-01", "tan-an", defs.KindSensor)
	tr := New(config.Default().Fleet, []defs.Device{d}, bus.New(nil), nil, slog.New(slog.NewTextHandler(io.Discard, nil)), nil)
	fields := []defs.Field{{Key: "pm25", Type: defs.FieldFloat, Num: 1}, {Key: "pm10", Type: defs.FieldFloat, Num: 2}, {Key: "ok", Type: defs.FieldBool, Bool: true}}
	now := time.Now()
	b.ReportAllocs()
	for b.Loop() {
		tr.Seen(d, now, fields)
	}
}
