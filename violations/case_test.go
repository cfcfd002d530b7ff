package violations_test

import (
	"archive/zip"
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"image"
	"image/color"
	"image/jpeg"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/iocd/iocd/defs"
	"github.com/iocd/iocd/internal/testrig"
	"github.com/iocd/iocd/violations"
)

// TestCasePackage makes a case of a violation with a clip and one
// without video, and checks the package: it verifies, the clip is the
// file on disk bit for bit, record.json has exactly the published fields,
// entries carry real times, the making and the download are audited on
// the case and on each violation, and report.html renders in Chromium.
func TestCasePackage(t *testing.T) {
	r := newRig(t, nil)
	r.waitBuffered("cam264", pre+time.Second)
	ts := time.Now().Add(-100 * time.Millisecond)
	r.fire("cam264", "c1", "red_light", ts, `,"snapshot_jpeg":"`+testJPEG(t)+`","plate_colour":"trắng","loop_ms":[12,48]`)
	r.fire("dead", "c2", "no_helmet", ts, "")
	v1, v2 := r.final("cam264", "c1"), r.final("dead", "c2")
	ctx := context.Background()
	officer := violations.Actor{Subject: "user:officer", Name: "officer", Role: defs.RoleReviewer}
	viewer := violations.Actor{Subject: "token:9", Name: "wall", Role: defs.RoleViewer}
	if _, err := r.svc.Review(ctx, officer, v1.ID, defs.ReviewConfirmed, "vượt đèn đỏ"); err != nil {
		t.Fatal(err)
	}

	bad := []struct {
		name  string
		a     violations.Actor
		title string
		ids   []string
		code  string
	}{
		{"viewer", viewer, "x", []string{v1.ID}, defs.EFORBIDDEN},
		{"no title", officer, "  ", []string{v1.ID}, defs.EINVALID},
		{"control character in title", officer, "a\x07b", []string{v1.ID}, defs.EINVALID},
		{"no violations", officer, "x", nil, defs.EINVALID},
		{"too many", officer, "x", make([]string, violations.MaxCaseViolations+1), defs.EINVALID},
		{"twice", officer, "x", []string{v1.ID, v1.ID}, defs.EINVALID},
		{"unknown", officer, "x", []string{v1.ID, "v-nope"}, defs.EINVALID},
	}
	for _, c := range bad {
		if _, err := r.svc.CreateCase(ctx, c.a, c.title, c.ids); defs.ErrorCode(err) != c.code {
			t.Errorf("%s: want %s, got %v", c.name, c.code, err)
		}
	}
	c, err := r.svc.CreateCase(ctx, officer, "Hồ sơ gửi Công an phường Bến Nghé", []string{v1.ID, v2.ID})
	if err != nil {
		t.Fatal(err)
	}
	if err := r.svc.WriteCasePackage(ctx, viewer, c.ID, io.Discard); defs.ErrorCode(err) != defs.EFORBIDDEN {
		t.Errorf("viewer package: want forbidden, got %v", err)
	}
	var buf bytes.Buffer
	if err := r.svc.WriteCasePackage(ctx, officer, c.ID, &buf); err != nil {
		t.Fatal(err)
	}
	rep, err := violations.VerifyCasePackage(bytes.NewReader(buf.Bytes()), int64(buf.Len()), "")
	if err != nil || !rep.OK() || rep.Violations != 2 {
		t.Fatalf("fresh package: want OK with 2 violations, got %+v %v", rep, err)
	}

	zr, err := zip.NewReader(bytes.NewReader(buf.Bytes()), int64(buf.Len()))
	if err != nil {
		t.Fatal(err)
	}
	files := map[string][]byte{}
	for _, f := range zr.File {
		if f.Modified.Year() < 2020 {
			t.Errorf("%s: want its real time, got %v", f.Name, f.Modified)
		}
		rc, _ := f.Open()
		files[f.Name], _ = io.ReadAll(rc)
		rc.Close()
	}
	onDisk, err := os.ReadFile(filepath.Join(r.dataDir, v1.ClipPath))
	if err != nil {
		t.Fatal(err)
	}
	if got := files[v1.ID+"/clip.mp4"]; !bytes.Equal(got, onDisk) {
		t.Errorf("clip: want the original's %d bytes bit for bit, got %d", len(onDisk), len(got))
	}
	if _, ok := files[v2.ID+"/clip.mp4"]; ok {
		t.Errorf("a violation without video has no clip in the package")
	}
	raw, _ := r.svc.Get(ctx, v1.ID)
	if !bytes.Equal(files[v1.ID+"/event.json"], raw.RawEvent) {
		t.Errorf("event.json: want the event as sent, got %s", files[v1.ID+"/event.json"])
	}

	// record.json: one key per published field, and the values.
	var rec map[string]json.RawMessage
	if err := json.Unmarshal(files[v1.ID+"/record.json"], &rec); err != nil {
		t.Fatal(err)
	}
	var keys []string
	for k := range rec {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	want := slices.Clone(violations.RecordKeys)
	slices.Sort(want)
	if !slices.Equal(keys, want) || len(want) != 9 {
		t.Errorf("record.json keys: want %v, got %v", want, keys)
	}
	var record struct {
		Plate       struct{ Value, Detected string }
		PlateColour struct{ Value, Note string }  `json:"plate_colour"`
		VehicleType struct{ Value, Label string } `json:"vehicle_type"`
		Time        struct{ Local, UTC, Timezone string }
		Place       map[string]any
		Violation   struct{ Type, Description, Code string }
		Status      struct{ Value, Label string }
	}
	json.Unmarshal(files[v1.ID+"/record.json"], &record)
	if record.Plate.Value != "62A-123.45" || record.PlateColour.Value != "trắng" || record.VehicleType.Label != "Ô tô" ||
		record.Violation.Code != "Điểm b khoản 9 Điều 6 Nghị định 168/2024/NĐ-CP" || record.Status.Value != "confirmed" ||
		record.Time.Timezone != "Asia/Ho_Chi_Minh" || !strings.HasSuffix(record.Time.Local, "+07:00") || !strings.HasSuffix(record.Time.UTC, "Z") {
		t.Errorf("record.json of %s: got %s", v1.ID, files[v1.ID+"/record.json"])
	}
	placeKeys := []string{}
	for k := range record.Place {
		placeKeys = append(placeKeys, k)
	}
	slices.Sort(placeKeys)
	if !slices.Equal(placeKeys, []string{"address", "camera", "lat", "lon", "name", "site"}) {
		t.Errorf("record.json place: want camera, name, address, site, lat, lon; got %v", placeKeys)
	}
	var rec2 struct {
		PlateColour struct{ Value, Note string } `json:"plate_colour"`
		Violation   struct{ Code string }
	}
	json.Unmarshal(files[v2.ID+"/record.json"], &rec2)
	if rec2.PlateColour.Value != "" || rec2.PlateColour.Note == "" || !strings.Contains(rec2.Violation.Code, "Điều 7") {
		t.Errorf("record.json without a plate colour: want it empty with a note, and a motorbike's code; got %s", files[v2.ID+"/record.json"])
	}

	// Custody: the case's making and its download, on the case and on
	// each violation; and the package carries it.
	for _, target := range []string{c.ID, v1.ID, v2.ID} {
		log, err := r.store.AuditFor(ctx, target)
		if err != nil {
			t.Fatal(err)
		}
		var actions []string
		for _, a := range log {
			actions = append(actions, a.Action)
		}
		if !slices.Contains(actions, violations.ActionCaseCreate) || !slices.Contains(actions, violations.ActionCasePackage) {
			t.Errorf("custody of %s: want %s and %s, got %v", target, violations.ActionCaseCreate, violations.ActionCasePackage, actions)
		}
	}
	if !bytes.Contains(files[v1.ID+"/custody.json"], []byte(violations.ActionCasePackage)) {
		t.Errorf("the package's custody log of %s lacks its own download: %s", v1.ID, files[v1.ID+"/custody.json"])
	}
	if vr, err := violations.Verify(ctx, r.store, r.dataDir); err != nil || !vr.OK() {
		t.Errorf("iocd verify after making and downloading a case: want OK, got %+v %v", vr.Problems, err)
	}

	// An altered clip refuses the package before its first byte, audited.
	clip := filepath.Join(r.dataDir, v1.ClipPath)
	altered := append([]byte(nil), onDisk...)
	altered[len(altered)/2] ^= 1
	if err := os.WriteFile(clip, altered, 0o600); err != nil {
		t.Fatal(err)
	}
	var refused bytes.Buffer
	if err := r.svc.WriteCasePackage(ctx, officer, c.ID, &refused); defs.ErrorCode(err) != defs.ECONFLICT || refused.Len() != 0 {
		t.Errorf("altered clip: want a conflict before any byte, got %v and %d bytes", err, refused.Len())
	}
	log, _ := r.store.AuditFor(ctx, v1.ID)
	if last := log[len(log)-1]; last.Action != violations.ActionRefused {
		t.Errorf("altered clip: want the refusal audited, last entry %+v", last)
	}
	os.WriteFile(clip, onDisk, 0o600)

	screenshotReport(t, files[violations.CaseReportFile])
}

// screenshotReport opens report.html in headless Chromium and saves a
// screenshot to e2e/screenshots/case-report.png (IOCD_E2E_SCREENSHOTS
// overrides the directory).
func screenshotReport(t *testing.T, report []byte) {
	t.Helper()
	for _, want := range []string{"Biển kiểm soát", "Nghị định 168/2024/NĐ-CP", "Nhật ký quản lý chứng cứ", "Kiểm tra giá trị chứng cứ"} {
		if !bytes.Contains(report, []byte(want)) {
			t.Errorf("report.html lacks %q", want)
		}
	}
	if bytes.Contains(report, []byte("<script")) || bytes.Contains(report, []byte("http://")) || bytes.Contains(report, []byte("https://")) {
		t.Errorf("report.html must be self-contained, without scripts or links out")
	}
	chromium := testrig.Binary(t, "chromium")
	dir := t.TempDir()
	page := filepath.Join(dir, "report.html")
	if err := os.WriteFile(page, report, 0o600); err != nil {
		t.Fatal(err)
	}
	shots := os.Getenv("IOCD_E2E_SCREENSHOTS")
	if shots == "" {
		shots = filepath.Join("..", "e2e", "screenshots")
	}
	if err := os.MkdirAll(shots, 0o755); err != nil {
		t.Fatal(err)
	}
	shot := filepath.Join(shots, "case-report.png")
	os.Remove(shot)
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, chromium, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
		"--user-data-dir="+filepath.Join(dir, "profile"), "--window-size=1280,2200", "--screenshot="+shot, "file://"+page)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("chromium: %v\n%s", err, out)
	}
	st, err := os.Stat(shot)
	if err != nil || st.Size() < 10_000 {
		t.Fatalf("want a screenshot of the report at %s, got %v %v", shot, st, err)
	}
	t.Logf("report screenshot: %s", shot)
}

// testJPEG is a real 480x270 JPEG (base64), so the report shows a picture.
func testJPEG(t *testing.T) string {
	t.Helper()
	img := image.NewRGBA(image.Rect(0, 0, 480, 270))
	for y := 0; y < 270; y++ {
		for x := 0; x < 480; x++ {
			img.Set(x, y, color.RGBA{uint8(x / 2), uint8(y), 140, 255})
		}
	}
	var b bytes.Buffer
	if err := jpeg.Encode(&b, img, nil); err != nil {
		t.Fatal(err)
	}
	return base64.StdEncoding.EncodeToString(b.Bytes())
}
