package streams

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/bluenviron/gortsplib/v4"
	"github.com/bluenviron/gortsplib/v4/pkg/base"
	"github.com/bluenviron/gortsplib/v4/pkg/description"
	"github.com/bluenviron/gortsplib/v4/pkg/format"
	"github.com/bluenviron/gortsplib/v4/pkg/liberrors"
	"github.com/pion/rtp"

	"github.com/iocd/iocd/defs"
	"github.com/iocd/iocd/hostclock"
)

// sessionConfig is what a session needs from the manager.
type sessionConfig struct {
	transport   gortsplib.Transport
	readTimeout time.Duration
	backoffMin  time.Duration
	backoffMax  time.Duration
	retain      time.Duration
	maxBytes    int64
	// maxAUBytes drops (and counts) an access unit larger than this: one
	// camera's oversized frames must not take the memory of the others.
	maxAUBytes int
}

// session is one camera's supervised RTSP connection: a state machine
// (connecting, streaming, backing off) run by one goroutine, Run. The RTP
// callbacks, which gortsplib calls from its reader goroutine, write only the
// ring and atomic counters.
type session struct {
	dev     defs.Device // unredacted: holds the RTSP credentials
	cfg     sessionConfig
	log     *slog.Logger
	ring    *Ring
	publish func(defs.CameraState)
	metrics *metrics

	// Counters read by Stats; written by the callbacks and Run.
	frames     atomic.Uint64
	bytes      atomic.Uint64
	lost       atomic.Uint64 // AUs not buffered: decode errors and AUs after a loss until the next keyframe
	oversize   atomic.Uint64 // AUs dropped for exceeding maxAUBytes (also in lost)
	pktsLost   atomic.Uint64
	reconnects atomic.Uint64
	lastFrame  atomic.Int64 // Unix ns
	// The camera's clock: its offset from iocd's at the latest sender
	// report (ns), and when that came (Unix ns; 0: never).
	clockOffset atomic.Int64
	clockAt     atomic.Int64
	// maxKeyGap is the longest keyframe interval (ns) since the last stats
	// tick; lastKey is when the last keyframe arrived (Unix ns).
	maxKeyGap atomic.Int64
	lastKey   atomic.Int64
	// formatChanges counts changes of codec or resolution.
	formatChanges atomic.Uint64

	mu        sync.Mutex // guards the fields below
	connected bool
	state     defs.CameraSession
	reason    string // last failure's code (defs.CameraReason*), kept while retrying
	detail    string // last failure's scrubbed text
	since     time.Time
	attempts  int // connection attempts since the session last streamed
	codec     string
	width     int
	height    int
	vps       []byte
	sps       []byte
	pps       []byte
	dropped   chan struct{} // closed when the current connection ends
	// checks is the evidential gate at the last stats tick.
	checks []defs.EvidenceCheck
	host   hostclock.State
}

func newSession(dev defs.Device, cfg sessionConfig, ring *Ring, publish func(defs.CameraState), m *metrics, log *slog.Logger) *session {
	s := &session{
		dev:     dev,
		cfg:     cfg,
		log:     log.With("camera", dev.ID),
		ring:    ring,
		publish: publish,
		metrics: m,
		dropped: make(chan struct{}),
		state:   defs.CameraConnecting,
		since:   time.Now().UTC(),
	}
	close(s.dropped) // not connected yet
	return s
}

// cameraState returns the session's state as the bus and CameraStates
// carry it.
func (s *session) cameraState() defs.CameraState {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.stateLocked()
}

func (s *session) stateLocked() defs.CameraState {
	known, off := s.clock()
	return defs.CameraState{
		Camera: s.dev.ID, Site: s.dev.Site, State: s.state, Connected: s.state == defs.CameraStreaming,
		Reason: s.reason, Detail: s.detail, Since: s.since, At: time.Now().UTC(), Attempts: s.attempts,
		ClockReported: known, ClockOffsetMs: ms(off),
		HostClockSynced: s.host.Synced, HostClockErrorMs: s.host.ErrorMs,
		Evidential: Evidential(s.checks), EvidenceChecks: s.checks,
	}
}

