package notify

import (
	"context"
	"encoding/json"
	"time"

	"github.com/iocd/iocd/defs"
)

// MeasurementAlerts is the InfluxDB measurement of alert transitions.
const MeasurementAlerts = "alerts"

// historyPoint is one `alerts` point as kept in the outbox, so that a
// point written again after a restart is the same point (same series, same
// timestamp) and InfluxDB keeps it once.
type historyPoint struct {
	Tags    map[string]string `json:"tags"`
	Subject string            `json:"subject"`
	AlertID string            `json:"alert_id"`
	Seq     int               `json:"seq"`
	Value   float64           `json:"value"`
	Message string            `json:"message"`
	TimeMs  int64             `json:"time_ms"`
}

// historyBody builds the point of a transition. InfluxDB keeps one point
// per series and millisecond, and the subject is a field, so two
// transitions of one series in one millisecond (a storm of devices going
// offline in one tick) would overwrite each other: the later one is moved
// on by a millisecond. Called with n.mu held.
func (n *Notifier) historyBody(note defs.AlertNotification) []byte {
	t, a := note.Transition, note.Alert
	state := t.To
	if state == "" {
		state = a.State
	}
	p := historyPoint{
		Tags: map[string]string{
			"rule":     a.Rule,
			"severity": string(t.Severity),
			"site":     a.Site,
			"state":    string(state),
			"change":   string(t.Change),
		},
		Subject: a.Subject,
		AlertID: t.Alert,
		Seq:     t.Seq,
		Value:   t.Value,
		Message: a.Message,
	}
	at := t.At
	if at.IsZero() {
		at = time.Now()
	}
	series := a.Rule + "\x00" + string(t.Severity) + "\x00" + a.Site + "\x00" + string(state) + "\x00" + string(t.Change)
	ms := at.UnixMilli()
	if last, ok := n.lastMs[series]; ok && ms <= last {
		ms = last + 1
	}
	if len(n.lastMs) >= 4096 {
		for k, v := range n.lastMs {
			if v < ms-60_000 {
				delete(n.lastMs, k)
			}
		}
	}
	n.lastMs[series] = ms
	p.TimeMs = ms
	b, _ := json.Marshal(p)
	return b
}

// historySender writes `alerts` points through the InfluxDB writer, which
// batches, retries and spools them like every other point.
type historySender struct {
	w Points
	m *metrics
}

func (h *historySender) deliver(_ context.Context, d defs.AlertDelivery) (defs.DeliveryStatus, int, string) {
	var p historyPoint
	if err := json.Unmarshal(d.Body, &p); err != nil {
		return defs.DeliveryFailed, 1, "unreadable history point"
	}
	h.w.WritePoint(MeasurementAlerts, p.Tags, map[string]any{
		"subject":  p.Subject,
		"alert_id": p.AlertID,
		"seq":      int64(p.Seq),
		"value":    p.Value,
		"message":  p.Message,
	}, time.UnixMilli(p.TimeMs))
	h.m.historyWritten.Inc()
	return defs.DeliveryDone, 1, ""
}
