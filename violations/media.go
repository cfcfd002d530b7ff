package violations

import (
	"context"
	"errors"
	"fmt"
	"math"
	"os"
	"strings"
	"time"

	"github.com/iocd/iocd/defs"
)

// Derived files. A reviewer must see every clip, but Debian's Chromium
// and Firefox play no H.265, and half the cameras send it; and a camera
// that sends no snapshot leaves the desk without a picture. So iocd makes,
// with ffmpeg, an H.264 viewing copy of each H.265 clip and a still from
// the clip at the event's moment. Both are derived: recorded in
// derived_files with their own hash and the hash of the original they were
// made from, marked derived wherever served (X-Iocd-Derived: true), kept
// beside the original under clips/ and removed with it. They never replace
// the original: the evidence package, Verify and /clip carry only that,
// and the original's hash is checked against its seal before and after
// every ffmpeg run, which reads it through a read-only descriptor.

// MediaConfig is how derived files are made (config media.*).
type MediaConfig struct {
	// FFmpeg is the ffmpeg binary, a path or a name on PATH.
	FFmpeg string
	// ViewingCopies makes the H.264 copy of H.265 clips; off, the
	// original is offered as it is.
	ViewingCopies bool
	// MaxJobs bounds the ffmpeg runs at once.
	MaxJobs int
	// Timeout bounds one ffmpeg run.
	Timeout time.Duration
	// Queue bounds the sealed clips waiting for their copy to be made in
	// the background (0: 256); past it they are dropped, counted, and
	// made when first asked for.
	Queue int
}

// MediaStore records derived files; *store.SQLite is one.
type MediaStore interface {
	PutDerived(ctx context.Context, d defs.DerivedFile) error
	// Derived returns ENOTFOUND if there is none.
	Derived(ctx context.Context, violationID string, kind defs.DerivedKind) (defs.DerivedFile, error)
	DeleteDerived(ctx context.Context, violationID string, kind defs.DerivedKind) error
	// DerivedWithoutSource lists derived files whose original is gone.
	DerivedWithoutSource(ctx context.Context, limit int) ([]defs.DerivedFile, error)
	// AuditFor is a target's custody log, oldest first.
	AuditFor(ctx context.Context, target string) ([]defs.AuditEntry, error)
}

// WithMedia makes the service make and serve derived files with ffmpeg,
// recorded in st. Without it, none are made: the media answer says so.
func WithMedia(cfg MediaConfig, st MediaStore) Option {
	return func(s *Service) { s.media = newMedia(cfg, st, s) }
}

// MediaState says whether a viewing copy can be played now.
type MediaState string

// Viewing copy states.
const (
	MediaReady       MediaState = "ready"
	MediaMaking      MediaState = "making"
	MediaUnavailable MediaState = "unavailable"
)

// MediaInfo is what a reviewer's player needs to show a violation's
// video and picture: which file is the original, which the viewing copy
// and whether it is derived, and where in the clip the event is.
type MediaInfo struct {
	Clip     ClipMedia      `json:"clip"`
	View     ViewMedia      `json:"view"`
	Snapshot *SnapshotMedia `json:"snapshot"`
	// EventOffsetSeconds is the event's time minus the clip's start: where
	// the player marks the moment (0 without a clip).
	EventOffsetSeconds float64 `json:"event_offset_seconds"`
}

// ClipMedia is the original clip, the evidence.
type ClipMedia struct {
	Codec  string          `json:"codec"`
	SHA256 string          `json:"sha256"`
	Status defs.ClipStatus `json:"status"`
}

// ViewMedia is what /clip/view serves: the H.264 copy of an H.265 clip
// (Derived), or the original itself.
type ViewMedia struct {
	Derived bool `json:"derived"`
	// SHA256 is the file's own hash; SourceSHA256 the original's it was
	// made from (the same for the original).
	SHA256       string     `json:"sha256"`
	SourceSHA256 string     `json:"source_sha256"`
	State        MediaState `json:"state"`
	Reason       string     `json:"reason"`
}

