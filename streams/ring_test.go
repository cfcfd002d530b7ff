package streams

import (
	"bytes"
	"testing"
	"time"
)

// fill appends n frames at 25 fps with a keyframe every gop frames,
// starting at t0, each frame's single NAL unit filled with its index.
func fill(r *Ring, t0 time.Time, first, n, gop int, epoch int32, size int) {
	for i := first; i < first+n; i++ {
		nalu := bytes.Repeat([]byte{byte(i)}, size)
		wall := t0.Add(time.Duration(i) * 40 * time.Millisecond)
		r.Append([][]byte{nalu}, i%gop == 0, wall, int64(i)*3600, int64(i)*3600, epoch)
	}
}

func TestRingKeepsRetainPlusOneGOP(t *testing.T) {
	t0 := time.Unix(1_700_000_000, 0)
	r := NewRing(3*time.Second, 1<<30)
	fill(r, t0, 0, 250, 25, 1, 1000) // 10 s
	st := r.Stats()
	// Newest frame at 9.96 s; the oldest kept GOP must start at or before
	// 9.96 - 3 = 6.96 s, and dropping it would not leave 3 s: 6 s.
	if st.Span < 3*time.Second || st.Span > 4*time.Second {
		t.Errorf("span: want between 3 s and 3 s + one GOP, got %s", st.Span)
	}
	if want := int64(100 * 1004); st.Bytes != want {
		t.Errorf("bytes held: want %d (100 frames of 1000 + 4), got %d", want, st.Bytes)
	}
	if st.Allocated < st.Bytes || float64(st.Allocated) > float64(st.Bytes)*1.5 {
		t.Errorf("allocated: want a little over %d, got %d", st.Bytes, st.Allocated)
	}
}

func TestRingCut(t *testing.T) {
	t0 := time.Unix(1_700_000_000, 0)
	at := func(frame int) time.Time { return t0.Add(time.Duration(frame) * 40 * time.Millisecond) }
	r := NewRing(time.Minute, 1<<30)
	fill(r, t0, 0, 100, 25, 1, 3000)   // frames 0-99, connection 1
	fill(r, t0, 150, 100, 25, 2, 3000) // frames 150-249 after a reconnect
	tests := []struct {
		name             string
		from, to         time.Time
		wantFirst, wantN int
		wantComplete     bool
		wantGaps         []Gap
	}{
		{"starts at the keyframe before from", at(30), at(60), 25, 36, true, nil},
		{"from on a keyframe", at(50), at(55), 50, 6, true, nil},
		{"before the buffer", t0.Add(-time.Second), at(10), 0, 11, false, nil},
		// Both connections, in order, and the gap between them: from the
		// end of frame 99 to frame 150.
		{"spans a reconnect", at(80), at(170), 75, 25 + 21, false, []Gap{{From: at(100), To: at(150), Reconnect: true}}},
		{"after the reconnect", at(160), at(200), 150, 51, true, nil},
		{"past the newest frame", at(240), at(300), 225, 25, false, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s, complete := r.Cut(tc.from, tc.to)
			if len(s) != tc.wantN || complete != tc.wantComplete {
				t.Fatalf("want %d samples complete=%v, got %d complete=%v", tc.wantN, tc.wantComplete, len(s), complete)
			}
			if !s[0].Key || s[0].DTS != int64(tc.wantFirst)*3600 {
				t.Errorf("first sample: want keyframe %d, got key=%v dts=%d", tc.wantFirst, s[0].Key, s[0].DTS)
			}
			for i, x := range s {
				want := byte(x.DTS / 3600) // fill numbers each frame by its index
				if i > 0 && x.Epoch == s[i-1].Epoch && x.DTS != s[i-1].DTS+3600 {
					t.Fatalf("sample %d: want frame %d, got %d", i, s[i-1].DTS/3600+1, x.DTS/3600)
				}
				if len(x.AVCC) != 3004 || x.AVCC[4] != want || x.AVCC[3003] != want {
					t.Fatalf("sample %d: want 3000 bytes of %d after the length, got %d bytes starting %v", i, want, len(x.AVCC), x.AVCC[:6])
				}
			}
			if gaps := r.cut(tc.from, tc.to).gaps; len(gaps) != len(tc.wantGaps) {
				t.Errorf("gaps: want %v, got %v", tc.wantGaps, gaps)
			} else {
				for i, g := range gaps {
					if w := tc.wantGaps[i]; !g.From.Equal(w.From) || !g.To.Equal(w.To) || g.Reconnect != w.Reconnect {
						t.Errorf("gap %d: want %v, got %v", i, w, g)
					}
				}
			}
		})
	}
}

// TestRingRetime: a connection's frames timed by receipt move onto the
// camera's clock at its first sender report, by their RTP timestamps, and
// the other connection's frames stay where they were.
func TestRingRetime(t *testing.T) {
	t0 := time.Unix(1_700_000_000, 0)
	r := NewRing(time.Minute, 1<<30)
	fill(r, t0, 0, 50, 25, 1, 10)
	fill(r, t0, 60, 50, 25, 2, 10) // frames 60-109, receipt-timed
	ch, stop := r.WaitFor(t0.Add(5 * time.Second))
	defer stop()
	// Frame 109 (pts 109*3600) is 6.36 s on the camera's clock: 2 s ahead.
	r.Retime(2, t0.Add(109*40*time.Millisecond+2*time.Second), 109*3600)
	select {
	case <-ch:
	default:
		t.Fatal("want a waiter for a time the retimed frames reach released")
	}
	s, _ := r.Cut(t0, t0.Add(time.Hour))
	for _, x := range s {
		want := t0.Add(time.Duration(x.DTS/3600) * 40 * time.Millisecond)
		if x.Epoch == 2 {
			want = want.Add(2 * time.Second)
		}
		if !x.Wall.Equal(want) {
			t.Fatalf("frame %d of connection %d: want wall %s, got %s", x.DTS/3600, x.Epoch, want, x.Wall)
		}
	}
}

