package streamsbench_test

import (
	"context"
	"log/slog"
	"os"
	"os/signal"
	"syscall"
	"testing"
	"time"

	"github.com/iocd/iocd/sim"
	"github.com/iocd/iocd/streams/streamsbench"
)

// TestMain doubles as the simulator child: the benchmark re-executes this
// test binary with the fleet in its environment, so the simulator's CPU is
// another process's.
func TestMain(m *testing.M) {
	if o, ok := streamsbench.FleetFromEnv(); ok {
		ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
		defer stop()
		if err := sim.RunFleet(ctx, o, slog.Default()); err != nil {
			slog.Error("simulator", "error", err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// BenchmarkStreams runs 200 cameras at 1 Mbit/s (H.264) into the streams
// manager and reports CPU, buffer memory and frame loss, then fires 40
// violations to time their clips under that load. Run it alone:
//
//	go test -run '^$' -bench 'BenchmarkStreams$' -benchtime 1x -timeout 10m ./streams/streamsbench/
func BenchmarkStreams(b *testing.B) { bench(b, sim.H264) }

// BenchmarkStreamsH265 is BenchmarkStreams with H.265 cameras.
func BenchmarkStreamsH265(b *testing.B) { bench(b, sim.H265) }

func bench(b *testing.B, codec sim.Codec) {
	for i := 0; i < b.N; i++ {
		res, err := streamsbench.Run(context.Background(), streamsbench.Options{
			Cameras: 200, Kbps: 1000, Codec: codec,
			Warmup: 25 * time.Second, Duration: 30 * time.Second, Violations: 40,
			SimCommand: []string{os.Args[0], "-test.run=^$"},
		}, os.Stdout)
		if err != nil {
			b.Fatal(err)
		}
		b.ReportMetric(res.CPUPercent, "cpu%")
		b.ReportMetric(float64(res.FramesLost+res.PacketsLost), "lost")
		b.ReportMetric(float64(res.BufferAllocated)/float64(max(res.BufferBytes, 1)), "mem/held")
	}
}
