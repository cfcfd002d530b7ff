package streams

import (
	"bytes"
	"errors"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/bluenviron/gortsplib/v4"
	"github.com/bluenviron/gortsplib/v4/pkg/description"
	"github.com/bluenviron/gortsplib/v4/pkg/format"
	"github.com/bluenviron/gortsplib/v4/pkg/format/rtph264"
	"github.com/bluenviron/gortsplib/v4/pkg/format/rtph265"
	"github.com/bluenviron/mediacommon/v2/pkg/codecs/h264"
	"github.com/bluenviron/mediacommon/v2/pkg/codecs/h265"
	"github.com/pion/rtcp"
	"github.com/pion/rtp"
)

// Codec names as the API shows them.
const (
	CodecH264 = "h264"
	CodecH265 = "h265"
)

// auReader turns one connection's RTP packets into timestamped access
// units in the ring. It runs in gortsplib's reader goroutine and owns its
// fields; it shares only the ring and the session's atomics and params.
type auReader struct {
	s     *session
	media *description.Media
	forma format.Format
	codec string
	epoch int32

	decode     func(*rtp.Packet) ([][]byte, error)
	extractDTS func([][]byte, int64) (int64, error)
	resetDTS   func()

	vps, sps, pps []byte
	synced        bool // a keyframe has been seen since the start or the last loss

	// Receipt-time clock, used until the camera's first RTCP sender
	// report gives its own: wall = base + (pts - basePTS).
	baseWall time.Time
	basePTS  int64
	// sr is the latest sender report's mapping of RTP time to the camera's
	// clock, written by the RTCP callback; retimed is set once the
	// connection's frames have been moved onto it.
	sr        atomic.Pointer[senderReport]
	clockRate int
	retimed   bool
	lastKey   time.Time // wall time of the last keyframe on this connection
	// lossTS is the RTP timestamp of the last AU counted lost.
	lossTS      uint32
	lossCounted bool
}

// senderReport is one RTCP sender report: the camera's clock (ntp) at RTP
// time rtp.
type senderReport struct {
	ntp time.Time
	rtp uint32
}

// ntpToTime decodes an RFC 3550 NTP timestamp: seconds since 1900 in the
// high 32 bits, the fraction of a second in units of 2^-32 in the low 32.
// (gortsplib v4.16.2's own PacketNTP reads the low bits as nanoseconds,
// its issue #869, which puts a real camera's reports up to 3.3 s off.)
func ntpToTime(v uint64) time.Time {
	secs := int64(v>>32) - 2208988800
	frac := int64((v & 0xFFFFFFFF) * uint64(time.Second) >> 32)
	return time.Unix(secs, frac)
}

// onRTCP notes the camera's sender reports: the clock that times frames
// from then on, and the camera's clock offset from iocd's, measured on
// receipt (so it includes the network delay, milliseconds on a LAN).
func (r *auReader) onRTCP(pkt rtcp.Packet) {
	sr, ok := pkt.(*rtcp.SenderReport)
	if !ok {
		return
	}
	now := time.Now()
	ntp := ntpToTime(sr.NTPTime)
	r.sr.Store(&senderReport{ntp: ntp, rtp: sr.RTPTime})
	r.s.noteClock(ntp.Sub(now), now)
}

func newAUReader(s *session, desc *description.Session, epoch int32) (*auReader, error) {
	medi, forma, err := findVideo(desc)
	if err != nil {
		return nil, err
	}
	r := &auReader{s: s, media: medi, forma: forma, epoch: epoch, clockRate: forma.ClockRate()}
	switch f := forma.(type) {
	case *format.H264:
		dec, err := f.CreateDecoder()
		if err != nil {
			return nil, fmt.Errorf("h264 decoder: %w", err)
		}
		r.codec, r.sps, r.pps = CodecH264, f.SPS, f.PPS
		r.decode = dec.Decode
		var x *h264.DTSExtractor
		r.resetDTS = func() { x = &h264.DTSExtractor{}; x.Initialize() }
		r.extractDTS = func(au [][]byte, pts int64) (int64, error) { return x.Extract(au, pts) }
	case *format.H265:
		dec, err := f.CreateDecoder()
		if err != nil {
			return nil, fmt.Errorf("h265 decoder: %w", err)
		}
		r.codec, r.vps, r.sps, r.pps = CodecH265, f.VPS, f.SPS, f.PPS
		r.decode = dec.Decode
		var x *h265.DTSExtractor
		r.resetDTS = func() { x = &h265.DTSExtractor{}; x.Initialize() }
		r.extractDTS = func(au [][]byte, pts int64) (int64, error) { return x.Extract(au, pts) }
	}
	r.resetDTS()
	r.publishParams()
	return r, nil
}

