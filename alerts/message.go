package alerts

import (
	"strconv"
	"strings"

	"github.com/iocd/iocd/defs"
)

// fill renders a rule's Vietnamese and English messages for t's alert,
// replacing {{device}}, {{site}}, {{value}}, {{field}}, {{for}} and
// {{reason}}. A rule without a message gets its name and the subject.
func fill(r *rule, t *track, a *defs.Alert) (vi, en string) {
	if r.Name == "" && r.Message.VI == "" && a.Message != "" {
		return a.Message, a.MessageEN // its rule is gone: keep what it said
	}
	device := t.dev.Name
	if device == "" {
		device = t.key.subject
	}
	rep := strings.NewReplacer(
		"{{device}}", device,
		"{{site}}", a.Site,
		"{{value}}", strconv.FormatFloat(a.Value, 'f', -1, 64),
		"{{field}}", r.Field,
		"{{for}}", r.For.String(),
		"{{reason}}", a.Labels["reason"],
	)
	vi, en = rep.Replace(r.Message.VI), rep.Replace(r.Message.EN)
	if vi == "" {
		vi = r.Name + ": " + device
	}
	if en == "" {
		en = vi
	}
	if t.group {
		n := strconv.Itoa(len(a.Members))
		vi = "Nhóm " + a.Site + " (" + n + " thiết bị): " + vi
		en = "Site " + a.Site + " (" + n + " devices): " + en
	}
	if reason := a.Labels["reason"]; reason != "" && !strings.Contains(r.Message.VI+r.Message.EN, "{{reason}}") {
		vi += " (" + reason + ")"
		en += " (" + reason + ")"
	}
	return vi, en
}
