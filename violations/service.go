// Package violations owns traffic-violation records and their evidence:
// decoding violation events from cameras and ANPR units, normalising
// Vietnamese plates, cutting and muxing each event's clip from the camera's
// buffer, storing the record idempotently, the police review workflow, the
// audit log of every access to evidence, the hash chain that makes any
// later change detectable (Verify), and the retention of clip files.
package violations

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/iocd/iocd/bus"
	"github.com/iocd/iocd/config"
	"github.com/iocd/iocd/defs"
	"github.com/iocd/iocd/internal/throttle"
	"github.com/iocd/iocd/streams"
)

// Store is what the service needs from the store; *store.SQLite is one.
// The seal functions compute a ledger entry inside the store's write
// transaction, so a change and its seal commit together.
type Store interface {
	LedgerStore
	InsertViolation(ctx context.Context, v defs.Violation) (defs.Violation, bool, error)
	SealEvidence(ctx context.Context, v defs.Violation, seal func(defs.Violation, string) defs.LedgerEntry, audit *defs.AuditEntry) (defs.Violation, error)
	GetViolation(ctx context.Context, id string) (defs.Violation, error)
	ViolationsWithClip(ctx context.Context, clip []defs.ClipStatus, status defs.ReviewStatus, before time.Time, limit int) ([]defs.Violation, error)
	AddReview(ctx context.Context, r defs.Review, seal func(defs.Review, string) defs.LedgerEntry, audit defs.AuditEntry) (defs.Review, error)
	LedgerHead(ctx context.Context) (string, error)
	AddAudit(ctx context.Context, e defs.AuditEntry) error
	ListAudit(ctx context.Context, cursor string, limit int) ([]defs.AuditEntry, string, error)
}

// ClipSource cuts video from a camera's buffer; *streams.Manager is one.
type ClipSource interface {
	Clip(ctx context.Context, camera defs.DeviceID, from, to time.Time) (streams.Segment, error)
}

// PointWriter writes one InfluxDB point; nil means no InfluxDB.
type PointWriter interface {
	WritePoint(measurement string, tags map[string]string, fields map[string]any, ts time.Time)
}

// maxPendingClips bounds the clips being waited for at once. Each is a
// goroutine that mostly sleeps until ts + post; past the bound a record is
// still stored, flagged no_video with the reason, and counted.
const maxPendingClips = 2048

// Service records violations.
type Service struct {
	cfg       config.Violations
	retention config.Retention
	dataDir   string
	store     Store
	clips     ClipSource
	bus       *bus.Bus
	points    PointWriter
	log       *slog.Logger
	metrics   *metrics
	// clipGrace is how long past ts + post a clip waits for video before
	// it is written as partial: a stalled camera is dropped after the
	// streams read timeout, so waiting longer gains nothing.
	clipGrace time.Duration

	jobsCtx    context.Context
	cancelJobs context.CancelFunc
	jobs       sync.WaitGroup
	slots      chan struct{}
	warnLimit  *throttle.Throttle
	started    time.Time
	kick       chan struct{} // asks Run for a retention pass now
	hashes     *fileHashes
	observer   Observer // nil: none (observer.go)
}

// New returns a Service storing clips under dataDir/clips. clips may be nil
// (no cameras: every record is no_video); b, points and reg may be nil.
func New(cfg config.Violations, ret config.Retention, streamsCfg config.Streams, dataDir string, st Store, clips ClipSource,
	b *bus.Bus, points PointWriter, reg prometheus.Registerer, log *slog.Logger) *Service {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	ctx, cancel := context.WithCancel(context.Background())
	return &Service{
		cfg: cfg, retention: ret, dataDir: dataDir, store: st, clips: clips, bus: b, points: points,
		log:        log.With("component", "violations"),
		metrics:    newMetrics(reg),
		clipGrace:  streamsCfg.ReadTimeout.D() + 2*time.Second,
		jobsCtx:    ctx,
		cancelJobs: cancel,
		slots:      make(chan struct{}, maxPendingClips),
		warnLimit:  throttle.New(time.Minute),
		started:    time.Now(),
		kick:       make(chan struct{}, 1),
		hashes:     newFileHashes(),
	}
}

