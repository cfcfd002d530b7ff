package violations_test

import (
	"archive/zip"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/iocd/iocd/bus"
	"github.com/iocd/iocd/config"
	"github.com/iocd/iocd/defs"
	"github.com/iocd/iocd/sim"
	"github.com/iocd/iocd/store"
	"github.com/iocd/iocd/streams"
	"github.com/iocd/iocd/violations"

	"github.com/iocd/iocd/internal/testrig"
)

// registry is an in-test device registry.
type registry struct {
	mu   sync.Mutex
	devs []defs.Device
}

func (r *registry) Cameras(context.Context) ([]defs.Device, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]defs.Device(nil), r.devs...), nil
}

// rig is a simulator, a streams manager, a store and the service.
type rig struct {
	t       *testing.T
	sim     *sim.CameraServer
	cams    map[string]*sim.Camera
	devs    map[string]defs.Device
	streams *streams.Manager
	store   *store.SQLite
	svc     *violations.Service
	bus     *bus.Bus
	dataDir string
	cfg     config.Config
	points  *points
}

type point struct {
	measurement string
	tags        map[string]string
	fields      map[string]any
}

// points records InfluxDB points.
type points struct {
	mu  sync.Mutex
	got []point
}

func (p *points) WritePoint(m string, tags map[string]string, fields map[string]any, _ time.Time) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.got = append(p.got, point{m, tags, fields})
}

const (
	pre  = 2 * time.Second
	post = 2 * time.Second
)

func newRig(t *testing.T, mutate func(*config.Config)) *rig {
	t.Helper()
	return newRigWith(t, mutate, nil)
}

// newRigWith builds a rig whose streams and violations write to pw, if set.
func newRigWith(t *testing.T, mutate func(*config.Config), pw interface {
	WritePoint(string, map[string]string, map[string]any, time.Time)
}) *rig {
	t.Helper()
	r := &rig{t: t, cams: map[string]*sim.Camera{}, devs: map[string]defs.Device{}, dataDir: t.TempDir(), bus: bus.New(nil), points: &points{}}
	cfg := config.Default()
	cfg.Streams.ReadTimeout = config.Duration(2 * time.Second)
	cfg.Streams.BackoffMin = config.Duration(200 * time.Millisecond)
	cfg.Streams.BackoffMax = config.Duration(time.Second)
	cfg.Streams.BufferSlack = config.Duration(2 * time.Second)
	cfg.Violations.Pre, cfg.Violations.Post, cfg.Violations.Windows = config.Duration(pre), config.Duration(post), nil
	cfg.Retention.MinFreeBytes = 0
	cfg.Retention.Interval = config.Duration(time.Hour)
	if mutate != nil {
		mutate(&cfg)
	}
	r.cfg = cfg
	srv, err := sim.NewCameraServer("127.0.0.1:0", nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Close)
	r.sim = srv
	reg := &registry{}
	for _, c := range []struct {
		id    string
		codec sim.Codec
	}{{"cam264", sim.H264}, {"cam265", sim.H265}} {
		rec, err := sim.LoadRecording(c.codec)
		if err != nil {
			t.Fatal(err)
		}
		cam, err := srv.AddCamera(sim.CameraSpec{Path: c.id, Recording: rec, User: "admin", Pass: "pw"})
		if err != nil {
			t.Fatal(err)
		}
		r.cams[c.id] = cam
		r.devs[c.id] = defs.Device{ID: defs.DeviceID(c.id), Site: "hcm", Kind: defs.KindCamera, RTSPURL: cam.URL(), Status: defs.StatusActive}
	}
	// A registered camera that never answers.
	r.devs["dead"] = defs.Device{ID: "dead", Site: "hcm", Kind: defs.KindCamera, RTSPURL: "rtsp://" + srv.Addr() + "/nothing", Status: defs.StatusActive}
	for _, d := range r.devs {
		reg.devs = append(reg.devs, d)
	}
	st, err := store.Open(context.Background(), filepath.Join(r.dataDir, "iocd.db"), discard())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	r.store = st
	var spw streams.PointWriter
	var vpw violations.PointWriter = r.points
	if pw != nil {
		spw, vpw = pw, pw
	}
	r.streams = streams.New(cfg.Streams, cfg.Violations, reg, r.bus, spw, nil, nil)
	r.svc = violations.New(cfg.Violations, cfg.Retention, cfg.Streams, r.dataDir, st, r.streams, r.bus, vpw, nil, nil)
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Add(2)
	go func() { defer wg.Done(); r.streams.Run(ctx) }()
	go func() { defer wg.Done(); r.svc.Run(ctx) }()
	t.Cleanup(func() { cancel(); wg.Wait() })
	return r
}

// waitBuffered waits until the camera's buffer holds d of video.
func (r *rig) waitBuffered(cam string, d time.Duration) {
	r.t.Helper()
	testrig.WaitFor(r.t, cam+" to buffer "+d.String(), 20*time.Second, func() bool {
		for _, s := range r.streams.Cameras() {
			if string(s.Camera) == cam {
				return s.Connected && s.BufferSeconds >= d.Seconds()
			}
		}
		return false
	})
}

func (r *rig) fire(cam, eventID, typ string, ts time.Time, extra string) {
	r.t.Helper()
	payload := fmt.Sprintf(`{"event_id":%q,"type":%q,"ts":%d,"plate":"62a 12345","plate_confidence":0.93,"vehicle":"car"%s}`,
		eventID, typ, ts.UnixMilli(), extra)
	if err := r.svc.HandleEvent(context.Background(), r.devs[cam], []byte(payload), time.Now()); err != nil {
		r.t.Fatalf("HandleEvent: %v", err)
	}
}

