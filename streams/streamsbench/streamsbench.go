// Package streamsbench measures the streams manager under a camera fleet:
// N simulated cameras at a given bitrate, served over loopback by a
// separate simulator process (so that its CPU is not counted), read by a
// streams.Manager in this process. It reports this process's CPU as a
// percentage of one core, the ring buffers' memory against the video they
// hold, and frames lost.
package streamsbench

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"syscall"
	"time"

	"github.com/iocd/iocd/config"
	"github.com/iocd/iocd/defs"
	"github.com/iocd/iocd/sim"
	"github.com/iocd/iocd/store"
	"github.com/iocd/iocd/streams"
	"github.com/iocd/iocd/violations"
)

// Options configures a run.
type Options struct {
	Cameras int
	Kbps    int
	Codec   sim.Codec
	// Warmup is waited before measuring: connections, first keyframes and
	// full buffers.
	Warmup   time.Duration
	Duration time.Duration
	// Violations is how many violation events to fire, after the CPU
	// interval, at cameras across the fleet, to measure how soon after
	// ts + post each clip is on disk under the full load.
	Violations int
	// SimCommand starts the simulator child process; it is given the
	// environment variables of SimEnv and must serve a sim fleet on
	// IOCD_BENCH_SIM_ADDR until killed.
	SimCommand []string
}

// Environment variables passed to the simulator child.
const (
	EnvAddr    = "IOCD_BENCH_SIM_ADDR"
	EnvCameras = "IOCD_BENCH_SIM_CAMERAS"
	EnvKbps    = "IOCD_BENCH_SIM_KBPS"
	EnvCodec   = "IOCD_BENCH_SIM_CODEC"
)

// FleetFromEnv returns the fleet options a simulator child was started
// with, and whether it was started as one.
func FleetFromEnv() (sim.FleetOptions, bool) {
	addr := os.Getenv(EnvAddr)
	if addr == "" {
		return sim.FleetOptions{}, false
	}
	var o sim.FleetOptions
	o.Addr = addr
	fmt.Sscan(os.Getenv(EnvCameras), &o.Cameras)
	fmt.Sscan(os.Getenv(EnvKbps), &o.Kbps)
	o.Codec = sim.Codec(os.Getenv(EnvCodec))
	return o, true
}

// Result is what a run measured.
type Result struct {
	Cameras   int
	Connected int
	Seconds   float64
	// CPUPercent is this process's user+system CPU over the measured
	// interval, as a percentage of one core.
	CPUPercent float64
	// BufferBytes is the video the rings hold; BufferAllocated the memory
	// they hold for it.
	BufferBytes     int64
	BufferAllocated int64
	// HeapInuse is the Go heap in use after a GC, minus the heap before
	// the cameras started: rings plus gortsplib's per-connection buffers.
	HeapInuse int64
	// FramesReceived and FramesExpected (25 fps per camera) over the
	// measured interval; FramesLost and PacketsLost since the start.
	FramesReceived uint64
	FramesExpected uint64
	FramesLost     uint64
	PacketsLost    uint64
	Reconnects     uint64
	// ClipLatencies are, per violation, the time from ts + post to the
	// clip being stored; ClipsComplete counts the complete clips.
	ClipLatencies []time.Duration
	ClipsComplete int
}

type fleetRegistry []defs.Device

func (r fleetRegistry) Cameras(context.Context) ([]defs.Device, error) { return r, nil }