// SnapshotMedia is what /snapshot serves: the camera's snapshot, or a
// still taken from the clip (Derived; SHA256 empty until it is made).
type SnapshotMedia struct {
	Derived bool   `json:"derived"`
	SHA256  string `json:"sha256"`
}

// View is a viewing file opened for serving (the caller closes File).
type View struct {
	File      *os.File
	Derived   bool
	SHA256    string
	Violation defs.Violation
}

// DetailViewingCopy is the audit detail of a /clip/view access.
const DetailViewingCopy = "viewing copy"

// DetailDerivedStill is the audit detail of a /snapshot access answered
// with a still taken from the clip.
const DetailDerivedStill = "derived still"

// RecordingError refuses evidence of a clip still being recorded: a
// conflict that ends when the clip is sealed, RetryAfter from now.
type RecordingError struct {
	err        *defs.Error
	RetryAfter time.Duration
}

func (e *RecordingError) Error() string { return e.err.Error() }

// Unwrap gives the defs ECONFLICT error, which the API maps to 409.
func (e *RecordingError) Unwrap() error { return e.err }

// RetryAfterSeconds is RetryAfter in whole seconds, rounded up, at least
// 1: the API's Retry-After header.
func (e *RecordingError) RetryAfterSeconds() int {
	return max(1, int(math.Ceil(e.RetryAfter.Seconds())))
}

// stillRecording is the error for evidence of v asked for while its clip
// is being recorded: the clip job waits until ts + post (at most post
// after the event arrived) plus the grace for a stalled camera.
func (s *Service) stillRecording(v defs.Violation) error {
	w := s.cfg.WindowFor(v.Type)
	until := v.Time.Add(w.Post.D())
	if limit := v.CreatedAt.Add(w.Post.D()); until.After(limit) {
		until = limit
	}
	after := time.Until(until.Add(s.clipGrace))
	return &RecordingError{
		err:        defs.Errorf(defs.ECONFLICT, "violation %s's clip is still being recorded; ask again in %d s", v.ID, max(1, int(math.Ceil(after.Seconds())))),
		RetryAfter: after,
	}
}

// systemMedia is the actor of the media maker's own checks (a refused
// original is audited under it).
var systemMedia = Actor{Subject: "system:media", Name: "media", Role: defs.RoleAdmin}

// Media answers what a reviewer's player needs for violation id. It
// starts making a missing viewing copy (or still) and answers "making";
// a copy that cannot be made is "unavailable" with the reason.
func (s *Service) Media(ctx context.Context, a Actor, id string) (MediaInfo, error) {
	if err := requireReviewer(a); err != nil {
		return MediaInfo{}, err
	}
	v, err := s.store.GetViolation(ctx, id)
	if err != nil {
		return MediaInfo{}, err
	}
	info := MediaInfo{Clip: ClipMedia{SHA256: v.ClipSHA256, Status: v.ClipStatus}}
	if v.SnapshotPath != "" {
		info.Snapshot = &SnapshotMedia{SHA256: v.SnapshotSHA256}
	}
	switch {
	case v.ClipStatus == defs.ClipRecording:
		info.View = ViewMedia{State: MediaUnavailable, Reason: "the clip is still being recorded"}
		if info.Snapshot == nil {
			info.Snapshot = &SnapshotMedia{Derived: true}
		}
		return info, nil
	case v.ClipPath == "":
		info.View = ViewMedia{State: MediaUnavailable, Reason: fmt.Sprintf("no clip (%s)", clipWhy(v))}
		return info, nil
	}
	info.EventOffsetSeconds = eventOffset(v).Seconds()
	codec, err := s.clipCodecOf(v)
	if err != nil {
		info.View = ViewMedia{State: MediaUnavailable, Reason: "the clip cannot be read: " + err.Error()}
		return info, nil
	}
	info.Clip.Codec = codec
	info.View = s.media.viewState(ctx, v, codec)
	if info.Snapshot == nil {
		info.Snapshot = &SnapshotMedia{Derived: true}
		if d, ok := s.media.current(ctx, v, defs.DerivedStill); ok {
			info.Snapshot.SHA256 = d.SHA256
		} else {
			s.media.start(v, defs.DerivedStill)
		}
	}
	return info, nil
}