func (r *auReader) onPacket(c *gortsplib.Client, pkt *rtp.Packet) {
	// The PTS must be asked for every packet: gortsplib's time decoder
	// starts on the first packet of a keyframe, not the last.
	pts, ok := c.PacketPTS2(r.media, pkt)
	if !ok {
		return
	}
	au, err := r.decode(pkt)
	if err != nil {
		if !errors.Is(err, rtph264.ErrMorePacketsNeeded) && !errors.Is(err, rtph265.ErrMorePacketsNeeded) &&
			!errors.Is(err, rtph264.ErrNonStartingPacketAndNoPrevious) && !errors.Is(err, rtph265.ErrNonStartingPacketAndNoPrevious) {
			r.loss(pkt.Timestamp)
		}
		return
	}
	now := time.Now()
	size := rtpBytes(au)
	r.s.bytes.Add(uint64(size))
	r.s.metrics.bytes.Add(float64(size))
	if size > r.s.cfg.maxAUBytes {
		// One oversized frame must not fill the ring (or memory); the
		// frames after it may reference it, so wait for a keyframe.
		r.s.oversize.Add(1)
		r.s.metrics.oversize.Inc()
		r.loss(pkt.Timestamp)
		return
	}

	key := r.scanParams(au)
	if key {
		au = r.withParams(au)
	}
	if !r.synced {
		if !key {
			r.s.lost.Add(1)
			r.s.metrics.framesLost.Inc()
			return
		}
		r.synced = true
		r.resetDTS()
	}
	dts, err := r.extractDTS(au, pts)
	if err != nil {
		r.s.log.Debug("dts extraction failed; waiting for a keyframe", "error", err)
		r.loss(pkt.Timestamp)
		return
	}

	wall := r.stamp(now, pkt.Timestamp, pts)
	if key {
		if !r.lastKey.IsZero() {
			r.s.noteKeyframeInterval(wall.Sub(r.lastKey))
		}
		r.lastKey = wall
		r.s.lastKey.Store(now.UnixNano())
	}
	r.s.ring.Append(au, key, wall, dts, pts, r.epoch)
	r.s.frames.Add(1)
	r.s.metrics.frames.Inc()
	r.s.lastFrame.Store(now.UnixNano())
}

// stamp returns the wall time of the AU with RTP timestamp rtpTS and PTS
// pts, received at now.
//
// It prefers the camera's clock from RTCP sender reports: the violation's
// ts comes from the same camera (or a roadside unit synchronised with it),
// so its clock is the one that lines clips up with events. When this
// connection's first report comes, its buffered frames are re-timed onto
// the camera's clock by their RTP timestamps, so the connection keeps one
// timeline.
//
// Until then, frames are timed by receipt, shifted by the camera's offset
// at the latest report of an earlier connection when there was one. A
// reconnect then stays on the camera's clock: the previous connection's
// frames are on it, and receipt time alone would put the new connection's
// first frames off by the camera's offset, before the previous one's last
// frame when the camera is ahead. The gap between the two would shrink or
// vanish, and the muxer, which holds the last frame before a reconnect
// until the next connection's first, would hold it for one tick.
func (r *auReader) stamp(now time.Time, rtpTS uint32, pts int64) time.Time {
	if sr := r.sr.Load(); sr != nil && r.clockRate > 0 {
		wall := sr.ntp.Add(time.Duration(int32(rtpTS-sr.rtp)) * time.Second / time.Duration(r.clockRate))
		if !r.retimed {
			r.retimed = true
			r.s.ring.Retime(r.epoch, wall, pts)
			if !r.lastKey.IsZero() {
				r.lastKey = time.Time{} // its time is on the old clock
			}
		}
		return wall
	}
	cam := now
	if known, off := r.s.clock(); known {
		cam = now.Add(off)
	}
	if r.baseWall.IsZero() || absDur(r.baseWall.Add(ticks(pts-r.basePTS)).Sub(cam)) > time.Second {
		// First AU, or the receipt clock drifted: re-anchor.
		r.baseWall, r.basePTS = cam, pts
	}
	return r.baseWall.Add(ticks(pts - r.basePTS))
}

