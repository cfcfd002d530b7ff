package sim

// The camera simulator: one in-process gortsplib server that serves any
// number of simulated cameras, each on its own path, each looping a
// Recording as RTP with ever-increasing timestamps and RTCP sender reports
// (gortsplib's ServerStream sends them from the NTP time given with each
// packet). One feeder goroutine drives every camera, so 200 cameras cost
// one timer, not 200.
//
// Sender reports are the simulator's own, not gortsplib's: gortsplib
// v4.16.2 writes nanoseconds where RFC 3550 has the NTP fraction (its
// issue #869), which a real camera does not, and its reports come every
// 10 s from the stream's start. Each camera sends RFC 3550 reports every
// CameraSpec.SenderReportEvery, from its own clock (host time plus
// CameraSpec.ClockOffset), and on demand (SendSenderReport).
//
// Every camera's loop is aligned to the wall clock: frame n of the
// recording is sent when the wall clock's seconds, modulo the loop length,
// equal the frame's offset. With the 10 s recordings this makes the counter
// burnt into the picture read the wall clock's seconds modulo 10.

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strings"
	"sync"
	"time"

	"github.com/bluenviron/gortsplib/v4"
	"github.com/bluenviron/gortsplib/v4/pkg/auth"
	"github.com/bluenviron/gortsplib/v4/pkg/base"
	"github.com/bluenviron/gortsplib/v4/pkg/description"
	"github.com/bluenviron/gortsplib/v4/pkg/format"
	"github.com/bluenviron/gortsplib/v4/pkg/liberrors"
	"github.com/pion/rtcp"
	"github.com/pion/rtp"
)

// CameraServer is an RTSP server of simulated cameras.
type CameraServer struct {
	log    *slog.Logger
	server *gortsplib.Server
	addr   string

	mu      sync.RWMutex
	cameras map[string]*Camera // by path, without the leading slash

	stop chan struct{}
	done chan struct{}
	once sync.Once
}

// CameraSpec describes one simulated camera.
type CameraSpec struct {
	// Path is the RTSP path, e.g. "cam1" for rtsp://host:port/cam1.
	Path string
	// Recording is what the camera loops.
	Recording *Recording
	// User and Pass, if set, are required (Basic or Digest).
	User, Pass string
	// ClockOffset is how far the camera's clock (the NTP time of its RTCP
	// sender reports) is ahead of the host's; negative: behind.
	ClockOffset time.Duration
	// FPS, if set, streams the recording's frames at this rate instead of
	// its own (slow or fast motion, every frame kept, so it decodes).
	FPS float64
	// SenderReportEvery is the RTCP sender report interval: 0 is 2 s, a
	// negative value sends none but those asked for by SendSenderReport.
	SenderReportEvery time.Duration
}

// Camera is one simulated camera.
type Camera struct {
	srv  *CameraServer
	spec CameraSpec
	desc *description.Session
	enc  rtpEncoder

	// guarded by srv.mu
	stream  *gortsplib.ServerStream
	down    bool
	next    int64 // absolute frame number to send next
	rtpBase uint32
	lastSR  time.Time
	srSent  int
}

type rtpEncoder interface {
	Encode(au [][]byte) ([]*rtp.Packet, error)
}

// ServerOption changes how a CameraServer serves.
type ServerOption func(*gortsplib.Server) error

// WithUDP also serves RTP over UDP, on two free loopback ports.
func WithUDP() ServerOption {
	return func(s *gortsplib.Server) error {
		// gortsplib wants an even RTP port and RTCP on the next one.
		for range 50 {
			c, err := net.ListenPacket("udp", "127.0.0.1:0")
			if err != nil {
				return err
			}
			port := c.LocalAddr().(*net.UDPAddr).Port &^ 1
			c.Close()
			a, err1 := net.ListenPacket("udp", fmt.Sprintf("127.0.0.1:%d", port))
			b, err2 := net.ListenPacket("udp", fmt.Sprintf("127.0.0.1:%d", port+1))
			if a != nil {
				a.Close()
			}
			if b != nil {
				b.Close()
			}
			if err1 == nil && err2 == nil {
				s.UDPRTPAddress = fmt.Sprintf("127.0.0.1:%d", port)
				s.UDPRTCPAddress = fmt.Sprintf("127.0.0.1:%d", port+1)
				return nil
			}
		}
		return errors.New("no free pair of udp ports")
	}
}

