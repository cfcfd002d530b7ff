package streams

import (
	"encoding/binary"
	"fmt"
	"slices"
	"sync"
	"time"
)

// blockSize is the ring's allocation unit. Access units are packed back to
// back across blocks, so the only memory not holding video is the unused
// tail of the newest block and the evicted head of the oldest: at most two
// blocks, 64 KiB, against the megabytes a camera's window holds. Smaller
// blocks waste less but cost more bookkeeping; 32 KiB is a few frames.
const blockSize = 32 << 10

// maxFreeBlocks bounds the blocks kept for reuse. Evicting a GOP frees a
// few blocks at once; keeping all of them for the next second's writes
// would add their size to every ring's footprint (measured: 4 spare blocks
// cost 4% at 1 Mbit/s), while one spare already saves most allocations.
const maxFreeBlocks = 1

// auEntry indexes one access unit held in the ring.
type auEntry struct {
	off   int64 // absolute byte offset of its AVCC data in the ring
	wall  int64 // wall-clock time, Unix ns
	dts   int64 // decoding time in 90 kHz ticks, unwrapped
	pts   int64 // presentation time in 90 kHz ticks, unwrapped
	n     int32 // AVCC length
	epoch int32 // connection number; timestamps restart with each
	// The format the AU was sent in: codec (codecH264Byte, codecH265Byte)
	// and resolution, for the gate's "unchanged" check.
	w, h  uint16
	codec uint8
	key   bool
}

// Codec numbers as the ring stores them.
const (
	codecNone uint8 = iota
	codecH264Byte
	codecH265Byte
)

func codecByte(codec string) uint8 {
	switch codec {
	case CodecH264:
		return codecH264Byte
	case CodecH265:
		return codecH265Byte
	}
	return codecNone
}

func codecName(b uint8) string {
	switch b {
	case codecH264Byte:
		return CodecH264
	case codecH265Byte:
		return CodecH265
	}
	return ""
}

// Ring is one camera's GOP-aligned buffer of access units. It does not
// decode: it keeps each AU in AVCC form (the form MP4 samples take) with its
// timestamps, and drops whole GOPs from the front once the newest GOP
// boundary still leaves `retain` of video, or when it holds more than
// maxBytes. It is safe for concurrent use: the session's RTP reader appends
// while clip cutters read.
type Ring struct {
	retain   time.Duration
	maxBytes int64

	mu         sync.Mutex
	blocks     [][]byte
	firstBlock int64 // absolute block number of blocks[0]
	wpos       int64 // absolute offset of the next byte
	aus        []auEntry
	head       int   // aus[head:] are live
	gops       []int // indexes into aus of live keyframes
	gopHead    int
	held       int64 // AVCC bytes of live AUs
	free       [][]byte
	waiters    []waiter
	overflows  uint64
	// format stamps every appended AU (SetFormat).
	fw, fh uint16
	fcodec uint8
}

// waiter is a clip cutter waiting until the ring holds video up to at.
type waiter struct {
	at int64
	ch chan struct{}
}

// NewRing returns an empty ring that keeps at least retain of video plus
// one GOP, bounded by maxBytes.
func NewRing(retain time.Duration, maxBytes int64) *Ring {
	return &Ring{retain: retain, maxBytes: maxBytes}
}

