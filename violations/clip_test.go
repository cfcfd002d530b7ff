package violations

import (
	"encoding/binary"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/iocd/iocd/sim"
	"github.com/iocd/iocd/streams"
)

// TestMuxAcrossReconnect: a segment of two connections, whose timestamps
// restart, muxes into one clip that decodes, holds every frame, and whose
// own timeline spans the wall-clock window, gap included (the last frame
// before the gap is held until the next connection's first).
func TestMuxAcrossReconnect(t *testing.T) {
	rec, err := sim.LoadRecording(sim.H264)
	if err != nil {
		t.Fatal(err)
	}
	t0 := time.Unix(1_700_000_000, 0)
	var ss []streams.Sample
	add := func(epoch int32, start time.Time, dtsBase int64) {
		for i := range 50 { // two GOPs
			f := rec.Frames[i]
			var avcc []byte
			for _, n := range f.NALUs {
				avcc = binary.BigEndian.AppendUint32(avcc, uint32(len(n)))
				avcc = append(avcc, n...)
			}
			dts := dtsBase + int64(i)*3600
			ss = append(ss, streams.Sample{Wall: start.Add(time.Duration(i) * 40 * time.Millisecond), DTS: dts, PTS: dts,
				Key: f.Key, Dur: 3600, Epoch: epoch, AVCC: avcc})
		}
	}
	add(1, t0, 9_000_000)            // 2 s, timestamps far along
	add(2, t0.Add(3*time.Second), 0) // 1 s gap, timestamps from 0
	path := filepath.Join(t.TempDir(), "clip.mp4")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	start, end, err := muxMP4(f, streams.Segment{Codec: streams.CodecH264, SPS: rec.SPS, PPS: rec.PPS, Samples: ss})
	f.Close()
	if err != nil {
		t.Fatal(err)
	}
	if !start.Equal(t0) || !end.Equal(t0.Add(5*time.Second)) {
		t.Errorf("span: want %s to %s, got %s to %s", t0, t0.Add(5*time.Second), start, end)
	}
	if out, err := exec.Command("ffmpeg", "-v", "error", "-xerror", "-i", path, "-f", "null", "-").CombinedOutput(); err != nil || len(out) > 0 {
		t.Fatalf("ffmpeg decoding: want no errors, got %v: %s", err, out)
	}
	out, err := exec.Command("ffprobe", "-v", "error", "-select_streams", "v:0", "-show_entries", "frame=pts_time",
		"-of", "csv=p=0", path).CombinedOutput()
	if err != nil {
		t.Fatalf("ffprobe: %v: %s", err, out)
	}
	var pts []float64
	for _, l := range strings.Fields(string(out)) {
		v, err := strconv.ParseFloat(strings.TrimSuffix(l, ","), 64)
		if err != nil {
			t.Fatalf("ffprobe line %q: %v", l, err)
		}
		pts = append(pts, v)
	}
	if len(pts) != 100 {
		t.Fatalf("want 100 frames, got %d", len(pts))
	}
	if got := pts[50] - pts[0]; got < 2.999 || got > 3.001 {
		t.Errorf("want the second connection's first frame 3 s into the clip, as on the wall clock, got %.3f s", got)
	}
	if got := pts[99] - pts[0] + 0.04; got < 4.999 || got > 5.001 {
		t.Errorf("want the clip's timeline 5 s long, got %.3f s", got)
	}
}
