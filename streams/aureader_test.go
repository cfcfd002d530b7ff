package streams

import (
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/iocd/iocd/hostclock"
)

// TestReconnectBeforeSenderReportKeepsGap constructs a reconnect whose new
// connection streams before its first RTCP sender report, from a camera
// whose clock is ahead of iocd's: the previous connection's frames are on
// the camera's clock, the new one's, until its report, on receipt time.
// The gap between them must stay what it was by the camera's clock, so
// that the muxer holds the last frame before it for as long: timed by
// receipt alone, the new connection's first frame lands before the old
// one's last, the gap is named with no length, and the clip holds the
// last frame one 90 kHz tick.
func TestReconnectBeforeSenderReportKeepsGap(t *testing.T) {
	const frame = 40 * time.Millisecond
	h0 := time.Unix(1_700_000_000, 0) // iocd's clock at the first frame
	for _, tc := range []struct {
		name   string
		offset time.Duration // the camera's clock minus iocd's
	}{
		{"camera ahead", 300 * time.Millisecond},
		{"camera behind", -300 * time.Millisecond},
		{"camera on time", 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := &session{ring: NewRing(time.Minute, 1<<30)}
			// Connection 1: a sender report at its first frame, then 50
			// frames (2 s), keyframes every 25.
			c1 := &auReader{s: s, epoch: 1, clockRate: 90000}
			c1.sr.Store(&senderReport{ntp: h0.Add(tc.offset), rtp: 1000})
			s.noteClock(tc.offset, h0)
			for i := range 50 {
				pts := int64(i) * 3600
				wall := c1.stamp(h0.Add(time.Duration(i)*frame), uint32(1000+pts), pts)
				s.ring.Append([][]byte{{byte(i)}}, i%25 == 0, wall, pts, pts, 1)
			}
			// The camera is away for 5 frames (200 ms); connection 2
			// starts on a keyframe with fresh RTP and PTS origins and no
			// sender report yet.
			c2 := &auReader{s: s, epoch: 2, clockRate: 90000}
			for j := range 50 {
				pts := int64(j) * 3600
				wall := c2.stamp(h0.Add(time.Duration(55+j)*frame), uint32(777_777+pts), pts)
				s.ring.Append([][]byte{{byte(j)}}, j%25 == 0, wall, pts, pts, 2)
			}

			cam := func(i int) time.Time { return h0.Add(tc.offset + time.Duration(i)*frame) }
			c := s.ring.cut(cam(10), cam(104))
			if len(c.samples) != 50+50 {
				t.Fatalf("want 100 samples, got %d", len(c.samples))
			}
			for i := 1; i < len(c.samples); i++ {
				if !c.samples[i].Wall.After(c.samples[i-1].Wall) {
					t.Fatalf("sample %d at %s is not after sample %d at %s: the timeline goes back at the reconnect",
						i, c.samples[i].Wall.Format(time.RFC3339Nano), i-1, c.samples[i-1].Wall.Format(time.RFC3339Nano))
				}
			}
			// The held frame: connection 1's last until connection 2's
			// first, 6 frame intervals by the camera's clock.
			last, first := c.samples[49], c.samples[50]
			if first.Epoch != 2 || !first.Key {
				t.Fatalf("want sample 50 to be connection 2's keyframe, got epoch %d key %v", first.Epoch, first.Key)
			}
			if hold, want := first.Wall.Sub(last.Wall), 6*frame; hold != want {
				t.Errorf("last frame before the reconnect held %s, want %s", hold, want)
			}
			want := []Gap{{From: cam(50), To: cam(55), Reconnect: true}}
			if len(c.gaps) != 1 || !c.gaps[0].From.Equal(want[0].From) || !c.gaps[0].To.Equal(want[0].To) || !c.gaps[0].Reconnect {
				t.Errorf("gaps: want %+v, got %+v", want, c.gaps)
			}
		})
	}
}

// The fragments of one refused access unit are one lost frame: the
// decoder refuses every fragment after the first refusal (a 50 MB frame
// is 36,000 of them), and the camera's frames_lost must not count each.
func TestLossCountsOneFramePerAccessUnit(t *testing.T) {
	s := &session{metrics: newMetrics(prometheus.NewRegistry(), hostclock.Fixed(hostclock.State{Synced: true}))}
	r := &auReader{s: s, epoch: 1, synced: true}
	for range 36_000 {
		r.loss(90_000) // one AU's fragments
	}
	r.loss(93_600) // the next AU
	r.loss(93_600)
	if got := s.lost.Load(); got != 2 {
		t.Errorf("want 2 frames lost for two refused access units, got %d", got)
	}
	if r.synced {
		t.Error("want the reader waiting for a keyframe after a loss")
	}
}
