package alerts

import (
	"time"

	"github.com/iocd/iocd/defs"
)

// Ids of the shipped default rules. The device and camera ones keep the
// names of the old built-in rules; the system ones are the condition codes.
const (
	RuleIDDeviceOffline = "device_offline"
	RuleIDDeviceStale   = "device_stale"
	RuleIDCameraDown    = "camera_down"
)

// DefaultRules returns the shipped rules (the old built-ins: device offline, device stale, camera down,
// disk low and the other system conditions), Builtin=true.
//
// Their `for` values are what keeps a restart or a reconnect quiet: a
// device whose last will is followed by its reconnect within a minute, or a
// camera session that recovers within 30 s, raises nothing.
func DefaultRules() []defs.AlertRule {
	d := func(v time.Duration) defs.Duration { return defs.Duration(v) }
	rules := []defs.AlertRule{
		{
			// Offline or stale: a device is gone whichever way iocd learnt
			// it (its last will, or its silence), and one rule over both
			// keeps a site's storm in one group.
			ID: RuleIDDeviceOffline, Name: "Thiết bị mất kết nối", Kind: defs.RuleOffline, Condition: OfflineEither,
			Severity: defs.SeverityMajor, For: d(time.Minute),
			Message: defs.Messages{VI: "Thiết bị {{device}} tại {{site}} mất kết nối", EN: "Device {{device}} at {{site}} is offline"},
		},
		{
			// Shipped disabled: device_offline covers stale devices too.
			// An admin who wants them told apart enables this one and sets
			// device_offline's condition to offline.
			ID: RuleIDDeviceStale, Name: "Thiết bị không gửi dữ liệu", Kind: defs.RuleOffline, Condition: OfflineStale,
			Severity: defs.SeverityWarning, For: d(time.Minute), Disabled: true,
			Message: defs.Messages{VI: "Thiết bị {{device}} tại {{site}} không gửi dữ liệu", EN: "Device {{device}} at {{site}} has gone silent"},
		},
		{
			ID: RuleIDCameraDown, Name: "Camera mất hình", Kind: defs.RuleCameraDown,
			Severity: defs.SeverityCritical, For: d(30 * time.Second),
			Message: defs.Messages{VI: "Camera {{device}} tại {{site}} mất hình", EN: "Camera {{device}} at {{site}} is down"},
		},
		system(defs.ConditionDiskLow, "Ổ đĩa clip sắp đầy", defs.SeverityMajor, 0,
			"Ổ đĩa lưu clip sắp đầy: còn {{value}} byte trống", "Clip disk low: {{value}} bytes free"),
		system(defs.ConditionClipsRemovedSpace, "Clip bị xoá để giải phóng ổ đĩa", defs.SeverityWarning, 0,
			"Đã xoá clip chưa duyệt để giải phóng ổ đĩa", "Unreviewed clips were removed to free disk space"),
		system(defs.ConditionInfluxUnreachable, "Không kết nối được InfluxDB", defs.SeverityMajor, 30*time.Second,
			"Không kết nối được InfluxDB; dữ liệu đang được lưu tạm trên đĩa", "InfluxDB is unreachable; points are being spooled to disk"),
		system(defs.ConditionSpoolGrowing, "Hàng đợi InfluxDB trên đĩa tăng", defs.SeverityWarning, time.Minute,
			"Hàng đợi ghi InfluxDB trên đĩa đang tăng: {{value}} byte", "The InfluxDB disk spool is growing: {{value}} bytes"),
		system(defs.ConditionBrokerDown, "Mất kết nối MQTT broker", defs.SeverityCritical, 15*time.Second,
			"Mất kết nối tới MQTT broker; không nhận được dữ liệu thiết bị", "Disconnected from the MQTT broker; no device data is received"),
		system(defs.ConditionBusDrops, "Bus nội bộ bỏ sự kiện", defs.SeverityWarning, 0,
			"Bus nội bộ đã bỏ {{value}} sự kiện", "The internal bus dropped {{value}} events"),
		system(defs.ConditionClipDiskFull, "Không ghi được clip", defs.SeverityCritical, 0,
			"Không ghi được clip vi phạm: ổ đĩa đầy", "A violation clip could not be written: the disk is full"),
		// One alert per camera (the condition's subject); its reason label
		// names the failed checks. A minute's grace lets a camera's first
		// sender report arrive after a (re)connect.
		system(defs.ConditionCameraNotEvidential, "Camera không đủ điều kiện làm bằng chứng", defs.SeverityMajor, time.Minute,
			"Camera không đủ điều kiện làm bằng chứng (đồng hồ, tốc độ khung hình hoặc tín hiệu)",
			"A camera fails the evidential health gate (clock, frame rate or signal)"),
		system(defs.ConditionHostClockUnsynced, "Đồng hồ máy chủ chưa đồng bộ", defs.SeverityMajor, 5*time.Minute,
			"Đồng hồ máy chủ iocd chưa được đồng bộ (NTP): vi phạm không đủ điều kiện làm bằng chứng",
			"iocd's clock is not synchronised (NTP): violations are not evidential"),
	}
	for i := range rules {
		rules[i].Builtin = true
		rules[i].ReopenWithin = defs.Duration(DefaultReopenWithin)
	}
	return rules
}

func system(code, name string, sev defs.Severity, forDur time.Duration, vi, en string) defs.AlertRule {
	return defs.AlertRule{
		ID: code, Name: name, Kind: defs.RuleSystem, Condition: code, Severity: sev, For: defs.Duration(forDur),
		Message: defs.Messages{VI: vi, EN: en},
	}
}
