package violations

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/iocd/iocd/defs"
)

// failRetry is how long a failed derived file is answered with its
// failure before it is tried again: a broken or missing ffmpeg must not
// be re-run for every poll of the desk.
const failRetry = 30 * time.Second

// maxFailures bounds the failures remembered; past it the oldest go (and
// are simply tried again when asked for).
const maxFailures = 1024

type jobKey struct {
	id   string
	kind defs.DerivedKind
}

// job is one derived file being made; waiters wait on done.
type job struct {
	done chan struct{}
	file defs.DerivedFile
	err  error
}

type failure struct {
	reason string
	at     time.Time
}

// media makes derived files: in the background after a clip is sealed
// (a bounded queue served by max_jobs workers) and on demand. One job per
// file at a time (waiters share it); at most max_jobs ffmpeg runs at once.
type media struct {
	cfg MediaConfig
	st  MediaStore
	svc *Service

	queue chan string   // violation ids sealed with a clip
	sem   chan struct{} // ffmpeg runs
	ctx   context.Context
	stopc context.CancelFunc
	wg    sync.WaitGroup

	mu       sync.Mutex
	closed   bool
	jobs     map[jobKey]*job
	failures map[jobKey]failure
	tool     string // ffmpeg's version line, once read
}

func newMedia(cfg MediaConfig, st MediaStore, s *Service) *media {
	if cfg.MaxJobs < 1 {
		cfg.MaxJobs = 1
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = 2 * time.Minute
	}
	if cfg.Queue <= 0 {
		cfg.Queue = 256
	}
	ctx, cancel := context.WithCancel(context.Background())
	return &media{cfg: cfg, st: st, svc: s, queue: make(chan string, cfg.Queue), sem: make(chan struct{}, cfg.MaxJobs),
		ctx: ctx, stopc: cancel, jobs: map[jobKey]*job{}, failures: map[jobKey]failure{}}
}

// run starts the background workers and removes derived files whose
// original is gone; stop ends them. Service.Run calls both.
func (m *media) run() {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		return
	}
	for range m.cfg.MaxJobs {
		m.wg.Add(1)
		go func() {
			defer m.wg.Done()
			for {
				select {
				case <-m.ctx.Done():
					return
				case id := <-m.queue:
					m.background(id)
				}
			}
		}()
	}
	m.wg.Add(1)
	go func() { defer m.wg.Done(); m.sweep() }()
}

// stop cancels every job (an ffmpeg run is killed, its temp file removed)
// and waits for them.
func (m *media) stop() {
	m.mu.Lock()
	m.closed = true
	m.mu.Unlock()
	m.stopc()
	m.wg.Wait()
}

// sealed is told of every record the service seals: one with a clip gets
// its derived files made in the background; one whose clip is gone loses
// them.
func (m *media) sealed(v defs.Violation) {
	if v.ClipPath == "" {
		m.remove(v.ID)
		return
	}
	if v.ClipStatus != defs.ClipComplete && v.ClipStatus != defs.ClipPartial {
		return
	}
	select {
	case m.queue <- v.ID:
	default:
		m.svc.metrics.mediaDropped.Inc()
		if m.svc.warnLimit.Allow() {
			m.svc.log.Warn("viewing copy queue full; the copy is made when first asked for", "violation", v.ID)
		}
	}
}

// background makes what a freshly sealed record needs: the viewing copy of
// an H.265 clip, and a still when the camera sent no snapshot. Failures
// are remembered for the media answer and logged.
func (m *media) background(id string) {
	v, err := m.svc.store.GetViolation(m.ctx, id)
	if err != nil || v.ClipPath == "" {
		return
	}
	if m.cfg.ViewingCopies {
		if codec, err := m.svc.clipCodecOf(v); err == nil && codec == CodecH265 {
			m.ensure(m.ctx, v, defs.DerivedView)
		}
	}
	if v.SnapshotPath == "" {
		m.ensure(m.ctx, v, defs.DerivedStill)
	}
}

