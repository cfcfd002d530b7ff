package streams

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/iocd/iocd/hostclock"
)

// metrics are the manager's Prometheus series, summed over cameras (per
// camera figures are in the API and InfluxDB, where 200 cameras do not
// multiply series).
type metrics struct {
	sessions    prometheus.Gauge
	connected   prometheus.Gauge
	reconnects  prometheus.Counter
	frames      prometheus.Counter
	bytes       prometheus.Counter
	framesLost  prometheus.Counter
	packetsLost prometheus.Counter
	oversize    prometheus.Counter
	// The evidential gate at the last stats tick.
	notEvidential  prometheus.Gauge
	maxClockOffset prometheus.Gauge
}

func newMetrics(reg prometheus.Registerer, host hostclock.Source) *metrics {
	m := &metrics{
		sessions: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "iocd_camera_sessions", Help: "Camera sessions supervised."}),
		connected: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "iocd_camera_sessions_connected", Help: "Camera sessions currently streaming."}),
		reconnects: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "iocd_camera_reconnects_total", Help: "Camera connections that ended and were retried."}),
		frames: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "iocd_camera_frames_total", Help: "Access units buffered from all cameras."}),
		bytes: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "iocd_camera_bytes_total", Help: "Video payload bytes received from all cameras."}),
		framesLost: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "iocd_camera_frames_lost_total", Help: "Access units not buffered: undecodable, or after a loss until the next keyframe."}),
		packetsLost: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "iocd_camera_rtp_packets_lost_total", Help: "RTP packets lost in transit (sequence gaps)."}),
		oversize: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "iocd_camera_frames_oversize_total", Help: "Access units dropped for exceeding streams.max_au_bytes."}),
		notEvidential: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "iocd_cameras_not_evidential", Help: "Streaming cameras failing the evidential health gate at the last stats interval."}),
		maxClockOffset: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "iocd_camera_clock_offset_max_seconds", Help: "Largest absolute camera clock offset from iocd's (RTCP sender reports) at the last stats interval."}),
	}
	synced := prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "iocd_host_clock_synchronized", Help: "1 when the kernel says iocd's clock is synchronised (adjtimex), else 0."},
		func() float64 {
			if host().Synced {
				return 1
			}
			return 0
		})
	estErr := prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "iocd_host_clock_error_seconds", Help: "The kernel's estimated error of iocd's clock (adjtimex esterror)."},
		func() float64 { return host().ErrorMs / 1000 })
	if reg != nil {
		reg.MustRegister(m.sessions, m.connected, m.reconnects, m.frames, m.bytes, m.framesLost, m.packetsLost, m.oversize,
			m.notEvidential, m.maxClockOffset, synced, estErr)
	}
	return m
}
