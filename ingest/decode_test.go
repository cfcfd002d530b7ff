package ingest

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/iocd/iocd/defs"
)

func TestDecode(t *testing.T) {
	recv := time.Date(2026, 11, 22, 1, 2, 3, 456789000, time.UTC)
	recvMS := recv.Truncate(time.Millisecond)
	ts := time.UnixMilli(1732233600123).UTC()
	num := func(k string, v float64) defs.Field { return defs.Field{Key: k, Type: defs.FieldFloat, Num: v} }
	boolean := func(k string, v bool) defs.Field { return defs.Field{Key: k, Type: defs.FieldBool, Bool: v} }
	str := func(k, v string) defs.Field { return defs.Field{Key: k, Type: defs.FieldString, Str: v} }

	tests := []struct {
		name    string
		payload string
		want    []Sample
		reason  Reason
	}{
		{"flat", `{"temp_c": 41.2, "door_open": false}`,
			[]Sample{{recvMS, []defs.Field{num("temp_c", 41.2), boolean("door_open", false)}}}, ""},
		{"flat string and nested skipped", `{"mode":"auto","cfg":{"a":1},"list":[1],"n":null,"v":1e3}`,
			[]Sample{{recvMS, []defs.Field{str("mode", "auto"), num("v", 1000)}}}, ""},
		{"ts millis", `{"ts": 1732233600123, "values": {"temp_c": 41.2}}`,
			[]Sample{{ts, []defs.Field{num("temp_c", 41.2)}}}, ""},
		{"ts rfc3339", `{"ts": "2024-11-22T00:00:00.123456Z", "values": {"on": true}}`,
			[]Sample{{ts, []defs.Field{boolean("on", true)}}}, ""},
		{"ts rfc3339 offset", `{"ts": "2024-11-22T07:00:00.123+07:00", "values": {"on": true}}`,
			[]Sample{{ts, []defs.Field{boolean("on", true)}}}, ""},
		{"values without ts", `{"values": {"x": 1}}`,
			[]Sample{{recvMS, []defs.Field{num("x", 1)}}}, ""},
		{"array of forms", `[{"ts": 1732233600123, "values": {"a": 1}}, {"b": 2}]`,
			[]Sample{{ts, []defs.Field{num("a", 1)}}, {recvMS, []defs.Field{num("b", 2)}}}, ""},
		{"array skips empty element", `[{"ts": 1732233600123, "values": {}}, {"b": 2}]`,
			[]Sample{{recvMS, []defs.Field{num("b", 2)}}}, ""},
		{"unstorable keys skipped", `{"time": 1, "": 2, "ok": 3}`,
			[]Sample{{recvMS, []defs.Field{num("ok", 3)}}}, ""},
		{"not json", `{"temp_c": 41.2`, nil, ReasonBadJSON},
		{"empty", ``, nil, ReasonBadJSON},
		{"scalar", `42`, nil, ReasonBadShape},
		{"array of scalars", `[1, 2]`, nil, ReasonBadShape},
		{"empty object", `{}`, nil, ReasonNoValues},
		{"empty array", `[]`, nil, ReasonNoValues},
		{"only nested", `{"a": {"b": 1}}`, nil, ReasonNoValues},
		{"ts in seconds", `{"ts": 1732233600, "values": {"a": 1}}`, nil, ReasonBadTimestamp},
		{"ts fractional", `{"ts": 1732233600123.5, "values": {"a": 1}}`, nil, ReasonBadTimestamp},
		{"ts negative", `{"ts": -1, "values": {"a": 1}}`, nil, ReasonBadTimestamp},
		{"ts bad string", `{"ts": "yesterday", "values": {"a": 1}}`, nil, ReasonBadTimestamp},
		{"ts bool", `{"ts": true, "values": {"a": 1}}`, nil, ReasonBadTimestamp},
		{"bad element rejects all", `[{"a": 1}, {"ts": "x", "values": {"b": 1}}]`, nil, ReasonBadTimestamp},
		{"too large", `{"a": "` + strings.Repeat("x", 1100) + `"}`, nil, ReasonTooLarge},
		{"duplicate key two types", `{"fw_state":1,"fw_state":"ok"}`, nil, ReasonDuplicateKey},
		{"duplicate key same type", `{"a":1,"b":2,"a":3}`, nil, ReasonDuplicateKey},
		{"duplicate key one skipped", `{"a":1,"a":null}`, nil, ReasonDuplicateKey},
		{"duplicate key in values", `{"ts": 1732233600123, "values": {"x": 1, "x": "on"}}`, nil, ReasonDuplicateKey},
		{"duplicate ts", `{"ts": 1732233600123, "ts": 1732233600124, "values": {"x": 1}}`, nil, ReasonDuplicateKey},
		{"duplicate values", `{"values": {"x": 1}, "values": {"x": "a"}}`, nil, ReasonDuplicateKey},
		{"duplicate key in array element", `[{"a": 1}, {"b": 1, "b": true}]`, nil, ReasonDuplicateKey},
		{"duplicate key in a large object", `{` + manyKeys(40) + `,"k7":1}`, nil, ReasonDuplicateKey},
		{"same key in two elements is fine", `[{"a": 1}, {"a": 2}]`,
			[]Sample{{recvMS, []defs.Field{num("a", 1)}}, {recvMS, []defs.Field{num("a", 2)}}}, ""},
		{"nested duplicates are skipped with the nest", `{"cfg": {"a": 1, "a": 2}, "x": 1}`,
			[]Sample{{recvMS, []defs.Field{num("x", 1)}}}, ""},
		{"reserved device", `{"device": "other-dev", "temp_c": 1}`, nil, ReasonReservedField},
		{"reserved site in values", `{"values": {"site": "x"}}`, nil, ReasonReservedField},
		{"reserved kind", `[{"a": 1}, {"kind": 1}]`, nil, ReasonReservedField},
		{"reserved flux column", `{"_value": 1}`, nil, ReasonReservedField},
		{"reserved _measurement", `{"_measurement": "x"}`, nil, ReasonReservedField},
		{"case differs from a tag", `{"Device": 1}`,
			[]Sample{{recvMS, []defs.Field{num("Device", 1)}}}, ""},
	}
	d := NewDecoder(1024)
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, reason := d.Decode([]byte(tc.payload), recv)
			if reason != tc.reason {
				t.Fatalf("reason: want %q, got %q (samples %v)", tc.reason, reason, got)
			}
			if fmt.Sprint(got) != fmt.Sprint(tc.want) {
				t.Errorf("samples:\nwant %v\ngot  %v", tc.want, got)
			}
			for i := range got {
				if !got[i].Time.Equal(tc.want[i].Time) {
					t.Errorf("sample %d time: want %s, got %s", i, tc.want[i].Time, got[i].Time)
				}
			}
		})
	}
}