// final waits until the camera's event has final evidence and returns it.
func (r *rig) final(cam, eventID string) defs.Violation {
	r.t.Helper()
	var v defs.Violation
	testrig.WaitFor(r.t, "evidence of "+eventID, 30*time.Second, func() bool {
		vs, _, err := r.store.ListViolations(context.Background(), defs.ViolationFilter{Camera: defs.DeviceID(cam), Limit: 1000})
		if err != nil {
			r.t.Fatal(err)
		}
		for _, x := range vs {
			if x.EventID == eventID && x.ClipStatus != defs.ClipRecording {
				// Final once sealed in the ledger.
				l, err := r.store.Ledger(context.Background(), x.ID)
				v = x
				return err == nil && len(l) > 0
			}
		}
		return false
	})
	return v
}

// probedFrame is one video frame as ffprobe reports it.
type probedFrame struct {
	Key bool
	PTS float64
}

// probe decodes the whole clip with ffmpeg (any decode error fails) and
// returns its frames as ffprobe lists them.
func probe(t *testing.T, path string) []probedFrame {
	t.Helper()
	if out, err := exec.Command("ffmpeg", "-v", "error", "-xerror", "-i", path, "-f", "null", "-").CombinedOutput(); err != nil || len(out) > 0 {
		t.Fatalf("ffmpeg decoding %s: want no errors, got %v: %s", path, err, out)
	}
	out, err := exec.Command("ffprobe", "-v", "error", "-select_streams", "v:0", "-show_entries", "frame=key_frame,pts_time",
		"-of", "csv=p=0", path).CombinedOutput()
	if err != nil {
		t.Fatalf("ffprobe %s: %v: %s", path, err, out)
	}
	var frames []probedFrame
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		if strings.TrimSpace(line) == "" {
			continue
		}
		f := strings.Split(strings.TrimSpace(line), ",")
		if len(f) < 2 {
			t.Fatalf("ffprobe line %q", line)
		}
		pts, err := strconv.ParseFloat(f[1], 64)
		if err != nil {
			t.Fatalf("ffprobe line %q: %v", line, err)
		}
		frames = append(frames, probedFrame{Key: f[0] == "1", PTS: pts})
	}
	return frames
}