func clipWhy(v defs.Violation) string {
	if v.ClipReason != "" {
		return string(v.ClipStatus) + ": " + v.ClipReason
	}
	return string(v.ClipStatus)
}

// eventOffset is where in the clip the event is, within the clip.
func eventOffset(v defs.Violation) time.Duration {
	if v.ClipStart.IsZero() {
		return 0
	}
	off := v.Time.Sub(v.ClipStart)
	return max(0, min(off, v.ClipEnd.Sub(v.ClipStart)))
}

// clipCodecOf reads the codec from v's clip file (its sample entry).
func (s *Service) clipCodecOf(v defs.Violation) (string, error) {
	if _, err := evidencePath(s.dataDir, v.ClipPath); err != nil {
		return "", err
	}
	f, err := openEvidence(s.dataDir, v.ClipPath)
	if err != nil {
		return "", fmt.Errorf("opening the clip: %w", err)
	}
	defer f.Close()
	codec, _, err := clipCodec(f)
	return codec, err
}

// OpenView opens what /clip/view serves for violation id: the H.264
// viewing copy of an H.265 clip (made now if missing, waiting for ffmpeg
// within ctx), or the original clip. The original is checked against its
// seal first, as for /clip. The access is audited as violation.clip
// ("viewing copy") unless continued is set (a Range request past the
// first byte: the player fetching more of what it opened) and the actor's
// opening of this clip is already on record.
func (s *Service) OpenView(ctx context.Context, a Actor, id string, continued bool) (View, error) {
	if err := requireReviewer(a); err != nil {
		return View{}, err
	}
	v, err := s.store.GetViolation(ctx, id)
	if err != nil {
		return View{}, err
	}
	if v.ClipStatus == defs.ClipRecording {
		return View{}, s.stillRecording(v)
	}
	if v.ClipPath == "" {
		return View{}, defs.NotFound("violation %s has no clip (%s)", id, clipWhy(v))
	}
	orig, err := s.openChecked(ctx, a, v, "clip", v.ClipPath, v.ClipSHA256)
	if err != nil {
		return View{}, err
	}
	view := View{File: orig, SHA256: v.ClipSHA256, Violation: v}
	codec, _, err := clipCodec(orig)
	if err != nil {
		orig.Close()
		return View{}, fmt.Errorf("reading the clip's codec: %w", err)
	}
	if codec == CodecH265 && s.media.cfg.ViewingCopies {
		d, err := s.media.ensure(ctx, v, defs.DerivedView)
		if err != nil {
			orig.Close()
			return View{}, err
		}
		f, err := s.media.openDerived(d)
		if err != nil {
			orig.Close()
			return View{}, err
		}
		orig.Close()
		view = View{File: f, Derived: true, SHA256: d.SHA256, Violation: v}
	}
	if !continued || !s.media.opened(ctx, a, id) {
		if err := s.audit(ctx, a, ActionClip, id, DetailViewingCopy); err != nil {
			view.File.Close()
			return View{}, err
		}
	}
	return view, nil
}

// SnapshotDerived reports whether OpenSnapshot answered v with a still
// taken from the clip (the record has no camera snapshot; SnapshotSHA256
// is then the still's).
func SnapshotDerived(v defs.Violation) bool { return v.SnapshotPath == "" }

