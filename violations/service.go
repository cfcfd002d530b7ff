// Package violations owns traffic-violation records and their evidence:
// decoding violation events from cameras and ANPR units, normalising
// Vietnamese plates, cutting and muxing each event's clip from the camera's
// buffer, storing the record idempotently, the police review workflow, the
// audit log of every access to evidence, the signed hash chain that makes
// any later change detectable (Verify) and its signing keys, and the
// retention of clip files. Only an active registered camera files.
package violations

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path"
	"path/filepath"
	"sync"
	"sync/atomic"
	"syscall"
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
	deskStore
	InsertViolation(ctx context.Context, v defs.Violation) (defs.Violation, bool, error)
	SealEvidence(ctx context.Context, v defs.Violation, seal func(defs.Violation, string) defs.LedgerEntry, audit *defs.AuditEntry) (defs.Violation, error)
	GetViolation(ctx context.Context, id string) (defs.Violation, error)
	ViolationsWithClip(ctx context.Context, clip []defs.ClipStatus, status defs.ReviewStatus, before time.Time, limit int) ([]defs.Violation, error)
	AddReview(ctx context.Context, r defs.Review, seal func(defs.Review, string) defs.LedgerEntry, audit defs.AuditEntry) (defs.Review, error)
	LedgerHead(ctx context.Context) (string, error)
	AddAudit(ctx context.Context, e defs.AuditEntry) error
	ListAudit(ctx context.Context, cursor string, limit int) ([]defs.AuditEntry, string, error)
	// SetAuditSealer makes every audit entry the store writes, by this
	// service or another, append the ledger entry seal computes for it
	// (its ID set) in the same transaction.
	SetAuditSealer(seal func(e defs.AuditEntry, prevHash string) defs.LedgerEntry)
	keyStore
	timestampStore
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
	keys       *Keyring
	signer     atomic.Pointer[Signer]
	ledgerMu   sync.Mutex
	ledgerOpen bool
	tsaURL     string        // "": no timestamps (tsa.go)
	stampEvery time.Duration // how often the head is checked for a stamp
	conds      *condState
	disk       diskFS
	// sealRetry bounds how long a finished clip's seal is retried while
	// the store refuses it; past it the record is left recording, and the
	// next start seals it as no_video.
	sealRetry time.Duration
	// storeTimeout bounds one store write of an arriving event: a locked
	// database answers a retryable error within it, and ingest backs off,
	// rather than holding an ingest worker for the whole busy_timeout.
	storeTimeout time.Duration
	observer     Observer   // nil: none (observer.go)
	desk         DeskConfig // the review desk's settings (desk.go)
	media        *media     // derived files (media.go); WithMedia configures it
}

// New returns a Service storing clips under dataDir/clips. clips may be nil
// (no cameras: every record is no_video); b, points and reg may be nil.
func New(cfg config.Violations, ret config.Retention, streamsCfg config.Streams, dataDir string, st Store, clips ClipSource,
	b *bus.Bus, points PointWriter, reg prometheus.Registerer, log *slog.Logger, opts ...Option) *Service {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	ctx, cancel := context.WithCancel(context.Background())
	s := &Service{
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
		disk:       osDisk,
		sealRetry:  time.Minute,
		stampEvery: stampEvery,
		// storeTimeout is under the store's busy_timeout (10 s).
		storeTimeout: 5 * time.Second,
		desk:         DeskConfig{}.withDefaults(),
	}
	s.conds = &condState{sink: noConditions{}, svc: s, set: map[string]bool{}}
	s.media = newMedia(MediaConfig{}, noMediaStore{}, s)
	for _, o := range opts {
		o(s)
	}
	if s.keys == nil {
		// serve passes the keyring (WithKeyring) and handles its errors;
		// others (tests, tools) get the data dir's default key.
		k, err := OpenKeyring(filepath.Join(dataDir, DefaultKeyFile), true)
		if err != nil {
			s.log.Error("opening the evidence signing key; signing with a key held in memory only", "err", err)
			k = memoryKeyring()
		}
		s.keys = k
	}
	s.signer.Store(s.keys.Signer())
	st.SetAuditSealer(func(e defs.AuditEntry, prev string) defs.LedgerEntry { return s.signer.Load().SealAudit(e, prev) })
	return s
}

