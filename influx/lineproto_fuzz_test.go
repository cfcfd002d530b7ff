package influx

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/iocd/iocd/defs"
)

// FuzzAppendTelemetry checks that no device, site, kind, field name or
// string value can break out of its place in line protocol: the output is
// always one line, its device tag reads back as the device (newlines as
// spaces, backslashes as slashes), and the field is found with its type.
func FuzzAppendTelemetry(f *testing.F) {
	f.Add("aq-01", "tan-an", "sensor", "temp_c", "auto")
	f.Add("d\nevil v=1 1", "s,x=1", "k=v", "f\"x=1 y", "v\" ,e=1\n")
	f.Add(`d\`, `s\`, `\`, `f\`, `\`)
	f.Add("#d", " ", ",", "=", `"`)
	sanitize := strings.NewReplacer("\n", " ", "\r", " ", `\`, "/")
	f.Fuzz(func(t *testing.T, dev, site, kind, field, value string) {
		if dev == "" || field == "" {
			return
		}
		b, ok := appendTelemetry(nil, defs.DeviceID(dev), site, defs.Kind(kind), time.UnixMilli(1732233600000),
			[]defs.Field{{Key: field, Type: defs.FieldString, Str: value}, {Key: "n", Type: defs.FieldFloat, Num: 1}})
		if !ok {
			t.Fatal("nothing written")
		}
		if bytes.Count(b, []byte("\n")) != 1 || b[len(b)-1] != '\n' {
			t.Fatalf("not one line: %q", b)
		}
		line := b[:len(b)-1]
		if got, want := string(lineDevice(line)), sanitize.Replace(dev); got != want {
			t.Fatalf("device: want %q, got %q in %q", want, got, line)
		}
		if typ, ok := lineField(line, sanitize.Replace(field)); !ok || (typ != typeString && field != "n") {
			t.Fatalf("field %q: got %v %v in %q", field, typ, ok, line)
		}
		if typ, ok := lineField(line, "n"); !ok || (typ != typeFloat && sanitize.Replace(field) != "n") {
			t.Fatalf("field n: got %v %v in %q", typ, ok, line)
		}
	})
}

// FuzzParsePartial reads InfluxDB's error answers, outside input too.
func FuzzParsePartial(f *testing.F) {
	f.Add(400, `partial write: field type conflict: input field "x" on measurement "telemetry" is type float, already exists as type string dropped=1`)
	f.Add(400, `partial write: dropped=99999999999999999999999`)
	f.Add(422, `partial write: points beyond retention policy dropped=-1`)
	f.Fuzz(func(t *testing.T, status int, msg string) {
		pw, ok := parsePartial(&WriteError{Status: status, msg: msg})
		if ok && pw.dropped < 0 {
			t.Fatalf("negative dropped count from %q", msg)
		}
	})
}
