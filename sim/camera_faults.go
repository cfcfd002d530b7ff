package sim

// A misbehaving camera, for the fault tests: an RTSP server with one H.264
// stream that plays its recording like any simulated camera until told to
// misbehave, in one of the ways real cameras and encoders do.

import (
	"fmt"
	"math/rand/v2"
	"net"
	"sync"
	"time"

	"github.com/bluenviron/gortsplib/v4"
	"github.com/bluenviron/gortsplib/v4/pkg/base"
	"github.com/bluenviron/gortsplib/v4/pkg/description"
	"github.com/bluenviron/gortsplib/v4/pkg/format"
	"github.com/bluenviron/gortsplib/v4/pkg/format/rtph264"
	"github.com/bluenviron/gortsplib/v4/pkg/format/rtph265"
	"github.com/pion/rtp"
)

// Fault is how a FaultyCamera misbehaves.
type Fault string

// The faults a FaultyCamera can play.
const (
	// FaultNone streams the recording normally.
	FaultNone Fault = ""
	// FaultGarbage sends RTP packets with valid headers and random
	// payloads in place of the frames.
	FaultGarbage Fault = "garbage"
	// FaultUnannounced sends H.265 frames under a payload type the SDP
	// did not announce (a camera that switched codec without telling).
	FaultUnannounced Fault = "unannounced"
	// FaultHugeAU sends an access unit of the size given to SetFault
	// every 2 s, and the recording's frames in between.
	FaultHugeAU Fault = "huge_au"
	// FaultStall sends the first half of a keyframe's packets, then
	// nothing, keeping the connection open.
	FaultStall Fault = "stall"
)

// FaultyCamera is an RTSP server of one H.264 camera that misbehaves on
// demand. Its URL path is /cam.
type FaultyCamera struct {
	server *gortsplib.Server
	// stream carries the video, and knows both payload types; announce
	// is what DESCRIBE answers: the same media with H.264 only.
	stream   *gortsplib.ServerStream
	announce *gortsplib.ServerStream
	medi     *description.Media
	addr     string
	h264     *rtph264.Encoder
	h265     *rtph265.Encoder
	rec      *Recording
	rec265   *Recording

	mu        sync.Mutex
	fault     Fault
	hugeBytes int
	faultDone bool // the one-shot part of the fault (huge AU, stall) was sent

	stop chan struct{}
	done chan struct{}
	once sync.Once
}

// hiddenPT is the payload type FaultUnannounced sends under.
const hiddenPT = 97

// NewFaultyCamera starts a faulty camera on a free loopback port.
func NewFaultyCamera() (*FaultyCamera, error) {
	rec, err := LoadRecording(H264)
	if err != nil {
		return nil, err
	}
	rec265, err := LoadRecording(H265)
	if err != nil {
		return nil, err
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("finding a free port: %w", err)
	}
	addr := l.Addr().String()
	l.Close()
	f264 := &format.H264{PayloadTyp: 96, PacketizationMode: 1, SPS: rec.SPS, PPS: rec.PPS}
	e264, err := f264.CreateEncoder()
	if err != nil {
		return nil, fmt.Errorf("creating h264 encoder: %w", err)
	}
	f265 := &format.H265{PayloadTyp: hiddenPT, VPS: rec265.VPS, SPS: rec265.SPS, PPS: rec265.PPS}
	e265, err := f265.CreateEncoder()
	if err != nil {
		return nil, fmt.Errorf("creating h265 encoder: %w", err)
	}
	c := &FaultyCamera{addr: addr, h264: e264, h265: e265, rec: rec, rec265: rec265, hugeBytes: 50 << 20,
		stop: make(chan struct{}), done: make(chan struct{})}
	// The stream that plays knows both formats, so it can send under
	// either payload type; DESCRIBE answers from another that announces
	// H.264 only, and SETUP (by track index) picks the playing one.
	c.medi = &description.Media{Type: description.MediaTypeVideo, Formats: []format.Format{f264, f265}}
	c.server = &gortsplib.Server{Handler: (*faultyHandler)(c), RTSPAddress: addr, WriteQueueSize: 4096}
	if err := c.server.Start(); err != nil {
		return nil, fmt.Errorf("starting rtsp server: %w", err)
	}
	c.stream = &gortsplib.ServerStream{Server: c.server, Desc: &description.Session{Medias: []*description.Media{c.medi}}}
	if err := c.stream.Initialize(); err != nil {
		c.server.Close()
		return nil, fmt.Errorf("creating stream: %w", err)
	}
	c.announce = &gortsplib.ServerStream{Server: c.server, Desc: &description.Session{Medias: []*description.Media{{
		Type: description.MediaTypeVideo, Formats: []format.Format{f264}}}}}
	if err := c.announce.Initialize(); err != nil {
		c.stream.Close()
		c.server.Close()
		return nil, fmt.Errorf("creating stream: %w", err)
	}
	go c.feed()
	return c, nil
}