// Append adds one access unit. An AU that is not a keyframe is ignored
// while the ring is empty, so the ring always starts with a keyframe; the
// caller learns this from the result.
func (r *Ring) Append(nalus [][]byte, key bool, wall time.Time, dts, pts int64, epoch int32) bool {
	size := 0
	for _, n := range nalus {
		size += 4 + len(n)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.head == len(r.aus) && !key {
		return false
	}
	e := auEntry{off: r.wpos, wall: wall.UnixNano(), dts: dts, pts: pts, n: int32(size), epoch: epoch, key: key,
		w: r.fw, h: r.fh, codec: r.fcodec}
	var hdr [4]byte
	for _, n := range nalus {
		binary.BigEndian.PutUint32(hdr[:], uint32(len(n)))
		r.write(hdr[:])
		r.write(n)
	}
	if key {
		r.gops = append(r.gops, len(r.aus))
	}
	r.aus = append(r.aus, e)
	r.held += int64(size)
	r.evict()
	r.wake(e.wall)
	return true
}

// SetFormat sets the codec and resolution stamped on the AUs appended
// from now on.
func (r *Ring) SetFormat(codec string, width, height int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.fcodec = codecByte(codec)
	r.fw, r.fh = uint16(min(max(width, 0), 65535)), uint16(min(max(height, 0), 65535))
}

// Retime puts connection epoch's buffered AUs on the timeline of its first
// RTCP sender report: each AU's wall time becomes at + (its PTS - pts), so
// frames timed by receipt until then line up with the ones timed by the
// camera's clock after it. The waiters whose time the ring now reaches are
// released.
func (r *Ring) Retime(epoch int32, at time.Time, pts int64) {
	r.mu.Lock()
	defer r.mu.Unlock()
	base := at.UnixNano()
	changed := false
	for i := r.head; i < len(r.aus); i++ {
		if e := &r.aus[i]; e.epoch == epoch {
			e.wall = base + int64(ticks(e.pts-pts))
			changed = true
		}
	}
	if changed {
		r.wake(r.aus[len(r.aus)-1].wall)
	}
}

// write copies b at the write position, adding blocks as needed.
func (r *Ring) write(b []byte) {
	for len(b) > 0 {
		bi := r.wpos/blockSize - r.firstBlock
		if int(bi) == len(r.blocks) {
			var blk []byte
			if n := len(r.free); n > 0 {
				blk, r.free = r.free[n-1], r.free[:n-1]
			} else {
				blk = make([]byte, blockSize)
			}
			r.blocks = append(r.blocks, blk)
		}
		o := r.wpos % blockSize
		c := copy(r.blocks[bi][o:], b)
		b = b[c:]
		r.wpos += int64(c)
	}
}

// read copies n bytes at absolute offset off into dst.
func (r *Ring) read(dst []byte, off int64) {
	for len(dst) > 0 {
		bi := off/blockSize - r.firstBlock
		c := copy(dst, r.blocks[bi][off%blockSize:])
		dst = dst[c:]
		off += int64(c)
	}
}

// evict drops whole GOPs from the front while the next GOP still starts at
// least retain before the newest AU, or while the ring is over its bytes.
func (r *Ring) evict() {
	newest := r.aus[len(r.aus)-1].wall
	for len(r.gops)-r.gopHead >= 2 {
		next := r.aus[r.gops[r.gopHead+1]]
		if newest-next.wall < int64(r.retain) && r.held <= r.maxBytes {
			break
		}
		r.dropTo(r.gops[r.gopHead+1])
		r.gopHead++
	}
	if r.held > r.maxBytes && len(r.gops)-r.gopHead == 1 {
		// One GOP larger than the whole budget: nothing useful can be
		// kept. Start again at the next keyframe.
		r.overflows++
		r.dropTo(len(r.aus))
		r.gopHead = len(r.gops)
	}
	r.compact()
}

// dropTo makes aus[i] the first live AU and releases the blocks before it.
func (r *Ring) dropTo(i int) {
	for ; r.head < i; r.head++ {
		r.held -= int64(r.aus[r.head].n)
	}
	keep := r.wpos
	if r.head < len(r.aus) {
		keep = r.aus[r.head].off
	}
	for len(r.blocks) > 0 && (r.firstBlock+1)*blockSize <= keep {
		if len(r.free) < maxFreeBlocks {
			r.free = append(r.free, r.blocks[0])
		}
		r.blocks[0] = nil
		r.blocks = r.blocks[1:]
		r.firstBlock++
	}
}

// compact moves the live index entries down once the dead prefix is large,
// so the index stays proportional to what is held.
func (r *Ring) compact() {
	if r.head < 64 || r.head < len(r.aus)/4 {
		return
	}
	n := copy(r.aus, r.aus[r.head:])
	r.aus = r.aus[:n]
	g := 0
	for _, i := range r.gops[r.gopHead:] {
		r.gops[g] = i - r.head
		g++
	}
	r.gops = r.gops[:g]
	r.gopHead = 0
	r.head = 0
	if len(r.blocks) < cap(r.blocks)/4 {
		r.blocks = append([][]byte(nil), r.blocks...)
	}
}

// wake releases the waiters whose time the ring has reached.
func (r *Ring) wake(wall int64) {
	if len(r.waiters) == 0 {
		return
	}
	kept := r.waiters[:0]
	for _, w := range r.waiters {
		if wall >= w.at {
			close(w.ch)
		} else {
			kept = append(kept, w)
		}
	}
	clear(r.waiters[len(kept):]) // drop the released channels from the spare capacity
	r.waiters = kept
}

// WaitFor returns a channel closed once the ring holds an AU at or after
// t, and a func that withdraws the wait. The caller must call the func
// when it stops waiting, whether or not the channel was closed: a waiter
// stays in the list that every Append scans until the ring reaches t, so
// a caller that gave up on a t far ahead (a future-dated event) would
// otherwise leave it there, and the list would grow with every such call.
func (r *Ring) WaitFor(t time.Time) (<-chan struct{}, func()) {
	ch := make(chan struct{})
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.head < len(r.aus) && r.aus[len(r.aus)-1].wall >= t.UnixNano() {
		close(ch)
		return ch, func() {}
	}
	r.waiters = append(r.waiters, waiter{at: t.UnixNano(), ch: ch})
	return ch, func() { r.unwait(ch) }
}

// reaches reports whether the ring holds an AU at or after t.
func (r *Ring) reaches(t time.Time) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.head < len(r.aus) && r.aus[len(r.aus)-1].wall >= t.UnixNano()
}

