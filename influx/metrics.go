package influx

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// metrics are the writer's Prometheus series. Every way a point can leave
// the writer other than being written is counted in pointsDropped.
type metrics struct {
	pointsWritten prometheus.Counter
	pointsDropped *prometheus.CounterVec
	writeFailures *prometheus.CounterVec
	retries       prometheus.Counter
	spooledPoints prometheus.Counter
	spoolBytes    prometheus.Gauge
	spoolFiles    prometheus.Gauge
	delay         prometheus.Histogram
	walSyncs      prometheus.Counter
	walErrors     prometheus.Counter
}

// Drop reasons, the "reason" label of iocd_influx_points_dropped_total.
const (
	dropRejected   = "rejected"    // InfluxDB refused the batch (4xx): retrying cannot help
	dropSpoolFull  = "spool_full"  // the oldest spooled points made room for newer ones, or a batch was bigger than the whole spool
	dropSpoolError = "spool_error" // a spool file could not be written (disk full, permissions) or read back (damaged)
)

func newMetrics(reg prometheus.Registerer, queued, backlog func() float64, oldest func() time.Time) *metrics {
	m := &metrics{
		pointsWritten: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "iocd_influx_points_written_total",
			Help: "Points InfluxDB acknowledged, including replayed ones.",
		}),
		pointsDropped: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "iocd_influx_points_dropped_total",
			Help: "Points given up on, by reason: rejected (InfluxDB answered 4xx), spool_full (evicted oldest-first from a full spool, or a batch bigger than the whole spool), spool_error.",
		}, []string{"reason"}),
		writeFailures: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "iocd_influx_write_failures_total",
			Help: "Write requests that failed, by kind: retryable (network, timeout, 5xx, 429) or rejected (other 4xx).",
		}, []string{"kind"}),
		retries: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "iocd_influx_write_retries_total",
			Help: "Write requests retried after a retryable failure.",
		}),
		spooledPoints: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "iocd_influx_spooled_points_total",
			Help: "Points written to the on-disk spool while InfluxDB was failing.",
		}),
		spoolBytes: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "iocd_influx_spool_bytes",
			Help: "Bytes (gzip-compressed line protocol) in the on-disk spool.",
		}),
		spoolFiles: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "iocd_influx_spool_batches",
			Help: "Batches in the on-disk spool.",
		}),
		delay: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "iocd_telemetry_delay_seconds",
			Help:    "Delay from a telemetry reading's timestamp to InfluxDB's acknowledgement of its batch (replayed spool batches are not observed).",
			Buckets: []float64{.005, .01, .025, .05, .1, .25, .5, .75, 1, 1.25, 1.5, 2, 3, 5, 10, 30, 60, 120, 300},
		}),
		walSyncs: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "iocd_influx_wal_syncs_total",
			Help: "Write-ahead log commits (one fsync each, covering every point added since the last).",
		}),
		walErrors: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "iocd_influx_wal_errors_total",
			Help: "Write-ahead log failures; the batch's acknowledgements then wait for InfluxDB or the spool.",
		}),
	}
	for _, r := range []string{dropRejected, dropSpoolFull, dropSpoolError} {
		m.pointsDropped.WithLabelValues(r)
	}
	for _, k := range []string{"retryable", "rejected"} {
		m.writeFailures.WithLabelValues(k)
	}
	if reg != nil {
		reg.MustRegister(m.pointsWritten, m.pointsDropped, m.writeFailures, m.retries,
			m.spooledPoints, m.spoolBytes, m.spoolFiles, m.delay, m.walSyncs, m.walErrors,
			prometheus.NewGaugeFunc(prometheus.GaugeOpts{
				Name: "iocd_influx_oldest_unflushed_seconds",
				Help: "Age of the oldest point not yet accepted by InfluxDB (in memory, in the write-ahead log or spooled); 0 when all are written.",
			}, func() float64 {
				t := oldest()
				if t.IsZero() {
					return 0
				}
				return time.Since(t).Seconds()
			}),
			prometheus.NewGaugeFunc(prometheus.GaugeOpts{
				Name: "iocd_influx_batches_queued",
				Help: "Full batches waiting for a write slot.",
			}, queued),
			prometheus.NewGaugeFunc(prometheus.GaugeOpts{
				Name: "iocd_influx_retry_buffer_batches",
				Help: "Failed batches held in memory for retry before the spool takes over.",
			}, backlog),
		)
	}
	return m
}