// URL returns the camera's RTSP URL.
func (c *FaultyCamera) URL() string { return fmt.Sprintf("rtsp://%s/cam", c.addr) }

// SetFault starts playing f (FaultNone: behave again). hugeBytes sets
// the size of FaultHugeAU's access unit (default 50 MB) if not 0.
func (c *FaultyCamera) SetFault(f Fault, hugeBytes int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.fault, c.faultDone = f, false
	if hugeBytes > 0 {
		c.hugeBytes = hugeBytes
	}
}

// Close stops the camera and waits for its feeder.
func (c *FaultyCamera) Close() {
	c.once.Do(func() {
		close(c.stop)
		<-c.done
		c.stream.Close()
		c.announce.Close()
		c.server.Close()
	})
}

func (c *FaultyCamera) feed() {
	defer close(c.done)
	// Seeded: a run's garbage is the same every time.
	rnd := rand.New(rand.NewPCG(1, 2))
	t := time.NewTicker(c.rec.FrameDuration)
	defer t.Stop()
	ts := uint32(rnd.Uint32())
	step := uint32(90000 * c.rec.FrameDuration / time.Second)
	for n := 0; ; n++ {
		select {
		case <-c.stop:
			return
		case <-t.C:
		}
		ts += step
		c.mu.Lock()
		fault, done, huge := c.fault, c.faultDone, c.hugeBytes
		c.faultDone = true
		c.mu.Unlock()
		frame := c.rec.Frames[n%len(c.rec.Frames)].NALUs
		var pkts []*rtp.Packet
		var err error
		switch fault {
		case FaultNone:
			pkts, err = c.h264.Encode(frame)
		case FaultGarbage:
			pkts, err = c.h264.Encode(frame)
			for _, p := range pkts {
				garbage := make([]byte, len(p.Payload))
				for i := range garbage {
					garbage[i] = byte(rnd.UintN(256))
				}
				p.Payload = garbage
			}
		case FaultUnannounced:
			pkts, err = c.h265.Encode(c.rec265.Frames[n%len(c.rec265.Frames)].NALUs)
		case FaultHugeAU:
			// Once at the start of the fault and every 2 s while it
			// holds; the recording's frames in between.
			if done && n%50 != 0 {
				pkts, err = c.h264.Encode(frame)
				break
			}
			nalu := make([]byte, huge)
			nalu[0] = 0x41 // a non-IDR slice
			pkts, err = c.h264.Encode([][]byte{nalu})
		case FaultStall:
			if done {
				continue // nothing more: the connection stays open
			}
			pkts, err = c.h264.Encode(c.rec.Frames[0].NALUs) // the keyframe
			pkts = pkts[:max(1, len(pkts)/2)]
			if len(pkts) > 0 {
				pkts[len(pkts)-1].Marker = false
			}
		}
		if err != nil {
			continue
		}
		for i, p := range pkts {
			p.Timestamp = ts
			if err := c.stream.WritePacketRTPWithNTP(c.medi, p, time.Now()); err != nil {
				break
			}
			// A huge access unit is paced so that it arrives whole
			// rather than overflowing the write queue.
			if i%512 == 511 {
				select {
				case <-c.stop:
					return
				case <-time.After(10 * time.Millisecond):
				}
			}
		}
	}
}

type faultyHandler FaultyCamera

// OnDescribe implements gortsplib.ServerHandlerOnDescribe.
func (h *faultyHandler) OnDescribe(*gortsplib.ServerHandlerOnDescribeCtx) (*base.Response, *gortsplib.ServerStream, error) {
	return &base.Response{StatusCode: base.StatusOK}, h.announce, nil
}

// OnSetup implements gortsplib.ServerHandlerOnSetup.
func (h *faultyHandler) OnSetup(*gortsplib.ServerHandlerOnSetupCtx) (*base.Response, *gortsplib.ServerStream, error) {
	return &base.Response{StatusCode: base.StatusOK}, h.stream, nil
}

// OnPlay implements gortsplib.ServerHandlerOnPlay.
func (h *faultyHandler) OnPlay(*gortsplib.ServerHandlerOnPlayCtx) (*base.Response, error) {
	return &base.Response{StatusCode: base.StatusOK}, nil
}

// OnStreamWriteError implements gortsplib.ServerHandlerOnStreamWriteError:
// a reader that cannot keep up loses packets, which is one of the faults.
func (h *faultyHandler) OnStreamWriteError(*gortsplib.ServerHandlerOnStreamWriteErrorCtx) {}
