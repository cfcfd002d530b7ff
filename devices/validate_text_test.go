package devices

import (
	"testing"

	"github.com/iocd/iocd/defs"
)

// TestNamesRefuseControlCharacters: every free-text field of a device is
// shown in the dashboard, listings and logs, so control characters (an
// ANSI escape, a newline forging a log line) and bidi overrides are
// refused, naming the field.
func TestNamesRefuseControlCharacters(t *testing.T) {
	for _, bad := range []string{"\x1b[31mred", "a\nlevel=ERROR", "rtl\u202egpj.exe", "nul\x00", "c1\u0085x", "bad\xff"} {
		cases := []struct {
			field string
			edit  func(d *defs.Device)
		}{
			{"name", func(d *defs.Device) { d.Name = bad }},
			{"address", func(d *defs.Device) { d.Address = bad }},
			{"tags", func(d *defs.Device) { d.Tags = map[string]string{bad: "v"} }},
			{"tags", func(d *defs.Device) { d.Tags = map[string]string{"zone": bad} }},
			{"id", func(d *defs.Device) { d.ID = defs.DeviceID(bad) }},
			{"site", func(d *defs.Device) { d.Site = bad }},
		}
		for _, c := range cases {
			d := defs.Device{ID: "wl-1", Site: "tan-an", Kind: defs.KindSensor, Name: "Cầu Giấy", Address: "Hà Nội"}
			c.edit(&d)
			err := normalize(&d, defs.StatusActive)
			if defs.ErrorCode(err) != defs.EINVALID || defs.ErrorField(err) != c.field {
				t.Errorf("%s = %q: want invalid naming %s, got %v", c.field, bad, c.field, err)
			}
		}
	}
	ok := defs.Device{ID: "wl-1", Site: "tan-an", Kind: defs.KindSensor, Name: "Cầu Giấy junction", Address: "Đức Hòa, Long An",
		Tags: map[string]string{"khu vực": "bắc"}}
	if err := normalize(&ok, defs.StatusActive); err != nil {
		t.Errorf("Vietnamese text: want accepted, got %v", err)
	}
}