// manyKeys returns n members "k0":0,"k1":1,... for an object body.
func manyKeys(n int) string {
	var b strings.Builder
	for i := range n {
		if i > 0 {
			b.WriteString(",")
		}
		fmt.Fprintf(&b, `"k%d":%d`, i, i)
	}
	return b.String()
}

func TestDecodeTooManyFields(t *testing.T) {
	var b strings.Builder
	b.WriteString("{")
	for i := range maxFields + 1 {
		if i > 0 {
			b.WriteString(",")
		}
		fmt.Fprintf(&b, `"f%d":%d`, i, i)
	}
	b.WriteString("}")
	d := NewDecoder(1 << 20)
	if _, r := d.Decode([]byte(b.String()), time.Now()); r != ReasonTooManyFields {
		t.Fatalf("want %q, got %q", ReasonTooManyFields, r)
	}
}

// FuzzDecode checks that no input panics the decoder and that every accepted
// payload yields storable samples: at least one field each, keys InfluxDB
// accepts, finite numbers and a timestamp in range.
func FuzzDecode(f *testing.F) {
	for _, s := range []string{
		`{"temp_c": 41.2, "door_open": false}`,
		`{"ts": 1732233600123, "values": {"temp_c": 41.2}}`,
		`{"ts": "2024-11-22T00:00:00Z", "values": {"s": "x"}}`,
		`[{"ts": 1732233600123, "values": {"a": 1}}, {"b": "c"}]`,
		`[]`, `{}`, `null`, `"x"`, `{"a":{"b":[1,2,{"c":null}]}}`,
		`{"fw_state":1,"fw_state":"ok"}`, `{"device":"x","a":1}`, `{"values":{"_field":1}}`,
	} {
		f.Add([]byte(s))
	}
	recv := time.Date(2026, 11, 22, 0, 0, 0, 0, time.UTC)
	d := NewDecoder(64 << 10)
	f.Fuzz(func(t *testing.T, payload []byte) {
		samples, reason := d.Decode(payload, recv)
		if reason != "" {
			if samples != nil {
				t.Fatalf("reason %q with %d samples", reason, len(samples))
			}
			return
		}
		if len(samples) == 0 {
			t.Fatal("accepted with no samples")
		}
		for _, s := range samples {
			if len(s.Fields) == 0 {
				t.Fatal("sample without fields")
			}
			keys := map[string]bool{}
			for _, f := range s.Fields {
				if keys[f.Key] {
					t.Fatalf("key %q twice in one sample", f.Key)
				}
				keys[f.Key] = true
				if ReservedField(f.Key) {
					t.Fatalf("reserved key %q accepted", f.Key)
				}
			}
			if s.Time.Before(minTS) || s.Time.After(maxTS) {
				t.Fatalf("time %s out of range", s.Time)
			}
			for _, f := range s.Fields {
				if !validKey([]byte(f.Key)) {
					t.Fatalf("unstorable key %q", f.Key)
				}
				if f.Type < defs.FieldFloat || f.Type > defs.FieldString {
					t.Fatalf("bad field type %d", f.Type)
				}
			}
		}
	})
}

