package violations

// report.html: the case for a person — a judge, the owner's local police —
// in Vietnamese, one self-contained page (inline CSS, the snapshots
// inline, no scripts, nothing fetched) that any browser opens from the
// unpacked zip.

import (
	"bytes"
	"encoding/base64"
	"fmt"
	"html/template"
	"time"

	"github.com/iocd/iocd/defs"
)

var checkLabels = map[string]string{
	defs.EvidenceCheckFrameRate:   "Tốc độ khung hình đủ",
	defs.EvidenceCheckKeyframes:   "Khoảng cách khung hình chính",
	defs.EvidenceCheckFormat:      "Định dạng và độ phân giải không đổi",
	defs.EvidenceCheckGaps:        "Video liên tục, không gián đoạn",
	defs.EvidenceCheckClockOffset: "Đồng hồ camera khớp đồng hồ hệ thống",
	defs.EvidenceCheckHostClock:   "Đồng hồ hệ thống được đồng bộ",
}

var actionLabels = map[string]string{
	ActionClip:        "Xem video",
	ActionSnapshot:    "Xem ảnh",
	ActionEvidence:    "Tải gói chứng cứ",
	ActionReview:      "Quyết định xem xét",
	ActionPurge:       "Xóa tệp theo thời hạn lưu trữ",
	ActionRefused:     "Từ chối cung cấp: tệp không khớp mã băm",
	ActionCaseCreate:  "Lập hồ sơ vụ việc",
	ActionCaseView:    "Xem hồ sơ vụ việc",
	ActionCasePackage: "Tải hồ sơ vụ việc",
	ActionHoldPlace:   "Đặt lệnh giữ nguyên chứng cứ",
	ActionHoldRelease: "Gỡ lệnh giữ nguyên chứng cứ",
}

var clipLabels = map[defs.ClipStatus]string{
	defs.ClipComplete: "Đầy đủ", defs.ClipPartial: "Không đầy đủ", defs.ClipNoVideo: "Không có video",
	defs.ClipPurged: "Đã xóa theo thời hạn lưu trữ", defs.ClipRecording: "Đang ghi",
}

// vnTime formats a time for the report: Vietnam time to the second.
func vnTime(t time.Time) string {
	if t.IsZero() {
		return "—"
	}
	return t.In(vietnam).Format("15:04:05 ngày 02/01/2006")
}

func labelOr(m map[string]string, k string) string {
	if l, ok := m[k]; ok {
		return l
	}
	return k
}

type reportMember struct {
	Index    int
	V        defs.Violation
	R        policeRecord
	Snapshot template.URL // data: URI, "" for none
	ClipFile string
	Reviews  []defs.Review
	Custody  []defs.AuditEntry
	Checks   []defs.EvidenceCheck
	Clip     string
}

type reportData struct {
	Case        defs.Case
	Members     []reportMember
	Custody     []defs.AuditEntry
	Head        defs.LedgerEntry
	Fingerprint string
	GeneratedAt time.Time
	GeneratedBy string
	Unit        string
}

// maxInlineSnapshot bounds a snapshot put inline in the report; a larger
// one is linked (it is in the package beside the report).
const maxInlineSnapshot = 4 << 20

func (s *Service) caseReport(c defs.Case, members []*caseMemberData, custody []defs.AuditEntry, head defs.LedgerEntry, fpr string,
	now time.Time, a Actor) ([]byte, error) {
	d := reportData{Case: c, Custody: custody, Head: head, Fingerprint: fpr, GeneratedAt: now, GeneratedBy: a.id(), Unit: s.cfg.DetectingUnit}
	for i, m := range members {
		rm := reportMember{Index: i + 1, V: m.v, R: m.record, Reviews: m.reviews, Custody: m.custody, Checks: m.v.EvidenceChecks,
			Clip: clipLabels[m.v.ClipStatus]}
		if m.v.ClipPath != "" {
			rm.ClipFile = m.v.ID + "/clip.mp4"
		}
		if m.v.SnapshotPath != "" {
			if f, err := openEvidence(s.dataDir, m.v.SnapshotPath); err == nil {
				var buf bytes.Buffer
				n, _ := buf.ReadFrom(f)
				f.Close()
				// Checked against its seal just before (checkMember); what
				// is inlined is what is packaged.
				if n <= maxInlineSnapshot && sha256Hex(buf.Bytes()) == m.v.SnapshotSHA256 {
					rm.Snapshot = template.URL("data:image/jpeg;base64," + base64.StdEncoding.EncodeToString(buf.Bytes()))
				}
			}
		}
		d.Members = append(d.Members, rm)
	}
	var out bytes.Buffer
	if err := reportTemplate.Execute(&out, d); err != nil {
		return nil, fmt.Errorf("writing report: %w", err)
	}
	return out.Bytes(), nil
}