// noteClock records the camera's clock offset from a sender report.
func (s *session) noteClock(offset time.Duration, at time.Time) {
	s.clockOffset.Store(int64(offset))
	s.clockAt.Store(at.UnixNano())
}

// clock returns whether the camera has reported its clock, and its offset.
func (s *session) clock() (bool, time.Duration) {
	if s.clockAt.Load() == 0 {
		return false, 0
	}
	return true, time.Duration(s.clockOffset.Load())
}

// noteKeyframeInterval keeps the longest keyframe interval of the tick.
func (s *session) noteKeyframeInterval(d time.Duration) {
	for {
		old := s.maxKeyGap.Load()
		if int64(d) <= old || s.maxKeyGap.CompareAndSwap(old, int64(d)) {
			return
		}
	}
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// enter moves the session to state and publishes it. Connecting counts an
// attempt and keeps the last failure's reason (the operator still needs
// it while the camera is retried); streaming clears it; backing off sets
// it. Every attempt is published, not only the end of a stream, so a
// camera that has never connected still tells why.
func (s *session) enter(state defs.CameraSession, reason, detail string) {
	s.mu.Lock()
	was := s.state
	switch state {
	case defs.CameraConnecting:
		s.attempts++
	case defs.CameraStreaming:
		s.reason, s.detail, s.attempts = "", "", 0
	case defs.CameraBackingOff:
		s.reason, s.detail = reason, detail
	}
	if state != was {
		s.since = time.Now().UTC()
	}
	s.state = state
	st := s.stateLocked()
	s.mu.Unlock()
	if was == defs.CameraStreaming && state != defs.CameraStreaming {
		s.metrics.connected.Dec()
	} else if was != defs.CameraStreaming && state == defs.CameraStreaming {
		s.metrics.connected.Inc()
	}
	s.publish(st)
}

// Run connects, streams until the connection fails, waits, and connects
// again, with the delay doubling from backoffMin to backoffMax. A
// connection that streamed for longer than backoffMax resets the delay.
func (s *session) Run(ctx context.Context) {
	delay := s.cfg.backoffMin
	var epoch int32
	// A stopping session (iocd shutting down, the camera removed or
	// changed) says so: stopped raises nothing, where a "not streaming"
	// state for every healthy camera would page someone on each restart.
	defer s.enter(defs.CameraStopped, "", "")
	for {
		epoch++
		started := time.Now()
		s.enter(defs.CameraConnecting, "", "")
		raw := s.stream(ctx, epoch)
		if ctx.Err() != nil {
			return
		}
		// Classify before scrubbing: the scrubbed copy loses the chain.
		reason := classify(raw)
		err := s.scrub(raw)
		s.enter(defs.CameraBackingOff, reason, errText(err))
		if time.Since(started) > s.cfg.backoffMax {
			delay = s.cfg.backoffMin
		}
		// The error may quote the URL; gortsplib strips credentials from
		// the URLs it prints, and we never add them.
		s.log.Warn("camera session ended; reconnecting", "reason", reason, "err", err, "retry_in", delay)
		s.reconnects.Add(1)
		s.metrics.reconnects.Inc()
		t := time.NewTimer(delay)
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
		delay = min(2*delay, s.cfg.backoffMax)
	}
}

// stream runs one connection until it fails or ctx ends.
func (s *session) stream(ctx context.Context, epoch int32) error {
	u, err := base.ParseURL(s.dev.RTSPURL)
	if err != nil {
		return errors.New("rtsp_url does not parse")
	}
	transport := s.cfg.transport
	// RTP of a payload type the SDP did not announce (a codec switched
	// without a new DESCRIBE) is dropped by gortsplib; counted here so the
	// no-video verdict can name the cause.
	var unannounced atomic.Uint64
	c := &gortsplib.Client{
		Scheme:      u.Scheme,
		Host:        u.Host,
		Transport:   &transport,
		ReadTimeout: s.cfg.readTimeout,
		OnPacketsLost: func(n uint64) {
			s.pktsLost.Add(n)
			s.metrics.packetsLost.Add(float64(n))
		},
		OnDecodeError: func(err error) {
			var pt liberrors.ErrClientRTPPacketUnknownPayloadType
			if errors.As(err, &pt) {
				unannounced.Add(1)
			}
			s.log.Debug("rtp decode error", "err", err)
		},
	}
	if err := c.Start2(); err != nil {
		return fmt.Errorf("starting client: %w", err)
	}
	defer c.Close()
	// Describe, Setup and Play each wait up to readTimeout for an answer,
	// so a camera that accepts TCP and never answers would hold a
	// stopping session that long. Closing the client ends them at once.
	stopClosing := context.AfterFunc(ctx, c.Close)
	defer stopClosing()

	desc, _, err := c.Describe(u)
	if err != nil {
		return fmt.Errorf("describe: %w", err)
	}
	rd, err := newAUReader(s, desc, epoch)
	if err != nil {
		return err
	}
	if _, err := c.Setup(desc.BaseURL, rd.media, 0, 0); err != nil {
		return fmt.Errorf("setup: %w", err)
	}
	c.OnPacketRTP(rd.media, rd.forma, func(pkt *rtp.Packet) { rd.onPacket(c, pkt) })
	c.OnPacketRTCP(rd.media, rd.onRTCP)
	if _, err := c.Play(nil); err != nil {
		return fmt.Errorf("play: %w", err)
	}
	// The watchdog counts from PLAY on this connection: lastFrame is
	// zero before the first frame ever, and after a reconnect still holds
	// the previous connection's time.
	playing := time.Now().UnixNano()

	dropped := make(chan struct{})
	s.mu.Lock()
	s.connected, s.dropped = true, dropped
	s.mu.Unlock()
	s.enter(defs.CameraStreaming, "", "")
	s.log.Info("camera connected", "codec", rd.codec)

	waitErr := make(chan error, 1)
	go func() { waitErr <- c.Wait() }()

	// A camera can keep the connection alive while sending nothing
	// decodable; the watchdog drops it after readTimeout without a frame
	// on this connection.
	watchdog := time.NewTicker(s.cfg.readTimeout / 2)
	defer watchdog.Stop()
	var cause error
loop:
	for {
		select {
		case <-ctx.Done():
			cause = ctx.Err()
			break loop
		case err := <-waitErr:
			cause = err
			break loop
		case now := <-watchdog.C:
			last := max(s.lastFrame.Load(), playing)
			if now.Sub(time.Unix(0, last)) > s.cfg.readTimeout {
				cause = errNoVideo{s.cfg.readTimeout, unannounced.Load()}
				break loop
			}
		}
	}
	c.Close()
	s.mu.Lock()
	s.connected = false
	close(dropped)
	s.mu.Unlock()
	return cause
}

// scrub removes the camera's credentials (userinfo password, secret query
// parameters) from an error's text: errors become log lines and the API's
// reason field, and a library may quote the URL.
func (s *session) scrub(err error) error {
	if err == nil {
		return nil
	}
	text := err.Error()
	if clean := defs.ScrubSecrets(text, s.dev.RTSPURL); clean != text {
		return errors.New(clean)
	}
	return err
}

func errText(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

// connState returns whether the session is connected and a channel closed
// when the current connection (if any) ends.
func (s *session) connState() (bool, <-chan struct{}) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.connected, s.dropped
}

// params returns the codec and its current parameter sets.
func (s *session) params() (codec string, vps, sps, pps []byte) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.codec, s.vps, s.sps, s.pps
}

// setParams records new parameter sets, from the SDP or the stream.
func (s *session) setParams(codec string, vps, sps, pps []byte, width, height int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.codec != "" && (codec != s.codec || width > 0 && s.width > 0 && (width != s.width || height != s.height)) {
		s.formatChanges.Add(1)
	}
	s.codec, s.vps, s.sps, s.pps = codec, vps, sps, pps
	if width > 0 {
		s.width, s.height = width, height
	}
}

// findVideo returns the first H.264 or H.265 format of desc.
func findVideo(desc *description.Session) (*description.Media, format.Format, error) {
	var h264f *format.H264
	if m := desc.FindFormat(&h264f); m != nil {
		return m, h264f, nil
	}
	var h265f *format.H265
	if m := desc.FindFormat(&h265f); m != nil {
		return m, h265f, nil
	}
	return nil, nil, errBadCodec{"camera offers neither H.264 nor H.265"}
}