// current returns v's derived file of kind if it is recorded, made from
// v's clip as sealed now, and on disk with its recorded hash.
func (m *media) current(ctx context.Context, v defs.Violation, kind defs.DerivedKind) (defs.DerivedFile, bool) {
	d, err := m.st.Derived(ctx, v.ID, kind)
	if err != nil || d.SourceSHA256 != v.ClipSHA256 || d.Path != derivedPath(v, kind) {
		return d, false
	}
	f, err := m.openDerived(d)
	if err != nil {
		return d, false
	}
	f.Close()
	return d, true
}

// openDerived opens a derived file and checks it against its recorded
// hash: one that does not match (a disk error, a hand edit) is not served
// but forgotten, to be made again.
func (m *media) openDerived(d defs.DerivedFile) (*os.File, error) {
	if _, err := evidencePath(m.svc.dataDir, d.Path); err != nil {
		return nil, err
	}
	f, err := openEvidence(m.svc.dataDir, d.Path)
	if err != nil {
		return nil, defs.Errorf(defs.EUNAVAILABLE, "violation %s's derived %s is missing; ask again to have it made", d.ViolationID, d.Kind)
	}
	got, err := sumFile(f)
	if err == nil && got == d.SHA256 {
		return f, nil
	}
	f.Close()
	m.svc.log.Warn("derived file does not match its recorded hash; it is made again", "violation", d.ViolationID, "kind", d.Kind)
	m.st.DeleteDerived(context.Background(), d.ViolationID, d.Kind)
	return nil, defs.Errorf(defs.EUNAVAILABLE, "violation %s's derived %s did not match its hash; ask again to have it made", d.ViolationID, d.Kind)
}

// lastFailure returns the reason a derived file failed within failRetry.
func (m *media) lastFailure(id string, kind defs.DerivedKind) (string, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	f, ok := m.failures[jobKey{id, kind}]
	if !ok || time.Since(f.at) > failRetry {
		return "", false
	}
	return f.reason, true
}

// start makes v's derived file of kind in the background, unless it is
// being made or failed just now.
func (m *media) start(v defs.Violation, kind defs.DerivedKind) {
	if _, failed := m.lastFailure(v.ID, kind); failed {
		return
	}
	m.spawn(v, kind)
}

// ensure returns v's derived file of kind, making it if needed and
// waiting for it within ctx. A failure is a defs EUNAVAILABLE error with
// the reason.
func (m *media) ensure(ctx context.Context, v defs.Violation, kind defs.DerivedKind) (defs.DerivedFile, error) {
	if d, ok := m.current(ctx, v, kind); ok {
		return d, nil
	}
	if reason, failed := m.lastFailure(v.ID, kind); failed {
		return defs.DerivedFile{}, defs.Errorf(defs.EUNAVAILABLE, "%s", reason)
	}
	j, err := m.spawn(v, kind)
	if err != nil {
		return defs.DerivedFile{}, err
	}
	select {
	case <-j.done:
		return j.file, j.err
	case <-ctx.Done():
		return defs.DerivedFile{}, ctx.Err()
	}
}

// spawn returns the job making v's derived file of kind, starting it if
// none is running. Jobs run under the media's own context, not a
// request's: a reviewer who leaves does not kill a copy others wait for.
func (m *media) spawn(v defs.Violation, kind defs.DerivedKind) (*job, error) {
	k := jobKey{v.ID, kind}
	m.mu.Lock()
	defer m.mu.Unlock()
	if j := m.jobs[k]; j != nil {
		return j, nil
	}
	if m.closed {
		return nil, defs.Errorf(defs.EUNAVAILABLE, "iocd is shutting down")
	}
	j := &job{done: make(chan struct{})}
	m.jobs[k] = j
	m.wg.Add(1)
	go func() {
		defer m.wg.Done()
		j.file, j.err = m.make(m.ctx, v, kind)
		m.mu.Lock()
		delete(m.jobs, k)
		if j.err != nil {
			if len(m.failures) >= maxFailures {
				m.dropOldestFailure()
			}
			m.failures[k] = failure{reason: defs.ErrorMessage(j.err), at: time.Now()}
		} else {
			delete(m.failures, k)
		}
		m.mu.Unlock()
		close(j.done)
	}()
	return j, nil
}