// unwait removes the waiter for ch, if wake has not released it already.
func (r *Ring) unwait(ch chan struct{}) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if i := slices.IndexFunc(r.waiters, func(w waiter) bool { return w.ch == ch }); i >= 0 {
		r.waiters = slices.Delete(r.waiters, i, i+1)
	}
}

// waiting returns the number of waiters, for tests.
func (r *Ring) waiting() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.waiters)
}

// Sample is one access unit copied out of a ring.
type Sample struct {
	Wall time.Time
	DTS  int64 // 90 kHz
	PTS  int64 // 90 kHz
	Key  bool
	// Dur is how long the AU lasts, in 90 kHz ticks: until the next AU of
	// the same connection by decoding time; 0 when the ring holds none yet.
	Dur int64
	// Epoch is the connection the AU came in on: timestamps restart with
	// each, and a change of epoch inside a cut is a reconnect.
	Epoch int32
	// Codec, Width and Height are the format the AU was sent in.
	Codec         string
	Width, Height int
	// AVCC is the AU as length-prefixed NAL units, as MP4 stores it.
	AVCC []byte
}

// Gap is a stretch of a cut's window without video.
type Gap struct {
	From, To time.Time
	// Reconnect: the camera's connection ended and a new one began;
	// otherwise frames were lost or not sent.
	Reconnect bool
}

// cutResult is what Cut copies and what it finds missing.
type cutResult struct {
	samples []Sample
	// reachesBack: the samples start at a keyframe at or before from;
	// reachesEnd: the last one is shown until to.
	reachesBack, reachesEnd bool
	gaps                    []Gap
	// codecStop is set when the cut stopped early at a connection with
	// another codec, which one MP4 track cannot hold.
	codecStop string
}

// complete reports whether the cut covers the whole window without gaps.
func (c cutResult) complete() bool {
	return c.reachesBack && c.reachesEnd && len(c.gaps) == 0 && c.codecStop == ""
}

// minGap is the shortest stretch without frames, inside one connection,
// that a cut reports as a gap; a longer one counts when it exceeds three
// of the clip's average frame intervals (a slow camera is not a gappy one).
const minGap = 500 * time.Millisecond

// Cut copies the AUs covering [from, to]: from the last keyframe at or
// before from, through the last AU at or before to, across reconnections
// (each new connection starts with a keyframe). complete reports whether
// the copy covers the whole window without a gap.
func (r *Ring) Cut(from, to time.Time) (samples []Sample, complete bool) {
	c := r.cut(from, to)
	return c.samples, c.complete()
}

