package violations

import (
	"bytes"
	"encoding/binary"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/iocd/iocd/sim"
	"github.com/iocd/iocd/streams"
)

// h265Segment is two GOPs of the simulator's H.265 recording; change, if
// set, edits the in-band parameter sets of the second GOP's keyframe.
func h265Segment(t *testing.T, change func(nalu []byte) []byte) streams.Segment {
	t.Helper()
	rec, err := sim.LoadRecording(sim.H265)
	if err != nil {
		t.Fatal(err)
	}
	t0 := time.Unix(1_700_000_000, 0)
	var ss []streams.Sample
	for i := range 50 {
		f := rec.Frames[i]
		var avcc []byte
		nalus := f.NALUs
		if f.Key && !hasParams(nalus) {
			// As the stream reader stores keyframes: parameter sets first.
			nalus = append([][]byte{rec.VPS, rec.SPS, rec.PPS}, nalus...)
		}
		for _, n := range nalus {
			if i > 0 && f.Key && change != nil && (n[0]>>1)&0x3f == h265PPS {
				n = change(n)
			}
			avcc = binary.BigEndian.AppendUint32(avcc, uint32(len(n)))
			avcc = append(avcc, n...)
		}
		dts := int64(i) * 3600
		ss = append(ss, streams.Sample{Wall: t0.Add(time.Duration(i) * 40 * time.Millisecond), DTS: dts, PTS: dts,
			Key: f.Key, Dur: 3600, Epoch: 1, AVCC: avcc})
	}
	return streams.Segment{Codec: streams.CodecH265, VPS: rec.VPS, SPS: rec.SPS, PPS: rec.PPS, Samples: ss}
}

func hasParams(nalus [][]byte) bool {
	for _, n := range nalus {
		if (n[0]>>1)&0x3f == h265SPS {
			return true
		}
	}
	return false
}

func ffprobeTag(t *testing.T, path string) string {
	t.Helper()
	out, err := exec.Command("ffprobe", "-v", "error", "-select_streams", "v:0", "-show_entries", "stream=codec_name,codec_tag_string",
		"-of", "csv=p=0", path).CombinedOutput()
	if err != nil {
		t.Fatalf("ffprobe %s: %v: %s", path, err, out)
	}
	return strings.TrimSpace(string(out))
}

// TestH265ClipIsHvc1: an H.265 clip is muxed with the hvc1 sample entry
// Safari needs, its parameter sets only in hvcC (none left in the
// samples), and decodes whole; one whose camera changed its parameter
// sets inside the clip keeps them in-band as hev1, the only entry that
// allows that, and decodes too.
func TestH265ClipIsHvc1(t *testing.T) {
	for _, c := range []struct {
		name   string
		change func([]byte) []byte
		tag    string
	}{
		{"constant parameter sets", nil, "hevc,hvc1"},
		// A PPS that differs only in trailing padding: still a valid PPS.
		{"parameter sets change", func(n []byte) []byte { return append(bytes.Clone(n), 0x00) }, "hevc,hev1"},
	} {
		t.Run(c.name, func(t *testing.T) {
			seg := h265Segment(t, c.change)
			path := filepath.Join(t.TempDir(), "clip.mp4")
			f, err := os.Create(path)
			if err != nil {
				t.Fatal(err)
			}
			if _, _, err := muxMP4(f, seg); err != nil {
				t.Fatal(err)
			}
			f.Close()
			if got := ffprobeTag(t, path); got != c.tag {
				t.Errorf("ffprobe codec_name,codec_tag_string: want %s, got %s", c.tag, got)
			}
			if out, err := exec.Command("ffmpeg", "-v", "error", "-xerror", "-i", path, "-f", "null", "-").CombinedOutput(); err != nil || len(out) > 0 {
				t.Fatalf("ffmpeg decoding: want no errors, got %v: %s", err, out)
			}
			out, err := exec.Command("ffprobe", "-v", "error", "-count_frames", "-select_streams", "v:0",
				"-show_entries", "stream=nb_read_frames", "-of", "csv=p=0", path).CombinedOutput()
			if err != nil || strings.TrimSpace(string(out)) != "50" {
				t.Errorf("want 50 frames decoded, got %s (%v)", out, err)
			}
			b, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			codec, entry, err := clipCodec(bytes.NewReader(b))
			if err != nil || codec != CodecH265 || "hevc,"+entry != c.tag {
				t.Errorf("clipCodec: want h265 %s, got %s %s (%v)", c.tag, codec, entry, err)
			}
			if c.change == nil {
				// No parameter set is left in-band: hvc1 says so.
				hdr, _ := readHeader(bytes.NewReader(b))
				mdat := b[len(hdr):]
				for _, p := range [][]byte{seg.VPS, seg.SPS} {
					if bytes.Contains(mdat, p) {
						t.Errorf("want no in-band parameter set in the samples, found %x", p[:4])
					}
				}
			}
		})
	}
}
