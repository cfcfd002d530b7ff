package violations

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/bluenviron/mediacommon/v2/pkg/formats/mp4"
	"github.com/bluenviron/mediacommon/v2/pkg/formats/pmp4"

	"github.com/iocd/iocd/streams"
)

// muxMP4 writes seg as a progressive MP4 (moov before mdat, so a browser
// can start playing before the whole file has arrived) and returns the
// clip's wall-clock span.
func muxMP4(w io.Writer, seg streams.Segment) (start, end time.Time, err error) {
	if len(seg.Samples) == 0 {
		return start, end, errors.New("no samples")
	}
	if !seg.Samples[0].Key {
		return start, end, errors.New("segment does not start with a keyframe")
	}
	ss := seg.Samples
	payloads := make([][]byte, len(ss))
	for i, s := range ss {
		payloads[i] = s.AVCC
	}
	var codec mp4.Codec
	switch seg.Codec {
	case streams.CodecH264:
		codec = &mp4.CodecH264{SPS: seg.SPS, PPS: seg.PPS}
	case streams.CodecH265:
		// hvc1 (what Safari plays) when the parameter sets can all move
		// to the sample entry; hev1 with them in-band when they change
		// inside the clip, as only in-band ones can.
		vps, sps, pps, out, ok := h265OutOfBand(seg)
		if ok {
			seg.VPS, seg.SPS, seg.PPS, payloads = vps, sps, pps, out
			w = &hvc1Writer{w: w}
		}
		codec = &mp4.CodecH265{VPS: seg.VPS, SPS: seg.SPS, PPS: seg.PPS}
	default:
		return start, end, fmt.Errorf("unsupported codec %q", seg.Codec)
	}
	if len(seg.SPS) == 0 || len(seg.PPS) == 0 {
		return start, end, errors.New("no parameter sets")
	}
	// The last sample lasts until the AU after it, when the ring had one
	// (so a clip the ring calls complete ends at or after its window);
	// failing that, as long as the average frame; a single-frame clip
	// lasts 40 ms (25 fps).
	lastDur := ss[len(ss)-1].Dur
	if lastDur <= 0 {
		// The average over the last connection's samples: timestamps
		// restart with each connection.
		lastDur = 3600
		last := ss[len(ss)-1]
		first := len(ss) - 1
		for first > 0 && ss[first-1].Epoch == last.Epoch {
			first--
		}
		if n := len(ss) - 1 - first; n > 0 {
			lastDur = max((last.DTS-ss[first].DTS)/int64(n), 1)
		}
	}
	samples := make([]*pmp4.Sample, len(ss))
	for i, s := range ss {
		dur := lastDur
		if i+1 < len(ss) {
			dur = ss[i+1].DTS - s.DTS
			if n := ss[i+1]; n.Epoch != s.Epoch {
				// A reconnect: the next connection's timestamps start
				// afresh. The last frame before the gap is held until
				// the next connection's first frame is due, by wall
				// time, so the clip's timeline stays the window's and a
				// player shows the gap as a still picture.
				gap := n.Wall.Sub(s.Wall) * 90000 / time.Second
				dur = int64(gap) + (s.PTS - s.DTS) - (n.PTS - n.DTS)
				dur = max(dur, 1)
			}
		}
		if dur <= 0 || dur > 1<<31 {
			return start, end, fmt.Errorf("sample %d: bad duration %d", i, dur)
		}
		payload := payloads[i]
		samples[i] = &pmp4.Sample{
			Duration:        uint32(dur),
			PTSOffset:       int32(s.PTS - s.DTS),
			IsNonSyncSample: !s.Key,
			PayloadSize:     uint32(len(payload)),
			GetPayload:      func() ([]byte, error) { return payload, nil },
		}
	}
	p := pmp4.Presentation{Tracks: []*pmp4.Track{{
		ID:        1,
		TimeScale: 90000,
		Codec:     codec,
		Samples:   samples,
	}}}
	if err := p.Marshal(w); err != nil {
		return start, end, fmt.Errorf("muxing mp4: %w", err)
	}
	start = ss[0].Wall
	end = ss[len(ss)-1].Wall.Add(time.Duration(lastDur) * time.Second / 90000)
	return start, end, nil
}

