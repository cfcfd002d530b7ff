package main

import (
	"context"
	"database/sql"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	_ "modernc.org/sqlite"

	"github.com/iocd/iocd/config"
	"github.com/iocd/iocd/defs"
	"github.com/iocd/iocd/internal/testrig"
	"github.com/iocd/iocd/sim"
	"github.com/iocd/iocd/store"
)

// TestVerifyCatchesTampering runs the whole violations path through the
// real binary's wiring: a simulated camera registered from a seed file, an
// event published with mosquitto_pub to the embedded broker, a clip cut
// from the camera's buffer. Then `iocd verify` must pass, and must fail
// naming the problem after a record is changed in the database and after
// the clip is changed on disk.
func TestVerifyCatchesTampering(t *testing.T) {
	cams, err := sim.NewCameraServer("127.0.0.1:0", slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cams.Close)
	rec, err := sim.LoadRecording(sim.H264)
	if err != nil {
		t.Fatal(err)
	}
	cam, err := cams.AddCamera(sim.CameraSpec{Path: "tan-an-cam-01", Recording: rec, User: "admin", Pass: "s3cret"})
	if err != nil {
		t.Fatal(err)
	}
	dataDir := t.TempDir()
	seed := filepath.Join(t.TempDir(), "devices.json")
	if err := writeJSONFile(seed, []defs.Device{{ID: "tan-an-cam-01", Site: "tan-an", Kind: defs.KindCamera, Name: "Ngã tư Tân An",
		RTSPURL: cam.URL(), Status: defs.StatusActive, HeartbeatS: 30}}); err != nil {
		t.Fatal(err)
	}
	const admin = "test-admin-token-0123456789"
	mqttAddr := fmt.Sprintf("127.0.0.1:%d", testrig.FreePort(t))
	base, stop := startServe(t, "-data_dir", dataDir, "-mqtt.embedded_addr", mqttAddr, "-admin_token", admin,
		"-devices.seed_file", seed, "-violations.pre", "2s", "-violations.post", "1s")

	// The event's window is [now-3s, now] (ts = now-1s, pre 2s, post 1s).
	// A buffer of exactly 3 s reaches back to now-3s only if the ring's
	// clock agrees with ours to the millisecond, and it does not: before the
	// camera's first RTCP sender report its frames are timed by their
	// receipt, late by however long the first frame took to arrive under
	// load, and the clip came out partial. Wait for a second to spare.
	testrig.WaitFor(t, "camera buffering 4s", 30*time.Second, func() bool {
		var cs struct {
			Cameras []struct {
				Connected     bool    `json:"connected"`
				BufferSeconds float64 `json:"buffer_seconds"`
				RTSPURL       string  `json:"rtsp_url"`
			}
		}
		get(t, base+"/api/v1/cameras", admin, &cs)
		if len(cs.Cameras) == 1 && strings.Contains(cs.Cameras[0].RTSPURL, "s3cret") {
			t.Fatalf("/api/v1/cameras shows the RTSP password: %s", cs.Cameras[0].RTSPURL)
		}
		return len(cs.Cameras) == 1 && cs.Cameras[0].Connected && cs.Cameras[0].BufferSeconds >= 4
	})

	host, port, _ := strings.Cut(mqttAddr, ":")
	event := fmt.Sprintf(`{"event_id":"e-1","type":"red_light","ts":%d,"plate":"62a 123.45","plate_confidence":0.9,"vehicle":"car"}`,
		time.Now().Add(-time.Second).UnixMilli())
	if out, err := exec.Command(testrig.Binary(t, "mosquitto_pub"), "-h", host, "-p", port, "-q", "1",
		"-t", "ioc/tan-an/tan-an-cam-01/event", "-m", event).CombinedOutput(); err != nil {
		t.Fatalf("mosquitto_pub: %v: %s", err, out)
	}
	var v defs.Violation
	testrig.WaitFor(t, "the violation's clip", 30*time.Second, func() bool {
		var list struct{ Violations []defs.Violation }
		get(t, base+"/api/v1/violations", admin, &list)
		if len(list.Violations) == 1 {
			v = list.Violations[0]
		}
		return v.ClipStatus != "" && v.ClipStatus != defs.ClipRecording
	})
	if v.ClipStatus != defs.ClipComplete {
		t.Fatalf("clip status = %s (%s), want complete (the camera streamed throughout)", v.ClipStatus, v.ClipReason)
	}
	if v.Plate != "62A-123.45" || !v.PlateValid {
		t.Errorf("plate = %q (valid %v), want normalised 62A-123.45", v.Plate, v.PlateValid)
	}
	if code := stop(); code != 0 {
		t.Fatalf("serve exited %d", code)
	}

	verify := func() (int, string) {
		var out strings.Builder
		code := run(context.Background(), []string{"verify", "-data_dir", dataDir}, &out, io.Discard)
		return code, out.String()
	}
	var verifyErr strings.Builder
	code := run(context.Background(), []string{"verify", "-data_dir", dataDir}, new(strings.Builder), &verifyErr)
	if code != 0 || verifyErr.Len() != 0 {
		t.Fatalf("verify on untouched evidence: exit %d, stderr %q", code, verifyErr.String())
	}
	// The check is on record: custody includes every verification.
	func() {
		st, err := store.OpenExisting(context.Background(), filepath.Join(dataDir, "iocd.db"), slog.New(slog.DiscardHandler))
		if err != nil {
			t.Fatal(err)
		}
		defer st.Close()
		es, _, err := st.ListAudit(context.Background(), "", 1)
		if err != nil {
			t.Fatal(err)
		}
		if len(es) != 1 || es[0].Action != "evidence.verify" || es[0].Target != "ledger" || !strings.HasPrefix(es[0].Detail, "intact; head ") {
			t.Errorf("want the newest audit entry to record the verification, got %+v", es)
		}
	}()
	code, out := verify()
	if code != 0 || !strings.Contains(out, "OK") || !strings.Contains(out, "(trusted)") {
		t.Fatalf("verify on untouched evidence (after its own audit entry): exit %d, want OK with the signing key trusted\n%s", code, out)
	}
	// The place as the registry had it is in the record.
	if v.CameraName != "Ngã tư Tân An" || len(v.RawEvent) != 0 {
		t.Errorf("record: want the camera's name copied and no raw event in lists, got %q, %d bytes", v.CameraName, len(v.RawEvent))
	}
	_, head, _ := strings.Cut(out, "ledger head: ")
	head, _, _ = strings.Cut(head, "\n")
	head = strings.TrimSpace(head)
	for _, tc := range []struct {
		head     string
		wantCode int
		wantOut  string
	}{
		{head, 0, "OK"},
		{strings.Repeat("ab", 32), 1, "head_missing"},
	} {
		var out strings.Builder
		code := run(context.Background(), []string{"verify", "-data_dir", dataDir, "-head", tc.head}, &out, io.Discard)
		if code != tc.wantCode || !strings.Contains(out.String(), tc.wantOut) {
			t.Errorf("verify -head %s: want exit %d naming %s, got exit %d\n%s", tc.head, tc.wantCode, tc.wantOut, code, out.String())
		}
	}

	db, err := sql.Open("sqlite", filepath.Join(dataDir, "iocd.db"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.Exec(`UPDATE violations SET plate = '51F-999.99' WHERE id = ?`, v.ID); err != nil {
		t.Fatal(err)
	}
	code, out = verify()
	if code != 1 || !strings.Contains(out, "record_changed") || !strings.Contains(out, v.ID) {
		t.Errorf("verify after changing the plate in the database: exit %d, want 1 naming record_changed and %s\n%s", code, v.ID, out)
	}
	if _, err := db.Exec(`UPDATE violations SET plate = ? WHERE id = ?`, v.Plate, v.ID); err != nil {
		t.Fatal(err)
	}
	db.Close()
	if code, out := verify(); code != 0 {
		t.Fatalf("verify after restoring the plate: exit %d\n%s", code, out)
	}

	// A verifier pinning another key is told the chain is not signed by it.
	other := filepath.Join(t.TempDir(), "other.fpr")
	os.WriteFile(other, []byte(strings.Repeat("ab", 32)+"\n"), 0o600)
	var pinned strings.Builder
	if code := run(context.Background(), []string{"verify", "-data_dir", dataDir, "-key", other}, &pinned, io.Discard); code != 1 ||
		!strings.Contains(pinned.String(), "key_untrusted") {
		t.Errorf("verify -key with another key: want exit 1 naming key_untrusted, got %d\n%s", code, pinned.String())
	}

	// Rotation: a next key beside the current one, sealed at the next
	// start, endorsed by the old key; verify then trusts the new key.
	var keyOut strings.Builder
	if code := run(context.Background(), []string{"evidence", "rotate-key", "-data_dir", dataDir}, &keyOut, io.Discard); code != 0 {
		t.Fatalf("evidence rotate-key: exit %d\n%s", code, keyOut.String())
	}
	_, nextFpr, _ := strings.Cut(keyOut.String(), "next key:")
	nextFpr, _, _ = strings.Cut(strings.TrimSpace(nextFpr), " ")
	_, stop = startServe(t, "-data_dir", dataDir, "-mqtt.embedded_addr", mqttAddr, "-admin_token", admin,
		"-devices.seed_file", seed)
	if code := stop(); code != 0 {
		t.Fatalf("serve after rotate-key exited %d", code)
	}
	code, out = verify()
	if code != 0 || !strings.Contains(out, "signing key: "+nextFpr+" (trusted)") {
		t.Fatalf("verify after the rotation: want OK signed by the new key %s, got exit %d\n%s", nextFpr, code, out)
	}
	if _, err := os.Stat(filepath.Join(dataDir, "evidence", "signing.key.next")); !os.IsNotExist(err) {
		t.Errorf("after the rotation the next key should have moved into place: %v", err)
	}

	// An audit row written by a command (as token and user management
	// do) is sealed with the key when the command installs the sealer,
	// and reported when it does not (at the end of the test).
	writeAudit := func(seal bool) {
		t.Helper()
		st, err := store.Open(context.Background(), filepath.Join(dataDir, "iocd.db"), slog.New(slog.DiscardHandler))
		if err != nil {
			t.Fatal(err)
		}
		defer st.Close()
		if seal {
			cfg := config.Default()
			cfg.DataDir = dataDir
			if err := sealAuditRows(context.Background(), cfg, st); err != nil {
				t.Fatal(err)
			}
		}
		if err := st.AddAudit(context.Background(), defs.AuditEntry{At: time.Now(), Actor: "bootstrap-admin", Role: defs.RoleAdmin,
			Action: "token.create", Target: "9"}); err != nil {
			t.Fatal(err)
		}
	}
	writeAudit(true)
	if code, out := verify(); code != 0 {
		t.Fatalf("verify after a command's sealed audit row: exit %d\n%s", code, out)
	}

	clips, _ := filepath.Glob(filepath.Join(dataDir, "clips", "*", "*", "*", v.ID+".mp4"))
	if len(clips) != 1 {
		t.Fatalf("clip files for %s: %v, want one", v.ID, clips)
	}
	if err := os.Chmod(clips[0], 0o640); err != nil {
		t.Fatal(err)
	}
	f, err := os.OpenFile(clips[0], os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		t.Fatal(err)
	}
	f.Write([]byte{0})
	f.Close()
	code, out = verify()
	if code != 1 || !strings.Contains(out, "file_changed") {
		t.Errorf("verify after changing the clip on disk: exit %d, want 1 naming file_changed\n%s", code, out)
	}
	writeAudit(false)
	if code, out := verify(); code != 1 || !strings.Contains(out, "audit_unsealed") {
		t.Errorf("verify after an unsealed audit row: exit %d, want 1 naming audit_unsealed\n%s", code, out)
	}
}