// openStill is OpenSnapshot for a violation whose camera sent no
// snapshot: the still taken from its clip, made now if missing.
func (s *Service) openStill(ctx context.Context, a Actor, v defs.Violation) (*os.File, defs.Violation, error) {
	if v.ClipPath == "" {
		return nil, v, defs.NotFound("violation %s has no snapshot, and no clip to take a still from (%s)", v.ID, clipWhy(v))
	}
	// The still is taken from the original, which must match its seal.
	orig, err := s.openChecked(ctx, a, v, "clip", v.ClipPath, v.ClipSHA256)
	if err != nil {
		return nil, v, err
	}
	orig.Close()
	d, err := s.media.ensure(ctx, v, defs.DerivedStill)
	if err != nil {
		return nil, v, err
	}
	f, err := s.media.openDerived(d)
	if err != nil {
		return nil, v, err
	}
	if err := s.audit(ctx, a, ActionSnapshot, v.ID, DetailDerivedStill); err != nil {
		f.Close()
		return nil, v, err
	}
	v.SnapshotSHA256 = d.SHA256
	return f, v, nil
}

// viewState says whether v's viewing copy can be played, starting to make
// it if it is missing.
func (m *media) viewState(ctx context.Context, v defs.Violation, codec string) ViewMedia {
	if codec != CodecH265 {
		return ViewMedia{SHA256: v.ClipSHA256, SourceSHA256: v.ClipSHA256, State: MediaReady}
	}
	if !m.cfg.ViewingCopies {
		return ViewMedia{SHA256: v.ClipSHA256, SourceSHA256: v.ClipSHA256, State: MediaReady,
			Reason: "viewing copies are off (media.viewing_copies): this is the H.265 original, which Chromium and Firefox on Debian do not play"}
	}
	if d, ok := m.current(ctx, v, defs.DerivedView); ok {
		return ViewMedia{Derived: true, SHA256: d.SHA256, SourceSHA256: d.SourceSHA256, State: MediaReady}
	}
	view := ViewMedia{Derived: true, SourceSHA256: v.ClipSHA256}
	if reason, failed := m.lastFailure(v.ID, defs.DerivedView); failed {
		view.State, view.Reason = MediaUnavailable, reason
		return view
	}
	// A missing ffmpeg is said at once, not after a job fails.
	if _, err := m.version(ctx); err != nil {
		view.State, view.Reason = MediaUnavailable, defs.ErrorMessage(err)
		return view
	}
	m.start(v, defs.DerivedView)
	view.State = MediaMaking
	return view
}

// opened reports whether a's opening of violation id's clip is on record.
func (m *media) opened(ctx context.Context, a Actor, id string) bool {
	entries, err := m.st.AuditFor(ctx, id)
	if err != nil {
		return false // audit again rather than leave an access unrecorded
	}
	for _, e := range entries {
		if e.Action == ActionClip && e.Actor == a.id() {
			return true
		}
	}
	return false
}

// errNoMedia is the reason without WithMedia.
var errNoMedia = errors.New("derived files are not configured on this server")

// noMediaStore is the MediaStore without WithMedia: nothing is recorded,
// so nothing is made.
type noMediaStore struct{}

func (noMediaStore) PutDerived(context.Context, defs.DerivedFile) error { return errNoMedia }
func (noMediaStore) Derived(_ context.Context, id string, kind defs.DerivedKind) (defs.DerivedFile, error) {
	return defs.DerivedFile{}, defs.NotFound("violation %s has no derived %s", id, kind)
}
func (noMediaStore) DeleteDerived(context.Context, string, defs.DerivedKind) error { return nil }
func (noMediaStore) DerivedWithoutSource(context.Context, int) ([]defs.DerivedFile, error) {
	return nil, nil
}
func (noMediaStore) AuditFor(context.Context, string) ([]defs.AuditEntry, error) { return nil, nil }

// derivedPath is where a derived file of v lives: beside its clip,
// clips/<site>/<camera>/<day>/<id>.view.mp4 or <id>.still.jpg.
func derivedPath(v defs.Violation, kind defs.DerivedKind) string {
	base := strings.TrimSuffix(v.ClipPath, ".mp4")
	if kind == defs.DerivedView {
		return base + ".view.mp4"
	}
	return base + ".still.jpg"
}
