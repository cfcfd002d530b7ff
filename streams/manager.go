// Package streams owns iocd's camera sessions: one supervised RTSP session
// per registered camera (gortsplib, TCP by default, H.264 and H.265), each
// feeding a GOP-aligned ring buffer of undecoded access units stamped with
// wall-clock time, from which violation clips are cut. The Manager follows
// the device registry, so cameras added, changed or removed through the API
// are picked up without a restart, and reports per-camera statistics to the
// API, Prometheus and InfluxDB (camera_stats).
package streams

import (
	"context"
	"errors"
	"log/slog"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/bluenviron/gortsplib/v4"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/iocd/iocd/bus"
	"github.com/iocd/iocd/config"
	"github.com/iocd/iocd/defs"
	"github.com/iocd/iocd/hostclock"
)

// Registry is what the manager needs from the device registry: every
// active camera, unredacted (the session needs the RTSP credentials).
type Registry interface {
	Cameras(ctx context.Context) ([]defs.Device, error)
}

// PointWriter writes one InfluxDB point; nil means no InfluxDB.
type PointWriter interface {
	WritePoint(measurement string, tags map[string]string, fields map[string]any, ts time.Time)
}

// resyncInterval bounds how long a registry change can go unnoticed if its
// bus event was dropped: the manager re-lists the cameras this often.
const resyncInterval = 30 * time.Second

// Manager supervises one session per camera.
type Manager struct {
	cfg     config.Streams
	retain  time.Duration
	reg     Registry
	bus     *bus.Bus
	points  PointWriter
	log     *slog.Logger
	metrics *metrics

	mu sync.Mutex
	// sessions holds each camera's session and, inside it, its ring: no
	// ring is kept after its session stops. Removing a camera, or
	// changing its URL or site, discards its buffered video: a Clip
	// already waiting is cut from the old ring and marked incomplete (the
	// camera dropped), and a later one finds no session, or a new ring
	// that does not reach back to its event.
	sessions map[defs.DeviceID]*running
	// prevStats is each camera's counters at the last stats tick, the
	// baseline for the rates in Cameras.
	prevStats map[defs.DeviceID]statSample

	gate  Gate
	host  hostclock.Source
	conds Conditions
	// failing is the cameras whose not-evidential condition is set.
	failing map[defs.DeviceID]bool
}

// Conditions is where the manager sets and clears the cameras'
// not-evidential conditions; *conditions.Registry is one.
type Conditions interface {
	Set(defs.Condition)
	Clear(code, subject string)
}

type noConditions struct{}

func (noConditions) Set(defs.Condition)   {}
func (noConditions) Clear(string, string) {}

// Option configures a Manager beyond New's arguments.
type Option func(*Manager)

// WithGate sets the evidential health gate's thresholds (default
// DefaultGate).
func WithGate(g Gate) Option { return func(m *Manager) { m.gate = g } }

// WithHostClock sets where the host clock's state is read (default the
// kernel's, hostclock.Kernel).
func WithHostClock(src hostclock.Source) Option {
	return func(m *Manager) {
		if src != nil {
			m.host = src
		}
	}
}

// WithConditions makes the manager raise a camera_not_evidential condition
// for each camera that fails the gate over a stats interval.
func WithConditions(c Conditions) Option {
	return func(m *Manager) {
		if c != nil {
			m.conds = c
		}
	}
}

// running is a session with its lifecycle handles.
type running struct {
	s      *session
	cancel context.CancelFunc
	done   chan struct{}
}

// New returns a Manager. Each camera's ring keeps the longest clip window
// of viol (pre + post, so a clip can still be cut when ts + post arrives)
// plus cfg.BufferSlack for late events, plus one GOP. b, points and reg
// (Prometheus) may be nil.
func New(cfg config.Streams, viol config.Violations, registry Registry, b *bus.Bus, points PointWriter, reg prometheus.Registerer, log *slog.Logger, opts ...Option) *Manager {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	m := &Manager{
		cfg:       cfg,
		retain:    RetainFor(cfg, viol),
		reg:       registry,
		bus:       b,
		points:    points,
		log:       log.With("component", "streams"),
		sessions:  map[defs.DeviceID]*running{},
		prevStats: map[defs.DeviceID]statSample{},
		gate:      DefaultGate(),
		host:      hostclock.Kernel,
		conds:     noConditions{},
		failing:   map[defs.DeviceID]bool{},
	}
	for _, o := range opts {
		o(m)
	}
	m.metrics = newMetrics(reg, m.host)
	return m
}

// RetainFor returns how much video each ring keeps, besides the one GOP
// that GOP alignment adds: the longest pre + post of any violation type,
// plus the slack for events that arrive late.
func RetainFor(cfg config.Streams, viol config.Violations) time.Duration {
	longest := viol.Pre.D() + viol.Post.D()
	for _, w := range viol.Windows {
		longest = max(longest, w.Pre.D()+w.Post.D())
	}
	return longest + cfg.BufferSlack.D()
}

