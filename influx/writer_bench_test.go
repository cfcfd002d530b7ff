package influx

import (
	"log/slog"
	"testing"
	"time"

	"github.com/iocd/iocd/config"
	"github.com/iocd/iocd/defs"
)

// BenchmarkWriteTelemetry measures adding a 4-field reading to a batch,
// line protocol included. The writer is not started; the benchmark takes
// sealed batches off its queue and recycles them as the committer and a
// sender would (the write-ahead log is not measured here).
func BenchmarkWriteTelemetry(b *testing.B) {
	cfg := config.Default().Influx
	cfg.URL = "http://127.0.0.1:1"
	w, err := New(cfg, b.TempDir(), slog.New(slog.DiscardHandler), nil)
	if err != nil {
		b.Fatal(err)
	}
	stop := make(chan struct{})
	go func() {
		for {
			select {
			case bt := <-w.sealed:
				w.untrack(bt)
				w.recycle(bt)
			case <-stop:
				return
			}
		}
	}()
	defer close(stop)
	fields := []defs.Field{
		{Key: "temp_c", Type: defs.FieldFloat, Num: 21.5},
		{Key: "humidity", Type: defs.FieldFloat, Num: 64.5},
		{Key: "pm25", Type: defs.FieldFloat, Num: 35},
		{Key: "level_m", Type: defs.FieldFloat, Num: 1.234},
	}
	ts := time.UnixMilli(1732233600123)
	b.ReportAllocs()
	for b.Loop() {
		if err := w.WriteTelemetry("bench-0001", "tan-an", defs.KindSensor, ts, fields, nil); err != nil {
			b.Fatal(err)
		}
	}
}