func (m *media) dropOldestFailure() {
	var oldest jobKey
	var at time.Time
	for k, f := range m.failures {
		if at.IsZero() || f.at.Before(at) {
			oldest, at = k, f.at
		}
	}
	delete(m.failures, oldest)
}

// version returns ffmpeg's version line, the tool recorded with each
// derived file; an ffmpeg that cannot be run is a defs EUNAVAILABLE
// error saying why.
func (m *media) version(ctx context.Context) (string, error) {
	m.mu.Lock()
	tool := m.tool
	m.mu.Unlock()
	if tool != "" {
		return tool, nil
	}
	if m.cfg.FFmpeg == "" {
		return "", defs.Errorf(defs.EUNAVAILABLE, "%v", errNoMedia)
	}
	ctx, cancel := context.WithTimeout(ctx, min(m.cfg.Timeout, 10*time.Second))
	defer cancel()
	out, err := exec.CommandContext(ctx, m.cfg.FFmpeg, "-version").Output()
	if err != nil {
		return "", defs.Errorf(defs.EUNAVAILABLE, "ffmpeg cannot be run (media.ffmpeg %q): %s", m.cfg.FFmpeg, runError(err))
	}
	line, _, _ := strings.Cut(string(out), "\n")
	line, _, _ = strings.Cut(line, " Copyright")
	line = strings.TrimSpace(line)
	if !strings.HasPrefix(line, "ffmpeg version") {
		return "", defs.Errorf(defs.EUNAVAILABLE, "media.ffmpeg %q is not ffmpeg: it says %q", m.cfg.FFmpeg, line)
	}
	m.mu.Lock()
	m.tool = line
	m.mu.Unlock()
	return line, nil
}

func runError(err error) string {
	switch {
	case errors.Is(err, exec.ErrNotFound), errors.Is(err, fs.ErrNotExist):
		return "not found"
	case errors.Is(err, fs.ErrPermission):
		return "permission denied"
	}
	return err.Error()
}