func (r *Ring) cut(from, to time.Time) cutResult {
	r.mu.Lock()
	defer r.mu.Unlock()
	var c cutResult
	if r.head == len(r.aus) {
		return c
	}
	f, t := from.UnixNano(), to.UnixNano()
	// The last keyframe at or before from; failing that, the oldest one:
	// the buffer does not reach back far enough.
	start := r.gops[r.gopHead]
	for _, i := range r.gops[r.gopHead:] {
		if r.aus[i].wall > f {
			break
		}
		start, c.reachesBack = i, true
	}
	if r.aus[start].wall > t {
		return cutResult{}
	}
	codec := r.aus[start].codec
	end := start
	for i := start; i < len(r.aus); i++ {
		e := r.aus[i]
		if e.wall > t {
			break
		}
		if e.codec != codec {
			c.codecStop = fmt.Sprintf("the camera reconnected with codec %s; the clip stops at the change", codecName(e.codec))
			break
		}
		end = i
	}
	c.samples = make([]Sample, 0, end-start+1)
	for i := start; i <= end; i++ {
		e := r.aus[i]
		b := make([]byte, e.n)
		r.read(b, e.off)
		s := Sample{Wall: time.Unix(0, e.wall), DTS: e.dts, PTS: e.pts, Key: e.key, Epoch: e.epoch,
			Codec: codecName(e.codec), Width: int(e.w), Height: int(e.h), AVCC: b}
		if n := i + 1; n < len(r.aus) && r.aus[n].epoch == e.epoch && r.aus[n].dts > e.dts {
			s.Dur = r.aus[n].dts - e.dts
		}
		c.samples = append(c.samples, s)
	}
	c.gaps = findGaps(c.samples)
	// The end is reached when the last AU copied is shown until t: it is
	// itself at or after t, or it lasts (by the stream's own timestamps)
	// until the next AU of its connection at or after t. An AU after t
	// alone is not enough: when the wall clock jumps between two AUs (the
	// receipt clock re-anchored after a stall), the clip's frames would
	// end before t while the ring's clock had passed it.
	last := c.samples[len(c.samples)-1]
	c.reachesEnd = c.codecStop == "" && (last.Wall.UnixNano() >= t ||
		last.Dur > 0 && last.Wall.Add(ticks(last.Dur)).UnixNano() >= t)
	return c
}

// findGaps returns the reconnections in ss and the stretches inside one
// connection without frames for longer than minGap and three average frame
// intervals.
func findGaps(ss []Sample) []Gap {
	if len(ss) < 2 {
		return nil
	}
	var span time.Duration
	var steps int
	for i := 1; i < len(ss); i++ {
		if ss[i].Epoch == ss[i-1].Epoch {
			span += ss[i].Wall.Sub(ss[i-1].Wall)
			steps++
		}
	}
	limit := minGap
	if steps > 0 {
		limit = max(limit, 3*span/time.Duration(steps))
	}
	var gaps []Gap
	for i := 1; i < len(ss); i++ {
		prev, cur := ss[i-1], ss[i]
		if cur.Epoch != prev.Epoch {
			end := prev.Wall
			if steps > 0 {
				end = end.Add(span / time.Duration(steps)) // the last frame's own interval
			}
			gaps = append(gaps, Gap{From: end, To: maxTime(end, cur.Wall), Reconnect: true})
			continue
		}
		if d := cur.Wall.Sub(prev.Wall); d > limit {
			gaps = append(gaps, Gap{From: prev.Wall, To: cur.Wall})
		}
	}
	return gaps
}

func maxTime(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}

// RingStats describes what a ring holds and what it costs.
type RingStats struct {
	// Bytes is the video held.
	Bytes int64
	// Allocated is the memory the ring holds for it: blocks (including
	// spares kept for reuse) and the AU index.
	Allocated int64
	// Span is the wall-clock time from the oldest to the newest AU.
	Span time.Duration
	// Overflows counts the times a single GOP exceeded the byte bound.
	Overflows uint64
}

// Stats returns the ring's current figures.
func (r *Ring) Stats() RingStats {
	r.mu.Lock()
	defer r.mu.Unlock()
	s := RingStats{
		Bytes:     r.held,
		Allocated: int64(len(r.blocks)+len(r.free))*blockSize + int64(cap(r.aus))*auEntrySize + int64(cap(r.gops))*8,
		Overflows: r.overflows,
	}
	if r.head < len(r.aus) {
		s.Span = time.Duration(r.aus[len(r.aus)-1].wall - r.aus[r.head].wall)
	}
	return s
}

// auEntrySize is the in-memory size of an auEntry (five 8-byte words, two
// 4-byte ones and a bool, padded).
const auEntrySize = 56