// WithAuth restricts the authentication methods the server offers
// (default: Basic and Digest MD5).
func WithAuth(methods ...auth.VerifyMethod) ServerOption {
	return func(s *gortsplib.Server) error {
		s.AuthMethods = methods
		return nil
	}
}

// NewCameraServer starts an RTSP server on addr (use "127.0.0.1:0" for a
// free loopback port in tests).
func NewCameraServer(addr string, log *slog.Logger, opts ...ServerOption) (*CameraServer, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	// gortsplib wants a concrete port; pick a free one ourselves.
	if strings.HasSuffix(addr, ":0") {
		l, err := net.Listen("tcp", addr)
		if err != nil {
			return nil, fmt.Errorf("finding a free port: %w", err)
		}
		addr = l.Addr().String()
		l.Close()
	}
	s := &CameraServer{
		log:     log,
		addr:    addr,
		cameras: map[string]*Camera{},
		stop:    make(chan struct{}),
		done:    make(chan struct{}),
	}
	s.server = &gortsplib.Server{
		Handler:        (*serverHandler)(s),
		RTSPAddress:    addr,
		WriteQueueSize: 4096,
		// The cameras send their own, RFC 3550, sender reports.
		DisableRTCPSenderReports: true,
	}
	for _, o := range opts {
		if err := o(s.server); err != nil {
			return nil, fmt.Errorf("configuring rtsp server: %w", err)
		}
	}
	if err := s.server.Start(); err != nil {
		return nil, fmt.Errorf("starting rtsp server: %w", err)
	}
	go s.feed()
	return s, nil
}

// Addr returns the server's host:port.
func (s *CameraServer) Addr() string { return s.addr }

// Close stops every camera and the server, and waits for the feeder.
func (s *CameraServer) Close() {
	s.once.Do(func() {
		close(s.stop)
		<-s.done
		s.mu.Lock()
		for _, c := range s.cameras {
			if c.stream != nil {
				c.stream.Close()
				c.stream = nil
			}
		}
		s.mu.Unlock()
		s.server.Close()
	})
}