// Run finishes records left unfinished by a previous run, applies
// retention every retention.interval, and on ctx's end waits for the clips
// being cut (they are written as partial at once).
func (s *Service) Run(ctx context.Context) error {
	defer func() {
		s.cancelJobs()
		s.jobs.Wait()
	}()
	if err := s.recover(ctx); err != nil {
		s.log.Error("finishing interrupted clips", "error", err)
	}
	t := time.NewTicker(s.retention.Interval.D())
	defer t.Stop()
	s.applyRetention(ctx)
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
			s.applyRetention(ctx)
		case <-s.kick:
			// A clip failed to write, perhaps for lack of space: do not
			// wait for the next interval to make room.
			s.applyRetention(ctx)
		}
	}
}

// recover seals records whose clip was being cut when iocd stopped: the
// buffer died with the process, so they have no video.
func (s *Service) recover(ctx context.Context) error {
	for {
		// Only records from before this service was made: later ones
		// have clip jobs of their own running.
		vs, err := s.store.ViolationsWithClip(ctx, []defs.ClipStatus{defs.ClipRecording}, "", s.started, 500)
		if err != nil {
			return err
		}
		if len(vs) == 0 {
			return nil
		}
		for _, v := range vs {
			v.ClipStatus, v.ClipReason = defs.ClipNoVideo, "iocd restarted before the clip was cut"
			if err := s.finish(ctx, v); err != nil {
				return err
			}
		}
	}
}

// HandleEvent records a violation event from camera dev; it implements
// ingest's event consumer. A re-delivered event (same camera and event_id)
// changes nothing. Bad payloads return a defs.Invalid error.
func (s *Service) HandleEvent(ctx context.Context, dev defs.Device, payload []byte, received time.Time) error {
	ev, err := DecodeEvent(payload, received)
	if err != nil {
		s.metrics.invalid.Inc()
		if s.warnLimit.Allow() {
			s.log.Warn("bad violation event", "camera", dev.ID, "error", err)
		}
		return err
	}
	plate := NormalizePlate(ev.Plate, ev.Vehicle == "motorbike")
	now := time.Now().UTC()
	v := defs.Violation{
		ID: newID(ev.Time), Camera: dev.ID, Site: dev.Site, EventID: ev.EventID, Type: ev.Type, Time: ev.Time,
		Plate: plate.Text, PlateRaw: ev.Plate, PlateValid: plate.Valid, PlateFlag: plate.Flag,
		PlateConfidence: ev.PlateConfidence, Vehicle: ev.Vehicle, SpeedKmh: ev.SpeedKmh, LimitKmh: ev.LimitKmh, Lane: ev.Lane,
		Status: defs.ReviewPending, ClipStatus: defs.ClipRecording, CreatedAt: now, UpdatedAt: now,
	}
	if len(ev.Snapshot) > 0 {
		rel := s.filePath(v, ".jpg")
		sum, _, err := writeAtomic(s.dataDir, rel, func(w io.Writer) error { _, err := w.Write(ev.Snapshot); return err })
		if err != nil {
			return fmt.Errorf("writing snapshot: %w", err)
		}
		v.SnapshotPath, v.SnapshotSHA256 = rel, sum
	}
	stored, created, err := s.store.InsertViolation(ctx, v)
	if err != nil {
		// No record points at the snapshot, so retention would never
		// remove it; a redelivery writes its own under a new id.
		if v.SnapshotPath != "" {
			if p, perr := evidencePath(s.dataDir, v.SnapshotPath); perr == nil {
				os.Remove(p)
			}
		}
		return err
	}
	if !created {
		if v.SnapshotPath != "" {
			// The re-delivery's copy of the snapshot is not evidence of
			// anything: the first delivery's record keeps its own.
			if p, err := evidencePath(s.dataDir, v.SnapshotPath); err == nil {
				os.Remove(p)
			}
		}
		s.metrics.duplicates.Inc()
		s.log.Debug("duplicate violation event", "camera", dev.ID, "event_id", ev.EventID, "violation", stored.ID)
		return nil
	}
	s.metrics.created.WithLabelValues(v.Type).Inc()
	s.log.Debug("violation recorded", "violation", v.ID, "camera", dev.ID, "type", v.Type)
	s.publish(v)
	s.observe(v)
	if s.points != nil {
		s.points.WritePoint("violations",
			map[string]string{"camera": string(v.Camera), "site": v.Site, "type": v.Type},
			map[string]any{"count": 1, "plate": v.Plate}, v.Time)
	}
	select {
	case s.slots <- struct{}{}:
	default:
		s.metrics.clipsDropped.Inc()
		v.ClipStatus, v.ClipReason = defs.ClipNoVideo, "too many clips pending"
		return s.finish(ctx, v)
	}
	s.jobs.Add(1)
	go func() {
		defer s.jobs.Done()
		defer func() { <-s.slots }()
		s.cutClip(v)
	}()
	return nil
}

