package defs

import (
	"encoding/json"
	"fmt"
	"time"
)

// AlertState is where an alert is in its life: pending while its
// condition holds but not yet for the rule's `for`, firing, acknowledged
// by an operator while it still fires, and resolved once its condition
// cleared (and any keep_firing_for ran out).
type AlertState string

// Alert states.
const (
	AlertPending      AlertState = "pending"
	AlertFiring       AlertState = "firing"
	AlertAcknowledged AlertState = "acknowledged"
	AlertResolved     AlertState = "resolved"
)

// Open reports whether an alert in state s still needs an operator or may
// yet fire (every state but resolved).
func (s AlertState) Open() bool { return s != AlertResolved && s != "" }

// RuleKind says what a rule watches.
type RuleKind string

// Rule kinds (see the README's rule schema).
const (
	RuleThreshold  RuleKind = "threshold"   // a reading field compared with a value
	RuleAbsence    RuleKind = "absence"     // no reading of a field (or no message) for `for`
	RuleOffline    RuleKind = "offline"     // fleet health stale or offline for `for`
	RuleCameraDown RuleKind = "camera_down" // a camera session not streaming for `for`
	RuleRate       RuleKind = "rate"        // more than count events in window
	RuleSystem     RuleKind = "system"      // a condition of the service itself (defs.Condition)
)

// Duration is a time.Duration that reads and writes as Go duration text
// ("30s", "5m") in JSON and YAML, as rules are written by people.
type Duration time.Duration

// D returns d as a time.Duration.
func (d Duration) D() time.Duration { return time.Duration(d) }

// String returns d as Go duration text.
func (d Duration) String() string { return time.Duration(d).String() }

// MarshalJSON writes d as duration text ("0s" for zero).
func (d Duration) MarshalJSON() ([]byte, error) { return json.Marshal(time.Duration(d).String()) }

// UnmarshalJSON reads duration text; a bare number is refused, since
// seconds and nanoseconds are easy to confuse.
func (d *Duration) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return fmt.Errorf("want a duration such as \"30s\", got %s", b)
	}
	v, err := time.ParseDuration(s)
	if err != nil {
		return fmt.Errorf("want a duration such as \"30s\", got %q", s)
	}
	*d = Duration(v)
	return nil
}

// UnmarshalText reads duration text (YAML and flags).
func (d *Duration) UnmarshalText(b []byte) error {
	v, err := time.ParseDuration(string(b))
	if err != nil {
		return fmt.Errorf("want a duration such as \"30s\", got %q", b)
	}
	*d = Duration(v)
	return nil
}

// MarshalText writes d as duration text.
func (d Duration) MarshalText() ([]byte, error) { return []byte(time.Duration(d).String()), nil }

// Selector picks devices (or cameras) by id, site, kind and tags; an empty
// member matches everything, and all members given must match.
type Selector struct {
	ID   DeviceID          `json:"id,omitempty" yaml:"id,omitempty"`
	Site string            `json:"site,omitempty" yaml:"site,omitempty"`
	Kind Kind              `json:"kind,omitempty" yaml:"kind,omitempty"`
	Tags map[string]string `json:"tags,omitempty" yaml:"tags,omitempty"`
}

// Matches reports whether d is picked by sel.
func (sel Selector) Matches(d Device) bool {
	if sel.ID != "" && sel.ID != d.ID {
		return false
	}
	if sel.Site != "" && sel.Site != d.Site {
		return false
	}
	if sel.Kind != "" && sel.Kind != d.Kind {
		return false
	}
	for k, v := range sel.Tags {
		if d.Tags[k] != v {
			return false
		}
	}
	return true
}

// Messages is a text in Vietnamese (shown by default) and English, with
// {{device}}, {{site}}, {{value}}, {{field}} and {{for}} placeholders.
type Messages struct {
	VI string `json:"vi" yaml:"vi"`
	EN string `json:"en" yaml:"en"`
}

// AlertLevel is one step of a threshold rule with several severities: the
// most severe level whose condition holds sets the alert's severity, so one
// alert escalates and de-escalates as the reading moves.
type AlertLevel struct {
	Value    float64  `json:"value" yaml:"value"`
	Clear    *float64 `json:"clear,omitempty" yaml:"clear,omitempty"`
	Severity Severity `json:"severity" yaml:"severity"`
}

