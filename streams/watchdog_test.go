package streams_test

import (
	"fmt"
	"net"
	"testing"
	"time"

	"github.com/bluenviron/gortsplib/v4"
	"github.com/bluenviron/gortsplib/v4/pkg/base"
	"github.com/bluenviron/gortsplib/v4/pkg/description"
	"github.com/bluenviron/gortsplib/v4/pkg/format"

	"github.com/iocd/iocd/bus"
	"github.com/iocd/iocd/config"
	"github.com/iocd/iocd/defs"
	"github.com/iocd/iocd/sim"
	"github.com/iocd/iocd/streams"
)

// undecodableCamera serves one H.264 stream that answers DESCRIBE, SETUP
// and PLAY but then sends only P slices, never a keyframe: the connection
// stays alive (gortsplib's own read timeout never fires, packets keep
// arriving) while no frame can ever be buffered. Only the session's
// no-video watchdog can drop it.
type undecodableCamera struct {
	stream *gortsplib.ServerStream
}

func (h *undecodableCamera) OnDescribe(*gortsplib.ServerHandlerOnDescribeCtx) (*base.Response, *gortsplib.ServerStream, error) {
	return &base.Response{StatusCode: base.StatusOK}, h.stream, nil
}

func (h *undecodableCamera) OnSetup(*gortsplib.ServerHandlerOnSetupCtx) (*base.Response, *gortsplib.ServerStream, error) {
	return &base.Response{StatusCode: base.StatusOK}, h.stream, nil
}

func (h *undecodableCamera) OnPlay(*gortsplib.ServerHandlerOnPlayCtx) (*base.Response, error) {
	return &base.Response{StatusCode: base.StatusOK}, nil
}

// startUndecodableCamera returns the camera's URL; it stops with the test.
func startUndecodableCamera(t *testing.T) string {
	t.Helper()
	rec, err := sim.LoadRecording(sim.H264)
	if err != nil {
		t.Fatal(err)
	}
	// gortsplib wants a concrete port.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	forma := &format.H264{PayloadTyp: 96, PacketizationMode: 1, SPS: rec.SPS, PPS: rec.PPS}
	enc, err := forma.CreateEncoder()
	if err != nil {
		t.Fatal(err)
	}
	medi := &description.Media{Type: description.MediaTypeVideo, Formats: []format.Format{forma}}
	h := &undecodableCamera{}
	srv := &gortsplib.Server{Handler: h, RTSPAddress: addr}
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	h.stream = &gortsplib.ServerStream{Server: srv, Desc: &description.Session{Medias: []*description.Media{medi}}}
	if err := h.stream.Initialize(); err != nil {
		srv.Close()
		t.Fatal(err)
	}
	stop, done := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(done)
		tick := time.NewTicker(40 * time.Millisecond)
		defer tick.Stop()
		pSlice := append([]byte{0x41}, make([]byte, 200)...) // nal_unit_type 1: non-IDR slice
		for ts := uint32(0); ; ts += 3600 {
			select {
			case <-stop:
				return
			case <-tick.C:
			}
			pkts, err := enc.Encode([][]byte{pSlice})
			if err != nil {
				return // the session sees no packets and the test fails with a clear message
			}
			for _, p := range pkts {
				p.Timestamp = ts
				h.stream.WritePacketRTP(medi, p)
			}
		}
	}()
	t.Cleanup(func() {
		close(stop)
		<-done
		h.stream.Close()
		srv.Close()
	})
	return fmt.Sprintf("rtsp://%s/cam", addr)
}

// A camera that plays but never sends a decodable frame is dropped after
// read_timeout on its first connection, and on every one after it.
func TestNoVideoWatchdog(t *testing.T) {
	url := startUndecodableCamera(t)
	reg := &registry{}
	reg.set(camera("mute", url))
	sc, vc := testConfig()
	sc.ReadTimeout = config.Duration(time.Second)
	bs := bus.New(nil)
	states := bs.Subscribe("test", defs.Mask(defs.EventCamera), 64)
	defer states.Close()
	m := streams.New(sc, vc, reg, bs, nil, nil, nil)
	runManager(t, m)

	// Two connections, each connected and then dropped by the watchdog.
	want := []string{"up", "down: no_video: no video for 1s", "up", "down: no_video: no video for 1s"}
	var got []string
	timeout := time.After(15 * time.Second)
	for len(got) < len(want) {
		select {
		case ev := <-states.C():
			switch ev.Camera.State {
			case defs.CameraStreaming:
				got = append(got, "up")
			case defs.CameraBackingOff:
				got = append(got, "down: "+ev.Camera.Reason+": "+ev.Camera.Detail)
			}
		case <-timeout:
			t.Fatalf("camera states: want %q, got only %q in 15 s", want, got)
		}
	}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("camera states: want %q, got %q", want, got)
		}
	}
	// The packets kept the connection alive (else gortsplib's own timeout
	// would have named the cause), and none of them made a frame.
	if st := m.Cameras(); len(st) != 1 || st[0].Frames != 0 || !st[0].LastFrameAt.IsZero() {
		t.Errorf("want no frame ever buffered, got %+v", st)
	}
}
