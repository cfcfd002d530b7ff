package overview

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/iocd/iocd/defs"
)

// Kinds of Change.
const (
	ChangeHealth = "health" // a device's health changed
	ChangeCamera = "camera" // a camera's stream went up or down
	ChangeAlert  = "alert"  // an alert fired, was resolved or reopened
)

// Change is one line of "what changed": a device's health, a camera's
// stream, an alert.
type Change struct {
	At   time.Time `json:"at"`
	Kind string    `json:"kind"`
	// Subject is the device, the camera or the alert's subject.
	Subject string        `json:"subject"`
	Device  defs.DeviceID `json:"device,omitempty"`
	Site    string        `json:"site,omitempty"`
	// From and To: health for a health change, "up"/"down" for a
	// camera, the alert state for an alert.
	From string `json:"from,omitempty"`
	To   string `json:"to"`
	// Reason says why: the health's reason, the stream's failure, the
	// alert's transition (fired, resolved, reopened).
	Reason    string        `json:"reason,omitempty"`
	Alert     string        `json:"alert,omitempty"`
	Severity  defs.Severity `json:"severity,omitempty"`
	Message   string        `json:"message,omitempty"`
	MessageEN string        `json:"message_en,omitempty"`
}

// alertChanges are the transitions the wall lists.
var alertChanges = []defs.AlertChange{defs.ChangeFired, defs.ChangeResolved, defs.ChangeReopened}

// Changes returns what changed at or after since, newest first, at most
// Config.MaxChanges: health changes and camera ups and downs from fleet's
// recent ring, alerts fired, resolved or reopened from the store.
func (s *Service) Changes(ctx context.Context, since time.Time) ([]Change, error) {
	out := []Change{}
	for _, h := range s.d.HealthChanges.HealthChangesSince(since) {
		out = append(out, Change{
			At: h.At, Kind: ChangeHealth, Subject: string(h.Device), Device: h.Device, Site: h.Site,
			From: string(h.From), To: string(h.To), Reason: h.Reason,
		})
	}
	for _, c := range s.d.HealthChanges.CameraChangesSince(since) {
		ch := Change{At: c.At, Kind: ChangeCamera, Subject: string(c.Camera), Device: c.Camera, Site: c.Site,
			From: "up", To: "down", Reason: c.Reason}
		if c.Connected {
			ch.From, ch.To = "down", "up"
		} else if ch.Reason == "" {
			ch.Reason = string(c.State)
		}
		out = append(out, ch)
	}
	ns, err := s.d.AlertChanges.AlertTransitionsSince(ctx, since, alertChanges, s.cfg.MaxChanges)
	if err != nil {
		return nil, fmt.Errorf("alert changes: %w", err)
	}
	for _, n := range ns {
		out = append(out, Change{
			At: n.Transition.At, Kind: ChangeAlert, Subject: n.Alert.Subject, Device: n.Alert.Device, Site: n.Alert.Site,
			From: string(n.Transition.From), To: string(n.Transition.To), Reason: string(n.Transition.Change),
			Alert: n.Alert.ID, Severity: n.Transition.Severity, Message: n.Alert.Message, MessageEN: n.Alert.MessageEN,
		})
	}
	slices.SortStableFunc(out, func(a, b Change) int { return b.At.Compare(a.At) })
	if len(out) > s.cfg.MaxChanges {
		out = out[:s.cfg.MaxChanges]
	}
	return out, nil
}
