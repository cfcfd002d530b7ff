package violations

import (
	"errors"
	"strconv"
	"testing"
	"time"

	"github.com/iocd/iocd/defs"
)

func TestDecodeEvent(t *testing.T) {
	now := time.Date(2026, 11, 22, 1, 0, 0, 0, time.UTC)
	ms := now.UnixMilli()
	tests := []struct {
		name      string
		payload   string
		want      Event
		wantField string
	}{
		{"full, epoch ms", `{"event_id":"e1","type":"Speeding","ts":` + itoa(ms) + `,"plate":"62A-123.45","plate_confidence":0.93,"vehicle":"car","speed_kmh":72,"limit_kmh":50,"lane":2}`,
			Event{EventID: "e1", Type: "speeding", Time: now, Plate: "62A-123.45", PlateConfidence: 0.93, Vehicle: "car", SpeedKmh: 72, LimitKmh: 50, Lane: 2}, ""},
		{"rfc3339 and numeric id", `{"event_id":42,"type":"red_light","ts":"2026-11-22T08:00:00+07:00"}`,
			Event{EventID: "42", Type: "red_light", Time: now}, ""},
		{"unknown type kept as given", `{"event_id":"x","type":"Blocking_Box","ts":` + itoa(ms) + `}`,
			Event{EventID: "x", Type: "Blocking_Box", Time: now}, ""},
		{"no id", `{"type":"red_light","ts":` + itoa(ms) + `}`, Event{}, "event_id"},
		{"no type", `{"event_id":"a","ts":` + itoa(ms) + `}`, Event{}, "type"},
		{"seconds not ms", `{"event_id":"a","type":"x","ts":1763773200}`, Event{}, "ts"},
		{"far future", `{"event_id":"a","type":"x","ts":"2030-01-01T00:00:00Z"}`, Event{}, "ts"},
		{"10 minutes ahead", `{"event_id":"a","type":"x","ts":` + itoa(now.Add(10*time.Minute).UnixMilli()) + `}`, Event{}, "ts"},
		{"30 s ahead is clock skew", `{"event_id":"a","type":"x","ts":` + itoa(now.Add(30*time.Second).UnixMilli()) + `}`,
			Event{EventID: "a", Type: "x", Time: now.Add(30 * time.Second)}, ""},
		{"23 h old", `{"event_id":"a","type":"x","ts":` + itoa(now.Add(-23*time.Hour).UnixMilli()) + `}`,
			Event{EventID: "a", Type: "x", Time: now.Add(-23 * time.Hour)}, ""},
		{"25 h old", `{"event_id":"a","type":"x","ts":` + itoa(now.Add(-25*time.Hour).UnixMilli()) + `}`, Event{}, "ts"},
		{"confidence", `{"event_id":"a","type":"x","ts":` + itoa(ms) + `,"plate_confidence":1.5}`, Event{}, "plate_confidence"},
		{"snapshot not jpeg", `{"event_id":"a","type":"x","ts":` + itoa(ms) + `,"snapshot_jpeg":"aGVsbG8="}`, Event{}, "snapshot_jpeg"},
		{"not json", `{"event_id":`, Event{}, "payload"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := DecodeEvent([]byte(tc.payload), now)
			if tc.wantField != "" {
				var de *defs.Error
				if !errors.As(err, &de) || de.Code != defs.EINVALID || de.Field != tc.wantField {
					t.Fatalf("want invalid %s, got %v", tc.wantField, err)
				}
				return
			}
			if err != nil {
				t.Fatalf("want no error, got %v", err)
			}
			if got.EventID != tc.want.EventID || got.Type != tc.want.Type || !got.Time.Equal(tc.want.Time) ||
				got.Plate != tc.want.Plate || got.PlateConfidence != tc.want.PlateConfidence || got.SpeedKmh != tc.want.SpeedKmh ||
				got.LimitKmh != tc.want.LimitKmh || got.Lane != tc.want.Lane || got.Vehicle != tc.want.Vehicle {
				t.Errorf("want %+v, got %+v", tc.want, got)
			}
		})
	}
}

func TestDecodeEventDuplicateKey(t *testing.T) {
	now := time.Date(2025, 11, 22, 1, 0, 0, 0, time.UTC)
	for _, p := range []string{
		`{"event_id":"e1","type":"speeding","type":"red_light","ts":1763773200000}`,
		`{"event_id":"e1","type":"speeding","Type":"red_light","ts":1763773200000}`,
		`{"event_id":"e1","event_id":"e2","type":"speeding","ts":1763773200000}`,
	} {
		if _, err := DecodeEvent([]byte(p), now); defs.ErrorCode(err) != defs.EINVALID {
			t.Errorf("%s: want EINVALID, got %v", p, err)
		}
	}
	ok := `{"event_id":"e1","type":"speeding","ts":1763773200000,"extra":1,"extra":2}`
	if _, err := DecodeEvent([]byte(ok), now); err != nil {
		t.Errorf("%s: a repeated unknown key is ignored, got %v", ok, err)
	}
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

// FuzzDecodeEvent checks that no payload panics the decoder and that what
// it accepts honours its limits.
func FuzzDecodeEvent(f *testing.F) {
	f.Add([]byte(`{"event_id":"e1","type":"speeding","ts":1763773200000,"plate":"62A-123.45","plate_confidence":0.93,"vehicle":"car","speed_kmh":72,"limit_kmh":50,"lane":2}`))
	f.Add([]byte(`{"event_id":7,"type":"red_light","ts":"2025-11-22T08:00:00+07:00","snapshot_jpeg":"/9j/4AAQ"}`))
	f.Add([]byte(`[]`))
	f.Add([]byte(`{"event_id":"e1","type":"speeding","TYPE":"red_light","ts":1763773200000}`))
	now := time.Date(2025, 11, 22, 1, 0, 0, 0, time.UTC)
	f.Fuzz(func(t *testing.T, payload []byte) {
		ev, err := DecodeEvent(payload, now)
		if err != nil {
			if defs.ErrorCode(err) != defs.EINVALID {
				t.Errorf("want an invalid error, got %v", err)
			}
			return
		}
		if ev.EventID == "" || len(ev.EventID) > maxIDLen || ev.Type == "" || len(ev.Plate) > maxPlateLen || len(ev.Snapshot) > maxSnapshot {
			t.Errorf("accepted an event outside the limits: %+v", ev)
		}
	})
}