// TestRingCutEnd: the end of a window is reached only when the last AU
// copied is shown until the window's end, by the stream's own timestamps.
func TestRingCutEnd(t *testing.T) {
	t0 := time.Unix(1_700_000_000, 0)
	at := func(frame int) time.Time { return t0.Add(time.Duration(frame) * 40 * time.Millisecond) }
	ms := time.Millisecond
	tests := []struct {
		name         string
		next         time.Time // wall of frame 60, after frames 0-59 at 25 fps
		nextDTS      int64
		to           time.Time
		wantComplete bool
		wantDur      int64 // of the last sample, frame 59
	}{
		{"steady frame rate", at(60), 60 * 3600, at(59).Add(20 * ms), true, 3600},
		// A camera that slows down: frame 59 lasts 80 ms, past to.
		{"a longer last frame", at(59).Add(80 * ms), 59*3600 + 7200, at(59).Add(60 * ms), true, 7200},
		// The receipt clock re-anchored after a stall: the ring's clock
		// passed to, but frame 59 ends 40 ms after its start, before to.
		{"the wall clock jumps", at(59).Add(time.Second), 60 * 3600, at(59).Add(60 * ms), false, 3600},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := NewRing(time.Minute, 1<<30)
			fill(r, t0, 0, 60, 25, 1, 100)
			r.Append([][]byte{{1}}, false, tc.next, tc.nextDTS, tc.nextDTS, 1)
			s, complete := r.Cut(at(30), tc.to)
			if complete != tc.wantComplete {
				t.Errorf("complete: want %v, got %v", tc.wantComplete, complete)
			}
			last := s[len(s)-1]
			if last.DTS != 59*3600 || last.Dur != tc.wantDur {
				t.Errorf("last sample: want frame 59 lasting %d, got dts %d lasting %d", tc.wantDur, last.DTS, last.Dur)
			}
			if end := last.Wall.Add(time.Duration(last.Dur) * time.Second / 90000); complete && end.Before(tc.to) {
				t.Errorf("complete, but the last sample ends at %s, before %s", end, tc.to)
			}
		})
	}
}

func TestRingByteBound(t *testing.T) {
	t0 := time.Unix(1_700_000_000, 0)
	r := NewRing(time.Hour, 200_000)
	fill(r, t0, 0, 500, 25, 1, 1000)
	if st := r.Stats(); st.Bytes > 200_000 {
		t.Errorf("want at most 200000 bytes held, got %d", st.Bytes)
	}
	// A single GOP larger than the bound empties the ring until the next
	// keyframe instead of growing.
	r = NewRing(time.Hour, 10_000)
	fill(r, t0, 0, 30, 100, 1, 1000)
	if st := r.Stats(); st.Bytes != 0 || st.Overflows != 1 {
		t.Errorf("oversized GOP: want empty ring and 1 overflow, got %d bytes, %d overflows", st.Bytes, st.Overflows)
	}
}

func TestRingWaitFor(t *testing.T) {
	t0 := time.Unix(1_700_000_000, 0)
	r := NewRing(time.Minute, 1<<30)
	ch, stop := r.WaitFor(t0.Add(time.Second))
	defer stop()
	fill(r, t0, 0, 25, 25, 1, 10) // up to 0.96 s
	select {
	case <-ch:
		t.Fatal("want the waiter still waiting before 1 s is buffered")
	default:
	}
	fill(r, t0, 25, 1, 25, 1, 10)
	select {
	case <-ch:
	default:
		t.Fatal("want the waiter released once 1 s is buffered")
	}
}

func TestRingWaitForWithdrawn(t *testing.T) {
	t0 := time.Unix(1_700_000_000, 0)
	tests := []struct {
		name    string
		frames  int // appended before the wait is withdrawn
		at      time.Duration
		release bool
	}{
		{"given up before the ring gets there", 25, time.Hour, false},
		{"released, then withdrawn", 26, time.Second, true},
		{"already there when asked", 26, 500 * time.Millisecond, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := NewRing(time.Minute, 1<<30)
			fill(r, t0, 0, 1, 25, 1, 10)
			var stops []func()
			var chans []<-chan struct{}
			for range 100 {
				ch, stop := r.WaitFor(t0.Add(tc.at))
				chans, stops = append(chans, ch), append(stops, stop)
			}
			fill(r, t0, 1, tc.frames-1, 25, 1, 10)
			for i, ch := range chans {
				select {
				case <-ch:
					if !tc.release {
						t.Fatalf("waiter %d: want still waiting, got released", i)
					}
				default:
					if tc.release {
						t.Fatalf("waiter %d: want released, got still waiting", i)
					}
				}
			}
			for _, stop := range stops {
				stop()
				stop() // withdrawing twice is harmless
			}
			if n := r.waiting(); n != 0 {
				t.Errorf("want no waiters left once withdrawn, got %d", n)
			}
		})
	}
}