// WithKeyring makes the service sign with the keyring's key (OpenKeyring);
// without it, New opens (or creates) the data dir's DefaultKeyFile.
func WithKeyring(k *Keyring) Option {
	return func(s *Service) { s.keys = k }
}

// OpenLedger brings the ledger's signing key up to the keyring's: at
// first start it seals the key, after `iocd evidence rotate-key` the
// rotation. It is done once, before the first seal, and Run does it
// first; serve calls it before starting ingest so a key problem is seen
// at start.
func (s *Service) OpenLedger(ctx context.Context) error {
	s.ledgerMu.Lock()
	defer s.ledgerMu.Unlock()
	if s.ledgerOpen {
		return nil
	}
	warn, err := s.keys.open(ctx, s.store)
	if err != nil {
		return fmt.Errorf("opening the evidence ledger: %w", err)
	}
	if warn != nil {
		s.log.Error("evidence signing key", "err", warn)
	}
	s.signer.Store(s.keys.Signer())
	s.ledgerOpen = true
	return nil
}

// Keys returns the public keys that sign or signed the ledger, oldest
// first, each valid until the next one took over.
func (s *Service) Keys(ctx context.Context) ([]defs.EvidenceKey, error) {
	if err := s.OpenLedger(ctx); err != nil {
		return nil, err
	}
	entries, err := s.store.KeyEntries(ctx)
	if err != nil {
		return nil, err
	}
	var out []defs.EvidenceKey
	for _, e := range entries {
		var p keyPayload
		if err := json.Unmarshal([]byte(e.Payload), &p); err != nil {
			return nil, fmt.Errorf("key entry %d: %w", e.Seq, err)
		}
		if n := len(out); n > 0 {
			out[n-1].ValidUntil = e.At
		}
		out = append(out, defs.EvidenceKey{Fingerprint: p.Fingerprint, Algorithm: p.Algorithm, PublicKey: p.PublicKey, ValidFrom: e.At, Seq: e.Seq})
	}
	return out, nil
}