// AddCamera starts serving a camera.
func (s *CameraServer) AddCamera(spec CameraSpec) (*Camera, error) {
	rec := spec.Recording
	var forma format.Format
	var enc rtpEncoder
	switch rec.Codec {
	case H264:
		f := &format.H264{PayloadTyp: 96, PacketizationMode: 1, SPS: rec.SPS, PPS: rec.PPS}
		e, err := f.CreateEncoder()
		if err != nil {
			return nil, fmt.Errorf("creating h264 encoder: %w", err)
		}
		forma, enc = f, e
	case H265:
		f := &format.H265{PayloadTyp: 96, VPS: rec.VPS, SPS: rec.SPS, PPS: rec.PPS}
		e, err := f.CreateEncoder()
		if err != nil {
			return nil, fmt.Errorf("creating h265 encoder: %w", err)
		}
		forma, enc = f, e
	default:
		return nil, fmt.Errorf("unknown codec %q", rec.Codec)
	}
	c := &Camera{
		srv:  s,
		spec: spec,
		desc: &description.Session{Medias: []*description.Media{{
			Type:    description.MediaTypeVideo,
			Formats: []format.Format{forma},
		}}},
		enc: enc,
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, dup := s.cameras[spec.Path]; dup {
		return nil, fmt.Errorf("camera path %q already served", spec.Path)
	}
	if err := c.startLocked(); err != nil {
		return nil, err
	}
	s.cameras[spec.Path] = c
	return c, nil
}

// URL returns the camera's RTSP URL, with its credentials if it has any.
func (c *Camera) URL() string {
	if c.spec.User != "" {
		return fmt.Sprintf("rtsp://%s:%s@%s/%s", c.spec.User, c.spec.Pass, c.srv.addr, c.spec.Path)
	}
	return fmt.Sprintf("rtsp://%s/%s", c.srv.addr, c.spec.Path)
}

// SetDown takes the camera off the air (its readers are disconnected and
// new ones refused) or puts it back, as a camera losing power would.
func (c *Camera) SetDown(down bool) error {
	c.srv.mu.Lock()
	defer c.srv.mu.Unlock()
	if down == c.down {
		return nil
	}
	c.down = down
	if down {
		c.stream.Close()
		c.stream = nil
		return nil
	}
	return c.startLocked()
}

func (c *Camera) startLocked() error {
	st := &gortsplib.ServerStream{Server: c.srv.server, Desc: c.desc}
	if err := st.Initialize(); err != nil {
		return fmt.Errorf("creating stream: %w", err)
	}
	c.stream = st
	// Start at the frame the wall clock says is current, so the burnt-in
	// counter keeps matching the clock across restarts.
	now := time.Now()
	c.next = now.UnixNano() / int64(c.frameDuration())
	c.rtpBase = uint32(now.UnixNano())
	c.lastSR = now
	return nil
}

// frameDuration is the interval between the frames the camera sends.
func (c *Camera) frameDuration() time.Duration {
	if c.spec.FPS > 0 {
		return time.Duration(float64(time.Second) / c.spec.FPS)
	}
	return c.spec.Recording.FrameDuration
}

// rtpAt returns the RTP timestamp of host time t (Unix ns): frame n's
// timestamp plus the ticks since it was due.
func (c *Camera) rtpAt(t int64) uint32 {
	fd := int64(c.frameDuration())
	n, rest := t/fd, t%fd
	return c.rtpBase + uint32(n*(90000*fd/int64(time.Second))) + uint32(rest*90000/int64(time.Second))
}

// SendSenderReport sends an RTCP sender report now to the camera's readers.
func (c *Camera) SendSenderReport() error {
	c.srv.mu.Lock()
	defer c.srv.mu.Unlock()
	if c.stream == nil {
		return errors.New("camera is down")
	}
	return c.sendSRLocked(time.Now())
}

// SenderReports returns how many sender reports the camera has sent.
func (c *Camera) SenderReports() int {
	c.srv.mu.RLock()
	defer c.srv.mu.RUnlock()
	return c.srSent
}

func (c *Camera) sendSRLocked(now time.Time) error {
	c.lastSR = now
	sr := &rtcp.SenderReport{
		NTPTime: NTPTime(now.Add(c.spec.ClockOffset)),
		RTPTime: c.rtpAt(now.UnixNano()),
	}
	// The report names the stream's SSRC, as a camera's does (gortsplib's
	// client ignores reports for an SSRC it has not seen).
	medi := c.desc.Medias[0]
	if st := c.stream.Stats(); st != nil {
		sr.SSRC = st.Medias[medi].Formats[medi.Formats[0]].LocalSSRC
	}
	if err := c.stream.WritePacketRTCP(medi, sr); err != nil {
		return fmt.Errorf("sending sender report: %w", err)
	}
	c.srSent++
	return nil
}

// NTPTime returns t as an RFC 3550 NTP timestamp: seconds since 1900 in
// the high 32 bits, the fraction of a second in units of 2^-32 below.
func NTPTime(t time.Time) uint64 {
	secs := uint64(t.Unix() + 2208988800)
	frac := (uint64(t.Nanosecond()) << 32) / uint64(time.Second)
	return secs<<32 | frac
}

// feed sends every camera's due frames every few milliseconds.
func (s *CameraServer) feed() {
	defer close(s.done)
	t := time.NewTicker(5 * time.Millisecond)
	defer t.Stop()
	for {
		select {
		case <-s.stop:
			return
		case now := <-t.C:
			s.mu.Lock()
			for _, c := range s.cameras {
				if c.stream != nil {
					c.sendDue(now)
				}
			}
			s.mu.Unlock()
		}
	}
}

// sendDue sends the frames whose time has come. Frame n (counted from the
// Unix epoch in frame durations) is due at n*FrameDuration and shows
// recording frame n mod len(Frames).
func (c *Camera) sendDue(now time.Time) {
	rec := c.spec.Recording
	fd := int64(c.frameDuration())
	due := now.UnixNano() / fd
	if due-c.next > int64(len(rec.Frames)) {
		// The feeder stalled for a whole loop; skip ahead rather than burst.
		c.next = due
	}
	medi := c.desc.Medias[0]
	for ; c.next <= due; c.next++ {
		f := rec.Frames[c.next%int64(len(rec.Frames))]
		pkts, err := c.enc.Encode(f.NALUs)
		if err != nil {
			s := c.srv
			s.log.Warn("encoding frame", "camera", c.spec.Path, "error", err)
			continue
		}
		ts := c.rtpBase + uint32(c.next*(90000*fd/int64(time.Second)))
		ntp := time.Unix(0, c.next*fd).Add(c.spec.ClockOffset)
		for _, p := range pkts {
			p.Timestamp = ts
			if err := c.stream.WritePacketRTPWithNTP(medi, p, ntp); err != nil {
				return
			}
		}
	}
	every := c.spec.SenderReportEvery
	if every == 0 {
		every = 2 * time.Second
	}
	if every > 0 && now.Sub(c.lastSR) >= every {
		if err := c.sendSRLocked(now); err != nil {
			c.srv.log.Warn("sending sender report", "camera", c.spec.Path, "error", err)
		}
	}
}

type serverHandler CameraServer

func (h *serverHandler) camera(path string, conn *gortsplib.ServerConn, req *base.Request) (*base.Response, *gortsplib.ServerStream, error) {
	path = strings.TrimPrefix(path, "/")
	h.mu.RLock()
	c, ok := h.cameras[path]
	if !ok {
		// SETUP may name the media: "cam1/trackID=0".
		if i := strings.LastIndexByte(path, '/'); i > 0 {
			c, ok = h.cameras[path[:i]]
		}
	}
	var st *gortsplib.ServerStream
	if ok {
		st = c.stream
	}
	h.mu.RUnlock()
	if !ok || st == nil {
		return &base.Response{StatusCode: base.StatusNotFound}, nil, errors.New("camera not found or down")
	}
	if c.spec.User != "" && !conn.VerifyCredentials(req, c.spec.User, c.spec.Pass) {
		return &base.Response{StatusCode: base.StatusUnauthorized}, nil, liberrors.ErrServerAuth{}
	}
	return &base.Response{StatusCode: base.StatusOK}, st, nil
}

// OnDescribe implements gortsplib.ServerHandlerOnDescribe.
func (h *serverHandler) OnDescribe(ctx *gortsplib.ServerHandlerOnDescribeCtx) (*base.Response, *gortsplib.ServerStream, error) {
	return h.camera(ctx.Path, ctx.Conn, ctx.Request)
}

// OnSetup implements gortsplib.ServerHandlerOnSetup.
func (h *serverHandler) OnSetup(ctx *gortsplib.ServerHandlerOnSetupCtx) (*base.Response, *gortsplib.ServerStream, error) {
	return h.camera(ctx.Path, ctx.Conn, ctx.Request)
}

// OnPlay implements gortsplib.ServerHandlerOnPlay.
func (h *serverHandler) OnPlay(*gortsplib.ServerHandlerOnPlayCtx) (*base.Response, error) {
	return &base.Response{StatusCode: base.StatusOK}, nil
}
