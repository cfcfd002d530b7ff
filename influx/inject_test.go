package influx

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/iocd/iocd/defs"
	"github.com/iocd/iocd/internal/testrig"
)

// TestLineProtocolInjection writes readings whose device, site, kind,
// field name and string value are crafted to break out of their place in
// line protocol (a newline starting a new point, a space ending the tag
// set, a comma or '=' starting a new tag or field, a quote ending the
// string, a backslash escaping the separator after it, '#' starting a
// comment), one vector per case, to a real InfluxDB, and checks that
// nothing but the one intended point of the telemetry measurement exists:
// no other measurement, tag key or field key, and the value reads back.
func TestLineProtocolInjection(t *testing.T) {
	ix := testrig.Influx(t, testrig.WithoutFlux())
	type vector struct {
		name               string
		dev                defs.DeviceID
		site               string
		kind               defs.Kind
		field, value       string
		wantDev, wantField string // as stored: newlines become spaces, backslashes slashes
		wantStored         string // a string value as stored: a newline is kept as the text \n

	}
	vectors := []vector{
		{name: "newline in device starts a new point", dev: "d1\nevil,device=x v=1 1", wantDev: "d1 evil,device=x v=1 1"},
		{name: "space in device ends the tag set", dev: "d2 evil=1", wantDev: "d2 evil=1"},
		{name: "comma in site adds a tag", dev: "d3", site: "s,evil=1"},
		{name: "equals in kind", dev: "d4", kind: "k=evil"},
		{name: "trailing backslash escapes the separator", dev: `d5\`, site: `s\`, wantDev: "d5/"},
		{name: "hash starts a comment", dev: "#d6", site: "#s", wantDev: "#d6"},
		{name: "field name with space and equals", dev: "d7", field: "x=1 evil=2"},
		{name: "field name with comma", dev: "d8", field: "a,evil=3"},
		{name: "field name with newline", dev: "d9", field: "f\nevil v=1", wantField: "f evil v=1"},
		{name: "field name with quote", dev: "d10", field: `q"evil`},
		{name: "field name with backslash", dev: "d11", field: `b\`, wantField: "b/"},
		{name: "string value closes its quote", dev: "d12", field: "s", value: "x\" ,evil=1 1\nevil v=1 1", wantStored: `x" ,evil=1 1\nevil v=1 1`},
		{name: "string value with backslashes", dev: "d13", field: "s", value: `a\\"\`},
	}
	for i, v := range vectors {
		t.Run(v.name, func(t *testing.T) {
			db := fmt.Sprintf("inj%d", i)
			ix.CreateDB(db)
			cfg := testConfig(ix.URL())
			cfg.Bucket = db
			w := newWriter(t, cfg, t.TempDir())
			site, kind, field := v.site, v.kind, v.field
			if site == "" {
				site = "tan-an"
			}
			if kind == "" {
				kind = defs.KindSensor
			}
			if field == "" {
				field = "v"
			}
			f := defs.Field{Key: field, Type: defs.FieldFloat, Num: 1}
			if v.value != "" {
				f = defs.Field{Key: field, Type: defs.FieldString, Str: v.value}
			}
			if err := w.WriteTelemetry(v.dev, site, kind, time.UnixMilli(1732233600000), []defs.Field{f}, nil); err != nil {
				t.Fatal(err)
			}
			w.Close()
			show := func(q string) []string {
				series, err := ix.Query(context.Background(), db, q)
				if err != nil {
					t.Fatalf("%s: %v", q, err)
				}
				var out []string
				for _, s := range series {
					for _, row := range s.Values {
						out = append(out, fmt.Sprint(row[0]))
					}
				}
				slices.Sort(out)
				return out
			}
			testrig.WaitFor(t, "the point", 20*time.Second, func() bool { return len(show(`SHOW MEASUREMENTS`)) > 0 })
			if got := show(`SHOW MEASUREMENTS`); !slices.Equal(got, []string{"telemetry"}) {
				t.Errorf("measurements: want [telemetry], got %q", got)
			}
			if got := show(`SHOW TAG KEYS FROM "telemetry"`); !slices.Equal(got, []string{"device", "kind", "site"}) {
				t.Errorf("tag keys: want [device kind site], got %q", got)
			}
			wantField := field
			if v.wantField != "" {
				wantField = v.wantField
			}
			if got := show(`SHOW FIELD KEYS FROM "telemetry"`); !slices.Equal(got, []string{wantField}) {
				t.Errorf("field keys: want [%q], got %q", wantField, got)
			}
			wantDev := string(v.dev)
			if v.wantDev != "" {
				wantDev = v.wantDev
			}
			if got := show(`SHOW TAG VALUES FROM "telemetry" WITH KEY = "device"`); len(got) != 1 {
				t.Errorf("device tag values: want one, got %q", got)
			}
			series, err := ix.Query(context.Background(), db, `SELECT * FROM "telemetry"`)
			if err != nil {
				t.Fatal(err)
			}
			if len(series) != 1 || len(series[0].Values) != 1 {
				t.Fatalf("points: want 1, got %+v", series)
			}
			if got := fmt.Sprint(series[0].Column("device")[0]); got != wantDev {
				t.Errorf("device: want %q, got %q", wantDev, got)
			}
			if v.value != "" {
				want := v.value
				if v.wantStored != "" {
					want = v.wantStored
				}
				if got := fmt.Sprint(series[0].Column(wantField)[0]); got != want {
					t.Errorf("string value: want %q, got %q", want, got)
				}
			}
		})
	}
}

// TestFluxInjection runs history queries whose device is crafted to break
// out of its Flux string literal (a quote closing it, a backslash escaping
// the closing quote, "${" interpolation, a newline and a comment) against
// a real InfluxDB, one vector per case: each must return no values at all,
// not the other device's, and not fail as a malformed query.
func TestFluxInjection(t *testing.T) {
	ix := testrig.Influx(t)
	ix.CreateDB("iocd")
	ix.Write("iocd", `telemetry,device=victim,site=tan-an,kind=sensor v=42 1732233600000000000`)
	h := NewHistory(testConfig(ix.URL()))
	defer h.Close()
	from := time.UnixMilli(1732233000000)
	q := func(dev string) SeriesQuery {
		return SeriesQuery{Device: defs.DeviceID(dev), Field: "v", From: from, To: from.Add(20 * time.Minute), Every: 10 * time.Minute}
	}
	// The query works, and finds the victim's value, when asked honestly.
	pts, err := h.Series(context.Background(), q("victim"))
	if err != nil {
		t.Fatalf("honest query: %v", err)
	}
	if !hasValue(pts) {
		t.Fatalf("honest query: want the victim's value, got %+v", pts)
	}
	for name, dev := range map[string]string{
		"quote closes the literal":   `x" or r.device == "victim`,
		"backslash escapes closing":  `x\" or r.device == "victim" or "\`,
		"interpolation":              `${r.device}`,
		"newline and comment":        "x\" or true //\n",
		"pipe a new function":        `x") |> filter(fn: (r) => true) |> yield(name: "x`,
		"unicode quote lookalike":    `x” or r.device == “victim`,
		"backslash then interpolate": `\${"victim"}`,
	} {
		t.Run(name, func(t *testing.T) {
			pts, err := h.Series(context.Background(), q(dev))
			if err != nil {
				t.Fatalf("crafted device %q: query failed (it must stay one string): %v", dev, err)
			}
			if hasValue(pts) {
				t.Errorf("crafted device %q read the victim's values: %+v", dev, pts)
			}
		})
	}
}

func hasValue(pts []defs.SeriesPoint) bool {
	for _, p := range pts {
		if p.Value != nil {
			return true
		}
	}
	return false
}
