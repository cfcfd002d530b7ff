package main

import (
	"archive/zip"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
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

type caseCameras []defs.Device

func (c caseCameras) Cameras(context.Context) ([]defs.Device, error) { return c, nil }

// makeCasePackage records two violations from a simulated camera (one
// with a clip and snapshot, confirmed; one without video), makes a case
// of them and writes its package outside the data dir. It returns the
// package's bytes, the signing key, and the data dir, stopped and closed
// so the caller can delete it.
func makeCasePackage(t *testing.T) ([]byte, *violations.Signer, string) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	srv, err := sim.NewCameraServer("127.0.0.1:0", slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	rec, err := sim.LoadRecording(sim.H264)
	if err != nil {
		t.Fatal(err)
	}
	cam, err := srv.AddCamera(sim.CameraSpec{Path: "cam", Recording: rec})
	if err != nil {
		t.Fatal(err)
	}
	dataDir := t.TempDir()
	st, err := store.Open(ctx, filepath.Join(dataDir, "iocd.db"), slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	cfg := config.Default()
	cfg.Violations.Pre, cfg.Violations.Post = config.Duration(time.Second), config.Duration(time.Second)
	cfg.Violations.DetectingUnit = "Phòng Cảnh sát giao thông Công an tỉnh Long An"
	cfg.Streams.BufferSlack = config.Duration(time.Second)
	dev := defs.Device{ID: "tan-an-cam-01", Site: "tan-an", Kind: defs.KindCamera, RTSPURL: cam.URL(), Status: defs.StatusActive,
		Name: "Ngã tư Tân An", Address: "Quốc lộ 1A, phường 2, Tân An, Long An", Lat: 10.5359, Lon: 106.4137}
	sm := streams.New(cfg.Streams, cfg.Violations, caseCameras{dev}, nil, nil, nil, nil)
	svc := violations.New(cfg.Violations, cfg.Retention, cfg.Streams, dataDir, st, sm, nil, nil, nil, nil, violations.WithDesk(deskConfig(cfg)))
	var wg sync.WaitGroup
	wg.Add(2)
	go func() { defer wg.Done(); sm.Run(ctx) }()
	go func() { defer wg.Done(); svc.Run(ctx) }()
	defer func() { cancel(); wg.Wait(); st.Close() }()
	testrig.WaitFor(t, "the camera buffering 3s", 30*time.Second, func() bool {
		cs := sm.Cameras()
		return len(cs) == 1 && cs[0].Connected && cs[0].BufferSeconds >= 3
	})
	ts := time.Now().Add(-1500 * time.Millisecond)
	for _, ev := range []string{
		fmt.Sprintf(`{"event_id":"e-1","type":"red_light","ts":%q,"plate":"62a 123.45","plate_confidence":0.9,"vehicle":"car","snapshot_jpeg":"/9j/4AAQSkZJRgABAQ==","signal_phase":"red"}`, ts.Format(time.RFC3339Nano)),
		fmt.Sprintf(`{"event_id":"e-2","type":"no_helmet","ts":%q,"plate":"62b1 234.56","plate_confidence":0.8,"vehicle":"motorbike","plate_colour":"trắng"}`, ts.Format(time.RFC3339Nano)),
	} {
		if err := svc.HandleEvent(ctx, dev, []byte(ev), time.Now()); err != nil {
			t.Fatal(err)
		}
	}
	var ids []string
	testrig.WaitFor(t, "both violations sealed", 30*time.Second, func() bool {
		vs, _, err := st.ListViolations(ctx, defs.ViolationFilter{})
		if err != nil {
			t.Fatal(err)
		}
		ids = ids[:0]
		for _, v := range vs {
			if v.ClipStatus != defs.ClipRecording {
				ids = append(ids, v.ID)
			}
		}
		return len(ids) == 2
	})
	officer := violations.Actor{Subject: "user:officer", Name: "officer", Role: defs.RoleReviewer}
	// The officer plays the clip, as the desk requires before a
	// confirmation, then confirms with a reason code.
	clip, _, err := svc.OpenClip(ctx, officer, ids[0])
	if err != nil {
		t.Fatal(err)
	}
	clip.Close()
	// A misread plate, corrected: the case carries the amendment and
	// the plate in force.
	if _, _, _, err := svc.CorrectPlate(ctx, officer, ids[0], "51F-999.99", "biển số đọc sai một chữ số", ""); err != nil {
		t.Fatal(err)
	}
	if _, _, err := svc.Decide(ctx, officer, ids[0], violations.Decision{Decision: defs.ReviewConfirmed, Reason: "violation_clear", Note: "đèn đỏ rõ ràng"}); err != nil {
		t.Fatal(err)
	}
	c, err := svc.CreateCase(ctx, officer, "Hồ sơ chuyển Công an phường 2", ids)
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := svc.WriteCasePackage(ctx, officer, c.ID, &buf); err != nil {
		t.Fatal(err)
	}
	key, err := violations.LoadKey(filepath.Join(dataDir, violations.DefaultKeyFile))
	if err != nil {
		t.Fatal(err)
	}
	return buf.Bytes(), key, dataDir
}

// zipFiles reads a zip into its entries, in order.
type zipEntry struct {
	name string
	data []byte
}

func readZip(t *testing.T, b []byte) []zipEntry {
	t.Helper()
	zr, err := zip.NewReader(bytes.NewReader(b), int64(len(b)))
	if err != nil {
		t.Fatal(err)
	}
	var out []zipEntry
	for _, f := range zr.File {
		rc, err := f.Open()
		if err != nil {
			t.Fatal(err)
		}
		d, err := io.ReadAll(rc)
		rc.Close()
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, zipEntry{f.Name, d})
	}
	return out
}

func writeZip(t *testing.T, es []zipEntry) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for _, e := range es {
		w, err := zw.Create(e.name)
		if err != nil {
			t.Fatal(err)
		}
		w.Write(e.data)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func entry(es []zipEntry, suffix string) *zipEntry {
	for i := range es {
		if strings.HasSuffix(es[i].name, suffix) {
			return &es[i]
		}
	}
	return nil
}

// resign recomputes the manifest's entry for every file and signs it with
// key, as someone holding iocd's key (or forging with their own) would.
func resign(t *testing.T, es []zipEntry, key *violations.Signer) []zipEntry {
	t.Helper()
	m := entry(es, violations.CaseManifestFile)
	var man map[string]any
	if err := json.Unmarshal(m.data, &man); err != nil {
		t.Fatal(err)
	}
	var files []map[string]any
	for _, e := range es {
		if e.name != violations.CaseManifestFile && e.name != violations.CaseSignatureFile {
			files = append(files, map[string]any{"name": e.name, "sha256": sha256hex(e.data), "bytes": len(e.data)})
		}
	}
	man["files"] = files
	m.data, _ = json.MarshalIndent(man, "", "  ")
	entry(es, violations.CaseSignatureFile).data = []byte(key.SignCaseManifest(m.data) + "\n")
	return es
}

// TestVerifyCaseOffline runs `iocd verify-case` (its main function) on a
// fresh package with the data dir deleted: it passes, and fails naming
// what is wrong after each tampering.
func TestVerifyCaseOffline(t *testing.T) {
	pkg, key, dataDir := makeCasePackage(t)
	if err := os.RemoveAll(dataDir); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	keyFile := filepath.Join(dir, "key.fingerprint")
	if err := os.WriteFile(keyFile, []byte(key.Fingerprint()+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	otherKey, err := violations.GenerateSigner()
	if err != nil {
		t.Fatal(err)
	}
	otherFile := filepath.Join(dir, "other.fingerprint")
	if err := os.WriteFile(otherFile, []byte(otherKey.Fingerprint()), 0o600); err != nil {
		t.Fatal(err)
	}
	verify := func(t *testing.T, b []byte, flags ...string) (int, string) {
		t.Helper()
		p := filepath.Join(t.TempDir(), "case.zip")
		if err := os.WriteFile(p, b, 0o600); err != nil {
			t.Fatal(err)
		}
		var out, errOut bytes.Buffer
		code := run(context.Background(), append([]string{"verify-case", p}, flags...), &out, &errOut)
		return code, out.String() + errOut.String()
	}

	t.Run("fresh package", func(t *testing.T) {
		code, out := verify(t, pkg)
		if code != 0 || !strings.Contains(out, "OK: case") || !strings.Contains(out, key.Fingerprint()) {
			t.Fatalf("want exit 0, OK and the key's fingerprint %s, got %d:\n%s", key.Fingerprint(), code, out)
		}
		if a := entry(readZip(t, pkg), "amendments.json"); a == nil || !bytes.Contains(a.data, []byte("51F-999.99")) {
			t.Errorf("want the first violation's amendments.json to hold the correction, got %v", a)
		}
		if code, out := verify(t, pkg, "-key", keyFile); code != 0 || !strings.Contains(out, "the pinned key") {
			t.Errorf("pinned to its own key: want exit 0, got %d:\n%s", code, out)
		}
	})

	cases := []struct {
		name   string
		tamper func(es []zipEntry) []zipEntry
		flags  []string
		want   []string // each must be in the output
	}{
		{"clip changed", func(es []zipEntry) []zipEntry {
			e := entry(es, "clip.mp4")
			e.data = append([]byte(nil), e.data...)
			e.data[len(e.data)/2] ^= 0xff
			return es
		}, nil, []string{"file_changed", "clip.mp4"}},
		{"record changed", func(es []zipEntry) []zipEntry {
			editPlate(t, entry(es, "record.json"))
			return es
		}, nil, []string{"file_changed", "record.json"}},
		{"snapshot removed", func(es []zipEntry) []zipEntry {
			var out []zipEntry
			for _, e := range es {
				if !strings.HasSuffix(e.name, "snapshot.jpg") {
					out = append(out, e)
				}
			}
			return out
		}, nil, []string{"file_missing", "snapshot.jpg"}},
		{"file added", func(es []zipEntry) []zipEntry {
			return append(es, zipEntry{"note.txt", []byte("planted")})
		}, nil, []string{"file_added", "note.txt"}},
		{"manifest altered", func(es []zipEntry) []zipEntry {
			e := entry(es, violations.CaseManifestFile)
			e.data = bytes.Replace(e.data, []byte(`"title": "`), []byte(`"title": "X`), 1)
			return es
		}, nil, []string{"signature_invalid", violations.CaseSignatureFile}},
		{"signature altered", func(es []zipEntry) []zipEntry {
			sig := entry(es, violations.CaseSignatureFile)
			sig.data = []byte(otherKey.SignCaseManifest(entry(es, violations.CaseManifestFile).data))
			return es
		}, nil, []string{"signature_invalid"}},
		{"record re-sealed by the key holder but record.json edited", func(es []zipEntry) []zipEntry {
			editPlate(t, entry(es, "record.json"))
			return resign(t, es, key)
		}, nil, []string{"record_mismatch", "plate.detected"}},
		{"ledger proof with an entry cut out", func(es []zipEntry) []zipEntry {
			e := entry(es, "ledger.json")
			var proof map[string]any
			if err := json.Unmarshal(e.data, &proof); err != nil {
				t.Fatal(err)
			}
			entries := proof["entries"].([]any)
			proof["entries"] = append(entries[:1:1], entries[2:]...)
			e.data, _ = json.Marshal(proof)
			return resign(t, es, key)
		}, nil, []string{"chain_broken"}},
		{"ledger head not signed by the key", func(es []zipEntry) []zipEntry {
			e := entry(es, "ledger.json")
			var proof map[string]any
			if err := json.Unmarshal(e.data, &proof); err != nil {
				t.Fatal(err)
			}
			entries := proof["entries"].([]any)
			head := entries[len(entries)-1].(map[string]any)
			head["signature"] = otherKey.SignCaseManifest([]byte("not the head"))
			e.data, _ = json.Marshal(proof)
			return resign(t, es, key)
		}, nil, []string{"entry_signature_invalid"}},
		{"plate correction left out, re-signed by the key holder", func(es []zipEntry) []zipEntry {
			entry(es, "amendments.json").data = []byte("[]\n")
			return resign(t, es, key)
		}, nil, []string{"amendment_missing", "amendments.json"}},
		{"plate in force edited, re-signed by the key holder", func(es []zipEntry) []zipEntry {
			e := entry(es, "record.json")
			var rec map[string]any
			if err := json.Unmarshal(e.data, &rec); err != nil {
				t.Fatal(err)
			}
			rec["plate"].(map[string]any)["value"] = "51F-111.11"
			e.data, _ = json.MarshalIndent(rec, "", "  ")
			return resign(t, es, key)
		}, nil, []string{"record_mismatch", "plate.value"}},
		{"whole package re-signed with another key", func(es []zipEntry) []zipEntry {
			return resign(t, es, otherKey)
		}, nil, []string{"signature_invalid"}},
		{"pinned to another key", func(es []zipEntry) []zipEntry { return es }, []string{"-key", otherFile}, []string{"key_untrusted"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			b := writeZip(t, c.tamper(readZip(t, pkg)))
			code, out := verify(t, b, c.flags...)
			t.Logf("iocd verify-case:\n%s", out)
			if code != 1 {
				t.Errorf("want exit 1, got %d:\n%s", code, out)
			}
			for _, w := range c.want {
				if !strings.Contains(out, w) {
					t.Errorf("want the output to name %q, got:\n%s", w, out)
				}
			}
			if !strings.Contains(out, "FAILED") {
				t.Errorf("want FAILED, got:\n%s", out)
			}
		})
	}
}

func sha256hex(b []byte) string {
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

// editPlate changes the plate in a record.json, detected and in force.
func editPlate(t *testing.T, e *zipEntry) {
	t.Helper()
	var rec map[string]any
	if err := json.Unmarshal(e.data, &rec); err != nil {
		t.Fatal(err)
	}
	rec["plate"] = map[string]any{"value": "51K-999.99", "detected": "51K-999.99", "corrected": false}
	e.data, _ = json.MarshalIndent(rec, "", "  ")
}