// Run follows the registry until ctx ends, then stops every session and
// waits for them.
func (m *Manager) Run(ctx context.Context) error {
	var events <-chan defs.Event
	if m.bus != nil {
		sub := m.bus.Subscribe("streams", defs.Mask(defs.EventDevice), 256)
		defer sub.Close()
		events = sub.C()
	}
	defer m.stopAll()

	if h := m.host(); !h.Synced && m.gate.RequireHostSync {
		// Said once at start; every record carries the state anyway.
		m.log.Warn("host clock is not synchronised (adjtimex): violations are marked not evidential until it is",
			"estimated_error_ms", h.ErrorMs, "detail", h.Err)
	}
	m.resync(ctx)
	resync := time.NewTicker(resyncInterval)
	defer resync.Stop()
	stats := time.NewTicker(m.cfg.StatsInterval.D())
	defer stats.Stop()
	// Device events come in bursts (an import, an approval of many); one
	// re-list shortly after the first covers them all.
	var debounce <-chan time.Time
	for {
		select {
		case <-ctx.Done():
			return nil
		case ev, ok := <-events:
			if !ok {
				events = nil
				continue
			}
			if ev.Device != nil && (ev.Device.Device.Kind == defs.KindCamera || ev.Device.Deleted) && debounce == nil {
				debounce = time.After(200 * time.Millisecond)
			}
		case <-debounce:
			debounce = nil
			m.resync(ctx)
		case <-resync.C:
			m.resync(ctx)
		case now := <-stats.C:
			m.writeStats(now)
		}
	}
}

// resync brings the sessions in line with the registry's active cameras.
func (m *Manager) resync(ctx context.Context) {
	lctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	cams, err := m.reg.Cameras(lctx)
	if err != nil {
		m.log.Warn("listing cameras failed; keeping current sessions", "error", err)
		return
	}
	want := make(map[defs.DeviceID]defs.Device, len(cams))
	for _, d := range cams {
		if d.Kind == defs.KindCamera && d.Status == defs.StatusActive && d.RTSPURL != "" {
			want[d.ID] = d
		}
	}
	// Stop what changed or went away: cancel them all first, then wait
	// outside the lock, so sessions stop in parallel and Clip and Cameras
	// are not held up meanwhile. Only Run calls resync, so the map cannot
	// change under us between the two steps; new sessions start after the
	// old ones have ended, so a changed camera's old session cannot report
	// after its new one.
	m.mu.Lock()
	var stopping []stoppingSession
	for id, r := range m.sessions {
		d, ok := want[id]
		if ok && d.RTSPURL == r.s.dev.RTSPURL && d.Site == r.s.dev.Site {
			continue
		}
		r.cancel()
		delete(m.sessions, id)
		m.metrics.sessions.Dec()
		stopping = append(stopping, stoppingSession{id, r, map[bool]string{true: "changed", false: "removed"}[ok]})
	}
	m.mu.Unlock()
	for _, st := range stopping {
		<-st.r.done
		m.log.Info("camera session stopped", "camera", st.id, "reason", st.reason)
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	for id, d := range want {
		if _, ok := m.sessions[id]; ok {
			continue
		}
		m.startLocked(ctx, d)
	}
}

// stoppingSession is a session resync has cancelled and waits for.
type stoppingSession struct {
	id     defs.DeviceID
	r      *running
	reason string
}

func (m *Manager) startLocked(ctx context.Context, d defs.Device) {
	transport := gortsplib.TransportTCP
	if m.cfg.Transport == "udp" {
		transport = gortsplib.TransportUDP
	}
	sc := sessionConfig{
		transport:   transport,
		readTimeout: m.cfg.ReadTimeout.D(),
		backoffMin:  m.cfg.BackoffMin.D(),
		backoffMax:  m.cfg.BackoffMax.D(),
		retain:      m.retain,
		maxBytes:    m.cfg.BufferMaxBytes,
		maxAUBytes:  int(m.cfg.MaxAUBytes),
	}
	s := newSession(d, sc, NewRing(m.retain, m.cfg.BufferMaxBytes), m.publishState, m.metrics, m.log)
	sctx, cancel := context.WithCancel(ctx)
	r := &running{s: s, cancel: cancel, done: make(chan struct{})}
	go func() {
		defer close(r.done)
		s.Run(sctx)
	}()
	m.sessions[d.ID] = r
	m.metrics.sessions.Inc()
	m.log.Info("camera session started", "camera", d.ID, "url", defs.RedactURL(d.RTSPURL))
}

// stopAll cancels every session, then waits for them outside the lock, so
// they stop in parallel and Clip and Cameras do not wait on shutdown.
func (m *Manager) stopAll() {
	m.mu.Lock()
	stopping := make([]*running, 0, len(m.sessions))
	for id, r := range m.sessions {
		r.cancel()
		delete(m.sessions, id)
		m.metrics.sessions.Dec()
		stopping = append(stopping, r)
	}
	m.mu.Unlock()
	for _, r := range stopping {
		<-r.done
	}
}

func (m *Manager) publishState(st defs.CameraState) {
	if m.bus != nil {
		m.bus.Publish(defs.Event{Kind: defs.EventCamera, Time: st.At, Camera: &st})
	}
}

func (m *Manager) session(id defs.DeviceID) *session {
	m.mu.Lock()
	defer m.mu.Unlock()
	if r, ok := m.sessions[id]; ok {
		return r.s
	}
	return nil
}

// Connected reports whether the camera's session is streaming.
func (m *Manager) Connected(id defs.DeviceID) bool {
	s := m.session(id)
	if s == nil {
		return false
	}
	ok, _ := s.connState()
	return ok
}

// CameraStates returns the current state of every camera session, ordered
// by camera id: cameras that never connected since start are included,
// with the reason of their last attempt. The alerts engine re-checks it on
// its tick, so a dropped bus event cannot leave a camera wrongly up or down.
func (m *Manager) CameraStates() []defs.CameraState {
	m.mu.Lock()
	list := make([]*session, 0, len(m.sessions))
	for _, r := range m.sessions {
		list = append(list, r.s)
	}
	m.mu.Unlock()
	out := make([]defs.CameraState, 0, len(list))
	for _, s := range list {
		out = append(out, s.cameraState())
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Camera < out[j].Camera })
	return out
}

