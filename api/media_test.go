package api_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/iocd/iocd/config"
	"github.com/iocd/iocd/defs"
	"github.com/iocd/iocd/internal/testrig"
	"github.com/iocd/iocd/sim"
	"github.com/iocd/iocd/store"
	"github.com/iocd/iocd/streams"
	"github.com/iocd/iocd/violations"
)

// mediaRig is an H.264 and an H.265 simulated camera, a streams manager
// and the violations service with derived files, wired into the API.
type mediaRig struct {
	svc     *violations.Service
	streams *streams.Manager
	store   *store.SQLite
	cams    map[string]defs.Device
	dataDir string
}

// slowType is a violation type whose clip records for a minute: long
// enough for a test to ask for it while it is being recorded.
const slowType = "slow_window"

func withMedia(t *testing.T, mr *mediaRig, mcfg violations.MediaConfig) rigOption {
	return func(s *rigSetup) {
		ctx, cancel := context.WithCancel(context.Background())
		srv, err := sim.NewCameraServer("127.0.0.1:0", nil)
		if err != nil {
			t.Fatal(err)
		}
		mr.cams = map[string]defs.Device{}
		var list cameraList
		for _, c := range []struct {
			id    string
			codec sim.Codec
		}{{"cam264", sim.H264}, {"cam265", sim.H265}} {
			rec, err := sim.LoadRecording(c.codec)
			if err != nil {
				t.Fatal(err)
			}
			cam, err := srv.AddCamera(sim.CameraSpec{Path: c.id, Recording: rec})
			if err != nil {
				t.Fatal(err)
			}
			d := defs.Device{ID: defs.DeviceID(c.id), Site: "hcm", Kind: defs.KindCamera, RTSPURL: cam.URL(), Status: defs.StatusActive}
			mr.cams[c.id] = d
			list = append(list, d)
		}
		dir := t.TempDir()
		st, err := store.Open(ctx, filepath.Join(dir, "v.db"), discardLog())
		if err != nil {
			t.Fatal(err)
		}
		cfg := config.Default()
		cfg.Violations.Pre, cfg.Violations.Post = config.Duration(time.Second), config.Duration(time.Second)
		cfg.Violations.Windows = map[string]config.Window{slowType: {Pre: config.Duration(time.Second), Post: config.Duration(time.Minute)}}
		cfg.Streams.BufferSlack = config.Duration(time.Second)
		mr.streams = streams.New(cfg.Streams, cfg.Violations, list, nil, nil, nil, nil)
		mr.svc = violations.New(cfg.Violations, cfg.Retention, cfg.Streams, dir, st, mr.streams, nil, nil, nil, nil,
			violations.WithMedia(mcfg, st))
		mr.store, mr.dataDir = st, dir
		var wg sync.WaitGroup
		wg.Add(2)
		go func() { defer wg.Done(); mr.streams.Run(ctx) }()
		go func() { defer wg.Done(); mr.svc.Run(ctx) }()
		t.Cleanup(func() { cancel(); wg.Wait(); st.Close(); srv.Close() })
		s.opts.Violations, s.opts.Media, s.opts.Cameras, s.opts.Audit = mr.svc, mr.svc, mr.streams, mr.svc
	}
}

func defaultMediaConfig() violations.MediaConfig {
	return violations.MediaConfig{FFmpeg: "ffmpeg", ViewingCopies: true, MaxJobs: 1, Timeout: time.Minute}
}

// fire records an event of camera cam, without a snapshot, and returns
// its violation's id once it is stored.
func (mr *mediaRig) fire(t *testing.T, r *rig, cam, eventID, typ string) string {
	t.Helper()
	testrig.WaitFor(t, cam+" to buffer 1.5 s", 20*time.Second, func() bool {
		for _, c := range mr.streams.Cameras() {
			if string(c.Camera) == cam {
				return c.Connected && c.BufferSeconds >= 1.5
			}
		}
		return false
	})
	ts := time.Now().Add(-200 * time.Millisecond)
	payload := fmt.Sprintf(`{"event_id":%q,"type":%q,"ts":%q,"plate":"51F12345"}`, eventID, typ, ts.UTC().Format(time.RFC3339Nano))
	if err := mr.svc.HandleEvent(context.Background(), mr.cams[cam], []byte(payload), time.Now()); err != nil {
		t.Fatal(err)
	}
	vs, _, err := mr.store.ListViolations(context.Background(), defs.ViolationFilter{Camera: defs.DeviceID(cam), Limit: 100})
	if err != nil {
		t.Fatal(err)
	}
	for _, v := range vs {
		if v.EventID == eventID {
			return v.ID
		}
	}
	t.Fatalf("event %s not stored", eventID)
	return ""
}

