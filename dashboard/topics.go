package dashboard

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"
	"unicode"

	"github.com/iocd/iocd/defs"
	"github.com/iocd/iocd/violations"
)

// clientMessage is what a client may send.
type clientMessage struct {
	Subscribe   []string `json:"subscribe"`
	Unsubscribe []string `json:"unsubscribe"`
}

// request is a client's message as its reader hands it to Run.
type request struct {
	c   *client
	msg clientMessage
	bad string // why the message was refused; empty: it was not
}

type refusal struct {
	Topic  string `json:"topic"`
	Reason string `json:"reason"`
}

type subscribedData struct {
	Topics  []string  `json:"topics"`
	Refused []refusal `json:"refused"`
}

type errorData struct {
	Message string `json:"message"`
	Topic   string `json:"topic,omitempty"`
}

// handle applies a client's message: unsubscriptions first, then
// subscriptions, each answered, then a snapshot per new topic.
func (h *Hub) handle(ctx context.Context, rq request) {
	c := rq.c
	if rq.bad != "" {
		h.m.refused.WithLabelValues("bad_message").Inc()
		h.offer(c, item{frame: marshal(Message{Type: "error", At: time.Now().UTC(), Data: errorData{Message: rq.bad}})})
		return
	}
	if len(rq.msg.Unsubscribe) > 0 {
		gone := []string{}
		for _, t := range rq.msg.Unsubscribe {
			if _, ok := c.topics[t]; !ok {
				continue
			}
			delete(c.topics, t)
			h.untrack(t)
			if strings.HasPrefix(t, telemetryPrefix) {
				c.mu.Lock()
				delete(c.tele, t)
				c.mu.Unlock()
			}
			gone = append(gone, t)
		}
		h.offer(c, item{frame: marshal(Message{Type: "unsubscribed", At: time.Now().UTC(), Data: map[string][]string{"topics": gone}})})
	}
	if len(rq.msg.Subscribe) == 0 {
		return
	}
	ans := subscribedData{Topics: []string{}, Refused: []refusal{}}
	var fresh []string
	for _, t := range rq.msg.Subscribe {
		if slices.Contains(ans.Topics, t) || slices.ContainsFunc(ans.Refused, func(r refusal) bool { return r.Topic == t }) {
			continue
		}
		if reason := checkTopic(t); reason != "" {
			ans.Refused = append(ans.Refused, refusal{Topic: t, Reason: reason})
			continue
		}
		if _, ok := c.topics[t]; ok {
			ans.Topics = append(ans.Topics, t)
			continue
		}
		if len(c.topics) >= maxSubscriptions {
			ans.Refused = append(ans.Refused, refusal{Topic: t, Reason: fmt.Sprintf("too many subscriptions (at most %d)", maxSubscriptions)})
			continue
		}
		c.topics[t] = struct{}{}
		h.track(t)
		ans.Topics = append(ans.Topics, t)
		fresh = append(fresh, t)
	}
	h.offer(c, item{frame: marshal(Message{Type: "subscribed", At: time.Now().UTC(), Data: ans})})
	for _, t := range fresh {
		h.snapshot(ctx, c, t, nil)
	}
}

// checkTopic says why t is not a topic, or "" if it is one.
func checkTopic(t string) string {
	switch t {
	case topicFleet, topicAlerts, topicViolations, topicCameras:
		return ""
	}
	target, ok := strings.CutPrefix(t, telemetryPrefix)
	if !ok {
		return "unknown topic (fleet, alerts, violations, cameras, telemetry:<site-or-device>)"
	}
	if target == "" || len(t) > maxTopicLen || strings.IndexFunc(target, func(r rune) bool { return unicode.IsControl(r) || r == unicode.ReplacementChar }) >= 0 {
		return fmt.Sprintf("a telemetry topic names one site or device (at most %d characters)", maxTopicLen)
	}
	return ""
}

// snapshotCache holds the snapshot frames built in one pass over the
// clients (a resync), by topic and, for violations, role: one read and
// one marshal per pass, however many clients need it.
type snapshotCache map[string][]byte

// snapshot queues topic's current state for c. Changes are queued by
// Run after it, so a client never sees a change older than its
// snapshot. cache, if not nil, is shared by the clients of one pass.
func (h *Hub) snapshot(ctx context.Context, c *client, topic string, cache snapshotCache) {
	now := time.Now().UTC()
	if target, ok := strings.CutPrefix(topic, telemetryPrefix); ok {
		h.telemetrySnapshot(c, topic, target, now)
		return
	}
	key := topic
	if topic == topicViolations {
		key += "/" + c.role.String()
	}
	if frame, ok := cache[key]; ok {
		h.offer(c, item{frame: frame})
		return
	}
	ctx, cancel := context.WithTimeout(ctx, snapshotTimeout)
	defer cancel()
	var data any
	switch topic {
	case topicFleet:
		devs := h.opts.Fleet.Devices()
		h.devices = make(map[defs.DeviceID]defs.DeviceStatus, len(devs))
		for _, d := range devs {
			h.devices[d.ID] = d
		}
		if devs == nil {
			devs = []defs.DeviceStatus{}
		}
		data = struct {
			Topic    string              `json:"topic"`
			Overview defs.Overview       `json:"overview"`
			Devices  []defs.DeviceStatus `json:"devices"`
		}{topic, h.opts.Overview.Overview(), devs}
	case topicAlerts:
		list, _, err := h.opts.Alerts.List(ctx, defs.AlertFilter{
			States: []defs.AlertState{defs.AlertFiring, defs.AlertAcknowledged, defs.AlertPending}, Limit: alertsShown,
		})
		if err != nil {
			h.snapshotFailed(c, topic, err)
			return
		}
		if list == nil {
			list = []defs.Alert{}
		}
		data = struct {
			Topic  string       `json:"topic"`
			Alerts []defs.Alert `json:"alerts"`
		}{topic, list}
	case topicViolations:
		list, _, err := h.opts.Violations.List(ctx, defs.ViolationFilter{Limit: violationsShown})
		if err != nil {
			h.snapshotFailed(c, topic, err)
			return
		}
		shown := make([]defs.Violation, 0, len(list))
		for _, v := range list {
			shown = append(shown, forRole(v, c.role))
		}
		slices.SortStableFunc(shown, func(a, b defs.Violation) int { return b.Time.Compare(a.Time) })
		data = struct {
			Topic      string           `json:"topic"`
			Violations []defs.Violation `json:"violations"`
		}{topic, shown}
	case topicCameras:
		cams := h.opts.Cameras.CameraStates()
		if cams == nil {
			cams = []defs.CameraState{}
		}
		data = struct {
			Topic   string             `json:"topic"`
			Cameras []defs.CameraState `json:"cameras"`
		}{topic, cams}
	}
	frame := marshal(Message{Type: "snapshot", At: now, Data: data})
	if cache != nil {
		cache[key] = frame
	}
	h.offer(c, item{frame: frame})
}