// AlertRule is one configurable rule, stored in the store and loaded from
// alerts.rules_file. Which members apply depends on Kind.
type AlertRule struct {
	// ID is a slug (1-64 of a-z 0-9 _ -); derived from Name when empty.
	ID       string   `json:"id" yaml:"id"`
	Name     string   `json:"name" yaml:"name"`
	Kind     RuleKind `json:"kind" yaml:"kind"`
	Disabled bool     `json:"disabled,omitempty" yaml:"disabled,omitempty"`
	Severity Severity `json:"severity" yaml:"severity"`
	Selector Selector `json:"selector,omitzero" yaml:"selector,omitempty"`
	Message  Messages `json:"message" yaml:"message"`

	// threshold and absence: the reading field (absence: empty means any
	// message at all).
	Field string `json:"field,omitempty" yaml:"field,omitempty"`
	// threshold: Op is one of > >= < <= == !=, Value the threshold, Clear
	// the other edge of the hysteresis band (for >, clear <= value).
	Op     string       `json:"op,omitempty" yaml:"op,omitempty"`
	Value  float64      `json:"value,omitempty" yaml:"value,omitempty"`
	Clear  *float64     `json:"clear,omitempty" yaml:"clear,omitempty"`
	Levels []AlertLevel `json:"levels,omitempty" yaml:"levels,omitempty"`

	// For is how long the condition must hold before the alert fires
	// (pending until then); KeepFiringFor holds it firing after the
	// condition clears; ReopenWithin re-opens a resolved alert of the same
	// subject instead of making a new one (default 5m).
	For           Duration `json:"for,omitempty" yaml:"for,omitempty"`
	KeepFiringFor Duration `json:"keep_firing_for,omitempty" yaml:"keep_firing_for,omitempty"`
	ReopenWithin  Duration `json:"reopen_within,omitempty" yaml:"reopen_within,omitempty"`

	// rate: more than Count events of Event ("violation", with
	// ViolationType if set; or "rejected", with Reason if set) within
	// Window, counted per Per ("camera", "site" or "device").
	Event         string   `json:"event,omitempty" yaml:"event,omitempty"`
	ViolationType string   `json:"violation_type,omitempty" yaml:"violation_type,omitempty"`
	Reason        string   `json:"reason,omitempty" yaml:"reason,omitempty"`
	Count         int      `json:"count,omitempty" yaml:"count,omitempty"`
	Window        Duration `json:"window,omitempty" yaml:"window,omitempty"`
	Per           string   `json:"per,omitempty" yaml:"per,omitempty"`

	// system: the condition code (defs.Condition*), empty for any.
	Condition string `json:"condition,omitempty" yaml:"condition,omitempty"`

	// Webhooks names configured webhooks to notify besides the default
	// ones (alerts.webhooks entries with default: true).
	Webhooks []string `json:"webhooks,omitempty" yaml:"webhooks,omitempty"`

	// Builtin marks a shipped default rule: an admin may edit or disable
	// it, and deleting it disables it instead.
	Builtin   bool      `json:"builtin,omitempty" yaml:"-"`
	CreatedAt time.Time `json:"created_at,omitzero" yaml:"-"`
	UpdatedAt time.Time `json:"updated_at,omitzero" yaml:"-"`
}