var reportTemplate = template.Must(template.New("report").Funcs(template.FuncMap{
	"vn":     vnTime,
	"check":  func(n string) string { return labelOr(checkLabels, n) },
	"action": func(n string) string { return labelOr(actionLabels, n) },
	"status": func(st defs.ReviewStatus) string {
		if l, ok := statusLabels[st]; ok {
			return l
		}
		return string(st)
	},
	"coord": func(lat, lon float64) string {
		if lat == 0 && lon == 0 {
			return "—"
		}
		return fmt.Sprintf("%.6f, %.6f", lat, lon)
	},
	"dash": func(s string) string {
		if s == "" {
			return "—"
		}
		return s
	},
}).Parse(`<!DOCTYPE html>
<html lang="vi">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Hồ sơ vụ việc {{.Case.ID}} — {{.Case.Title}}</title>
<style>
body{font-family:"Times New Roman",Times,serif;color:#111;background:#fff;margin:0 auto;max-width:60rem;padding:2rem 2.5rem;line-height:1.45}
h1{font-size:1.6rem;text-align:center;margin:0 0 .2rem;text-transform:uppercase;letter-spacing:.03em}
h2{font-size:1.25rem;border-bottom:2px solid #1a3d6d;color:#1a3d6d;padding-bottom:.2rem;margin-top:2.2rem}
h3{font-size:1.05rem;margin:1.4rem 0 .4rem}
.sub{text-align:center;margin:0 0 1.5rem;color:#333}
table{border-collapse:collapse;width:100%;margin:.4rem 0 1rem;font-size:.95rem}
th,td{border:1px solid #9aa5b1;padding:.3rem .5rem;text-align:left;vertical-align:top}
th{background:#eef2f7;width:32%;font-weight:600}
table.list th{width:auto}
.ok{color:#1b6e2a;font-weight:600}.bad{color:#a61b1b;font-weight:600}
.mono{font-family:"DejaVu Sans Mono",Consolas,monospace;font-size:.8rem;word-break:break-all}
.shot{max-width:100%;border:1px solid #9aa5b1;margin:.3rem 0}
.note{background:#fff8e1;border-left:4px solid #e0a800;padding:.5rem .8rem;margin:.8rem 0}
.member{page-break-before:always}
footer{margin-top:2.5rem;font-size:.85rem;color:#444;border-top:1px solid #9aa5b1;padding-top:.6rem}
</style>
</head>
<body>
<h1>Hồ sơ vụ việc vi phạm trật tự, an toàn giao thông</h1>
<p class="sub">{{.Case.Title}}<br>Mã hồ sơ <span class="mono">{{.Case.ID}}</span></p>

<h2>Thông tin hồ sơ</h2>
<table>
<tr><th>Tên hồ sơ</th><td>{{.Case.Title}}</td></tr>
<tr><th>Số vụ vi phạm</th><td>{{len .Members}}</td></tr>
<tr><th>Người lập hồ sơ</th><td>{{.Case.CreatedBy}}</td></tr>
<tr><th>Thời điểm lập</th><td>{{vn .Case.CreatedAt}}</td></tr>
<tr><th>Đơn vị phát hiện vi phạm</th><td>{{dash .Unit}}</td></tr>
<tr><th>Bản này được xuất lúc</th><td>{{vn .GeneratedAt}}, bởi {{.GeneratedBy}}</td></tr>
</table>

<h2>Danh sách vi phạm</h2>
<table class="list">
<tr><th>STT</th><th>Biển số</th><th>Thời gian vi phạm</th><th>Địa điểm</th><th>Hành vi vi phạm</th><th>Trạng thái</th></tr>
{{range .Members}}<tr><td>{{.Index}}</td><td>{{dash .R.Plate.Value}}</td><td>{{vn .V.Time}}</td><td>{{dash .R.Place.Address}}</td><td>{{.R.Violation.Description}}</td><td>{{.R.Status.Label}}</td></tr>
{{end}}</table>

{{range .Members}}
<section class="member">
<h2>Vi phạm {{.Index}}: {{dash .R.Plate.Value}}</h2>
<table>
<tr><th>Biển kiểm soát</th><td>{{dash .R.Plate.Value}}{{if .R.Plate.Corrected}} (đã được cán bộ đính chính; thiết bị nhận dạng: {{.R.Plate.Detected}}){{end}}</td></tr>
<tr><th>Màu biển</th><td>{{if .R.PlateColour.Value}}{{.R.PlateColour.Value}}{{else}}— <em>{{.R.PlateColour.Note}}</em>{{end}}</td></tr>
<tr><th>Loại phương tiện</th><td>{{dash .R.VehicleType.Label}}</td></tr>
<tr><th>Thời gian vi phạm</th><td>{{vn .V.Time}} (giờ Việt Nam)<br><span class="mono">{{.R.Time.Local}} · UTC {{.R.Time.UTC}}</span></td></tr>
<tr><th>Địa điểm vi phạm</th><td>{{dash .R.Place.Address}}<br>Camera: {{dash .R.Place.Name}} (<span class="mono">{{.R.Place.Camera}}</span>), khu vực {{dash .R.Place.Site}}<br>Tọa độ: {{coord .R.Place.Lat .R.Place.Lon}}</td></tr>
<tr><th>Hành vi vi phạm</th><td>{{.R.Violation.Description}}</td></tr>
<tr><th>Căn cứ (Nghị định 168/2024/NĐ-CP)</th><td>{{if .R.Violation.Code}}{{.R.Violation.Code}}{{else}}<span class="bad">Chưa cấu hình (violations.codes)</span>{{end}}</td></tr>
<tr><th>Đơn vị phát hiện vi phạm</th><td>{{dash .R.DetectingUnit}}</td></tr>
<tr><th>Trạng thái</th><td>{{.R.Status.Label}}</td></tr>
<tr><th>Mã vi phạm trong hệ thống</th><td class="mono">{{.V.ID}}</td></tr>
</table>

<h3>Hình ảnh và video</h3>
{{if .Snapshot}}<img class="shot" src="{{.Snapshot}}" alt="Ảnh chụp của camera lúc vi phạm">{{else}}<p>Không có ảnh chụp.</p>{{end}}
<table>
<tr><th>Video gốc</th><td>{{if .ClipFile}}<span class="mono">{{.ClipFile}}</span> ({{.V.ClipBytes}} byte, {{vn .V.ClipStart}} – {{vn .V.ClipEnd}}){{else}}Không có ({{.Clip}}{{if .V.ClipReason}}: {{.V.ClipReason}}{{end}}){{end}}</td></tr>
<tr><th>Tình trạng video</th><td>{{.Clip}}{{if and .ClipFile .V.ClipReason}} — {{.V.ClipReason}}{{end}}</td></tr>
<tr><th>SHA-256 của video</th><td class="mono">{{dash .V.ClipSHA256}}</td></tr>
<tr><th>SHA-256 của ảnh</th><td class="mono">{{dash .V.SnapshotSHA256}}</td></tr>
<tr><th>SHA-256 của dữ liệu gốc từ thiết bị</th><td class="mono">{{dash .V.RawEventSHA256}}</td></tr>
</table>

<h3>Kiểm tra giá trị chứng cứ</h3>
<p>{{if .V.Evidential}}<span class="ok">Đạt mọi tiêu chí kiểm tra.</span>{{else}}<span class="bad">Không đạt: xem các tiêu chí dưới đây.</span>{{end}}
Độ lệch đồng hồ camera: {{printf "%.0f" .V.ClockOffsetMs}} ms; đồng hồ hệ thống {{if .V.HostClockSynced}}đã đồng bộ{{else}}<span class="bad">chưa đồng bộ</span>{{end}} (sai số ước tính {{printf "%.1f" .V.HostClockErrorMs}} ms).</p>
<table class="list">
<tr><th>Tiêu chí</th><th>Kết quả</th><th>Số liệu đo</th></tr>
{{range .Checks}}<tr><td>{{check .Name}}</td><td>{{if .OK}}<span class="ok">Đạt</span>{{else}}<span class="bad">Không đạt</span>{{end}}</td><td>{{dash .Detail}}</td></tr>
{{else}}<tr><td colspan="3">Không có số liệu kiểm tra.</td></tr>
{{end}}</table>

<h3>Quá trình xem xét</h3>
<table class="list">
<tr><th>Thời điểm</th><th>Cán bộ</th><th>Quyết định</th><th>Ghi chú</th></tr>
{{range .Reviews}}<tr><td>{{vn .At}}</td><td>{{.Actor}}</td><td>{{status .Previous}} → {{status .Decision}}</td><td>{{dash .Note}}</td></tr>
{{else}}<tr><td colspan="4">Chưa có quyết định.</td></tr>
{{end}}</table>

<h3>Nhật ký quản lý chứng cứ</h3>
<table class="list">
<tr><th>Thời điểm</th><th>Người thực hiện</th><th>Thao tác</th><th>Chi tiết</th></tr>
{{range .Custody}}<tr><td>{{vn .At}}</td><td>{{.Actor}}</td><td>{{action .Action}}</td><td>{{dash .Detail}}</td></tr>
{{end}}</table>
</section>
{{end}}

<h2>Nhật ký quản lý hồ sơ</h2>
<table class="list">
<tr><th>Thời điểm</th><th>Người thực hiện</th><th>Thao tác</th><th>Chi tiết</th></tr>
{{range .Custody}}<tr><td>{{vn .At}}</td><td>{{.Actor}}</td><td>{{action .Action}}</td><td>{{dash .Detail}}</td></tr>
{{end}}</table>

<h2>Tính toàn vẹn của hồ sơ</h2>
<p>Mỗi tệp trong hồ sơ được liệt kê cùng mã băm SHA-256 trong <span class="mono">manifest.json</span>, được ký số (Ed25519) trong <span class="mono">manifest.sig</span>. Mỗi bản ghi vi phạm, quyết định xem xét và thao tác trên chứng cứ được niêm phong trong chuỗi băm của hệ thống (<span class="mono">ledger.json</span>), đến mắt xích cuối cùng có chữ ký số dưới đây.</p>
<table>
<tr><th>Dấu vân tay khóa ký</th><td class="mono">{{.Fingerprint}}</td></tr>
<tr><th>Mắt xích cuối của chuỗi (số {{.Head.Seq}})</th><td class="mono">{{.Head.Hash}}</td></tr>
<tr><th>Niêm phong hồ sơ khi lập</th><td class="mono">{{.Case.ManifestSHA256}}</td></tr>
</table>
<div class="note">Để kiểm tra hồ sơ mà không cần kết nối đến hệ thống: <span class="mono">iocd verify-case HỒ_SƠ.zip</span>. Lệnh in dấu vân tay khóa ký; đối chiếu với khóa công khai do đơn vị công bố (<span class="mono">/api/v1/evidence/keys</span>), hoặc chỉ định khóa tin cậy bằng <span class="mono">-key TỆP</span>. Bất kỳ thay đổi, thêm hay bớt tệp nào đều bị phát hiện.</div>
<footer>Hồ sơ do hệ thống iocd lập tự động từ dữ liệu thiết bị giám sát. Thời gian hiển thị theo giờ Việt Nam (UTC+7).</footer>
</body>
</html>
`))