// Run runs the benchmark and prints its figures to out.
func Run(ctx context.Context, o Options, out io.Writer) (Result, error) {
	res := Result{Cameras: o.Cameras}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return res, err
	}
	addr := l.Addr().String()
	l.Close()
	cmd := exec.CommandContext(ctx, o.SimCommand[0], o.SimCommand[1:]...)
	cmd.Env = append(os.Environ(), EnvAddr+"="+addr, fmt.Sprint(EnvCameras, "=", o.Cameras),
		fmt.Sprint(EnvKbps, "=", o.Kbps), EnvCodec+"="+string(o.Codec))
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	if err := cmd.Start(); err != nil {
		return res, fmt.Errorf("starting simulator: %w", err)
	}
	defer func() {
		cmd.Process.Kill()
		cmd.Wait()
	}()
	// Wait for the simulator to listen.
	for deadline := time.Now().Add(30 * time.Second); ; {
		c, err := net.Dial("tcp", addr)
		if err == nil {
			c.Close()
			break
		}
		if time.Now().After(deadline) {
			return res, fmt.Errorf("simulator did not listen on %s", addr)
		}
		time.Sleep(100 * time.Millisecond)
	}

	runtime.GC()
	var before runtime.MemStats
	runtime.ReadMemStats(&before)

	cfg := config.Default()
	reg := make(fleetRegistry, o.Cameras)
	for i := range reg {
		reg[i] = defs.Device{ID: defs.DeviceID(sim.FleetPath(i + 1)), Site: "bench", Kind: defs.KindCamera,
			RTSPURL: "rtsp://" + addr + "/" + sim.FleetPath(i+1), Status: defs.StatusActive}
	}
	m := streams.New(cfg.Streams, cfg.Violations, reg, nil, nil, nil, nil)
	mctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() { defer close(done); m.Run(mctx) }()
	defer func() { cancel(); <-done }()

	fmt.Fprintf(out, "streams bench: %d cameras, %s at %d kbit/s, warming up %s (buffers fill to %s)\n",
		o.Cameras, o.Codec, o.Kbps, o.Warmup, streams.RetainFor(cfg.Streams, cfg.Violations))
	select {
	case <-time.After(o.Warmup):
	case <-ctx.Done():
		return res, ctx.Err()
	}
	frames0 := sumFrames(m)
	ru0, t0 := rusage(), time.Now()
	select {
	case <-time.After(o.Duration):
	case <-ctx.Done():
		return res, ctx.Err()
	}
	ru1, t1 := rusage(), time.Now()
	frames1 := sumFrames(m)
	res.Seconds = t1.Sub(t0).Seconds()
	res.CPUPercent = (ru1 - ru0).Seconds() / res.Seconds * 100
	res.FramesReceived = frames1 - frames0
	res.FramesExpected = uint64(float64(o.Cameras) * 25 * res.Seconds)

	runtime.GC()
	var after runtime.MemStats
	runtime.ReadMemStats(&after)
	res.HeapInuse = int64(after.HeapInuse) - int64(before.HeapInuse)
	for _, s := range m.Cameras() {
		if s.Connected {
			res.Connected++
		}
		res.BufferBytes += s.BufferBytes
		res.BufferAllocated += s.BufferAllocated
		res.FramesLost += s.FramesLost
		res.PacketsLost += s.PacketsLost
		res.Reconnects += s.Reconnects
	}
	if o.Violations > 0 {
		if err := clipLatencies(ctx, o, m, reg, &res); err != nil {
			return res, err
		}
	}
	mb := func(b int64) float64 { return float64(b) / (1 << 20) }
	fmt.Fprintf(out, "cameras connected:      %d of %d\n", res.Connected, res.Cameras)
	fmt.Fprintf(out, "cpu (this process):     %.1f%% of one core over %.0fs (target <= 50%%)\n", res.CPUPercent, res.Seconds)
	fmt.Fprintf(out, "buffered video:         %.1f MiB\n", mb(res.BufferBytes))
	fmt.Fprintf(out, "buffer memory:          %.1f MiB = %.1f%% over the video held (target <= 10%%)\n",
		mb(res.BufferAllocated), pct(res.BufferAllocated, res.BufferBytes))
	fmt.Fprintf(out, "go heap in use (delta): %.1f MiB = %.1f%% over the video held (rings + RTSP client buffers)\n",
		mb(res.HeapInuse), pct(res.HeapInuse, res.BufferBytes))
	fmt.Fprintf(out, "frames:                 %d received of %d expected over the interval\n", res.FramesReceived, res.FramesExpected)
	fmt.Fprintf(out, "frames lost:            %d (rtp packets lost %d, reconnects %d) (target 0)\n", res.FramesLost, res.PacketsLost, res.Reconnects)
	if n := len(res.ClipLatencies); n > 0 {
		slices.Sort(res.ClipLatencies)
		fmt.Fprintf(out, "clips:                  %d of %d complete; on disk after ts+post: median %s, max %s (target <= 500ms)\n",
			res.ClipsComplete, n, res.ClipLatencies[n/2].Round(time.Millisecond), res.ClipLatencies[n-1].Round(time.Millisecond))
	}
	return res, nil
}

