package sim

// The camera simulator's recordings: short H.264 and H.265 clips generated
// once by scripts/gen-testmedia.sh and embedded, so that tests, the
// benchmark and `iocd demo` need neither ffmpeg nor files at run time.

import (
	"bytes"
	"embed"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/bluenviron/mediacommon/v2/pkg/codecs/h264"
	"github.com/bluenviron/mediacommon/v2/pkg/codecs/h265"
	"github.com/bluenviron/mediacommon/v2/pkg/formats/mpegts"
)

//go:embed testdata/camera-h264.ts testdata/camera-h265.ts
var media embed.FS

// Codec is a simulated camera's video codec.
type Codec string

// The codecs a simulated camera can stream.
const (
	H264 Codec = "h264"
	H265 Codec = "h265"
)

// Frame is one access unit of a recording.
type Frame struct {
	// Offset is the frame's presentation time from the recording's start.
	Offset time.Duration
	// NALUs are the frame's NAL units, without start codes.
	NALUs [][]byte
	// Key reports whether the frame is a random access point.
	Key bool
}

// Recording is a short clip that a simulated camera streams in a loop.
type Recording struct {
	Codec Codec
	// Frames are in decoding order; the recordings have no B-frames, so
	// this is also presentation order.
	Frames []Frame
	// FrameDuration is the constant interval between frames.
	FrameDuration time.Duration
	// Length is the loop length: len(Frames) * FrameDuration.
	Length time.Duration
	// SPS, PPS and (H.265) VPS are the parameter sets, advertised in the SDP.
	VPS, SPS, PPS []byte
}

// LoadRecording returns the embedded recording for codec.
func LoadRecording(codec Codec) (*Recording, error) {
	raw, err := media.ReadFile("testdata/camera-" + string(codec) + ".ts")
	if err != nil {
		return nil, fmt.Errorf("loading %s recording: %w", codec, err)
	}
	r := &mpegts.Reader{R: bytes.NewReader(raw)}
	if err := r.Initialize(); err != nil {
		return nil, fmt.Errorf("reading %s recording: %w", codec, err)
	}
	if len(r.Tracks()) != 1 {
		return nil, fmt.Errorf("%s recording: want 1 track, got %d", codec, len(r.Tracks()))
	}
	rec := &Recording{Codec: codec}
	td := mpegts.TimeDecoder{}
	td.Initialize()
	var first *int64
	add := func(pts int64, au [][]byte, key bool) {
		pts = td.Decode(pts)
		if first == nil {
			first = &pts
		}
		nalus := make([][]byte, 0, len(au))
		for _, n := range au {
			nalus = append(nalus, append([]byte(nil), n...))
		}
		rec.Frames = append(rec.Frames, Frame{
			Offset: time.Duration(pts-*first) * time.Second / 90000,
			NALUs:  nalus,
			Key:    key,
		})
	}
	track := r.Tracks()[0]
	switch codec {
	case H264:
		r.OnDataH264(track, func(pts, _ int64, au [][]byte) error {
			for _, n := range au {
				switch h264.NALUType(n[0] & 0x1f) {
				case h264.NALUTypeSPS:
					rec.SPS = append([]byte(nil), n...)
				case h264.NALUTypePPS:
					rec.PPS = append([]byte(nil), n...)
				}
			}
			add(pts, au, h264.IsRandomAccess(au))
			return nil
		})
	case H265:
		r.OnDataH265(track, func(pts, _ int64, au [][]byte) error {
			for _, n := range au {
				switch h265.NALUType((n[0] >> 1) & 0x3f) {
				case h265.NALUType_VPS_NUT:
					rec.VPS = append([]byte(nil), n...)
				case h265.NALUType_SPS_NUT:
					rec.SPS = append([]byte(nil), n...)
				case h265.NALUType_PPS_NUT:
					rec.PPS = append([]byte(nil), n...)
				}
			}
			add(pts, au, h265.IsRandomAccess(au))
			return nil
		})
	default:
		return nil, fmt.Errorf("unknown codec %q", codec)
	}
	for {
		if err := r.Read(); err != nil {
			if errors.Is(err, io.EOF) {
				break
			}
			return nil, fmt.Errorf("reading %s recording: %w", codec, err)
		}
	}
	if len(rec.Frames) < 2 || !rec.Frames[0].Key || rec.SPS == nil || rec.PPS == nil {
		return nil, fmt.Errorf("%s recording is not a closed loop of frames starting with a keyframe", codec)
	}
	rec.FrameDuration = rec.Frames[1].Offset - rec.Frames[0].Offset
	rec.Length = time.Duration(len(rec.Frames)) * rec.FrameDuration
	return rec, nil
}

// Padded returns a copy of the recording whose frames carry filler NAL units
// so that it streams at about kbps. Decoders skip filler data, so the video
// is unchanged; the benchmark uses it to reach a camera's real bitrate with
// a small checked-in file.
func (r *Recording) Padded(kbps int) *Recording {
	perFrame := int(int64(kbps) * 1000 / 8 * int64(r.FrameDuration) / int64(time.Second))
	var total int
	for _, f := range r.Frames {
		for _, n := range f.NALUs {
			total += len(n)
		}
	}
	extra := perFrame - total/len(r.Frames)
	if extra <= 16 {
		return r
	}
	out := *r
	out.Frames = make([]Frame, len(r.Frames))
	for i, f := range r.Frames {
		filler := make([]byte, extra)
		hdr := 1
		if r.Codec == H264 {
			filler[0] = byte(h264.NALUTypeFillerData)
		} else {
			filler[0] = byte(h265.NALUType(38) << 1) // FD_NUT
			filler[1] = 1
			hdr = 2
		}
		for j := hdr; j < len(filler)-1; j++ {
			filler[j] = 0xff
		}
		filler[len(filler)-1] = 0x80 // rbsp trailing bits
		nalus := append(append([][]byte(nil), f.NALUs...), filler)
		out.Frames[i] = Frame{Offset: f.Offset, NALUs: nalus, Key: f.Key}
	}
	return &out
}
