package api_test

import (
	"archive/zip"
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
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

type cameraList []defs.Device

func (c cameraList) Cameras(context.Context) ([]defs.Device, error) { return c, nil }

// violationsRig is a simulated camera, a streams manager and the
// violations service on its own store, wired into the API.
type violationsRig struct {
	svc     *violations.Service
	streams *streams.Manager
	store   *store.SQLite
	cam     defs.Device
	dataDir string
}

func withViolations(t *testing.T, vr *violationsRig, desk ...func(*violations.DeskConfig)) rigOption {
	return func(s *rigSetup) {
		ctx, cancel := context.WithCancel(context.Background())
		srv, err := sim.NewCameraServer("127.0.0.1:0", nil)
		if err != nil {
			t.Fatal(err)
		}
		rec, err := sim.LoadRecording(sim.H264)
		if err != nil {
			t.Fatal(err)
		}
		c, err := srv.AddCamera(sim.CameraSpec{Path: "cam", Recording: rec, User: "u", Pass: "secret-pw"})
		if err != nil {
			t.Fatal(err)
		}
		dir := t.TempDir()
		st, err := store.Open(ctx, filepath.Join(dir, "v.db"), discardLog())
		if err != nil {
			t.Fatal(err)
		}
		cfg := config.Default()
		cfg.Violations.Pre, cfg.Violations.Post = config.Duration(time.Second), config.Duration(time.Second)
		cfg.Streams.BufferSlack = config.Duration(time.Second)
		vr.cam = defs.Device{ID: "cam1", Site: "hcm", Kind: defs.KindCamera, RTSPURL: c.URL(), Status: defs.StatusActive}
		vr.streams = streams.New(cfg.Streams, cfg.Violations, cameraList{vr.cam}, nil, nil, nil, nil)
		dc := testDesk(cfg)
		for _, f := range desk {
			f(&dc)
		}
		vr.svc = violations.New(cfg.Violations, cfg.Retention, cfg.Streams, dir, st, vr.streams, nil, nil, nil, nil, violations.WithDesk(dc))
		vr.store, vr.dataDir = st, dir
		var wg sync.WaitGroup
		wg.Add(2)
		go func() { defer wg.Done(); vr.streams.Run(ctx) }()
		go func() { defer wg.Done(); vr.svc.Run(ctx) }()
		t.Cleanup(func() { cancel(); wg.Wait(); st.Close(); srv.Close() })
		s.opts.Violations, s.opts.Cameras, s.opts.Audit, s.opts.Desk = vr.svc, vr.streams, vr.svc, vr.svc
	}
}

func TestViolationsAPI(t *testing.T) {
	var vr violationsRig
	r := newRig(t, withViolations(t, &vr))
	viewer, reviewer := r.tokens[defs.RoleViewer], r.tokens[defs.RoleReviewer]

	// Wait for 2 s of video, then record an event.
	var cams struct{ Cameras []streams.CameraStats }
	testrig.WaitFor(t, "the camera to buffer 2 s", 20*time.Second, func() bool {
		r.do("GET", "/api/v1/cameras", viewer, nil).json(t, &cams)
		return len(cams.Cameras) == 1 && cams.Cameras[0].BufferSeconds >= 2
	})
	if cams.Cameras[0].RTSPURL != "rtsp://u:xxxxx@"+vr.cam.RTSPURL[len("rtsp://u:secret-pw@"):] {
		t.Errorf("cameras: want the password redacted, got %q", cams.Cameras[0].RTSPURL)
	}
	ts := time.Now().Add(-200 * time.Millisecond)
	payload := fmt.Sprintf(`{"event_id":"api-1","type":"red_light","ts":%d,"plate":"51F12345","snapshot_jpeg":"/9j/4AAQSkZJRgABAQ=="}`, ts.UnixMilli())
	if err := vr.svc.HandleEvent(context.Background(), vr.cam, []byte(payload), time.Now()); err != nil {
		t.Fatal(err)
	}
	var list struct {
		Violations []defs.Violation
	}
	testrig.WaitFor(t, "the event's clip to be complete", 20*time.Second, func() bool {
		res := r.do("GET", "/api/v1/violations?plate=51f-123.45&status=pending", reviewer, nil)
		wantStatus(t, res, http.StatusOK)
		res.json(t, &list)
		return len(list.Violations) == 1 && list.Violations[0].ClipStatus == defs.ClipComplete
	})
	id := list.Violations[0].ID
	base := "/api/v1/violations/" + id

	for _, tc := range []struct {
		method, path string
		body         any
	}{
		{"GET", base + "/clip", nil},
		{"GET", base + "/snapshot", nil},
		{"GET", base + "/evidence", nil},
		{"POST", base + "/review", map[string]string{"decision": "confirmed"}},
		{"GET", "/api/v1/audit", nil},
	} {
		t.Run("viewer "+tc.method+" "+tc.path, func(t *testing.T) {
			wantStatus(t, r.do(tc.method, tc.path, viewer, tc.body), http.StatusForbidden)
		})
	}

	t.Run("clip with range", func(t *testing.T) {
		full := r.do("GET", base+"/clip", reviewer, nil)
		wantStatus(t, full, http.StatusOK)
		if ct := full.header.Get("Content-Type"); ct != "video/mp4" {
			t.Errorf("content type: want video/mp4, got %q", ct)
		}
		part := r.do("GET", base+"/clip", reviewer, nil, "Range", "bytes=100-199")
		wantStatus(t, part, http.StatusPartialContent)
		if !bytes.Equal(part.body, full.body[100:200]) {
			t.Errorf("range: want bytes 100-199 of the clip, got %d other bytes", len(part.body))
		}
	})

	t.Run("review and evidence", func(t *testing.T) {
		res := r.do("POST", base+"/review", reviewer, map[string]string{"decision": "confirmed", "reason": "violation_clear", "note": "ran the red"})
		wantStatus(t, res, http.StatusOK)
		res = r.do("POST", base+"/review", reviewer, map[string]string{"decision": "rejected"})
		wantStatus(t, res, http.StatusForbidden)
		res = r.do("POST", base+"/review", reviewer, map[string]string{"decision": "maybe"})
		wantStatus(t, res, http.StatusBadRequest)
		ev := r.do("GET", base+"/evidence", reviewer, nil)
		wantStatus(t, ev, http.StatusOK)
		zr, err := zip.NewReader(bytes.NewReader(ev.body), int64(len(ev.body)))
		if err != nil {
			t.Fatalf("evidence is not a zip: %v", err)
		}
		names := map[string]bool{}
		for _, f := range zr.File {
			names[f.Name] = true
			// Real times, not the zip epoch (1980) of a zero time.
			if f.Modified.Year() < 2020 || time.Since(f.Modified) > time.Hour {
				t.Errorf("evidence %s: want its real time, got %v", f.Name, f.Modified)
			}
			if f.Name == "event.json" {
				rc, _ := f.Open()
				b, _ := io.ReadAll(rc)
				rc.Close()
				if string(b) != payload {
					t.Errorf("event.json: want the event as sent, got %.200q", b)
				}
			}
		}
		for _, n := range []string{"clip.mp4", "snapshot.jpg", "event.json", "metadata.json", "reviews.json"} {
			if !names[n] {
				t.Errorf("evidence: want %s, got %v", n, names)
			}
		}
		// The decision names the unique principal, not the token's name.
		var revs struct{ Reviews []defs.Review }
		r.do("GET", base+"/reviews", reviewer, nil).json(t, &revs)
		if len(revs.Reviews) != 1 || !strings.HasPrefix(revs.Reviews[0].Actor, "token:") {
			t.Errorf("reviews: want one decision by a token:<id> subject, got %+v", revs.Reviews)
		}
	})

	t.Run("evidence keys", func(t *testing.T) {
		var keys struct{ Keys []defs.EvidenceKey }
		res := r.do("GET", "/api/v1/evidence/keys", viewer, nil)
		wantStatus(t, res, http.StatusOK)
		res.json(t, &keys)
		if len(keys.Keys) != 1 || keys.Keys[0].Algorithm != "ed25519" || len(keys.Keys[0].Fingerprint) != 64 || keys.Keys[0].ValidFrom.IsZero() {
			t.Fatalf("keys: want one ed25519 key with its fingerprint and validity, got %+v", keys.Keys)
		}
		rep, err := violations.Verify(context.Background(), vr.store, vr.dataDir)
		if err != nil || !rep.OK() || rep.Key != keys.Keys[0].Fingerprint {
			t.Errorf("verify: want OK and signed by the published key %s, got key %s, %+v %v", keys.Keys[0].Fingerprint, rep.Key, rep.Problems, err)
		}
	})

	t.Run("audit", func(t *testing.T) {
		var audit struct{ Entries []defs.AuditEntry }
		res := r.admin("GET", "/api/v1/audit", nil)
		wantStatus(t, res, http.StatusOK)
		res.json(t, &audit)
		got := map[string]int{}
		for _, e := range audit.Entries {
			got[e.Action]++
		}
		// One clip play (the Range read past byte 0 is a seek within it),
		// one review, one evidence package; the viewer's refused attempts
		// are not accesses.
		want := map[string]int{violations.ActionClip: 1, violations.ActionReview: 1, violations.ActionEvidence: 1}
		if fmt.Sprint(got) != fmt.Sprint(want) {
			t.Errorf("audit: want %v, got %v", want, got)
		}
	})

	// Last: it alters the clip.
	t.Run("altered clip is refused", func(t *testing.T) {
		good := r.do("GET", base+"/clip", reviewer, nil)
		wantStatus(t, good, http.StatusOK)
		v, err := vr.store.GetViolation(context.Background(), id)
		if err != nil {
			t.Fatal(err)
		}
		p := filepath.Join(vr.dataDir, v.ClipPath)
		before, err := os.Stat(p)
		if err != nil {
			t.Fatal(err)
		}
		os.Chmod(p, 0o600)
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		b[len(b)/2] ^= 0xff // same size: only the hash can tell
		if err := os.WriteFile(p, b, 0o600); err != nil {
			t.Fatal(err)
		}
		// And the modification time put back, as `touch -d` would.
		if err := os.Chtimes(p, before.ModTime(), before.ModTime()); err != nil {
			t.Fatal(err)
		}
		if after, _ := os.Stat(p); after.Size() != before.Size() || !after.ModTime().Equal(before.ModTime()) {
			t.Fatalf("the altered clip should keep size and mtime: %v %v -> %v %v", before.Size(), before.ModTime(), after.Size(), after.ModTime())
		}
		for _, path := range []string{base + "/clip", base + "/evidence"} {
			res := r.do("GET", path, reviewer, nil)
			wantStatus(t, res, http.StatusConflict)
			if !bytes.Contains(res.body, []byte("does not match its recorded hash")) || bytes.Contains(res.body, b[:64]) {
				t.Errorf("GET %s: want the hash mismatch named and no clip bytes, got %.200q", path, res.body)
			}
		}
		var audit struct{ Entries []defs.AuditEntry }
		r.admin("GET", "/api/v1/audit", nil).json(t, &audit)
		refused := 0
		for _, e := range audit.Entries {
			if e.Action == violations.ActionRefused && e.Target == id {
				refused++
			}
		}
		if refused != 2 {
			t.Errorf("audit: want 2 refusals of %s, got %d", id, refused)
		}
	})
}

func discardLog() *slog.Logger { return slog.New(slog.DiscardHandler) }