func BenchmarkDecode(b *testing.B) {
	payloads := map[string]string{
		"flat":  `{"temp_c":41.2,"humidity":71.5,"pm25":35.1,"door_open":false}`,
		"ts":    `{"ts":1732233600123,"values":{"f1":1.5,"f2":2.25,"f3":3,"f4":4.125}}`,
		"array": `[{"ts":1732233600123,"values":{"a":1}},{"ts":1732233600124,"values":{"a":2}}]`,
	}
	for name, p := range payloads {
		b.Run(name, func(b *testing.B) {
			d := NewDecoder(1 << 16)
			buf := []byte(p)
			now := time.Now()
			b.ReportAllocs()
			b.SetBytes(int64(len(buf)))
			for b.Loop() {
				if _, r := d.Decode(buf, now); r != "" {
					b.Fatal(r)
				}
			}
		})
	}
}

func TestFieldNamesBound(t *testing.T) {
	sample := func(keys ...string) []Sample {
		fs := make([]defs.Field, len(keys))
		for i, k := range keys {
			fs[i] = defs.Field{Key: k, Type: defs.FieldFloat}
		}
		return []Sample{{Fields: fs}}
	}
	f := newFieldNames(3)
	steps := []struct {
		dev  defs.DeviceID
		keys []string
		want bool
	}{
		{"a", []string{"x", "y"}, true},
		{"a", []string{"x", "y", "z"}, true},       // one new: 3 of 3
		{"a", []string{"w"}, false},                // a fourth name
		{"a", []string{"x", "y", "z"}, true},       // known names still pass
		{"b", []string{"p", "q", "r"}, true},       // another device has its own bound
		{"b", []string{"p", "q", "r", "s"}, false}, // refused whole
		{"c", []string{"m", "m", "n"}, true},       // a name in two samples counts once
	}
	for i, s := range steps {
		samples := sample(s.keys...)
		if s.dev == "c" {
			samples = []Sample{{Fields: samples[0].Fields[:2]}, {Fields: samples[0].Fields[1:]}}
		}
		if got := f.admit(s.dev, samples); got != s.want {
			t.Errorf("step %d (%s %v): want %v, got %v", i, s.dev, s.keys, s.want, got)
		}
	}
}

func TestFieldNamesBoundAllocatesNothingWhenKnown(t *testing.T) {
	f := newFieldNames(10)
	s := []Sample{{Fields: []defs.Field{{Key: "a"}, {Key: "b"}}}}
	f.admit("d", s)
	if n := testing.AllocsPerRun(100, func() { f.admit("d", s) }); n != 0 {
		t.Errorf("allocations per known message: want 0, got %v", n)
	}
}
