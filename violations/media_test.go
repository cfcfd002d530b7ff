package violations_test

import (
	"context"
	"errors"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/iocd/iocd/defs"
	"github.com/iocd/iocd/internal/testrig"
	"github.com/iocd/iocd/violations"
)

func mediaOn(st violations.MediaStore) violations.Option {
	return violations.WithMedia(violations.MediaConfig{FFmpeg: "ffmpeg", ViewingCopies: true, MaxJobs: 1, Timeout: time.Minute}, st)
}

// TestViewingCopyInTheBackground: once an H.265 clip is sealed, its
// viewing copy is made without anyone asking, recorded derived with its
// hash and its source's, and the original is left bit for bit as sealed
// (and hvc1). A copy whose original went while iocd was down (a purge
// sealed just before a crash) is removed at the next start.
func TestViewingCopyInTheBackground(t *testing.T) {
	r := newRig(t, nil)
	// The rig's service has no media; a second service on the same store
	// and data dir, with media, is the one tested.
	svc := violations.New(r.cfg.Violations, r.cfg.Retention, r.cfg.Streams, r.dataDir, r.store, r.streams, nil, nil, nil, nil, mediaOn(r.store))
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { defer wg.Done(); svc.Run(ctx) }()
	stopped := false
	stop := func() {
		if !stopped {
			stopped = true
			cancel()
			wg.Wait()
		}
	}
	t.Cleanup(stop)
	r.waitBuffered("cam265", pre+time.Second)
	ts := time.Now().Add(-300 * time.Millisecond).UTC().Format(time.RFC3339Nano)
	if err := svc.HandleEvent(context.Background(), r.devs["cam265"], []byte(`{"event_id":"bg-1","type":"red_light","ts":"`+ts+`","plate":"62a 12345"}`), time.Now()); err != nil {
		t.Fatal(err)
	}
	v := r.final("cam265", "bg-1")
	if v.ClipStatus != defs.ClipComplete {
		t.Fatalf("want a complete clip, got %s (%s)", v.ClipStatus, v.ClipReason)
	}
	var d defs.DerivedFile
	testrig.WaitFor(t, "the viewing copy to be made in the background", 60*time.Second, func() bool {
		var err error
		d, err = r.store.Derived(context.Background(), v.ID, defs.DerivedView)
		return err == nil
	})
	orig := filepath.Join(r.dataDir, v.ClipPath)
	if got := sha(t, orig); got != v.ClipSHA256 {
		t.Errorf("original after the copy: want sha256 %s as sealed, got %s", v.ClipSHA256, got)
	}
	view := filepath.Join(r.dataDir, d.Path)
	if d.SourceSHA256 != v.ClipSHA256 || sha(t, view) != d.SHA256 || !strings.HasSuffix(d.Path, ".view.mp4") {
		t.Errorf("derived record: want the copy's own hash and the source %s, got %+v (file %s)", v.ClipSHA256, d, sha(t, view))
	}
	for path, want := range map[string]string{orig: "hevc,hvc1", view: "h264,avc1"} {
		out, err := exec.Command("ffprobe", "-v", "error", "-select_streams", "v:0", "-show_entries",
			"stream=codec_name,codec_tag_string", "-of", "csv=p=0", path).CombinedOutput()
		if got := strings.TrimSpace(string(out)); err != nil || got != want {
			t.Errorf("ffprobe %s: want %s, got %s (%v)", filepath.Base(path), want, got, err)
		}
	}
	if frames := probe(t, view); len(frames) < 25 || !frames[0].Key {
		t.Errorf("viewing copy: want at least 25 frames from a keyframe, got %d", len(frames))
	}
	// The still, too: the camera sent no snapshot.
	testrig.WaitFor(t, "the still to be made in the background", 60*time.Second, func() bool {
		_, err := r.store.Derived(context.Background(), v.ID, defs.DerivedStill)
		return err == nil
	})

	// The original goes (as a purge would) while iocd is down.
	stop()
	r.exec(t, "UPDATE violations SET clip_path = '', clip_status = 'purged' WHERE id = '"+v.ID+"'")
	svc2 := violations.New(r.cfg.Violations, r.cfg.Retention, r.cfg.Streams, r.dataDir, r.store, r.streams, nil, nil, nil, nil, mediaOn(r.store))
	ctx2, cancel2 := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); svc2.Run(ctx2) }()
	t.Cleanup(func() { cancel2(); <-done })
	testrig.WaitFor(t, "the derived files to go with their original", 20*time.Second, func() bool {
		_, e1 := r.store.Derived(context.Background(), v.ID, defs.DerivedView)
		_, e2 := r.store.Derived(context.Background(), v.ID, defs.DerivedStill)
		return defs.ErrorCode(e1) == defs.ENOTFOUND && defs.ErrorCode(e2) == defs.ENOTFOUND
	})
	if _, err := os.Stat(view); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("viewing copy file: want removed, got %v", err)
	}
}
