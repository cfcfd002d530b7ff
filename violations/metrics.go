package violations

import (
	"slices"
	"sync"

	"github.com/prometheus/client_golang/prometheus"
)

type metrics struct {
	created      *prometheus.CounterVec
	duplicates   prometheus.Counter
	invalid      prometheus.Counter
	refused      *prometheus.CounterVec
	timestamps   *prometheus.CounterVec
	clips        *prometheus.CounterVec
	clipsDropped prometheus.Counter
	clipLatency  prometheus.Histogram
	purged       *prometheus.CounterVec
	audit        *prometheus.CounterVec
	purgeFailed  prometheus.Counter
	writeFailed  *prometheus.CounterVec
	storeErrors  *prometheus.CounterVec
	types        typeLabels
	// Derived files (media.go).
	mediaMade    *prometheus.CounterVec
	mediaDropped prometheus.Counter
}

// OtherType is the label a violation type gets in metrics and InfluxDB once
// violations.max_types distinct types have been seen since start. The
// record keeps its type: only the label is bounded, so that a camera
// sending random types cannot add a Prometheus series and an InfluxDB
// series for each.
const OtherType = "other"

// typeLabels bounds the distinct violation types used as labels. The known
// types always have their own label.
type typeLabels struct {
	mu       sync.Mutex
	seen     map[string]struct{}
	overflow prometheus.Counter
}

// label returns t, or OtherType once max other types are taken.
func (l *typeLabels) label(t string, max int) string {
	if slices.Contains(KnownTypes, t) {
		return t
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if _, ok := l.seen[t]; ok {
		return t
	}
	if len(l.seen) >= max {
		l.overflow.Inc()
		return OtherType
	}
	if l.seen == nil {
		l.seen = make(map[string]struct{})
	}
	l.seen[t] = struct{}{}
	return t
}

func newMetrics(reg prometheus.Registerer) *metrics {
	m := &metrics{
		created: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "iocd_violations_total", Help: "Violation records created, by type."}, []string{"type"}),
		duplicates: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "iocd_violation_duplicates_total", Help: "Violation events re-delivered and ignored."}),
		invalid: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "iocd_violation_events_invalid_total", Help: "Violation events refused as malformed."}),
		refused: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "iocd_violation_events_refused_total",
			Help: "Violation events refused because their device may not file violations (only an active registered camera may), by reason: not_camera, auto_registered, pending, inactive."}, []string{"reason"}),
		timestamps: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "iocd_evidence_timestamps_total",
			Help: "Tries to get an RFC 3161 timestamp of the ledger head from evidence.tsa_url, by result: stamped, failed (retried with the newest head)."}, []string{"result"}),
		clips: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "iocd_violation_clips_total", Help: "Violation clips finished, by clip status."}, []string{"status"}),
		clipsDropped: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "iocd_violation_clips_dropped_total", Help: "Clips not cut because too many were pending; the records are flagged no_video."}),
		clipLatency: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "iocd_violation_clip_latency_seconds",
			Help:    "Time from the end of a clip's window (ts + post) to the clip being on disk.",
			Buckets: []float64{0.05, 0.1, 0.2, 0.3, 0.5, 1, 2, 5, 10},
		}),
		purged: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "iocd_violation_clips_purged_total", Help: "Clip files removed by retention, by reason."}, []string{"reason"}),
		audit: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "iocd_evidence_access_total", Help: "Audited evidence accesses and reviews, by action."}, []string{"action"}),
		purgeFailed: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "iocd_violation_purge_failures_total", Help: "Records retention failed to purge and skipped (see the error log)."}),
		writeFailed: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "iocd_violation_evidence_write_failures_total", Help: "Clips and snapshots that could not be written (the record is kept without them), by kind."}, []string{"kind"}),
		storeErrors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "iocd_violation_store_errors_total", Help: "Store operations of the violations service that failed (retried or returned), by operation."}, []string{"op"}),
		mediaMade: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "iocd_media_derived_total", Help: "ffmpeg runs making a derived file (viewing copy, still), by kind and result: made, failed."}, []string{"kind", "result"}),
		mediaDropped: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "iocd_media_queue_dropped_total", Help: "Sealed clips not queued for a viewing copy because the queue was full; their copies are made when first asked for."}),
	}
	m.types.overflow = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "iocd_violation_types_overflow_total",
		Help: "Violations whose type was labelled \"other\" in metrics and InfluxDB because violations.max_types distinct types were already seen (the record keeps its type)."})
	if reg != nil {
		reg.MustRegister(m.created, m.duplicates, m.invalid, m.refused, m.timestamps, m.clips, m.clipsDropped, m.clipLatency, m.purged, m.audit, m.purgeFailed, m.writeFailed, m.storeErrors, m.types.overflow,
			m.mediaMade, m.mediaDropped)
	}
	for _, r := range []string{"stamped", "failed"} {
		m.timestamps.WithLabelValues(r)
	}
	for _, r := range []string{RefusedNotCamera, RefusedAutoRegistered, RefusedPending, RefusedInactive} {
		m.refused.WithLabelValues(r)
	}
	return m
}