func (h *Hub) snapshotFailed(c *client, topic string, err error) {
	h.log.Warn("feed snapshot failed", "topic", topic, "err", err)
	h.offer(c, item{frame: marshal(Message{Type: "error", At: time.Now().UTC(),
		Data: errorData{Message: "the snapshot of " + topic + " is not available now", Topic: topic}})})
}

// telemetrySnapshot queues the newest value of every key of target. Until
// the snapshot is written, c's pending changes for the topic are held
// back (and restarted empty now): everything pending is newer than the
// snapshot, so each key moves forward in time on the client.
func (h *Hub) telemetrySnapshot(c *client, topic, target string, now time.Time) {
	rs := h.table.matching(target, nil)
	frame := appendTelemetryFrame(nil, "snapshot", topic, now, len(rs), func(b []byte, i int) []byte { return appendReading(b, rs[i]) })
	c.mu.Lock()
	c.tele[topic] = &teleTopic{target: target, pending: make(map[tkey][]byte), held: true}
	c.mu.Unlock()
	h.offer(c, item{frame: frame, snapshotOf: topic})
}

// appendTelemetryFrame appends a snapshot or telemetry frame of topic
// with n readings, each appended by reading.
func appendTelemetryFrame(b []byte, typ, topic string, at time.Time, n int, reading func(b []byte, i int) []byte) []byte {
	b = append(b, `{"type":"`...)
	b = append(b, typ...)
	b = append(b, `","at":"`...)
	b = at.UTC().AppendFormat(b, time.RFC3339Nano)
	b = append(b, `","data":{"topic":`...)
	b = appendString(b, topic)
	b = append(b, `,"readings":[`...)
	for i := 0; i < n; i++ {
		if i > 0 {
			b = append(b, ',')
		}
		b = reading(b, i)
	}
	return append(b, "]}}"...)
}

// encoded is one reading as encoded for this flush.
type encoded struct {
	key tkey
	b   []byte
}

// flush takes the dirty telemetry, encodes each reading once and merges
// it into the pending set of every client subscribed to its device or
// site.
func (h *Hub) flush(now time.Time) {
	h.flushBuf = h.table.takeDirty(h.flushBuf[:0])
	if len(h.flushBuf) == 0 || len(h.teleTargets) == 0 {
		return
	}
	for k, v := range h.index {
		h.index[k] = v[:0]
	}
	buf := make([]byte, 0, len(h.flushBuf)*112)
	for _, r := range h.flushBuf {
		start := len(buf)
		buf = appendReading(buf, r)
		e := encoded{key: r.key, b: buf[start:len(buf):len(buf)]}
		if _, ok := h.teleTargets[string(r.key.device)]; ok {
			h.index[string(r.key.device)] = append(h.index[string(r.key.device)], e)
		}
		if r.site != string(r.key.device) {
			if _, ok := h.teleTargets[r.site]; ok {
				h.index[r.site] = append(h.index[r.site], e)
			}
		}
	}
	for c := range h.clients {
		h.merge(c)
	}
	// Forget targets nobody subscribes to any more.
	for k := range h.index {
		if _, ok := h.teleTargets[k]; !ok {
			delete(h.index, k)
		}
	}
}

// merge adds this flush's readings to c's pending telemetry and, unless
// one is already queued, queues a token that makes c's writer send them.
func (h *Hub) merge(c *client) {
	arm := false
	c.mu.Lock()
	for _, tt := range c.tele {
		list := h.index[tt.target]
		if len(list) == 0 {
			continue
		}
		for _, e := range list {
			tt.pending[e.key] = e.b
		}
		if !tt.held {
			arm = true
		}
	}
	if arm && !c.tokenOut {
		c.tokenOut = true
	} else {
		arm = false
	}
	c.mu.Unlock()
	if arm && !h.offer(c, item{telemetry: true}) {
		c.mu.Lock()
		c.tokenOut = false
		c.mu.Unlock()
	}
}

// forRole is the plate policy of the violations domain; every violation
// the feed sends goes through it.
func forRole(v defs.Violation, r defs.Role) defs.Violation { return violations.ForRole(v, r) }