func sha(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

func TestClipsFromSimulatedCameras(t *testing.T) {
	r := newRig(t, nil)
	for _, cam := range []string{"cam264", "cam265"} {
		t.Run(cam, func(t *testing.T) {
			r.t = t
			r.waitBuffered(cam, pre+time.Second)
			ts := time.Now().Add(-300 * time.Millisecond)
			r.fire(cam, "e-"+cam, "red_light", ts, "")
			v := r.final(cam, "e-"+cam)
			if v.ClipStatus != defs.ClipComplete {
				t.Fatalf("want clip complete, got %s (%s)", v.ClipStatus, v.ClipReason)
			}
			path := filepath.Join(r.dataDir, v.ClipPath)
			// Reported, not asserted: timing targets are shown by hand.
			t.Logf("clip stored %s after ts+post", v.UpdatedAt.Sub(ts.Add(post)).Round(time.Millisecond))
			if got := sha(t, path); got != v.ClipSHA256 {
				t.Errorf("clip hash: want recorded %s, got %s", v.ClipSHA256, got)
			}
			frames := probe(t, path)
			if len(frames) == 0 || !frames[0].Key {
				t.Fatalf("want the clip to start with a keyframe, got %+v", frames[:min(3, len(frames))])
			}
			// The window [ts-pre, ts+post] is covered, starting at most one
			// GOP (1 s) before ts-pre.
			from, to := ts.Add(-pre), ts.Add(post)
			if v.ClipStart.After(from) || v.ClipStart.Before(from.Add(-time.Second)) {
				t.Errorf("clip start: want within 1 s before %s, got %s", from.Format(time.RFC3339Nano), v.ClipStart.Format(time.RFC3339Nano))
			}
			if v.ClipEnd.Before(to) {
				t.Errorf("clip end: want at or after %s, got %s", to.Format(time.RFC3339Nano), v.ClipEnd.Format(time.RFC3339Nano))
			}
			// The MP4's own timeline agrees with the recorded span.
			span := frames[len(frames)-1].PTS - frames[0].PTS + 0.04
			if want := v.ClipEnd.Sub(v.ClipStart).Seconds(); span < want-0.1 || span > want+0.1 {
				t.Errorf("clip duration: want %.2fs as recorded, ffprobe says %.2fs", want, span)
			}
			if span < (pre + post).Seconds() {
				t.Errorf("clip duration: want at least %s, got %.2fs", pre+post, span)
			}
			if v.Plate != "62A-123.45" || !v.PlateValid || v.PlateRaw != "62a 12345" {
				t.Errorf("plate: want 62A-123.45 valid from raw %q, got %q valid=%v raw %q", "62a 12345", v.Plate, v.PlateValid, v.PlateRaw)
			}
		})
	}
}

func TestDeadCameraAndReconnect(t *testing.T) {
	r := newRig(t, nil)
	r.waitBuffered("cam264", time.Second)

	t.Run("dead camera is no_video", func(t *testing.T) {
		r.t = t
		r.fire("dead", "d1", "speeding", time.Now(), `,"speed_kmh":72,"limit_kmh":50`)
		v := r.final("dead", "d1")
		if v.ClipStatus != defs.ClipNoVideo || v.ClipPath != "" {
			t.Errorf("want no_video without a file, got %s %q (%s)", v.ClipStatus, v.ClipPath, v.ClipReason)
		}
	})

	t.Run("camera drops inside the window", func(t *testing.T) {
		r.t = t
		r.waitBuffered("cam264", pre+time.Second)
		ts := time.Now()
		r.fire("cam264", "drop", "red_light", ts, "")
		time.Sleep(post / 2)
		if err := r.cams["cam264"].SetDown(true); err != nil {
			t.Fatal(err)
		}
		v := r.final("cam264", "drop")
		if v.ClipStatus != defs.ClipPartial || v.ClipReason == "" {
			t.Fatalf("want a partial clip with a reason, got %s %q", v.ClipStatus, v.ClipReason)
		}
		frames := probe(t, filepath.Join(r.dataDir, v.ClipPath))
		if !frames[0].Key || v.ClipStart.After(ts.Add(-pre)) || !v.ClipEnd.Before(ts.Add(post)) {
			t.Errorf("want a playable clip from before ts-pre ending early, got %s to %s", v.ClipStart, v.ClipEnd)
		}
		if got := sha(t, filepath.Join(r.dataDir, v.ClipPath)); got != v.ClipSHA256 {
			t.Errorf("partial clip hash: want %s, got %s", v.ClipSHA256, got)
		}
	})

	t.Run("camera drops and comes back", func(t *testing.T) {
		r.t = t
		cam := r.cams["cam264"]
		if err := cam.SetDown(true); err != nil { // already down after the previous case
			t.Fatal(err)
		}
		testrig.WaitFor(t, "the session to notice the drop", 10*time.Second, func() bool { return !r.streams.Connected("cam264") })
		if err := cam.SetDown(false); err != nil {
			t.Fatal(err)
		}
		testrig.WaitFor(t, "the session to reconnect", 10*time.Second, func() bool { return r.streams.Connected("cam264") })
		// The buffer still holds video from before the drop; wait until
		// the new connection alone covers the pre window.
		time.Sleep(pre + 1500*time.Millisecond)
		var reconnects uint64
		for _, s := range r.streams.Cameras() {
			if s.Camera == "cam264" {
				reconnects = s.Reconnects
			}
		}
		if reconnects == 0 {
			t.Errorf("want the reconnect counted, got 0")
		}
		ts := time.Now().Add(-200 * time.Millisecond)
		r.fire("cam264", "after", "red_light", ts, "")
		v := r.final("cam264", "after")
		if v.ClipStatus != defs.ClipComplete {
			t.Fatalf("want a whole clip after the reconnect, got %s (%s)", v.ClipStatus, v.ClipReason)
		}
		frames := probe(t, filepath.Join(r.dataDir, v.ClipPath))
		if !frames[0].Key || v.ClipStart.After(ts.Add(-pre)) || v.ClipEnd.Before(ts.Add(post)) {
			t.Errorf("want a keyframe-first clip covering the window, got start %s end %s key %v", v.ClipStart, v.ClipEnd, frames[0].Key)
		}
	})
}

func TestDuplicateEventMakesOneRecord(t *testing.T) {
	r := newRig(t, nil)
	ts := time.Now()
	jpeg := "/9j/4AAQSkZJRgABAQ=="
	for i := 0; i < 3; i++ {
		r.fire("dead", "dup", "wrong_way", ts, `,"snapshot_jpeg":"`+jpeg+`"`)
	}
	v := r.final("dead", "dup")
	vs, _, err := r.store.ListViolations(context.Background(), defs.ViolationFilter{Camera: "dead"})
	if err != nil {
		t.Fatal(err)
	}
	if len(vs) != 1 {
		t.Fatalf("want 1 record for 3 deliveries, got %d", len(vs))
	}
	r.points.mu.Lock()
	if len(r.points.got) != 1 || r.points.got[0].measurement != "violations" || r.points.got[0].fields["count"] != 1 ||
		r.points.got[0].fields["plate"] != "62A-123.45" || r.points.got[0].tags["type"] != "wrong_way" || r.points.got[0].tags["camera"] != "dead" {
		t.Errorf("want one violations point (count 1, plate 62A-123.45, type wrong_way, camera dead), got %+v", r.points.got)
	}
	r.points.mu.Unlock()
	// Only the first delivery's snapshot is on disk.
	dir := filepath.Dir(filepath.Join(r.dataDir, v.SnapshotPath))
	ents, _ := os.ReadDir(dir)
	if len(ents) != 1 {
		t.Errorf("want 1 snapshot file, got %d", len(ents))
	}
}

func TestReviewEvidenceAndVerify(t *testing.T) {
	r := newRig(t, nil)
	r.waitBuffered("cam265", pre+time.Second)
	ts := time.Now().Add(-100 * time.Millisecond)
	r.fire("cam265", "rv", "no_helmet", ts, `,"snapshot_jpeg":"/9j/4AAQSkZJRgABAQ=="`)
	r.fire("dead", "rv2", "illegal_parking", ts, "")
	v := r.final("cam265", "rv")
	r.final("dead", "rv2")
	ctx := context.Background()
	viewer := violations.Actor{Name: "wall", Role: defs.RoleViewer}
	reviewer := violations.Actor{Name: "officer", Role: defs.RoleReviewer}
	admin := violations.Actor{Name: "chief", Role: defs.RoleAdmin}

	if _, err := r.svc.Review(ctx, viewer, v.ID, defs.ReviewConfirmed, ""); defs.ErrorCode(err) != defs.EFORBIDDEN {
		t.Errorf("viewer review: want forbidden, got %v", err)
	}
	if _, _, err := r.svc.OpenClip(ctx, viewer, v.ID); defs.ErrorCode(err) != defs.EFORBIDDEN {
		t.Errorf("viewer clip: want forbidden, got %v", err)
	}
	if err := r.svc.WriteEvidence(ctx, viewer, v.ID, io.Discard); defs.ErrorCode(err) != defs.EFORBIDDEN {
		t.Errorf("viewer evidence: want forbidden, got %v", err)
	}
	got, err := r.svc.Review(ctx, reviewer, v.ID, defs.ReviewConfirmed, "helmet visibly missing")
	if err != nil || got.Status != defs.ReviewConfirmed {
		t.Fatalf("reviewer confirm: want confirmed, got %v %v", got.Status, err)
	}
	if _, err := r.svc.Review(ctx, reviewer, v.ID, defs.ReviewRejected, "changed my mind"); defs.ErrorCode(err) != defs.EFORBIDDEN {
		t.Errorf("reviewer changing a decision: want forbidden, got %v", err)
	}
	if got, err := r.svc.Review(ctx, admin, v.ID, defs.ReviewRejected, "passenger, not rider"); err != nil || got.Status != defs.ReviewRejected {
		t.Errorf("admin change: want rejected, got %v %v", got.Status, err)
	}
	if got, err := r.svc.Review(ctx, admin, v.ID, defs.ReviewConfirmed, "rider after all"); err != nil || got.Status != defs.ReviewConfirmed {
		t.Errorf("admin change back: want confirmed, got %v %v", got.Status, err)
	}

	var zbuf bytes.Buffer
	if err := r.svc.WriteEvidence(ctx, reviewer, v.ID, &zbuf); err != nil {
		t.Fatalf("evidence: %v", err)
	}
	zr, err := zip.NewReader(bytes.NewReader(zbuf.Bytes()), int64(zbuf.Len()))
	if err != nil {
		t.Fatal(err)
	}
	files := map[string][]byte{}
	for _, f := range zr.File {
		rc, _ := f.Open()
		b, _ := io.ReadAll(rc)
		rc.Close()
		files[f.Name] = b
	}
	var meta struct {
		Files []struct {
			Name           string
			SHA256         string
			RecordedSHA256 string `json:"recorded_sha256"`
		}
		Reviews    []defs.Review
		LedgerHead string `json:"ledger_head"`
	}
	if err := json.Unmarshal(files["metadata.json"], &meta); err != nil {
		t.Fatalf("metadata.json: %v", err)
	}
	if len(meta.Files) != 2 || len(meta.Reviews) != 3 {
		t.Errorf("metadata: want 2 files and 3 reviews, got %d and %d", len(meta.Files), len(meta.Reviews))
	}
	for _, f := range meta.Files {
		s := sha256.Sum256(files[f.Name])
		if hex.EncodeToString(s[:]) != f.SHA256 {
			t.Errorf("%s: metadata SHA-256 does not match the packaged file", f.Name)
		}
	}
	if len(meta.Files) > 0 && meta.Files[0].SHA256 != v.ClipSHA256 {
		t.Errorf("clip.mp4: want the recorded hash %s, got %s", v.ClipSHA256, meta.Files[0].SHA256)
	}
	audit, _, err := r.svc.Audit(ctx, admin, "", 100)
	if err != nil {
		t.Fatal(err)
	}
	actions := map[string]int{}
	for _, a := range audit {
		actions[a.Action+"/"+a.Actor]++
	}
	if actions["violation.review/officer"] != 1 || actions["violation.review/chief"] != 2 || actions["violation.evidence/officer"] != 1 {
		t.Errorf("audit: want officer's review and evidence and chief's 2 reviews, got %v", actions)
	}
	if _, _, err := r.svc.Audit(ctx, reviewer, "", 10); defs.ErrorCode(err) != defs.EFORBIDDEN {
		t.Errorf("reviewer reading audit: want forbidden, got %v", err)
	}

	rep, err := violations.Verify(ctx, r.store, r.dataDir)
	if err != nil || !rep.OK() {
		t.Fatalf("verify before tampering: want OK, got %+v %v", rep.Problems, err)
	}
	if meta.LedgerHead != rep.Head || rep.Head == "" {
		t.Errorf("evidence ledger head: want the chain's head %s, got %q", rep.Head, meta.LedgerHead)
	}
	if rep.Entries != 5 || rep.Violations != 2 {
		t.Errorf("verify: want 5 ledger entries (2 evidence, 3 reviews) and 2 records, got %d and %d", rep.Entries, rep.Violations)
	}

	// Tamper: change a plate in the database, flip a byte of the clip.
	if _, err := r.store.DB().Exec(`UPDATE violations SET plate = '51F-999.99' WHERE id = ?`, v.ID); err != nil {
		t.Fatal(err)
	}
	clip := filepath.Join(r.dataDir, v.ClipPath)
	os.Chmod(clip, 0o600)
	b, _ := os.ReadFile(clip)
	b[len(b)-10] ^= 0xff
	if err := os.WriteFile(clip, b, 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := r.store.DB().Exec(`DELETE FROM violations WHERE event_id = 'rv2'`); err != nil {
		t.Fatal(err)
	}
	rep, err = violations.Verify(ctx, r.store, r.dataDir)
	if err != nil {
		t.Fatal(err)
	}
	kinds := map[string]int{}
	for _, p := range rep.Problems {
		kinds[p.Kind]++
	}
	want := map[string]int{"record_changed": 1, "file_changed": 1, "record_deleted": 1}
	if fmt.Sprint(kinds) != fmt.Sprint(want) {
		t.Errorf("verify after tampering: want %v, got %v (%+v)", want, kinds, rep.Problems)
	}
}

func TestRetentionForSpaceKeepsConfirmed(t *testing.T) {
	r := newRig(t, nil)
	ctx := context.Background()
	sub := r.bus.Subscribe("test", defs.Mask(defs.EventNotice), 16)
	defer sub.Close()
	ts := time.Now()
	// Three records with snapshots only (no camera video needed).
	for _, id := range []string{"a", "b", "c"} {
		r.fire("dead", id, "red_light", ts, `,"snapshot_jpeg":"/9j/4AAQSkZJRgABAQ=="`)
	}
	a, b := r.final("dead", "a"), r.final("dead", "b")
	r.final("dead", "c")
	admin := violations.Actor{Name: "chief", Role: defs.RoleAdmin}
	if _, err := r.svc.Review(ctx, admin, a.ID, defs.ReviewConfirmed, ""); err != nil {
		t.Fatal(err)
	}
	if _, err := r.svc.Review(ctx, admin, b.ID, defs.ReviewRejected, ""); err != nil {
		t.Fatal(err)
	}
	// Demand more free space than the disk has: everything but the
	// confirmed record must go, and the alerts must hear of it.
	cfg := r.cfg
	cfg.Retention.MinFreeBytes = 1 << 62
	svc := violations.New(cfg.Violations, cfg.Retention, cfg.Streams, r.dataDir, r.store, nil, r.bus, nil, nil, nil)
	rctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() { defer close(done); svc.Run(rctx) }()
	codes := map[string]bool{}
	timeout := time.After(20 * time.Second)
	for !codes["clips_removed_low_disk"] || !codes["disk_low"] {
		select {
		case ev := <-sub.C():
			codes[ev.Notice.Code] = true
		case <-timeout:
			t.Fatalf("want notices clips_removed_low_disk and disk_low, got %v", codes)
		}
	}
	cancel()
	<-done
	vs, _, err := r.store.ListViolations(ctx, defs.ViolationFilter{Camera: "dead"})
	if err != nil {
		t.Fatal(err)
	}
	for _, v := range vs {
		kept := v.SnapshotPath != ""
		if want := v.Status == defs.ReviewConfirmed; kept != want {
			t.Errorf("%s (%s): want files kept=%v, got %v", v.EventID, v.Status, want, kept)
		}
	}
	rep, err := violations.Verify(ctx, r.store, r.dataDir)
	if err != nil || !rep.OK() {
		t.Errorf("verify after retention: want OK, got %+v %v", rep.Problems, err)
		l, _ := r.store.Ledger(ctx, "")
		for _, e := range l {
			t.Logf("%+v", e)
		}
		for _, v := range vs {
			t.Logf("%+v", v)
		}
	}
	var e *defs.Error
	_, _, err = r.svc.OpenSnapshot(ctx, admin, b.ID)
	if !errors.As(err, &e) || e.Code != defs.ENOTFOUND {
		t.Errorf("purged snapshot: want not found, got %v", err)
	}
}

func discard() *slog.Logger { return slog.New(slog.DiscardHandler) }

var _ violations.Store = (*store.SQLite)(nil)

func TestRetentionByAge(t *testing.T) {
	r := newRig(t, nil)
	ctx := context.Background()
	sub := r.bus.Subscribe("test", defs.Mask(defs.EventNotice), 16)
	defer sub.Close()
	for _, id := range []string{"rej", "conf", "pend"} {
		r.fire("dead", id, "red_light", time.Now(), `,"snapshot_jpeg":"/9j/4AAQSkZJRgABAQ=="`)
	}
	rej, conf, pend := r.final("dead", "rej"), r.final("dead", "conf"), r.final("dead", "pend")
	admin := violations.Actor{Name: "chief", Role: defs.RoleAdmin}
	if _, err := r.svc.Review(ctx, admin, rej.ID, defs.ReviewRejected, ""); err != nil {
		t.Fatal(err)
	}
	if _, err := r.svc.Review(ctx, admin, conf.ID, defs.ReviewConfirmed, ""); err != nil {
		t.Fatal(err)
	}
	// Age the decisions by 40 days (reviewed_at is the row's copy of the
	// latest decision time, not sealed; created_at is sealed, so the
	// pending record cannot be aged without Verify noticing).
	old := time.Now().Add(-40 * 24 * time.Hour).UTC().Format("2006-01-02T15:04:05.000000000Z")
	if _, err := r.store.DB().Exec(`UPDATE violations SET reviewed_at = ? WHERE reviewed_at != ''`, old); err != nil {
		t.Fatal(err)
	}
	runRetention := func() {
		svc := violations.New(r.cfg.Violations, r.cfg.Retention, r.cfg.Streams, r.dataDir, r.store, nil, r.bus, nil, nil, nil)
		rctx, cancel := context.WithCancel(ctx)
		done := make(chan struct{})
		go func() { defer close(done); svc.Run(rctx) }()
		select {
		case ev := <-sub.C():
			if ev.Notice.Code != "clips_expired" {
				t.Errorf("want a clips_expired notice, got %+v", ev.Notice)
			}
		case <-time.After(10 * time.Second):
			t.Errorf("want a clips_expired notice, got none")
		}
		cancel()
		<-done
	}
	// Purges after a pinned head are legitimate re-seals.
	pinned, err := violations.Verify(ctx, r.store, r.dataDir)
	if err != nil || !pinned.OK() {
		t.Fatalf("verify before retention: want OK, got %+v %v", pinned.Problems, err)
	}
	runRetention()
	kept := func(id string) bool {
		v, err := r.store.GetViolation(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		return v.SnapshotPath != ""
	}
	if kept(rej.ID) || !kept(conf.ID) || !kept(pend.ID) {
		t.Errorf("after 40 days: want rejected gone, confirmed and pending kept; got kept %v %v %v", kept(rej.ID), kept(conf.ID), kept(pend.ID))
	}
	// The record itself, with its hashes, stays.
	if v, _ := r.store.GetViolation(ctx, rej.ID); v.SnapshotSHA256 == "" {
		t.Errorf("want the purged record's snapshot hash kept")
	}
	older := time.Now().Add(-400 * 24 * time.Hour).UTC().Format("2006-01-02T15:04:05.000000000Z")
	if _, err := r.store.DB().Exec(`UPDATE violations SET reviewed_at = ? WHERE id = ?`, older, conf.ID); err != nil {
		t.Fatal(err)
	}
	runRetention()
	if kept(conf.ID) || !kept(pend.ID) {
		t.Errorf("after 400 days: want confirmed gone (with a notice) and pending kept; got %v %v", kept(conf.ID), kept(pend.ID))
	}
	if rep, err := violations.VerifyPinned(ctx, r.store, r.dataDir, pinned.Head); err != nil || !rep.OK() {
		t.Errorf("verify after retention, pinned to the head before it: want OK, got %+v %v", rep.Problems, err)
	}
}

func TestVerifyFindsTampering(t *testing.T) {
	tests := []struct {
		name   string
		tamper func(t *testing.T, r *rig, v defs.Violation)
		want   map[string]int
	}{
		{"nothing", func(*testing.T, *rig, defs.Violation) {}, map[string]int{}},
		{"ledger entry removed", func(t *testing.T, r *rig, v defs.Violation) {
			r.exec(t, `DELETE FROM violation_ledger WHERE seq = 1`)
		}, map[string]int{"chain_broken": 1, "record_unsealed": 1}},
		{"ledger entry altered", func(t *testing.T, r *rig, v defs.Violation) {
			r.exec(t, `UPDATE violation_ledger SET content_hash = 'ab' WHERE seq = 2`)
		}, map[string]int{"entry_altered": 1, "record_changed": 1}},
		{"review note altered", func(t *testing.T, r *rig, v defs.Violation) {
			r.exec(t, `UPDATE violation_reviews SET note = 'nothing to see'`)
		}, map[string]int{"review_changed": 1}},
		{"review deleted", func(t *testing.T, r *rig, v defs.Violation) {
			r.exec(t, `DELETE FROM violation_reviews`)
		}, map[string]int{"review_deleted": 1, "status_changed": 1}},
		{"status flipped", func(t *testing.T, r *rig, v defs.Violation) {
			r.exec(t, `UPDATE violations SET status = 'rejected' WHERE status = 'confirmed'`)
		}, map[string]int{"status_changed": 1}},
		{"snapshot deleted", func(t *testing.T, r *rig, v defs.Violation) {
			if err := os.Remove(filepath.Join(r.dataDir, v.SnapshotPath)); err != nil {
				t.Fatal(err)
			}
		}, map[string]int{"file_missing": 1}},
		{"snapshot detached", func(t *testing.T, r *rig, v defs.Violation) {
			// Clearing the path stops Verify looking for the file; the
			// sealed path must notice.
			r.exec(t, `UPDATE violations SET snapshot_path = '' WHERE id = '`+v.ID+`'`)
			if err := os.Remove(filepath.Join(r.dataDir, v.SnapshotPath)); err != nil {
				t.Fatal(err)
			}
		}, map[string]int{"record_changed": 1}},
		{"speed altered", func(t *testing.T, r *rig, v defs.Violation) {
			r.exec(t, `UPDATE violations SET speed_kmh = 49 WHERE id = '`+v.ID+`'`)
		}, map[string]int{"record_changed": 1}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := newRig(t, nil)
			ctx := context.Background()
			r.fire("dead", "a", "speeding", time.Now(), `,"speed_kmh":72,"limit_kmh":50,"snapshot_jpeg":"/9j/4AAQSkZJRgABAQ=="`)
			a := r.final("dead", "a")
			r.fire("dead", "b", "red_light", time.Now(), "")
			r.final("dead", "b")
			if _, err := r.svc.Review(ctx, violations.Actor{Name: "officer", Role: defs.RoleReviewer}, a.ID, defs.ReviewConfirmed, "clear"); err != nil {
				t.Fatal(err)
			}
			tc.tamper(t, r, a)
			rep, err := violations.Verify(ctx, r.store, r.dataDir)
			if err != nil {
				t.Fatal(err)
			}
			got := map[string]int{}
			for _, p := range rep.Problems {
				got[p.Kind]++
			}
			if fmt.Sprint(got) != fmt.Sprint(tc.want) {
				t.Errorf("want %v, got %v: %+v", tc.want, got, rep.Problems)

			}
			var out bytes.Buffer
			rep.WriteText(&out)
			text := out.String()
			if strings.Contains(text, "\nOK:") || strings.HasPrefix(text, "OK:") != rep.OK() || strings.Count(text, "MISMATCH") != len(rep.Problems) ||
				!strings.Contains(text, "ledger head: "+rep.Head) {
				t.Errorf("report text: want the verdict, one MISMATCH line per problem and the head, got:\n%s", text)
			}
		})
	}
}

// TestVerifyFindsReseals plays someone with write access to the database
// who changes a sealed record and appends a fresh seal computed the public
// way: comparing the record with its latest seal alone would pass it.
func TestVerifyFindsReseals(t *testing.T) {
	reseal := func(t *testing.T, r *rig, v defs.Violation, seal func(defs.Violation, string) defs.LedgerEntry) {
		t.Helper()
		if _, err := r.store.SealEvidence(context.Background(), v, seal, nil); err != nil {
			t.Fatal(err)
		}
	}
	// SealEvidence writes only the evidence columns and seals the row as
	// stored, so the change itself is an UPDATE.
	changed := func(t *testing.T, r *rig, v defs.Violation) defs.Violation {
		r.exec(t, `UPDATE violations SET plate = '51F-999.99', speed_kmh = 99 WHERE id = '`+v.ID+`'`)
		v.Plate, v.SpeedKmh = "51F-999.99", 99
		return v
	}
	tests := []struct {
		name   string
		pin    bool // verify with the head from before the tampering
		tamper func(t *testing.T, r *rig, v defs.Violation)
		want   map[string]int
	}{
		{"nothing, pinned", true, func(*testing.T, *rig, defs.Violation) {}, map[string]int{}},
		{"plate and speed changed and re-sealed", false, func(t *testing.T, r *rig, v defs.Violation) {
			reseal(t, r, changed(t, r, v), violations.SealEvidence)
		}, map[string]int{"record_resealed": 1}},
		{"plate and speed changed and re-sealed, pinned", true, func(t *testing.T, r *rig, v defs.Violation) {
			reseal(t, r, changed(t, r, v), violations.SealEvidence)
		}, map[string]int{"record_resealed": 1, "resealed_after_head": 1}},
		{"re-sealed copying the first identity", false, func(t *testing.T, r *rig, v defs.Violation) {
			l, err := r.store.Ledger(context.Background(), v.ID)
			if err != nil || len(l) == 0 {
				t.Fatalf("ledger of %s: %v %v", v.ID, l, err)
			}
			reseal(t, r, changed(t, r, v), func(v defs.Violation, prev string) defs.LedgerEntry {
				e := violations.SealEvidence(v, prev)
				e.IdentityHash = l[0].IdentityHash
				e.Hash = violations.LinkHash(prev, e)
				return e
			})
		}, map[string]int{"record_resealed": 1}},
		{"reason changed and re-sealed, pinned", true, func(t *testing.T, r *rig, v defs.Violation) {
			v.ClipReason = "camera was pointed elsewhere"
			reseal(t, r, v, violations.SealEvidence)
		}, map[string]int{"resealed_after_head": 1}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := newRig(t, nil)
			ctx := context.Background()
			r.fire("dead", "a", "speeding", time.Now(), `,"speed_kmh":72,"limit_kmh":50,"snapshot_jpeg":"/9j/4AAQSkZJRgABAQ=="`)
			a := r.final("dead", "a")
			head := ""
			if tc.pin {
				rep, err := violations.Verify(ctx, r.store, r.dataDir)
				if err != nil || !rep.OK() {
					t.Fatalf("verify before tampering: want OK, got %+v %v", rep.Problems, err)
				}
				head = rep.Head
			}
			// A later record, so the pinned head is not the last entry.
			r.fire("dead", "b", "red_light", time.Now(), "")
			r.final("dead", "b")
			tc.tamper(t, r, a)
			rep, err := violations.VerifyPinned(ctx, r.store, r.dataDir, head)
			if err != nil {
				t.Fatal(err)
			}
			got := map[string]int{}
			for _, p := range rep.Problems {
				got[p.Kind]++
			}
			if fmt.Sprint(got) != fmt.Sprint(tc.want) {
				t.Errorf("want %v, got %v: %+v", tc.want, got, rep.Problems)
			}
		})
	}
	t.Run("unknown head", func(t *testing.T) {
		r := newRig(t, nil)
		r.fire("dead", "a", "red_light", time.Now(), "")
		r.final("dead", "a")
		rep, err := violations.VerifyPinned(context.Background(), r.store, r.dataDir, strings.Repeat("ab", 32))
		if err != nil {
			t.Fatal(err)
		}
		if len(rep.Problems) != 1 || rep.Problems[0].Kind != "head_missing" {
			t.Errorf("want one head_missing, got %+v", rep.Problems)
		}
		var out bytes.Buffer
		rep.WriteText(&out)
		if !strings.Contains(out.String(), "MISMATCH head_missing     ledger: ") || !strings.Contains(out.String(), "pinned head: "+rep.PinnedHead) {
			t.Errorf("report text: want the head_missing line and the pinned head, got:\n%s", out.String())
		}
	})
}

// TestDecisionsCommitWithTheirAudit breaks the audit log and checks that a
// review decision and a retention purge do not stand without their audit
// entries, and that they are audited once it works again.
func TestDecisionsCommitWithTheirAudit(t *testing.T) {
	r := newRig(t, nil)
	ctx := context.Background()
	r.fire("dead", "a", "red_light", time.Now(), `,"snapshot_jpeg":"/9j/4AAQSkZJRgABAQ=="`)
	a := r.final("dead", "a")
	admin := violations.Actor{Name: "chief", Role: defs.RoleAdmin}
	r.exec(t, `ALTER TABLE audit_log RENAME TO audit_log_away`)
	if _, err := r.svc.Review(ctx, admin, a.ID, defs.ReviewRejected, "not a violation"); err == nil {
		t.Fatalf("review with the audit log broken: want an error, got none")
	}
	if v, err := r.store.GetViolation(ctx, a.ID); err != nil || v.Status != defs.ReviewPending {
		t.Errorf("after the failed review: want status pending, got %s %v", v.Status, err)
	}
	r.exec(t, `ALTER TABLE audit_log_away RENAME TO audit_log`)
	if _, err := r.svc.Review(ctx, admin, a.ID, defs.ReviewRejected, "not a violation"); err != nil {
		t.Fatalf("review: %v", err)
	}

	// Retention: the rejected record's files are due at once.
	cfg := r.cfg
	cfg.Retention.RejectedDays = 0
	purge := func() {
		svc := violations.New(cfg.Violations, cfg.Retention, cfg.Streams, r.dataDir, r.store, nil, nil, nil, nil, nil)
		rctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		defer cancel()
		svc.Run(rctx)
	}
	r.exec(t, `ALTER TABLE audit_log RENAME TO audit_log_away`)
	purge()
	if v, err := r.store.GetViolation(ctx, a.ID); err != nil || v.SnapshotPath == "" {
		t.Errorf("after a purge with the audit log broken: want the record's files kept, got path %q %v", v.SnapshotPath, err)
	}
	// Files go only once the purge is sealed.
	if _, err := os.Stat(filepath.Join(r.dataDir, a.SnapshotPath)); err != nil {
		t.Errorf("after a purge that failed to seal: want the snapshot file kept, got %v", err)
	}
	r.exec(t, `ALTER TABLE audit_log_away RENAME TO audit_log`)
	purge()
	if v, err := r.store.GetViolation(ctx, a.ID); err != nil || v.SnapshotPath != "" {
		t.Errorf("after the purge: want the record's files gone, got path %q %v", v.SnapshotPath, err)
	}
	audit, _, err := r.svc.Audit(ctx, admin, "", 100)
	if err != nil {
		t.Fatal(err)
	}
	actions := map[string]int{}
	for _, e := range audit {
		actions[e.Action]++
	}
	if actions[violations.ActionReview] != 1 || actions[violations.ActionPurge] != 1 {
		t.Errorf("audit: want one review and one purge, got %v", actions)
	}
	if rep, err := violations.Verify(ctx, r.store, r.dataDir); err != nil || !rep.OK() {
		t.Errorf("verify: want OK, got %+v %v", rep.Problems, err)
	}
}

// TestRetentionSkipsABadRecord: a record retention cannot purge (its path
// is not one iocd made) is skipped; the records after it are still purged.
func TestRetentionSkipsABadRecord(t *testing.T) {
	r := newRig(t, nil)
	ctx := context.Background()
	admin := violations.Actor{Name: "chief", Role: defs.RoleAdmin}
	var ids []string
	for _, e := range []string{"bad", "good"} { // oldest first
		r.fire("dead", e, "red_light", time.Now(), `,"snapshot_jpeg":"/9j/4AAQSkZJRgABAQ=="`)
		v := r.final("dead", e)
		if _, err := r.svc.Review(ctx, admin, v.ID, defs.ReviewRejected, ""); err != nil {
			t.Fatal(err)
		}
		ids = append(ids, v.ID)
	}
	r.exec(t, `UPDATE violations SET snapshot_path = 'elsewhere/x.jpg' WHERE id = '`+ids[0]+`'`)
	cfg := r.cfg
	cfg.Retention.RejectedDays = 0
	svc := violations.New(cfg.Violations, cfg.Retention, cfg.Streams, r.dataDir, r.store, nil, nil, nil, nil, nil)
	rctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	svc.Run(rctx)
	for i, want := range []string{"elsewhere/x.jpg", ""} {
		if v, err := r.store.GetViolation(ctx, ids[i]); err != nil || v.SnapshotPath != want {
			t.Errorf("%s: want snapshot path %q, got %q %v", ids[i], want, v.SnapshotPath, err)
		}
	}
}

// TestNoSnapshotWithoutRecord: when the record cannot be stored, the
// snapshot written for it is removed, not left for nobody to clean up.
func TestNoSnapshotWithoutRecord(t *testing.T) {
	r := newRig(t, nil)
	r.exec(t, `ALTER TABLE violations RENAME TO violations_away`)
	payload := `{"event_id":"x","type":"red_light","ts":` + fmt.Sprint(time.Now().UnixMilli()) + `,"plate":"62a 12345","snapshot_jpeg":"/9j/4AAQSkZJRgABAQ=="}`
	if err := r.svc.HandleEvent(context.Background(), r.devs["dead"], []byte(payload), time.Now()); err == nil {
		t.Fatalf("HandleEvent without a violations table: want an error, got none")
	}
	r.exec(t, `ALTER TABLE violations_away RENAME TO violations`)
	var files []string
	filepath.WalkDir(filepath.Join(r.dataDir, "clips"), func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			files = append(files, p)
		}
		return nil
	})
	if len(files) != 0 {
		t.Errorf("want no evidence files without a record, got %v", files)
	}
}