// Alert is one (rule, subject) that needs or needed an operator. There is
// at most one open alert per (rule, subject); a subject that fires again
// within the rule's reopen_within re-opens the same alert.
type Alert struct {
	ID       string     `json:"id"`
	Rule     string     `json:"rule"` // rule id
	RuleName string     `json:"rule_name,omitempty"`
	Kind     RuleKind   `json:"kind,omitempty"`
	Subject  string     `json:"subject"` // device or camera id, site (grouped and per-site rate alerts), condition subject
	Site     string     `json:"site,omitempty"`
	Device   DeviceID   `json:"device,omitempty"`
	Severity Severity   `json:"severity"`
	State    AlertState `json:"state"`
	// Message is the Vietnamese text, MessageEN the English one, both
	// with placeholders filled.
	Message   string            `json:"message"`
	MessageEN string            `json:"message_en,omitempty"`
	Labels    map[string]string `json:"labels,omitempty"`
	// Value is the reading, count or measure that decided the last
	// transition.
	Value float64 `json:"value,omitempty"`

	PendingSince time.Time `json:"pending_since,omitzero"`
	RaisedAt     time.Time `json:"raised_at,omitzero"` // first fired
	ResolvedAt   time.Time `json:"resolved_at,omitzero"`
	UpdatedAt    time.Time `json:"updated_at,omitzero"`
	// Reopened counts the times a resolved alert fired again within
	// reopen_within.
	Reopened int `json:"reopened,omitempty"`

	AckedBy     string    `json:"acked_by,omitempty"` // principal, e.g. "user:lan" or "token:7"
	AckedAt     time.Time `json:"acked_at,omitzero"`
	AckNote     string    `json:"ack_note,omitempty"`
	AckAssignee string    `json:"ack_assignee,omitempty"`
	AckExpires  time.Time `json:"ack_expires,omitzero"`

	// Silenced is the id of the silence that covers the alert: it is
	// recorded and shown, but not notified.
	Silenced string `json:"silenced,omitempty"`
	// SuppressedBy names what holds this alert back: a gateway device
	// ("gateway:gw-01") or a grouped site alert's id.
	SuppressedBy string `json:"suppressed_by,omitempty"`
	// Members lists the subjects of a grouped alert.
	Members []string `json:"members,omitempty"`
}

// AlertChange names a transition of an alert.
type AlertChange string

// Alert transitions, as kept in an alert's history and notified.
const (
	ChangePending      AlertChange = "pending"
	ChangeFired        AlertChange = "fired"
	ChangeAcknowledged AlertChange = "acknowledged"
	ChangeAckExpired   AlertChange = "ack_expired"
	ChangeEscalated    AlertChange = "escalated"
	ChangeDeescalated  AlertChange = "deescalated"
	ChangeResolved     AlertChange = "resolved"
	ChangeReopened     AlertChange = "reopened"
	ChangeSilenced     AlertChange = "silenced"
	ChangeSuppressed   AlertChange = "suppressed"
	ChangeCancelled    AlertChange = "cancelled" // pending that never fired
)

// AlertTransition is one step of an alert's history. Seq orders an
// alert's transitions and makes each notification's identity
// (alert id, seq), so a receiver can drop one delivered twice.
type AlertTransition struct {
	Alert    string      `json:"alert"`
	Seq      int         `json:"seq"`
	Change   AlertChange `json:"change"`
	From     AlertState  `json:"from,omitempty"`
	To       AlertState  `json:"to"`
	Severity Severity    `json:"severity"`
	Value    float64     `json:"value,omitempty"`
	Actor    string      `json:"actor,omitempty"`
	Note     string      `json:"note,omitempty"`
	At       time.Time   `json:"at"`
}

// AlertNotification is what iocd sends for a transition, on MQTT
// (<prefix>/iocd/alerts/<severity>), to webhooks and on the feed: the
// transition and the alert as it is after it.
type AlertNotification struct {
	Transition AlertTransition `json:"transition"`
	Alert      Alert           `json:"alert"`
}

// Silence holds back notifications of the alerts whose subject its
// selector picks (and whose rule is Rule, if set) until Until. Silenced
// alerts are still recorded and shown as silenced.
type Silence struct {
	ID        string    `json:"id"`
	Selector  Selector  `json:"selector"`
	Rule      string    `json:"rule,omitempty"`
	Until     time.Time `json:"until"`
	Reason    string    `json:"reason"`
	By        string    `json:"by"`
	CreatedAt time.Time `json:"created_at"`
}

// AlertFilter selects alerts for GET /api/v1/alerts. Zero members match
// everything; States empty means the open states.
type AlertFilter struct {
	States   []AlertState
	Severity []Severity
	Site     string
	Device   DeviceID
	Rule     string
	From, To time.Time // raised (or pending) within
	Limit    int
	Cursor   string
}

// FieldPoint is one stored value of a reading field, as read back from
// the metrics history for a rule's dry run.
type FieldPoint struct {
	Device DeviceID  `json:"device"`
	Time   time.Time `json:"time"`
	Value  float64   `json:"value"`
}
