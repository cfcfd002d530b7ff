package influx_test

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"reflect"
	"slices"
	"testing"
	"time"

	"github.com/iocd/iocd/config"
	"github.com/iocd/iocd/defs"
	"github.com/iocd/iocd/influx"
	"github.com/iocd/iocd/internal/testrig"
)

// TestFieldHistory seeds telemetry in a real InfluxDB 1.8 and reads a field
// back for some devices: exactly the values in [from, to) of those devices,
// ordered by device then time, as the test computes them from the seed.
// Device ids that would break a Flux string (quote, backslash, "${") are
// matched literally.
func TestFieldHistory(t *testing.T) {
	ix := testrig.Influx(t) // with Flux
	ix.CreateDB("iocd")
	cfg := config.Default().Influx
	cfg.URL, cfg.Bucket = ix.URL(), "iocd"
	h := influx.NewHistory(cfg)
	t.Cleanup(h.Close)

	t0 := time.Date(2026, 11, 22, 0, 0, 0, 0, time.UTC)
	from, to := t0.Add(10*time.Minute), t0.Add(50*time.Minute)
	devs := []defs.DeviceID{`wl-01`, `wl"02`, `wl\03`, `wl${x}04`}
	others := []defs.DeviceID{"wl-99", `wl"02"`} // not asked for
	rng := rand.New(rand.NewPCG(7, 7))
	var lines []string
	var want []defs.FieldPoint
	for _, d := range append(slices.Clone(devs), others...) {
		asked := slices.Contains(devs, d)
		for i := 0; i < 60; i++ {
			at := t0.Add(time.Duration(i) * time.Minute)
			v := float64(rng.IntN(4000)) / 10
			lines = append(lines, fmt.Sprintf("telemetry,device=%s,kind=sensor,site=tan-an water_cm=%v,temp_c=%v %d", tagEscape(string(d)), v, v/10, at.UnixNano()))
			if asked && !at.Before(from) && at.Before(to) {
				want = append(want, defs.FieldPoint{Device: d, Time: at, Value: v})
			}
		}
	}
	ix.Write("iocd", lines...)
	slices.SortFunc(want, func(a, b defs.FieldPoint) int {
		if a.Device != b.Device {
			if a.Device < b.Device {
				return -1
			}
			return 1
		}
		return a.Time.Compare(b.Time)
	})

	got, err := h.FieldHistory(context.Background(), "water_cm", devs, from, to)
	if err != nil {
		t.Fatalf("FieldHistory: %v", err)
	}
	if len(got) != 4*40 || !reflect.DeepEqual(got, want) {
		t.Errorf("got %d points, want %d; first got %+v, first want %+v", len(got), len(want), first(got), first(want))
		counts := map[defs.DeviceID][2]int{}
		for _, p := range got {
			c := counts[p.Device]
			c[0]++
			counts[p.Device] = c
		}
		for _, p := range want {
			c := counts[p.Device]
			c[1]++
			counts[p.Device] = c
		}
		t.Logf("per device (got, want): %v", counts)
	}

	for _, c := range []struct {
		name    string
		field   string
		devices []defs.DeviceID
		from    time.Time
		to      time.Time
		key     string
	}{
		{"bad field", `water") or true or (r._field == "x`, devs, from, to, "field"},
		{"empty range", "water_cm", devs, to, to, "from"},
		{"empty device", "water_cm", []defs.DeviceID{""}, from, to, "device"},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, err := h.FieldHistory(context.Background(), c.field, c.devices, c.from, c.to)
			var de *defs.Error
			if !errors.As(err, &de) || de.Code != defs.EINVALID || de.Field != c.key {
				t.Errorf("err = %v, want EINVALID naming %q", err, c.key)
			}
		})
	}
}

func first(ps []defs.FieldPoint) any {
	if len(ps) == 0 {
		return nil
	}
	return ps[0]
}

// tagEscape escapes a line protocol tag value.
func tagEscape(s string) string {
	out := make([]byte, 0, len(s))
	for i := 0; i < len(s); i++ {
		if s[i] == ',' || s[i] == '=' || s[i] == ' ' {
			out = append(out, '\\')
		}
		out = append(out, s[i])
	}
	return string(out)
}