// clipLatencies fires o.Violations events spread over a second at cameras
// across the fleet, with a real store and violations service, and waits
// for their clips.
func clipLatencies(ctx context.Context, o Options, m *streams.Manager, reg fleetRegistry, res *Result) error {
	dir, err := os.MkdirTemp("", "streamsbench-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	st, err := store.Open(ctx, filepath.Join(dir, "iocd.db"), slog.New(slog.DiscardHandler))
	if err != nil {
		return err
	}
	defer st.Close()
	cfg := config.Default()
	svc := violations.New(cfg.Violations, cfg.Retention, cfg.Streams, dir, st, m, nil, nil, nil, nil)
	vctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() { defer close(done); svc.Run(vctx) }()
	defer func() { cancel(); <-done }()
	post := cfg.Violations.WindowFor("red_light").Post.D()
	tss := map[string]time.Time{}
	for i := 0; i < o.Violations; i++ {
		dev := reg[(i*7)%len(reg)]
		ts := time.Now().Add(-100 * time.Millisecond)
		id := fmt.Sprint("bench-", i)
		payload := fmt.Sprintf(`{"event_id":%q,"type":"red_light","ts":%d,"plate":"62A-123.45"}`, id, ts.UnixMilli())
		if err := svc.HandleEvent(ctx, dev, []byte(payload), time.Now()); err != nil {
			return err
		}
		tss[id] = ts
		time.Sleep(time.Second / time.Duration(o.Violations))
	}
	deadline := time.Now().Add(post + 30*time.Second)
	for {
		vs, _, err := st.ListViolations(ctx, defs.ViolationFilter{Limit: 1000})
		if err != nil {
			return err
		}
		final := 0
		for _, v := range vs {
			if v.ClipStatus != defs.ClipRecording {
				final++
			}
		}
		if final == o.Violations {
			for _, v := range vs {
				res.ClipLatencies = append(res.ClipLatencies, v.UpdatedAt.Sub(tss[v.EventID].Add(post)))
				if v.ClipStatus == defs.ClipComplete {
					res.ClipsComplete++
				}
			}
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("only %d of %d clips finished", final, o.Violations)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func pct(mem, held int64) float64 {
	if held == 0 {
		return 0
	}
	return (float64(mem)/float64(held) - 1) * 100
}

func sumFrames(m *streams.Manager) uint64 {
	var n uint64
	for _, s := range m.Cameras() {
		n += s.Frames
	}
	return n
}

// rusage returns this process's user+system CPU time so far.
func rusage() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// Main is `iocd bench streams`: the standard run (200 H.264 cameras at
// 1 Mbit/s, 25 s warm-up, 30 s measured, 40 violations), printed to out.
// It re-executes the same command with the fleet in its environment as the
// simulator child; in that child, Main serves the fleet until killed.
func Main(ctx context.Context, out io.Writer) error {
	if o, ok := FleetFromEnv(); ok {
		return sim.RunFleet(ctx, o, slog.New(slog.DiscardHandler))
	}
	exe, err := os.Executable()
	if err != nil {
		return fmt.Errorf("finding this executable: %w", err)
	}
	_, err = Run(ctx, Options{
		Cameras: 200, Kbps: 1000, Codec: sim.H264,
		Warmup: 25 * time.Second, Duration: 30 * time.Second, Violations: 40,
		SimCommand: append([]string{exe}, os.Args[1:]...),
	}, out)
	return err
}