// Segment is a cut of a camera's buffer, ready to be muxed.
type Segment struct {
	// Codec is CodecH264 or CodecH265; VPS (H.265 only), SPS and PPS are
	// the parameter sets for the MP4 sample description.
	Codec         string
	VPS, SPS, PPS []byte
	// Samples start with a keyframe; timestamps are 90 kHz. A segment
	// that spans a reconnect holds both connections' samples in order
	// (Sample.Epoch tells them apart) and the gap between them in Gaps.
	Samples []Sample
	// Complete reports whether the samples cover the whole window asked
	// for without a gap; Reason says why not.
	Complete bool
	Reason   string
	Gaps     []Gap
	// Checks is the evidential gate over the window (always every check);
	// ClockKnown and ClockOffset the camera's clock, Host iocd's, when the
	// segment was cut.
	Checks      []defs.EvidenceCheck
	ClockKnown  bool
	ClockOffset time.Duration
	Host        hostclock.State
}

// ErrNoCamera is returned by Clip for a camera with no session.
var ErrNoCamera = errors.New("camera has no session")

// Clip waits until the camera's buffer holds video up to `to` or ctx ends,
// then cuts [from, to] from it: the samples begin at the last keyframe at
// or before from. A camera that drops inside the window is waited for
// (until ctx ends): if it reconnects, the clip holds both connections and
// names the gap. So is one that dropped inside the window before Clip was
// called (its buffer reaches from, and its session is reconnecting):
// events are handled asynchronously, and whether the handler got to the
// cut before or after a short drop must not decide whether the clip holds
// the reconnection. A camera that was away before the window began, or
// never connected, is not waited for. The caller bounds the wait with ctx.
func (m *Manager) Clip(ctx context.Context, camera defs.DeviceID, from, to time.Time) (Segment, error) {
	host := m.host()
	s := m.session(camera)
	if s == nil {
		seg := Segment{Reason: "camera has no session", Host: host}
		seg.Checks = m.gate.Check(Measures{Gaps: []string{seg.Reason}, Host: host})
		return seg, ErrNoCamera
	}
	reason := ""
	connected, dropped := s.connState()
	if !connected && !s.ring.reaches(from) {
		reason = "camera not connected"
	} else {
		// Not connected: dropped is closed, and the wait below notes the
		// drop at once.
		reached, stop := s.ring.WaitFor(to)
		defer stop()
		wasDropped := false
	wait:
		for {
			select {
			case <-reached:
				break wait
			case <-dropped:
				// Keep waiting: a reconnect appends to the same ring.
				wasDropped, dropped = true, nil
			case <-ctx.Done():
				reason = "timed out waiting for the end of the clip window"
				if wasDropped {
					reason = "camera dropped during the clip window"
				}
				break wait
			}
		}
	}
	c := s.ring.cut(from, to)
	codec, vps, sps, pps := s.params()
	known, off := s.clock()
	// Whatever happened since (a drop, the wait cut short), a window the
	// ring holds to its end is whole.
	if reason != "" && c.reachesEnd {
		reason = ""
	}
	seg := Segment{Codec: codec, VPS: vps, SPS: sps, PPS: pps, Samples: c.samples, Gaps: c.gaps,
		Complete: c.complete() && reason == "", ClockKnown: known, ClockOffset: off, Host: m.host()}
	if len(c.samples) > 0 {
		seg.Codec = c.samples[0].Codec
	}
	meas := windowMeasures(c, from, to)
	meas.ClockKnown, meas.ClockOffset, meas.Host = known, off, seg.Host
	seg.Checks = m.gate.Check(meas)
	if !seg.Complete {
		var parts []string
		if reason != "" {
			parts = append(parts, reason)
		}
		parts = append(parts, meas.Gaps...)
		if len(parts) == 0 {
			parts = append(parts, "buffer does not cover the whole window")
		}
		seg.Reason = strings.Join(parts, "; ")
	}
	return seg, nil
}