// cutClip waits for the clip's window, writes it, and seals the record.
func (s *Service) cutClip(v defs.Violation) {
	w := s.cfg.WindowFor(v.Type)
	from, to := v.Time.Add(-w.Pre.D()), v.Time.Add(w.Post.D())
	// Wait for ts + post, but never longer than post from now: an event
	// whose ts is ahead of the camera's clock must not hold a goroutine
	// for the whole of the skew.
	until := to
	if limit := time.Now().Add(w.Post.D()); until.After(limit) {
		until = limit
	}
	ctx, cancel := context.WithDeadline(s.jobsCtx, until.Add(s.clipGrace))
	defer cancel()
	var seg streams.Segment
	var err error
	if s.clips == nil {
		err = errors.New("no cameras configured")
	} else {
		seg, err = s.clips.Clip(ctx, v.Camera, from, to)
	}
	switch {
	case err != nil || len(seg.Samples) == 0:
		v.ClipStatus = defs.ClipNoVideo
		v.ClipReason = seg.Reason
		if v.ClipReason == "" && err != nil {
			v.ClipReason = err.Error()
		}
	default:
		rel := s.filePath(v, ".mp4")
		var start, end time.Time
		sum, size, werr := writeAtomic(s.dataDir, rel, func(w io.Writer) error {
			var merr error
			start, end, merr = muxMP4(w, seg)
			return merr
		})
		if werr != nil {
			s.log.Error("writing clip", "violation", v.ID, "error", werr)
			select {
			case s.kick <- struct{}{}:
			default:
			}
			v.ClipStatus, v.ClipReason = defs.ClipNoVideo, "clip could not be written"
			break
		}
		v.ClipStatus, v.ClipReason = defs.ClipComplete, ""
		if !seg.Complete {
			v.ClipStatus, v.ClipReason = defs.ClipPartial, seg.Reason
		}
		v.ClipPath, v.ClipSHA256, v.ClipBytes, v.ClipStart, v.ClipEnd = rel, sum, size, start.UTC(), end.UTC()
		s.metrics.clipLatency.Observe(time.Since(to).Seconds())
	}
	s.metrics.clips.WithLabelValues(string(v.ClipStatus)).Inc()
	// Sealing must not be cut short by shutdown.
	fctx, fcancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer fcancel()
	if err := s.finish(fctx, v); err != nil {
		s.log.Error("sealing violation", "violation", v.ID, "error", err)
	}
}

// finish stores final evidence and seals it in the ledger in one
// transaction, then publishes it.
func (s *Service) finish(ctx context.Context, v defs.Violation) error {
	return s.seal(ctx, v, sealEvidence, nil)
}

// seal stores v's evidence fields, the ledger entry seal computes and the
// audit entry (if any) in one transaction, then publishes the record.
func (s *Service) seal(ctx context.Context, v defs.Violation, seal func(defs.Violation, string) defs.LedgerEntry, audit *defs.AuditEntry) error {
	v.UpdatedAt = time.Now().UTC()
	stored, err := s.store.SealEvidence(ctx, v, seal, audit)
	if err != nil {
		return fmt.Errorf("sealing evidence: %w", err)
	}
	s.publish(stored)
	return nil
}

func (s *Service) publish(v defs.Violation) {
	if s.bus != nil {
		s.bus.Publish(defs.Event{Kind: defs.EventViolation, Time: time.Now(), Violation: &v})
	}
}

// filePath returns a record's evidence file path relative to the data dir:
// clips/<site>/<camera>/<yyyy-mm-dd>/<id><ext>. Site and camera ids come
// from the registry and are path-safe there; path.Base guards anyway.
func (s *Service) filePath(v defs.Violation, ext string) string {
	return path.Join("clips", safeName(v.Site), safeName(string(v.Camera)), v.Time.UTC().Format("2006-01-02"), v.ID+ext)
}

func safeName(s string) string {
	b := []byte(path.Base("/" + s))
	for i, c := range b {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == '.') {
			b[i] = '_'
		}
	}
	if len(b) == 0 || string(b) == "." || string(b) == ".." || string(b) == "/" {
		return "_"
	}
	return string(b)
}

// newID returns a record id that sorts by event time: 12 hex digits of
// milliseconds and 8 random hex digits.
func newID(ts time.Time) string {
	var r [4]byte
	rand.Read(r[:])
	return fmt.Sprintf("v%012x%s", ts.UnixMilli(), hex.EncodeToString(r[:]))
}
