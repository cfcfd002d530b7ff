package ingest

import (
	"strings"
	"testing"

	"github.com/valyala/fastjson"
)

func TestDecodeStatus(t *testing.T) {
	tests := []struct {
		payload string
		state   string
		meta    string
		reason  Reason
	}{
		{`{"state":"online","fw":"2.4.1","uptime_s":12,"ok":true}`, "online", "fw=2.4.1 ok=true uptime_s=12", ""},
		{`{"state":"offline"}`, "offline", "", ""},
		{`{"state":"sleepy"}`, "", "", ReasonBadStatus},
		{`{"fw":"1"}`, "", "", ReasonBadStatus},
		{`["online"]`, "", "", ReasonBadStatus},
		{`{"state":"online","state":"offline"}`, "", "", ReasonDuplicateKey},
		{`{"state":"online","fw":"1","fw":"2"}`, "", "", ReasonDuplicateKey},
		{`{"state":`, "", "", ReasonBadJSON},
	}
	var p fastjson.Parser
	for _, tc := range tests {
		t.Run(tc.payload, func(t *testing.T) {
			state, meta, reason := decodeStatus(&p, []byte(tc.payload), 1024)
			var kv []string
			for _, k := range []string{"fw", "ok", "uptime_s"} {
				if v, ok := meta[k]; ok {
					kv = append(kv, k+"="+v)
				}
			}
			if state != tc.state || reason != tc.reason || strings.Join(kv, " ") != tc.meta {
				t.Errorf("want %q %q %q, got %q %q %q", tc.state, tc.meta, tc.reason, state, strings.Join(kv, " "), reason)
			}
		})
	}
}

func TestParseTopic(t *testing.T) {
	tests := []struct {
		prefix, topic, site, dev, kind string
		ok                             bool
	}{
		{"ioc", "ioc/tan-an/aq-01/telemetry", "tan-an", "aq-01", "telemetry", true},
		{"long/an/ioc", "long/an/ioc/ben-luc/tl-01/status", "ben-luc", "tl-01", "status", true},
		{"ioc", "ioc/tan-an/cam-01/event", "tan-an", "cam-01", "event", true},
		{"ioc", "ioc/tan-an/aq-01/other", "", "", "", false},
		{"ioc", "ioc/tan-an/aq-01/telemetry/x", "", "", "", false},
		{"ioc", "ioc//aq-01/telemetry", "", "", "", false},
		{"ioc", "iocx/tan-an/aq-01/telemetry", "", "", "", false},
		{"ioc", "ioc/tan-an/telemetry", "", "", "", false},
	}
	for _, tc := range tests {
		site, dev, kind, ok := parseTopic(tc.prefix, tc.topic)
		if site != tc.site || dev != tc.dev || kind != tc.kind || ok != tc.ok {
			t.Errorf("%s: want %q %q %q %v, got %q %q %q %v", tc.topic, tc.site, tc.dev, tc.kind, tc.ok, site, dev, kind, ok)
		}
	}
	if got := subscriptions("ioc", "iocd"); got[0] != "$share/iocd/ioc/+/+/telemetry" || len(got) != 3 {
		t.Errorf("shared subscriptions: got %v", got)
	}
}

// FuzzDecodeStatus checks that no status payload panics the decoder and
// that an accepted one has a valid state and bounded meta.
func FuzzDecodeStatus(f *testing.F) {
	for _, s := range []string{`{"state":"online","fw":"2.4.1"}`, `{"state":"offline"}`, `{"state":1}`, `[]`} {
		f.Add([]byte(s))
	}
	var p fastjson.Parser
	f.Fuzz(func(t *testing.T, payload []byte) {
		state, meta, reason := decodeStatus(&p, payload, 4096)
		if reason != "" {
			return
		}
		if state != "online" && state != "offline" {
			t.Fatalf("accepted state %q", state)
		}
		if len(meta) > maxMeta {
			t.Fatalf("%d meta keys, over %d", len(meta), maxMeta)
		}
	})
}
