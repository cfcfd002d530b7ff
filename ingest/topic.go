package ingest

import "strings"

// Topic kinds: the last level of a device topic.
const (
	topicTelemetry = "telemetry"
	topicStatus    = "status"
	topicEvent     = "event"
)

// parseTopic splits P/{site}/{device}/{kind} under prefix. It does not
// allocate: the results are substrings of topic.
func parseTopic(prefix, topic string) (site, device, kind string, ok bool) {
	rest, found := strings.CutPrefix(topic, prefix)
	if !found || len(rest) == 0 || rest[0] != '/' {
		return "", "", "", false
	}
	rest = rest[1:]
	site, rest, found = strings.Cut(rest, "/")
	if !found {
		return "", "", "", false
	}
	device, kind, found = strings.Cut(rest, "/")
	if !found || site == "" || device == "" || strings.Contains(kind, "/") {
		return "", "", "", false
	}
	switch kind {
	case topicTelemetry, topicStatus, topicEvent:
		return site, device, kind, true
	}
	return "", "", "", false
}

// subscriptions returns the topic filters iocd subscribes to, as shared
// subscriptions when group is set, so that replicas split the messages.
func subscriptions(prefix, group string) []string {
	out := make([]string, 0, 3)
	for _, k := range []string{topicTelemetry, topicStatus, topicEvent} {
		f := prefix + "/+/+/" + k
		if group != "" {
			f = "$share/" + group + "/" + f
		}
		out = append(out, f)
	}
	return out
}