// make runs ffmpeg once to make v's derived file of kind: the original is
// checked against its seal, fed to ffmpeg on its standard input (a
// read-only descriptor of the checked file, so no path can be swapped in
// between), checked again afterwards, and the output renamed into place
// beside it and recorded.
func (m *media) make(ctx context.Context, v defs.Violation, kind defs.DerivedKind) (d defs.DerivedFile, err error) {
	defer func() {
		result := "made"
		if err != nil {
			result = "failed"
			if ctx.Err() == nil {
				m.svc.log.Error("making a derived file", "violation", v.ID, "kind", kind, "err", err)
			}
		}
		m.svc.metrics.mediaMade.WithLabelValues(string(kind), result).Inc()
	}()
	select {
	case m.sem <- struct{}{}:
		defer func() { <-m.sem }()
	case <-ctx.Done():
		return d, defs.Errorf(defs.EUNAVAILABLE, "iocd is shutting down")
	}
	tool, err := m.version(ctx)
	if err != nil {
		return d, err
	}
	src, err := m.svc.openChecked(ctx, systemMedia, v, "clip", v.ClipPath, v.ClipSHA256)
	if err != nil {
		return d, err
	}
	defer src.Close()
	rel := derivedPath(v, kind)
	final, err := evidencePath(m.svc.dataDir, rel)
	if err != nil {
		return d, err
	}
	dir := filepath.Dir(final)
	if err := confined(m.svc.dataDir, dir); err != nil {
		return d, err
	}
	ext := filepath.Ext(rel)
	tf, err := os.CreateTemp(dir, ".tmp-derived-*"+ext)
	if err != nil {
		return d, fmt.Errorf("creating a temp file: %w", err)
	}
	tmp := tf.Name()
	tf.Close()
	defer func() {
		if err != nil {
			os.Remove(tmp)
		}
	}()
	var args []string
	switch kind {
	case defs.DerivedView:
		args = []string{"-f", "mp4", "-i", "pipe:0", "-map", "0:v:0", "-c:v", "libx264", "-preset", "veryfast", "-crf", "23",
			"-pix_fmt", "yuv420p", "-movflags", "+faststart", "-an", "-f", "mp4", tmp}
	case defs.DerivedStill:
		// -ss after -i: decoded up to the moment, which a pipe allows.
		off := eventOffset(v)
		if span := v.ClipEnd.Sub(v.ClipStart); off > span-100*time.Millisecond {
			off = max(0, span-100*time.Millisecond)
		}
		args = []string{"-f", "mp4", "-i", "pipe:0", "-ss", strconv.FormatFloat(off.Seconds(), 'f', 3, 64),
			"-frames:v", "1", "-q:v", "2", "-f", "image2", "-update", "1", tmp}
	default:
		return d, fmt.Errorf("unknown derived kind %q", kind)
	}
	if err := m.ffmpeg(ctx, src, args, tmp); err != nil {
		return d, err
	}
	// The original is what it was sealed as, after ffmpeg as before.
	after, err := openEvidence(m.svc.dataDir, v.ClipPath)
	if err != nil {
		return d, fmt.Errorf("reopening the original: %w", err)
	}
	sum, err := sumFile(after)
	after.Close()
	if err != nil || sum != v.ClipSHA256 {
		detail := fmt.Sprintf("clip %s changed while its derived %s was made: SHA-256 %s, sealed %s", v.ClipPath, kind, sum, v.ClipSHA256)
		if aerr := m.svc.audit(ctx, systemMedia, ActionRefused, v.ID, detail); aerr != nil {
			return d, aerr
		}
		return d, defs.Errorf(defs.ECONFLICT, "violation %s's clip does not match its recorded hash; it may have been altered (run iocd verify)", v.ID)
	}
	sumOut, size, err := sealTemp(tmp)
	if err != nil {
		return d, err
	}
	if size == 0 {
		return d, defs.Errorf(defs.EUNAVAILABLE, "ffmpeg made an empty %s", kind)
	}
	if kind == defs.DerivedView {
		if err := checkViewFile(tmp); err != nil {
			return d, err
		}
	}
	if err := os.Rename(tmp, final); err != nil {
		return d, fmt.Errorf("renaming the derived %s: %w", kind, err)
	}
	if dd, derr := os.Open(dir); derr == nil {
		dd.Sync()
		dd.Close()
	}
	d = defs.DerivedFile{ViolationID: v.ID, Kind: kind, Path: rel, SHA256: sumOut, Bytes: size, SourceSHA256: v.ClipSHA256,
		Tool: tool, MadeAt: time.Now().UTC()}
	if err := m.st.PutDerived(context.WithoutCancel(ctx), d); err != nil {
		os.Remove(final)
		return defs.DerivedFile{}, err
	}
	return d, nil
}

// checkViewFile refuses a viewing copy that is not a progressive H.264
// MP4: a browser must be able to start it before it has it all.
func checkViewFile(path string) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	codec, _, err := clipCodec(f)
	if err != nil || codec != CodecH264 {
		return defs.Errorf(defs.EUNAVAILABLE, "ffmpeg's viewing copy is not a progressive H.264 MP4 (%s, %v)", codec, err)
	}
	return nil
}

// sealTemp syncs a finished temp file, makes it read-only and returns its
// SHA-256 and size.
func sealTemp(path string) (string, int64, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", 0, err
	}
	defer f.Close()
	if err := f.Sync(); err != nil {
		return "", 0, fmt.Errorf("syncing %s: %w", filepath.Base(path), err)
	}
	st, err := f.Stat()
	if err != nil {
		return "", 0, err
	}
	sum, err := sumFile(f)
	if err != nil {
		return "", 0, err
	}
	if err := os.Chmod(path, 0o440); err != nil {
		return "", 0, err
	}
	return sum, st.Size(), nil
}

// maxStderr bounds the ffmpeg output kept for the reason of a failure.
const maxStderr = 4096