func (r *rig) exec(t *testing.T, q string) {
	t.Helper()
	if _, err := r.store.DB().Exec(q); err != nil {
		t.Fatalf("%s: %v", q, err)
	}
}

func TestInterruptedClipsAreSealedOnStart(t *testing.T) {
	r := newRig(t, nil)
	ctx := context.Background()
	old := time.Now().Add(-time.Minute).UTC()
	v := defs.Violation{ID: "vcrash", Camera: "cam264", Site: "hcm", EventID: "crash", Type: "red_light", Time: old,
		Status: defs.ReviewPending, ClipStatus: defs.ClipRecording, CreatedAt: old, UpdatedAt: old}
	if _, _, err := r.store.InsertViolation(ctx, v); err != nil {
		t.Fatal(err)
	}
	svc := violations.New(r.cfg.Violations, r.cfg.Retention, r.cfg.Streams, r.dataDir, r.store, nil, nil, nil, nil, nil)
	rctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() { defer close(done); svc.Run(rctx) }()
	got := r.final("cam264", "crash")
	cancel()
	<-done
	if got.ClipStatus != defs.ClipNoVideo || !strings.Contains(got.ClipReason, "restarted") {
		t.Errorf("want no_video because of the restart, got %s %q", got.ClipStatus, got.ClipReason)
	}
}
