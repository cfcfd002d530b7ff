package violations

// record.json: a violation in the layout the traffic police publish their
// records in (biển kiểm soát, màu biển, loại phương tiện, thời gian vi
// phạm, địa điểm vi phạm, hành vi vi phạm, đơn vị phát hiện vi phạm,
// trạng thái), one key per published field, each with the value as iocd
// has it and, where it helps, its Vietnamese label.

import (
	"encoding/json"
	"fmt"
	"time"

	"github.com/iocd/iocd/defs"
)

// vietnam is Asia/Ho_Chi_Minh: UTC+7 all year (no daylight saving since
// 1975). A fixed zone, so that the package does not depend on the host's
// time zone database.
var vietnam = time.FixedZone("ICT", 7*3600)

// VietnamZoneName is the zone record.json names for its local time.
const VietnamZoneName = "Asia/Ho_Chi_Minh"

// policeRecord is record.json.
type policeRecord struct {
	ID            string            `json:"id"`
	Plate         recordPlate       `json:"plate"`
	PlateColour   recordPlateColour `json:"plate_colour"`
	VehicleType   recordLabelled    `json:"vehicle_type"`
	Time          recordTime        `json:"time"`
	Place         recordPlace       `json:"place"`
	Violation     recordViolation   `json:"violation"`
	DetectingUnit string            `json:"detecting_unit"`
	Status        recordLabelled    `json:"status"`
}

// recordPlate is the plate in force (a reviewer's correction if there is
// one) beside the plate as detected.
type recordPlate struct {
	Value     string `json:"value"`
	Detected  string `json:"detected"`
	Corrected bool   `json:"corrected"`
}

// recordPlateColour is the colour the detector reported (the event's
// plate_colour or plate_color), or empty with a note saying so.
type recordPlateColour struct {
	Value string `json:"value"`
	Note  string `json:"note"`
}

type recordLabelled struct {
	Value string `json:"value"`
	Label string `json:"label"`
}

// recordTime is the violation's time to the second, in Vietnam and UTC.
type recordTime struct {
	Local    string `json:"local"`
	UTC      string `json:"utc"`
	Timezone string `json:"timezone"`
}

// recordPlace is the place as it was sealed with the record.
type recordPlace struct {
	Camera  string  `json:"camera"`
	Name    string  `json:"name"`
	Address string  `json:"address"`
	Site    string  `json:"site"`
	Lat     float64 `json:"lat"`
	Lon     float64 `json:"lon"`
}

// recordViolation is the type, what it is in words, and the provision of
// Decree 168/2024 (violations.codes).
type recordViolation struct {
	Type        string `json:"type"`
	Description string `json:"description"`
	Code        string `json:"code"`
}

// RecordKeys are record.json's keys, in order: the published field list
// (with the record's id first).
var RecordKeys = []string{"id", "plate", "plate_colour", "vehicle_type", "time", "place", "violation", "detecting_unit", "status"}

var vehicleLabels = map[string]string{
	"car": "Ô tô", "motorbike": "Mô tô, xe gắn máy", "truck": "Ô tô tải", "bus": "Ô tô chở người (xe khách)",
	"van": "Ô tô tải van", "bicycle": "Xe đạp", "container": "Xe đầu kéo, rơ moóc",
}

var typeDescriptions = map[string]string{
	"red_light":       "Không chấp hành hiệu lệnh của đèn tín hiệu giao thông",
	"speeding":        "Điều khiển xe chạy quá tốc độ quy định",
	"wrong_way":       "Đi ngược chiều của đường một chiều, đường có biển “Cấm đi ngược chiều”",
	"no_helmet":       "Không đội mũ bảo hiểm hoặc đội mũ bảo hiểm không cài quai đúng quy cách khi điều khiển xe mô tô, xe gắn máy",
	"illegal_parking": "Dừng xe, đỗ xe không đúng quy định",
	"wrong_lane":      "Đi không đúng phần đường hoặc làn đường quy định",
	"blocking_box":    "Dừng xe trong phạm vi nút giao, gây cản trở giao thông",
}

var statusLabels = map[defs.ReviewStatus]string{
	defs.ReviewPending:        "Chờ xem xét",
	defs.ReviewAwaitingSecond: "Chờ cán bộ thứ hai xác nhận",
	defs.ReviewDisputed:       "Ý kiến xem xét khác nhau, chờ lãnh đạo quyết định",
	defs.ReviewConfirmed:      "Đã xác nhận vi phạm",
	defs.ReviewRejected:       "Đã loại bỏ, không xử lý",
}

// plateColour reads the colour a detector reported, if it did.
func plateColour(raw json.RawMessage) string {
	var ev struct {
		Colour string `json:"plate_colour"`
		Color  string `json:"plate_color"`
	}
	if len(raw) == 0 || json.Unmarshal(raw, &ev) != nil {
		return ""
	}
	if ev.Colour != "" {
		return ev.Colour
	}
	return ev.Color
}

func (s *Service) policeRecord(v defs.Violation) policeRecord {
	plate := recordPlate{Value: v.Plate, Detected: v.Plate}
	if v.PlateCorrected != "" && v.PlateCorrected != v.Plate {
		plate.Value, plate.Corrected = v.PlateCorrected, true
	}
	colour := recordPlateColour{Value: plateColour(v.RawEvent)}
	if colour.Value == "" {
		colour.Note = "Thiết bị phát hiện không gửi màu biển số; cán bộ xác định theo hình ảnh."
	}
	desc := typeDescriptions[v.Type]
	if desc == "" {
		desc = v.Type
	}
	if v.Type == "speeding" && v.SpeedKmh > 0 {
		desc += fmt.Sprintf(" (%.0f km/h, tốc độ tối đa cho phép %.0f km/h)", v.SpeedKmh, v.LimitKmh)
	}
	vehicle := vehicleLabels[v.Vehicle]
	if vehicle == "" {
		vehicle = v.Vehicle
	}
	status := statusLabels[v.Status]
	if status == "" {
		status = string(v.Status)
	}
	return policeRecord{
		ID: v.ID, Plate: plate, PlateColour: colour,
		VehicleType:   recordLabelled{Value: v.Vehicle, Label: vehicle},
		Time:          recordTime{Local: localSecond(v.Time), UTC: v.Time.UTC().Truncate(time.Second).Format(time.RFC3339), Timezone: VietnamZoneName},
		Place:         recordPlace{Camera: string(v.Camera), Name: v.CameraName, Address: v.Address, Site: v.Site, Lat: v.Lat, Lon: v.Lon},
		Violation:     recordViolation{Type: v.Type, Description: desc, Code: s.cfg.CodeFor(v.Type, v.Vehicle)},
		DetectingUnit: s.cfg.DetectingUnit,
		Status:        recordLabelled{Value: string(v.Status), Label: status},
	}
}

// localSecond is t in Vietnam, to the second (truncated: a violation at
// 14:05:09.8 happened at 14:05:09).
func localSecond(t time.Time) string {
	return t.In(vietnam).Truncate(time.Second).Format(time.RFC3339)
}