// ffmpeg runs ffmpeg with args, src on its standard input, within the
// configured timeout. A failure is a defs EUNAVAILABLE error whose
// message says why (not found, timed out, its last error line), with the
// temp file's name replaced: the reason is shown to reviewers.
func (m *media) ffmpeg(ctx context.Context, src *os.File, args []string, tmp string) error {
	ctx, cancel := context.WithTimeout(ctx, m.cfg.Timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, m.cfg.FFmpeg, append([]string{"-hide_banner", "-nostats", "-v", "error", "-y"}, args...)...)
	cmd.Stdin = src
	var stderr tailBuffer
	cmd.Stderr = &stderr
	cmd.WaitDelay = 5 * time.Second
	err := cmd.Run()
	switch {
	case err == nil:
		return nil
	case errors.Is(ctx.Err(), context.DeadlineExceeded):
		return defs.Errorf(defs.EUNAVAILABLE, "ffmpeg timed out after %s (media.timeout)", m.cfg.Timeout)
	case ctx.Err() != nil:
		return defs.Errorf(defs.EUNAVAILABLE, "iocd is shutting down")
	}
	var exit *exec.ExitError
	if !errors.As(err, &exit) {
		return defs.Errorf(defs.EUNAVAILABLE, "ffmpeg cannot be run (media.ffmpeg %q): %s", m.cfg.FFmpeg, runError(err))
	}
	msg := strings.TrimSpace(strings.ReplaceAll(stderr.String(), tmp, "<output>"))
	if i := strings.LastIndexByte(msg, '\n'); i >= 0 {
		msg = strings.TrimSpace(msg[i+1:])
	}
	if msg == "" {
		msg = "no message"
	}
	return defs.Errorf(defs.EUNAVAILABLE, "ffmpeg failed (%s): %s", exit.ProcessState, msg)
}

// tailBuffer keeps the last maxStderr bytes written to it.
type tailBuffer struct{ b []byte }

func (t *tailBuffer) Write(p []byte) (int, error) {
	t.b = append(t.b, p...)
	if over := len(t.b) - maxStderr; over > 0 {
		t.b = bytes.Clone(t.b[over:])
	}
	return len(p), nil
}

func (t *tailBuffer) String() string { return string(t.b) }

// remove deletes a violation's derived files and their records: its
// original is gone (retention purged it), and copies must not outlive it.
func (m *media) remove(id string) {
	ctx := context.WithoutCancel(m.ctx)
	for _, kind := range []defs.DerivedKind{defs.DerivedView, defs.DerivedStill} {
		d, err := m.st.Derived(ctx, id, kind)
		if err != nil {
			continue
		}
		m.removeFile(ctx, d)
	}
}

// removeFile removes one derived file and its record, reporting whether
// both went.
func (m *media) removeFile(ctx context.Context, d defs.DerivedFile) bool {
	if p, err := evidencePath(m.svc.dataDir, d.Path); err == nil {
		if err := os.Remove(p); err != nil && !os.IsNotExist(err) {
			m.svc.log.Error("removing a derived file", "violation", d.ViolationID, "kind", d.Kind, "err", err)
			return false
		}
	}
	if err := m.st.DeleteDerived(ctx, d.ViolationID, d.Kind); err != nil {
		m.svc.log.Error("forgetting a derived file", "violation", d.ViolationID, "kind", d.Kind, "err", err)
		return false
	}
	return true
}

// sweep removes derived files whose original went while iocd was not
// there to be told (a crash between a purge's seal and its hook).
func (m *media) sweep() {
	for m.ctx.Err() == nil {
		ds, err := m.st.DerivedWithoutSource(m.ctx, 100)
		if err != nil {
			if m.ctx.Err() == nil {
				m.svc.log.Error("listing derived files without their original", "err", err)
			}
			return
		}
		if len(ds) == 0 {
			return
		}
		removed := 0
		for _, d := range ds {
			if m.removeFile(m.ctx, d) {
				removed++
			}
		}
		if removed == 0 {
			return // each failure is logged; the next start tries again
		}
	}
}
