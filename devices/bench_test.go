package devices_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/iocd/iocd/config"
	"github.com/iocd/iocd/defs"
)

// BenchmarkLookup measures the per-message cost ingest pays, with all
// cores reading a 10,000-device registry at once.
func BenchmarkLookup(b *testing.B) {
	f := openB(b, config.UnknownPending)
	ds := make([]defs.Device, 10_000)
	for i := range ds {
		ds[i] = defs.Device{ID: defs.DeviceID(fmt.Sprintf("s%05d", i)), Site: "hue-1", Kind: defs.KindSensor}
	}
	if _, err := f.reg.Import(context.Background(), ds); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		i := 0
		for pb.Next() {
			if _, ok := f.reg.Lookup(ds[i%len(ds)].ID); !ok {
				b.Error("missing device")
				return
			}
			i++
		}
	})
}

// BenchmarkUnknownRepeated measures a device that keeps reporting after
// it was listed as pending: Unknown must not reach SQLite again.
func BenchmarkUnknownRepeated(b *testing.B) {
	f := openB(b, config.UnknownPending)
	ctx := context.Background()
	if _, _, err := f.reg.Unknown(ctx, "hue-1", "stray"); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, ok, err := f.reg.Unknown(ctx, "hue-1", "stray"); ok || err != nil {
				b.Errorf("want pending and no error, got %v %v", ok, err)
				return
			}
		}
	})
}

// BenchmarkUnknownRejected measures the reject policy under a flood of
// made-up ids.
func BenchmarkUnknownRejected(b *testing.B) {
	f := openB(b, config.UnknownReject)
	ctx := context.Background()
	ids := make([]defs.DeviceID, 1024)
	for i := range ids {
		ids[i] = defs.DeviceID(fmt.Sprintf("rogue-%d", i))
	}
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		i := 0
		for pb.Next() {
			f.reg.Unknown(ctx, "hue-1", ids[i%len(ids)])
			i++
		}
	})
}
