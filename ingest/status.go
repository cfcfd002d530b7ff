package ingest

import (
	"strconv"

	"github.com/valyala/fastjson"
)

// maxMeta bounds the extra keys kept from a status message.
const maxMeta = 32

// decodeStatus reads {"state": "online"|"offline", ...}. The other scalar
// keys (fw, ip, uptime_s, ...) are kept as strings for the device view.
func decodeStatus(p *fastjson.Parser, payload []byte, maxBytes int) (state string, meta map[string]string, reason Reason) {
	if len(payload) > maxBytes {
		return "", nil, ReasonTooLarge
	}
	v, err := p.ParseBytes(payload)
	if err != nil {
		return "", nil, ReasonBadJSON
	}
	obj, err := v.Object()
	if err != nil {
		return "", nil, ReasonBadStatus
	}
	// {"state":"online","state":"offline"} says nothing for sure. Status
	// messages are rare: the key buffer is not worth keeping.
	var seen [][]byte
	if duplicateKey(obj, &seen) {
		return "", nil, ReasonDuplicateKey
	}
	state = string(obj.Get("state").GetStringBytes())
	if state != "online" && state != "offline" {
		return "", nil, ReasonBadStatus
	}
	obj.Visit(func(key []byte, v *fastjson.Value) {
		if string(key) == "state" || len(meta) >= maxMeta || len(key) > 64 {
			return
		}
		var s string
		switch v.Type() {
		case fastjson.TypeString:
			s = string(v.GetStringBytes())
		case fastjson.TypeNumber:
			s = strconv.FormatFloat(v.GetFloat64(), 'g', -1, 64)
		case fastjson.TypeTrue, fastjson.TypeFalse:
			s = strconv.FormatBool(v.GetBool())
		default:
			return
		}
		if len(s) > 256 {
			s = s[:256]
		}
		if meta == nil {
			meta = make(map[string]string)
		}
		meta[string(key)] = s
	})
	return state, meta, ""
}
