package defs

import "time"

// AlertState is where an alert is in its life.
type AlertState string

// Alert states: firing until its condition clears (resolved); an operator
// may acknowledge a firing alert to say someone is on it.
const (
	AlertFiring   AlertState = "firing"
	AlertResolved AlertState = "resolved"
)

// Alert is a condition that needs an operator.
type Alert struct {
	ID       string            `json:"id"`
	Rule     string            `json:"rule"`
	Subject  string            `json:"subject"`
	Site     string            `json:"site,omitempty"`
	Severity Severity          `json:"severity"`
	Message  string            `json:"message"`
	Labels   map[string]string `json:"labels,omitempty"`
	State    AlertState        `json:"state"`
	RaisedAt time.Time         `json:"raised_at"`
	// ResolvedAt is set when the condition cleared.
	ResolvedAt time.Time `json:"resolved_at,omitzero"`
	AckedBy    string    `json:"acked_by,omitempty"`
	AckedAt    time.Time `json:"acked_at,omitzero"`
}