// sealed waits until violation id's clip is complete.
func (mr *mediaRig) sealed(t *testing.T, id string) defs.Violation {
	t.Helper()
	var v defs.Violation
	testrig.WaitFor(t, id+"'s clip to be sealed", 30*time.Second, func() bool {
		var err error
		v, err = mr.store.GetViolation(context.Background(), id)
		return err == nil && v.ClipStatus == defs.ClipComplete
	})
	return v
}

type mediaJSON struct {
	Clip struct {
		URL, Codec, SHA256, Status string
	}
	View struct {
		URL          string
		Derived      bool
		SHA256       string
		SourceSHA256 string `json:"source_sha256"`
		State        string
		Reason       string
	}
	Snapshot *struct {
		URL     string
		Derived bool
		SHA256  string
	}
	EventOffsetSeconds float64 `json:"event_offset_seconds"`
}

func sha256Hex(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

// ffprobeStream returns codec_name,codec_tag_string of a file's video.
func ffprobeStream(t *testing.T, path string) string {
	t.Helper()
	out, err := exec.Command("ffprobe", "-v", "error", "-select_streams", "v:0", "-show_entries",
		"stream=codec_name,codec_tag_string", "-of", "csv=p=0", path).CombinedOutput()
	if err != nil {
		t.Fatalf("ffprobe %s: %v: %s", path, err, out)
	}
	return strings.TrimSpace(string(out))
}

func clipAudits(t *testing.T, mr *mediaRig, id string) []defs.AuditEntry {
	t.Helper()
	entries, err := mr.store.AuditFor(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	return entries
}

// TestViewingCopyAndStill: an H.265 clip gets an H.264 viewing copy,
// marked derived and hashed, served with Range, audited once per opening;
// the original is unchanged bit for bit and still hvc1; a violation
// without a camera snapshot gets a still from its clip, served derived;
// an H.264 clip is its own viewing copy.
func TestViewingCopyAndStill(t *testing.T) {
	var mr mediaRig
	r := newRig(t, withMedia(t, &mr, defaultMediaConfig()))
	reviewer := r.tokens[defs.RoleReviewer]
	id := mr.fire(t, r, "cam265", "h265-1", "red_light")
	v := mr.sealed(t, id)
	origPath := filepath.Join(mr.dataDir, v.ClipPath)
	base := "/api/v1/violations/" + id

	var m mediaJSON
	testrig.WaitFor(t, "the viewing copy to be ready", 60*time.Second, func() bool {
		res := r.do("GET", base+"/media", reviewer, nil)
		wantStatus(t, res, 200)
		res.json(t, &m)
		if m.View.State == "unavailable" {
			t.Fatalf("viewing copy unavailable: %s", m.View.Reason)
		}
		return m.View.State == "ready"
	})
	if m.Clip.Codec != "h265" || m.Clip.SHA256 != v.ClipSHA256 || m.Clip.URL != base+"/clip" || m.Clip.Status != "complete" {
		t.Errorf("media clip: want h265 %s at %s/clip, got %+v", v.ClipSHA256, base, m.Clip)
	}
	if !m.View.Derived || m.View.SourceSHA256 != v.ClipSHA256 || m.View.SHA256 == "" || m.View.SHA256 == v.ClipSHA256 || m.View.URL != base+"/clip/view" {
		t.Errorf("media view: want a derived copy of %s, got %+v", v.ClipSHA256, m.View)
	}
	if want := v.Time.Sub(v.ClipStart).Seconds(); m.EventOffsetSeconds != want || want <= 0 {
		t.Errorf("event offset: want %.3f s, got %.3f", want, m.EventOffsetSeconds)
	}

	// The derived record: its hash, its source's, the tool.
	d, err := mr.store.Derived(context.Background(), id, defs.DerivedView)
	if err != nil {
		t.Fatal(err)
	}
	if d.SHA256 != m.View.SHA256 || d.SourceSHA256 != v.ClipSHA256 || !strings.HasPrefix(d.Tool, "ffmpeg version") || d.Bytes == 0 {
		t.Errorf("derived record: want sha %s from %s by ffmpeg, got %+v", m.View.SHA256, v.ClipSHA256, d)
	}
	viewPath := filepath.Join(mr.dataDir, d.Path)
	if got := ffprobeStream(t, viewPath); got != "h264,avc1" {
		t.Errorf("viewing copy: want h264,avc1, got %s", got)
	}
	out, err := exec.Command("ffprobe", "-v", "error", "-count_frames", "-select_streams", "v:0",
		"-show_entries", "stream=nb_read_frames", "-of", "csv=p=0", viewPath).CombinedOutput()
	if n, _ := strconv.Atoi(strings.TrimSpace(string(out))); err != nil || n < 25 {
		t.Errorf("viewing copy: want at least 25 frames, got %s (%v)", out, err)
	}
	// The original: bit for bit what was sealed, and still H.265 in hvc1.
	orig, err := os.ReadFile(origPath)
	if err != nil {
		t.Fatal(err)
	}
	if sha256Hex(orig) != v.ClipSHA256 {
		t.Errorf("original: want sha256 %s as sealed, got %s", v.ClipSHA256, sha256Hex(orig))
	}
	if got := ffprobeStream(t, origPath); got != "hevc,hvc1" {
		t.Errorf("original: want hevc,hvc1, got %s", got)
	}

	t.Run("view serves the derived copy with Range", func(t *testing.T) {
		before := len(clipAudits(t, &mr, id))
		res := r.do("GET", base+"/clip/view", reviewer, nil)
		wantStatus(t, res, 200)
		if res.header.Get("X-Iocd-Derived") != "true" || sha256Hex(res.body) != d.SHA256 || res.header.Get("Content-Type") != "video/mp4" {
			t.Fatalf("view: want the derived copy %s marked derived, got %s derived=%q", d.SHA256, sha256Hex(res.body), res.header.Get("X-Iocd-Derived"))
		}
		res = r.do("GET", base+"/clip/view", reviewer, nil, "Range", "bytes=100-199")
		wantStatus(t, res, 206)
		if !bytes.Equal(res.body, mustRead(t, viewPath)[100:200]) {
			t.Errorf("view Range: want bytes 100-199 of the copy")
		}
		entries := clipAudits(t, &mr, id)[before:]
		if len(entries) != 1 || entries[0].Action != violations.ActionClip || entries[0].Detail != "viewing copy" {
			t.Errorf("audit: want one violation.clip \"viewing copy\" (the Range request past byte 0 not again), got %+v", entries)
		}
		// The original's own route serves the original, with Range.
		res = r.do("GET", base+"/clip", reviewer, nil, "Range", "bytes=0-99")
		wantStatus(t, res, 206)
		if !bytes.Equal(res.body, orig[:100]) {
			t.Errorf("clip Range: want the original's first 100 bytes")
		}
		res = r.do("GET", base+"/clip", reviewer, nil, "Range", fmt.Sprintf("bytes=%d-", len(orig)-50))
		wantStatus(t, res, 206)
		if !bytes.Equal(res.body, orig[len(orig)-50:]) {
			t.Errorf("clip Range: want the original's last 50 bytes")
		}
	})

	t.Run("still from the clip without a camera snapshot", func(t *testing.T) {
		res := r.do("GET", base+"/snapshot", reviewer, nil)
		wantStatus(t, res, 200)
		if res.header.Get("X-Iocd-Derived") != "true" || res.header.Get("Content-Type") != "image/jpeg" || !bytes.HasPrefix(res.body, []byte{0xff, 0xd8}) {
			t.Fatalf("snapshot: want a derived JPEG, got derived=%q %q %x", res.header.Get("X-Iocd-Derived"), res.header.Get("Content-Type"), res.body[:min(4, len(res.body))])
		}
		s, err := mr.store.Derived(context.Background(), id, defs.DerivedStill)
		if err != nil || s.SHA256 != sha256Hex(res.body) || s.SourceSHA256 != v.ClipSHA256 {
			t.Errorf("still record: want sha %s from %s, got %+v (%v)", sha256Hex(res.body), v.ClipSHA256, s, err)
		}
		r.do("GET", base+"/media", reviewer, nil).json(t, &m)
		if m.Snapshot == nil || !m.Snapshot.Derived || m.Snapshot.SHA256 != s.SHA256 || m.Snapshot.URL != base+"/snapshot" {
			t.Errorf("media snapshot: want derived %s, got %+v", s.SHA256, m.Snapshot)
		}
		// A still is as wide and high as the clip.
		out, err := exec.Command("ffprobe", "-v", "error", "-show_entries", "stream=codec_name,width,height", "-of", "csv=p=0",
			filepath.Join(mr.dataDir, s.Path)).CombinedOutput()
		clip, _ := exec.Command("ffprobe", "-v", "error", "-show_entries", "stream=width,height", "-of", "csv=p=0", origPath).CombinedOutput()
		if err != nil || strings.TrimSpace(string(out)) != "mjpeg,"+strings.TrimSpace(string(clip)) {
			t.Errorf("still: want mjpeg of the clip's size %s, got %s (%v)", clip, out, err)
		}
	})

	t.Run("an H.264 clip is its own viewing copy", func(t *testing.T) {
		id := mr.fire(t, r, "cam264", "h264-1", "red_light")
		v := mr.sealed(t, id)
		var m mediaJSON
		r.do("GET", "/api/v1/violations/"+id+"/media", reviewer, nil).json(t, &m)
		if m.Clip.Codec != "h264" || m.View.Derived || m.View.State != "ready" || m.View.SHA256 != v.ClipSHA256 {
			t.Errorf("media: want the h264 original as the view, got %+v %+v", m.Clip, m.View)
		}
		res := r.do("GET", "/api/v1/violations/"+id+"/clip/view", reviewer, nil)
		wantStatus(t, res, 200)
		if res.header.Get("X-Iocd-Derived") != "false" || sha256Hex(res.body) != v.ClipSHA256 {
			t.Errorf("view: want the original, not derived, got derived=%q sha %s", res.header.Get("X-Iocd-Derived"), sha256Hex(res.body))
		}
	})

	t.Run("a clip being recorded is 409 with Retry-After", func(t *testing.T) {
		id := mr.fire(t, r, "cam264", "slow-1", slowType)
		for _, route := range []string{"/clip", "/clip/view", "/snapshot"} {
			res := r.do("GET", "/api/v1/violations/"+id+route, reviewer, nil)
			wantStatus(t, res, 409)
			// The window ends a minute after the event, plus the grace
			// for a stalled camera (the read timeout and 2 s).
			n, err := strconv.Atoi(res.header.Get("Retry-After"))
			if limit := int((time.Minute + config.Default().Streams.ReadTimeout.D() + 2*time.Second).Seconds()); err != nil || n < 1 || n > limit {
				t.Errorf("%s: want Retry-After between 1 and %d s, got %q", route, limit, res.header.Get("Retry-After"))
			}
		}
		var m mediaJSON
		r.do("GET", "/api/v1/violations/"+id+"/media", reviewer, nil).json(t, &m)
		if m.Clip.Status != "recording" || m.View.State != "unavailable" || !strings.Contains(m.View.Reason, "recorded") {
			t.Errorf("media while recording: want unavailable, recording, got %+v %+v", m.Clip, m.View)
		}
	})
}

func mustRead(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestViewingCopyWithoutFFmpeg: with media.ffmpeg naming no binary, the
// media answer says the viewing copy is unavailable and why, /clip/view
// answers 503 with the reason, and the original still serves.
func TestViewingCopyWithoutFFmpeg(t *testing.T) {
	var mr mediaRig
	cfg := defaultMediaConfig()
	cfg.FFmpeg = filepath.Join(t.TempDir(), "no-such-ffmpeg")
	r := newRig(t, withMedia(t, &mr, cfg))
	reviewer := r.tokens[defs.RoleReviewer]
	id := mr.fire(t, r, "cam265", "h265-none", "red_light")
	v := mr.sealed(t, id)
	base := "/api/v1/violations/" + id
	var m mediaJSON
	res := r.do("GET", base+"/media", reviewer, nil)
	wantStatus(t, res, 200)
	res.json(t, &m)
	if m.View.State != "unavailable" || !strings.Contains(m.View.Reason, "ffmpeg") || !strings.Contains(m.View.Reason, "not found") {
		t.Errorf("media: want the view unavailable because ffmpeg is not found, got %+v", m.View)
	}
	res = r.do("GET", base+"/clip/view", reviewer, nil)
	wantStatus(t, res, 503)
	if !strings.Contains(string(res.body), "not found") {
		t.Errorf("view: want the reason, got %s", res.body)
	}
	res = r.do("GET", base+"/clip", reviewer, nil)
	wantStatus(t, res, 200)
	if sha256Hex(res.body) != v.ClipSHA256 {
		t.Errorf("clip: want the original %s, got %s", v.ClipSHA256, sha256Hex(res.body))
	}
	res = r.do("GET", base+"/snapshot", reviewer, nil)
	wantStatus(t, res, 503)
}
