package influx

import (
	"math"
	"testing"
	"time"

	"github.com/iocd/iocd/defs"
)

func TestAppendTelemetry(t *testing.T) {
	ts := time.UnixMilli(1732233600123)
	tests := []struct {
		name   string
		dev    defs.DeviceID
		site   string
		fields []defs.Field
		want   string
	}{
		{"numbers and bools", "tl-01", "tan-an",
			[]defs.Field{{Key: "temp_c", Type: defs.FieldFloat, Num: 41.2}, {Key: "door_open", Type: defs.FieldBool}},
			"telemetry,device=tl-01,kind=sensor,site=tan-an temp_c=41.2,door_open=false 1732233600123\n"},
		{"whole and huge numbers stay floats", "d", "s",
			[]defs.Field{{Key: "n", Type: defs.FieldFloat, Num: 3}, {Key: "big", Type: defs.FieldFloat, Num: 1e21}},
			"telemetry,device=d,kind=sensor,site=s n=3,big=1e+21 1732233600123\n"},
		{"escaping", "a b,c=d", "Bến Lức",
			[]defs.Field{{Key: "k y", Type: defs.FieldString, Str: "say \"hi\"\\\nbye"}},
			"telemetry,device=a\\ b\\,c\\=d,kind=sensor,site=Bến\\ Lức k\\ y=\"say \\\"hi\\\"\\\\\\nbye\" 1732233600123\n"},
		{"non-finite skipped", "d", "s",
			[]defs.Field{{Key: "x", Type: defs.FieldFloat, Num: math.NaN()}, {Key: "y", Type: defs.FieldFloat, Num: 1}},
			"telemetry,device=d,kind=sensor,site=s y=1 1732233600123\n"},
		{"nothing storable", "d", "s",
			[]defs.Field{{Key: "x", Type: defs.FieldFloat, Num: math.Inf(1)}}, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, ok := appendTelemetry([]byte("prefix\n"), tc.dev, tc.site, defs.KindSensor, ts, tc.fields)
			if ok != (tc.want != "") {
				t.Fatalf("ok: want %v, got %v", tc.want != "", ok)
			}
			if string(got) != "prefix\n"+tc.want {
				t.Errorf("line:\nwant %q\ngot  %q", "prefix\n"+tc.want, got)
			}
		})
	}
}

func TestAppendPoint(t *testing.T) {
	ts := time.UnixMilli(1732233600123)
	got, ok := appendPoint(nil, "device_status",
		map[string]string{"site": "tan-an", "device": "tl-01", "kind": "controller", "empty": ""},
		map[string]any{"health": "stale", "online": 0, "n": 2.5, "bad": math.NaN(), "skip": struct{}{}}, ts)
	want := "device_status,device=tl-01,kind=controller,site=tan-an health=\"stale\",n=2.5,online=0i 1732233600123\n"
	if !ok || string(got) != want {
		t.Fatalf("want %q (true), got %q (%v)", want, got, ok)
	}
	if got, ok := appendPoint(nil, "m", nil, map[string]any{"x": math.NaN()}, ts); ok || len(got) != 0 {
		t.Fatalf("point without storable fields: want nothing, got %q (%v)", got, ok)
	}
}

func TestFluxString(t *testing.T) {
	tests := map[string]string{
		`temp_c`:          `"temp_c"`,
		`a"b`:             `"a\"b"`,
		`a\b`:             `"a\\b"`,
		`x${r._value}`:    `"x\${r._value}"`,
		`") |> drop() //`: `"\") |> drop() //"`,
		`$ alone`:         `"$ alone"`,
	}
	for in, want := range tests {
		if got := fluxString(in); got != want {
			t.Errorf("fluxString(%q): want %s, got %s", in, want, got)
		}
	}
}

func TestSeriesQueryValidate(t *testing.T) {
	from := time.Date(2026, 11, 22, 0, 0, 0, 0, time.UTC)
	ok := SeriesQuery{Device: "d", Field: "temp_c", From: from, To: from.Add(time.Hour), Every: time.Minute}
	tests := []struct {
		name  string
		edit  func(q *SeriesQuery)
		field string
	}{
		{"ok", func(*SeriesQuery) {}, ""},
		{"field injection", func(q *SeriesQuery) { q.Field = `x") |> drop(` }, "field"},
		{"reversed", func(q *SeriesQuery) { q.To = q.From }, "from"},
		{"tiny every", func(q *SeriesQuery) { q.Every = time.Millisecond }, "every"},
		{"too many windows", func(q *SeriesQuery) { q.To = q.From.Add(24 * 30 * time.Hour) }, "every"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			q := ok
			tc.edit(&q)
			err := q.Validate()
			if got := defs.ErrorField(err); got != tc.field || (tc.field == "") != (err == nil) {
				t.Fatalf("want error on %q, got %v", tc.field, err)
			}
		})
	}
}