// loss drops everything until the next keyframe: frames after a loss may
// reference what was lost and would not decode. It counts one lost AU per
// RTP timestamp: once the decoder refuses an AU (a 50 MB frame past its
// size limit), each of the AU's remaining fragments is refused too, and
// counting those counted one 50 MB frame as some 30,000 lost.
func (r *auReader) loss(ts uint32) {
	if !r.lossCounted || ts != r.lossTS {
		r.s.lost.Add(1)
		r.s.metrics.framesLost.Inc()
		r.lossTS, r.lossCounted = ts, true
	}
	r.synced = false
}

// scanParams notes in-band parameter sets and reports whether au is a
// random access point.
func (r *auReader) scanParams(au [][]byte) bool {
	changed := false
	if r.codec == CodecH264 {
		for _, n := range au {
			if len(n) == 0 {
				continue
			}
			switch h264.NALUType(n[0] & 0x1f) {
			case h264.NALUTypeSPS:
				if !bytes.Equal(n, r.sps) {
					r.sps, changed = append([]byte(nil), n...), true
				}
			case h264.NALUTypePPS:
				if !bytes.Equal(n, r.pps) {
					r.pps, changed = append([]byte(nil), n...), true
				}
			}
		}
		if changed {
			r.publishParams()
		}
		return h264.IsRandomAccess(au)
	}
	for _, n := range au {
		if len(n) < 2 {
			continue
		}
		switch h265.NALUType((n[0] >> 1) & 0x3f) {
		case h265.NALUType_VPS_NUT:
			if !bytes.Equal(n, r.vps) {
				r.vps, changed = append([]byte(nil), n...), true
			}
		case h265.NALUType_SPS_NUT:
			if !bytes.Equal(n, r.sps) {
				r.sps, changed = append([]byte(nil), n...), true
			}
		case h265.NALUType_PPS_NUT:
			if !bytes.Equal(n, r.pps) {
				r.pps, changed = append([]byte(nil), n...), true
			}
		}
	}
	if changed {
		r.publishParams()
	}
	return h265.IsRandomAccess(au)
}

// withParams prepends the parameter sets to a keyframe that lacks them, so
// every GOP in the ring decodes on its own and the DTS extractor always
// knows the SPS.
func (r *auReader) withParams(au [][]byte) [][]byte {
	has := false
	for _, n := range au {
		if len(n) == 0 {
			continue
		}
		if r.codec == CodecH264 {
			if h264.NALUType(n[0]&0x1f) == h264.NALUTypeSPS {
				has = true
			}
		} else if h265.NALUType((n[0]>>1)&0x3f) == h265.NALUType_SPS_NUT {
			has = true
		}
	}
	if has || r.sps == nil || r.pps == nil {
		return au
	}
	out := make([][]byte, 0, len(au)+3)
	if r.codec == CodecH265 && r.vps != nil {
		out = append(out, r.vps)
	}
	out = append(out, r.sps, r.pps)
	return append(out, au...)
}

func (r *auReader) publishParams() {
	w, h := 0, 0
	if r.sps != nil {
		if r.codec == CodecH264 {
			var p h264.SPS
			if p.Unmarshal(r.sps) == nil {
				w, h = p.Width(), p.Height()
			}
		} else {
			var p h265.SPS
			if p.Unmarshal(r.sps) == nil {
				w, h = p.Width(), p.Height()
			}
		}
	}
	r.s.setParams(r.codec, r.vps, r.sps, r.pps, w, h)
	r.s.ring.SetFormat(r.codec, w, h)
}

func rtpBytes(au [][]byte) int {
	n := 0
	for _, b := range au {
		n += len(b)
	}
	return n
}

// ticks converts 90 kHz ticks to a duration.
func ticks(t int64) time.Duration { return time.Duration(t) * time.Second / 90000 }

func absDur(d time.Duration) time.Duration {
	if d < 0 {
		return -d
	}
	return d
}
