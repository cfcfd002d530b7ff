package streams

import "github.com/prometheus/client_golang/prometheus"

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
}

func newMetrics(reg prometheus.Registerer) *metrics {
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
	}
	if reg != nil {
		reg.MustRegister(m.sessions, m.connected, m.reconnects, m.frames, m.bytes, m.framesLost, m.packetsLost, m.oversize)
	}
	return m
}