// Run finishes records left unfinished by a previous run, applies
// retention every retention.interval, and on ctx's end waits for the clips
// being cut (they are written as partial at once).
func (s *Service) Run(ctx context.Context) error {
	defer func() {
		s.cancelJobs()
		s.jobs.Wait()
		s.media.stop()
	}()
	if err := s.OpenLedger(ctx); err != nil {
		s.metrics.storeErrors.WithLabelValues("open_ledger").Inc()
		s.log.Error("opening the evidence ledger", "err", err)
	}
	s.media.run()
	if s.tsaURL != "" {
		s.jobs.Add(1)
		go func() { defer s.jobs.Done(); s.stampLoop(s.jobsCtx, s.store) }()
	}
	if err := s.recover(ctx); err != nil {
		s.metrics.storeErrors.WithLabelValues("recover").Inc()
		s.log.Error("finishing interrupted clips", "err", err)
	}
	t := time.NewTicker(s.retention.Interval.D())
	defer t.Stop()
	space := time.NewTicker(min(s.retention.Interval.D(), spaceCheckEvery))
	defer space.Stop()
	s.applyRetention(ctx)
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
			s.applyRetention(ctx)
		case <-space.C:
			s.checkSpace(ctx)
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
// changes nothing. Bad payloads, and events from a device that may not
// file violations (mayFile), return a defs.Invalid error.
func (s *Service) HandleEvent(ctx context.Context, dev defs.Device, payload []byte, received time.Time) error {
	if reason := mayFile(dev); reason != "" {
		s.metrics.refused.WithLabelValues(reason).Inc()
		if s.warnLimit.Allow() {
			s.log.Warn("violation event refused: only an active registered camera files violations", "device", dev.ID, "reason", reason)
		}
		return defs.Invalid("device", "%s may not file violations (%s): only an active, registered device of kind camera does", dev.ID, reason)
	}
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
		// The place as the registry has it now, sealed with the record.
		CameraName: dev.Name, Address: dev.Address, Lat: dev.Lat, Lon: dev.Lon,
		// The event as the detector sent it, byte for byte.
		RawEvent: append(json.RawMessage(nil), payload...), RawEventSHA256: sha256Hex(payload),
	}
	if len(ev.Snapshot) > 0 {
		rel := s.filePath(v, ".jpg")
		sum, _, err := writeAtomic(s.disk, s.dataDir, rel, func(w io.Writer) error { _, err := w.Write(ev.Snapshot); return err })
		s.evidenceWritten("snapshot", err)
		if err != nil {
			// The violation is still recorded: a full clip disk must not
			// lose the record (its plate, time and place) with the image.
			s.log.Error("writing snapshot; recording the violation without it", "camera", dev.ID, "event_id", ev.EventID, "err", err)
		} else {
			v.SnapshotPath, v.SnapshotSHA256 = rel, sum
		}
	}
	ictx, cancel := context.WithTimeout(ctx, s.storeTimeout)
	stored, created, err := s.store.InsertViolation(ictx, v)
	cancel()
	if err != nil {
		// Returned, not swallowed: ingest retries the event (leaving the
		// message unacknowledged meanwhile) while the store is busy or full.
		s.metrics.storeErrors.WithLabelValues("insert").Inc()
		if s.warnLimit.Allow() {
			s.log.Warn("storing a violation failed; the event will be retried", "camera", dev.ID, "event_id", ev.EventID, "err", err)
		}
		// No record points at the snapshot, so retention would never
		// remove it; a redelivery writes its own under a new id.
		if v.SnapshotPath != "" {
			if p, perr := evidencePath(s.dataDir, v.SnapshotPath); perr == nil {
				os.Remove(p)
			}
		}
		return fmt.Errorf("recording violation: %w", err)
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
	// Types are bounded as labels (violations.max_types), not in the record.
	label := s.metrics.types.label(v.Type, s.cfg.MaxTypes)
	s.metrics.created.WithLabelValues(label).Inc()
	s.log.Debug("violation recorded", "violation", v.ID, "camera", dev.ID, "type", v.Type)
	s.publish(v)
	v.RawEvent = nil // held by the store; the clip job needs only the record
	s.observe(v)
	if s.points != nil {
		s.points.WritePoint("violations",
			map[string]string{"camera": string(v.Camera), "site": v.Site, "type": label},
			map[string]any{"count": 1, "plate": v.Plate}, v.Time)
	}
	select {
	case s.slots <- struct{}{}:
	default:
		s.metrics.clipsDropped.Inc()
		v.ClipStatus, v.ClipReason = defs.ClipNoVideo, "too many clips pending"
		v.EvidenceChecks = failGaps(nil, "no video: "+v.ClipReason)
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

// Reasons a device's violation event is refused (label of
// iocd_violation_events_refused_total).
const (
	RefusedNotCamera      = "not_camera"
	RefusedAutoRegistered = "auto_registered"
	RefusedPending        = "pending"
	RefusedInactive       = "inactive"
)

// mayFile says why dev may not file violations, or "" if it may: only an
// active device registered as a camera does. A device iocd registered by
// itself (unknown_devices=register: kind sensor, tagged source=auto) or
// listed for approval never does; an admin who approves one as a camera
// sets its kind, and then it may.
func mayFile(dev defs.Device) string {
	switch {
	case dev.Status == defs.StatusPending:
		return RefusedPending
	case dev.Status != defs.StatusActive:
		return RefusedInactive
	case dev.Kind != defs.KindCamera && dev.Tags["source"] == "auto":
		return RefusedAutoRegistered
	case dev.Kind != defs.KindCamera:
		return RefusedNotCamera
	}
	return ""
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
	v.Evidential, v.EvidenceChecks = streams.Evidential(seg.Checks), seg.Checks
	v.HostClockSynced, v.HostClockErrorMs = seg.Host.Synced, seg.Host.ErrorMs
	if seg.ClockKnown {
		v.ClockOffsetMs = float64(seg.ClockOffset) / float64(time.Millisecond)
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
		sum, size, werr := writeAtomic(s.disk, s.dataDir, rel, func(w io.Writer) error {
			var merr error
			start, end, merr = muxMP4(w, seg)
			return merr
		})
		s.evidenceWritten("clip", werr)
		if werr != nil {
			s.log.Error("writing clip", "violation", v.ID, "err", werr)
			v.ClipStatus, v.ClipReason = defs.ClipNoVideo, "clip could not be written"
			if errors.Is(werr, syscall.ENOSPC) || errors.Is(werr, syscall.EDQUOT) {
				v.ClipReason = "clip could not be written: the clip disk is full"
			}
			break
		}
		v.ClipStatus, v.ClipReason = defs.ClipComplete, ""
		if !seg.Complete {
			v.ClipStatus, v.ClipReason = defs.ClipPartial, seg.Reason
		}
		v.ClipPath, v.ClipSHA256, v.ClipBytes, v.ClipStart, v.ClipEnd = rel, sum, size, start.UTC(), end.UTC()
		s.metrics.clipLatency.Observe(time.Since(to).Seconds())
	}
	if v.ClipStatus == defs.ClipNoVideo {
		// No video is no evidence, whatever the camera measured.
		v.Evidential = false
		v.EvidenceChecks = failGaps(v.EvidenceChecks, "no video: "+v.ClipReason)
	}
	s.metrics.clips.WithLabelValues(string(v.ClipStatus)).Inc()
	s.sealRetrying(v)
}

// failGaps returns checks with the no_gaps check failed for detail,
// added if absent.
func failGaps(checks []defs.EvidenceCheck, detail string) []defs.EvidenceCheck {
	out := append([]defs.EvidenceCheck(nil), checks...)
	for i := range out {
		if out[i].Name == defs.EvidenceCheckGaps {
			if out[i].OK || out[i].Detail == "" {
				out[i].OK, out[i].Detail = false, detail
			}
			return out
		}
	}
	return append(out, defs.EvidenceCheck{Name: defs.EvidenceCheckGaps, Detail: detail})
}

// sealRetrying seals a finished clip's record, retrying with backoff for
// up to sealRetry while the store refuses (busy, its disk full). Sealing
// is not cut short by shutdown; a record still unsealed at the end stays
// "recording" in the store, and the next start seals it as no_video.
// Every failure is counted and the last one logged.
func (s *Service) sealRetrying(v defs.Violation) {
	giveUp := time.Now().Add(s.sealRetry)
	delay := 100 * time.Millisecond
	for {
		fctx, fcancel := context.WithTimeout(context.Background(), 15*time.Second)
		err := s.finish(fctx, v)
		fcancel()
		if err == nil {
			return
		}
		s.metrics.storeErrors.WithLabelValues("seal").Inc()
		if defs.ErrorCode(err) == defs.ENOTFOUND || time.Now().Add(delay).After(giveUp) {
			s.log.Error("sealing violation failed; it is sealed as no_video at the next start", "violation", v.ID, "err", err)
			return
		}
		if s.warnLimit.Allow() {
			s.log.Warn("sealing violation failed; retrying", "violation", v.ID, "err", err)
		}
		time.Sleep(delay)
		delay = min(2*delay, 5*time.Second)
	}
}

// finish stores final evidence and seals it in the ledger in one
// transaction, then publishes it.
func (s *Service) finish(ctx context.Context, v defs.Violation) error {
	return s.seal(ctx, v, func(v defs.Violation, prev string) defs.LedgerEntry { return s.signer.Load().SealRecord(v, prev) }, nil)
}

// seal stores v's evidence fields, the ledger entry seal computes and the
// audit entry (if any) in one transaction, then publishes the record.
func (s *Service) seal(ctx context.Context, v defs.Violation, seal func(defs.Violation, string) defs.LedgerEntry, audit *defs.AuditEntry) error {
	if err := s.OpenLedger(ctx); err != nil {
		return err
	}
	v.UpdatedAt = time.Now().UTC()
	stored, err := s.store.SealEvidence(ctx, v, seal, audit)
	if err != nil {
		return fmt.Errorf("sealing evidence: %w", err)
	}
	s.publish(stored)
	s.media.sealed(stored)
	return nil
}

func (s *Service) publish(v defs.Violation) {
	// The raw event may carry a snapshot of megabytes: the feed and other
	// subscribers get the record without it (Get has it).
	v.RawEvent = nil
	if s.bus != nil {
		s.enrichForFeed(&v)
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