// h265OutOfBand returns a segment's parameter sets for the sample entry
// (those the first keyframe carries in-band, else the session's) and its
// samples without in-band parameter sets; ok is false, and nothing is to
// change, if any in-band set differs from the sample entry's (the camera
// changed them inside the clip) or a sample does not split.
func h265OutOfBand(seg streams.Segment) (vps, sps, pps []byte, payloads [][]byte, ok bool) {
	vps, sps, pps = seg.VPS, seg.SPS, seg.PPS
	payloads = make([][]byte, len(seg.Samples))
	var inband [][][]byte
	for i, s := range seg.Samples {
		params, rest, err := h265ParamSets(s.AVCC)
		if err != nil || len(rest) == 0 {
			return nil, nil, nil, nil, false
		}
		payloads[i] = rest
		inband = append(inband, params)
	}
	if len(inband) > 0 {
		for _, p := range inband[0] {
			switch (p[0] >> 1) & 0x3f {
			case h265VPS:
				vps = p
			case h265SPS:
				sps = p
			case h265PPS:
				pps = p
			}
		}
	}
	for _, params := range inband {
		for _, p := range params {
			want := map[byte][]byte{h265VPS: vps, h265SPS: sps, h265PPS: pps}[(p[0]>>1)&0x3f]
			if !bytes.Equal(p, want) {
				return nil, nil, nil, nil, false
			}
		}
	}
	if len(vps) == 0 || len(sps) == 0 || len(pps) == 0 {
		return nil, nil, nil, nil, false
	}
	return vps, sps, pps, payloads, true
}

// writeAtomic writes a file under dataDir/rel through a temporary file that
// is synced and then renamed, so a crash never leaves a half-written clip
// under the final name, and returns the file's SHA-256 and size.
func writeAtomic(disk diskFS, dataDir, rel string, write func(io.Writer) error) (sum string, size int64, err error) {
	path := filepath.Join(dataDir, rel)
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return "", 0, fmt.Errorf("creating clip dir: %w", err)
	}
	if err := confined(dataDir, dir); err != nil {
		return "", 0, fmt.Errorf("clip dir for %s: %w", rel, err)
	}
	f, err := disk.create(dir, ".tmp-*")
	if err != nil {
		return "", 0, fmt.Errorf("creating temp file: %w", err)
	}
	tmp := f.Name()
	defer func() {
		if err != nil {
			f.Close()
			os.Remove(tmp)
		}
	}()
	h := sha256.New()
	cw := &countWriter{w: io.MultiWriter(f, h)}
	if err = write(cw); err != nil {
		return "", 0, fmt.Errorf("writing %s: %w", rel, err)
	}
	if err = f.Sync(); err != nil {
		return "", 0, fmt.Errorf("syncing %s: %w", rel, err)
	}
	if err = f.Close(); err != nil {
		return "", 0, fmt.Errorf("closing %s: %w", rel, err)
	}
	if err = os.Chmod(tmp, 0o440); err != nil {
		return "", 0, fmt.Errorf("making %s read-only: %w", rel, err)
	}
	if err = os.Rename(tmp, path); err != nil {
		return "", 0, fmt.Errorf("renaming %s: %w", rel, err)
	}
	// The rename is durable only once the directory is synced.
	if d, derr := os.Open(dir); derr == nil {
		d.Sync()
		d.Close()
	}
	return hex.EncodeToString(h.Sum(nil)), cw.n, nil
}

type countWriter struct {
	w io.Writer
	n int64
}

func (c *countWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}

// hashFile returns a file's SHA-256.
func hashFile(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", err
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// evidencePath returns dataDir/rel after checking that rel is a path iocd
// made: relative, under clips/, without "..". A tampered path in the store
// must not make iocd read or delete files elsewhere.
func evidencePath(dataDir, rel string) (string, error) {
	if rel == "" || !filepath.IsLocal(rel) || !strings.HasPrefix(filepath.ToSlash(rel), "clips/") {
		return "", fmt.Errorf("evidence path %q is not under clips/", rel)
	}
	p := filepath.Join(dataDir, rel)
	if err := confined(dataDir, p); err != nil {
		return "", fmt.Errorf("evidence path %q: %w", rel, err)
	}
	return p, nil
}

// hasher is a SHA-256 writer that reports in hex.
type hasher struct{ hash.Hash }

func newHasher() hasher { return hasher{sha256.New()} }

func (h hasher) hex() string { return hex.EncodeToString(h.Sum(nil)) }
