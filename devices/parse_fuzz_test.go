package devices

import (
	"bytes"
	"encoding/json"
	"reflect"
	"strings"
	"testing"

	"github.com/iocd/iocd/defs"
)

// checkParsed asserts what must hold for any input: errors are coded
// EINVALID (never an internal error for bad input), validation errors
// never quote an RTSP password, and what parses survives a JSON round trip.
func checkParsed(t *testing.T, ds []defs.Device, err error) {
	if err != nil {
		if defs.ErrorCode(err) != defs.EINVALID {
			t.Fatalf("want an EINVALID error, got %v", err)
		}
		return
	}
	for i := range ds {
		d := ds[i]
		if verr := normalize(&d, defs.StatusActive); verr != nil {
			if defs.ErrorCode(verr) != defs.EINVALID || defs.ErrorField(verr) == "" {
				t.Fatalf("row %d: want EINVALID naming a field, got %v", i+1, verr)
			}
			if pw := password(ds[i].RTSPURL); pw != "" && len(pw) > 3 && strings.Contains(verr.Error(), pw) {
				t.Fatalf("row %d: error %q quotes the RTSP password", i+1, verr)
			}
		}
	}
	buf, err := json.Marshal(ds)
	if err != nil {
		t.Fatalf("re-encoding: %v", err)
	}
	again, err := ParseJSON(bytes.NewReader(buf))
	if err != nil {
		t.Fatalf("parsing re-encoded %s: %v", buf, err)
	}
	if len(again) != len(ds) {
		t.Fatalf("round trip: want %d devices, got %d", len(ds), len(again))
	}
	for i := range ds {
		a, b := ds[i], again[i]
		if len(a.Tags) == 0 && len(b.Tags) == 0 {
			a.Tags, b.Tags = nil, nil
		}
		// JSON cannot carry invalid UTF-8; json.Marshal replaced it.
		if !reflect.DeepEqual(a, b) && utf8Clean(a) {
			t.Fatalf("round trip row %d: want %+v, got %+v", i+1, a, b)
		}
	}
}

func password(raw string) string {
	_, rest, ok := strings.Cut(raw, "://")
	if !ok {
		return ""
	}
	userinfo, _, ok := strings.Cut(rest, "@")
	if !ok {
		return ""
	}
	_, pw, _ := strings.Cut(userinfo, ":")
	return pw
}

func utf8Clean(d defs.Device) bool {
	b, _ := json.Marshal(d)
	var back defs.Device
	if json.Unmarshal(b, &back) != nil {
		return false
	}
	if len(d.Tags) == 0 {
		back.Tags = nil
		d.Tags = nil
	}
	return reflect.DeepEqual(d, back)
}

func FuzzParseCSV(f *testing.F) {
	f.Add([]byte("id,site,kind,name,lat,lon,address,tags,heartbeat_s,rtsp_url,status\ncam-1,hanoi-1,camera,Gate,21,105.8,\"1 Tràng Tiền\",zone=n;lane=2,30,rtsp://u:pw@h/p,\n"))
	f.Add([]byte("id,site,kind\na,b,sensor\n"))
	f.Add([]byte("\ufeffID, Site ,KIND,lat\na,b,gateway,NaN\n"))
	f.Add([]byte("id,site,kind,tags\na,b,sensor,=;;k=\n"))
	f.Add([]byte("id,site\n\"unterminated\n"))
	f.Fuzz(func(t *testing.T, in []byte) {
		ds, err := ParseCSV(bytes.NewReader(in))
		checkParsed(t, ds, err)
	})
}

func FuzzParseJSON(f *testing.F) {
	f.Add([]byte(`[{"id":"cam-1","site":"hanoi-1","kind":"camera","lat":21,"lon":105.8,"tags":{"zone":"n"},"heartbeat_s":30,"rtsp_url":"rtsp://u:pw@h/p"}]`))
	f.Add([]byte(`[]`))
	f.Add([]byte(`[{"id":"a","colour":"red"}]`))
	f.Add([]byte(`[{"lat":"x"}]`))
	f.Add([]byte(`{"id":"a"}`))
	f.Add([]byte(`[{"id":"a"}] trailing`))
	f.Fuzz(func(t *testing.T, in []byte) {
		ds, err := ParseJSON(bytes.NewReader(in))
		checkParsed(t, ds, err)
	})
}
